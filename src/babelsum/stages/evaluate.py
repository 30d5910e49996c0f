"""The evaluate stage: one model (trained, or the base model) on one test set in one language.

Task params: model, method ('base' or a train method's label), train_lang (None for base),
eval_lang, test_set ('novel' or 'same_topic'). The cells of one model run as one job (a pack):
the model is loaded once, by the first cell that needs it, and shared through `ctx.shared`.
The recipe:

1. the model: the train task's output (full weights or a PEFT adapter over the base model),
   or the base model itself, loaded as it was trained: a qlora adapter over its NF4 base
   (`evaluate.merge_adapters`: merged into the base in the training precision instead), a
   lora adapter merged into its base in the training precision, full weights in the dtype
   of the base model; scores.json says which (`weights`, `dtype`) and the `decoding`
2. the test articles in eval_lang (the first `evaluate.max_examples`, if set); a same-topic
   cell holds the articles whose topic the model was trained on in train_lang
3. the prompt of each article in its summary's language, the article cut to fit
4. greedy, batched generation, chunk by chunk; each chunk is journaled in the work folder, so
   a task killed mid-way resumes where it stopped
5. for each example: its prediction or the reason it failed, the language the prediction is
   written in, and its ROUGE against the reference (a failed or empty prediction scores 0)
6. `predictions.jsonl` (one record per test article) and `scores.json` (n, failures, empty
   outputs, outputs that hit max_new_tokens, output and reference lengths in the model's
   tokens, off-language share, ROUGE means with 95% intervals)
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass

from babelsum.config import ModelSpec
from babelsum.config.schema import Decoding
from babelsum.data.splits import test_articles
from babelsum.errors import StageError
from babelsum.files import RowJournal, write_jsonl
from babelsum.metrics.outputs import PREDICTIONS, SCORES
from babelsum.metrics.predictions import cell_scores, check_and_score
from babelsum.metrics.rouge import ROUGE_TYPES
from babelsum.plan import BASE
from babelsum.stages import StageContext

log = logging.getLogger(__name__)

CHUNK_BATCHES = 8  # batches per journaled chunk


def run(ctx: StageContext) -> dict | None:
    if not ctx.is_main_process:
        return None  # generation runs in one process; extra ranks have nothing to do
    evaluate = ctx.config.evaluate
    p = ctx.params
    eval_lang, test_set = p["eval_lang"], p["test_set"]
    ctx.tracker.set_tags(
        {
            "model": p["model"],
            "method": p["method"],
            "train_lang": p["train_lang"] or "-",
            "eval_lang": eval_lang,
            "test_set": test_set,
        }
    )

    # ---- 1. the model
    chosen = model_to_evaluate(ctx)
    spec, model_source = chosen.spec, chosen.source
    decoding = spec.decoding or Decoding()  # greedy unless the model's config says otherwise
    if evaluate.backend == "vllm" and decoding != Decoding():
        raise StageError(
            f"models.{p['model']}.decoding: evaluate.backend vllm decodes greedily only; "
            "use backend hf for beam search and n-gram blocking"
        )
    ctx.tracker.log_params(
        {
            "weights": chosen.weights,
            "dtype": chosen.dtype,
            **decoding.model_dump(),
            "model_path": model_source,
            "max_input_tokens": evaluate.max_input_tokens,
            "max_new_tokens": evaluate.max_new_tokens,
            "batch_size": evaluate.batch_size,
            "max_examples": evaluate.max_examples,
        }
    )

    # ---- 2. the test articles
    records = test_articles(
        ctx.input("split"), test_set, eval_lang, evaluate.max_examples, p["train_lang"]
    )

    # ---- 3-4. prompts and generation, journaled chunk by chunk
    journal = RowJournal(
        ctx.work_dir / f"predictions.{fingerprint(ctx, model_source, records)}.jsonl"
    )
    done = journal.read()
    todo = [i for i in range(len(records)) if i not in done]
    if todo:
        model, tokenizer = loaded_model(ctx, chosen)
        chunk = evaluate.batch_size * CHUNK_BATCHES
        with ctx.timed("generation"):
            for start in range(0, len(todo), chunk):
                rows = todo[start : start + chunk]
                journal.append(predict(model, tokenizer, spec, records, rows, ctx))
                log.info(
                    "%s: %d/%d examples", ctx.task.key, len(done) + start + len(rows), len(records)
                )
    seconds = ctx.timing.get("generation", 0.0)

    # ---- 5-6. checks, scores, outputs
    finished = journal.read()
    stem = evaluate.rouge_stemming
    with ctx.timed("scoring"):
        predictions = [check_and_score(finished[i], stem) for i in range(len(records))]
        write_jsonl(ctx.output_dir / PREDICTIONS, predictions)
        scores = cell_scores(
            predictions, eval_lang, evaluate.bootstrap_samples, ctx.config.seed, stem
        )
    scores |= {
        "task": ctx.task.key,
        **{k: p[k] for k in ("model", "method", "train_lang", "eval_lang", "test_set")},
        "model_path": model_source,
        "weights": chosen.weights,
        "dtype": chosen.dtype,
        "decoding": decoding.model_dump(),
        "max_new_tokens": evaluate.max_new_tokens,
        "max_input_tokens": evaluate.max_input_tokens,
        "input_budget": max((r.get("input_budget") or 0 for r in predictions), default=0) or None,
        "generation_seconds": seconds,
        "generated_examples": len(todo),  # fewer than n when a killed attempt was resumed
    }
    (ctx.output_dir / SCORES).write_text(json.dumps(scores, indent=2, ensure_ascii=False) + "\n")
    summary = {k: scores[k] for k in ("n", "failures", "empty", "off_language_share")}
    summary |= {name: scores["rouge"][name] for name in ROUGE_TYPES}
    ctx.tracker.log_metrics(run_metrics(scores))
    log_predictions_table(ctx, predictions)
    return summary


# ---------------------------------------------------------------- the run in MLflow

# scores.json numbers an evaluate run shows (beside each ROUGE mean and its interval)
TRACKED_SCORES = (
    "n", "ok", "failures", "empty", "failure_share", "empty_share", "max_new_tokens_reached",
    "max_new_tokens_share", "off_language_share", "mean_output_tokens", "mean_reference_tokens",
    "articles_cut",
)  # fmt: skip
PREDICTIONS_TABLE = "predictions.json"
TABLE_COLUMNS = ["article_id", "language", "reference", "prediction", "status", *ROUGE_TYPES]


def run_metrics(scores: dict) -> dict[str, float]:
    """The run's metrics: counts, generation health, and each ROUGE mean with its 95%
    interval (`rougeL`, `rougeL_low`, `rougeL_high`). The difference from base is gather's."""
    values = {name: scores.get(name) for name in TRACKED_SCORES}
    rouge = scores["rouge"]
    values |= {
        f"{m}{end}": rouge.get(f"{m}{end}") for m in ROUGE_TYPES for end in ("", "_low", "_high")
    }
    return {k: float(v) for k, v in values.items() if v is not None}


def log_predictions_table(ctx: StageContext, predictions: list[dict]) -> None:
    """The predictions as an MLflow table (the compare view lines up the runs' tables), at
    most `tracking.max_table_rows` of them; the tag `predictions_table` says how many. A
    failed generation has no ROUGE (null) here; the cell's means count it as 0."""
    limit = ctx.config.tracking.max_table_rows
    rows = [
        [p["article_id"], p["language"], p.get("reference"), p.get("prediction"), p["status"]]
        + [(p.get("rouge") or {}).get(m) for m in ROUGE_TYPES]
        for p in predictions[:limit]
    ]
    ctx.tracker.log_table(TABLE_COLUMNS, rows, PREDICTIONS_TABLE)
    shown = f"{len(rows)} of {len(predictions)} predictions"
    if len(rows) < len(predictions):
        shown += f" (the first {limit}: tracking.max_table_rows)"
    ctx.tracker.set_tags({"predictions_table": shown})


# ---------------------------------------------------------------- 1. the model


# a train method's precision -> the dtype its weights were trained in
PRECISION_DTYPES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}


@dataclass(frozen=True)
class ModelToEvaluate:
    spec: ModelSpec  # what to load: the base model, or the train task's model folder
    source: str  # where the weights are (scores.json `model_path`)
    weights: str  # full | nf4 | nf4+adapter | merged
    dtype: str  # the dtype the weights are loaded (or computed, for NF4) in
    quantize: bool = False  # an adapter's base in 4-bit NF4, as QLoRA trained it


def model_to_evaluate(ctx: StageContext) -> ModelToEvaluate:
    """What to load, and how: the base model as configured, or what training wrote, as it was
    trained (see the module's docstring)."""
    from babelsum.models.loading import adapter_base, checkpoint_dtype

    p = ctx.params
    if p["model"] not in ctx.config.models:
        raise StageError(f"model {p['model']!r} is not in the sweep's `models`")
    base = ctx.config.models[p["model"]]
    base_dtype = checkpoint_dtype(base) or "auto"
    if p["method"] == BASE:
        spec = base.model_copy(update={"dtype": base_dtype})
        return ModelToEvaluate(spec, base.path, "nf4" if base.load_in_4bit else "full", base_dtype)
    model_dir = ctx.input("model") / "model"
    if not model_dir.is_dir():
        raise StageError(f"the train task wrote no model folder at {model_dir}")
    source = str(model_dir)
    spec = base.model_copy(update={"path": source, "revision": None, "dtype": base_dtype})
    if not adapter_base(source, None):  # full weights, as the base model is evaluated
        return ModelToEvaluate(spec, source, "nf4" if base.load_in_4bit else "full", base_dtype)
    # an adapter: its base in the precision it was trained in (`load_in_4bit`, for base
    # models, does not apply: a qlora base is NF4 anyway, a lora base never was)
    spec = spec.model_copy(update={"load_in_4bit": False})
    summary = ctx.input("model") / "train_summary.json"
    precision = json.loads(summary.read_text()).get("precision") if summary.is_file() else None
    dtype = PRECISION_DTYPES.get(precision, base_dtype)
    spec = spec.model_copy(update={"dtype": dtype})
    if trained_method(ctx) == "qlora" and not ctx.config.evaluate.merge_adapters:
        return ModelToEvaluate(spec, source, "nf4+adapter", dtype, quantize=True)
    return ModelToEvaluate(spec, source, "merged", dtype)


def trained_method(ctx: StageContext) -> str | None:
    """The method (full, qlora, ...) of the train method this cell's model comes from."""
    p = ctx.params
    for method in ctx.config.train.methods:
        if method.model == p["model"] and method.label == p["method"]:
            return method.method
    return None


def loaded_model(ctx: StageContext, chosen: ModelToEvaluate):
    """The model (an HF model, or with `evaluate.backend: vllm` a vLLM engine) and its
    tokenizer, loaded once per job: the cells of a pack share them."""
    if chosen.source not in ctx.shared:
        evaluate = ctx.config.evaluate
        with ctx.timed("model_load"):
            ctx.shared.clear()  # one model in memory at a time
            if evaluate.backend == "vllm":
                from babelsum.models.vllm_engine import VllmModel

                max_len = evaluate.max_input_tokens + evaluate.max_new_tokens
                engine = VllmModel(chosen.spec, max_len, "evaluate.backend")
                ctx.shared[chosen.source] = engine, engine.tokenizer
            else:
                import torch

                from babelsum.models.loading import load_model, load_tokenizer

                model = load_model(
                    chosen.spec,
                    quantize_4bit=chosen.quantize,
                    compute_dtype=(
                        getattr(torch, chosen.dtype)
                        if chosen.quantize and chosen.dtype != "auto"
                        else None
                    ),
                )
                ctx.shared[chosen.source] = model, load_tokenizer(chosen.spec)
    return ctx.shared[chosen.source]


def fingerprint(ctx: StageContext, model_source: str, records: list[dict]) -> str:
    """What the journaled predictions were made with; a change starts a fresh journal.

    A retrained model (its train_summary.json changes), another test split or new generation
    settings must not reuse the predictions of an earlier attempt.
    """
    evaluate = ctx.config.evaluate
    p = ctx.params
    trained = None
    if p["method"] != BASE:
        summary = ctx.input("model") / "train_summary.json"
        trained = summary.read_text() if summary.is_file() else None
    parts = {
        "params": p,
        "model": model_source,
        "spec": ctx.config.models[p["model"]].model_dump(mode="json"),
        "generation": [evaluate.max_input_tokens, evaluate.max_new_tokens, evaluate.max_examples],
        "trained": trained,
        "articles": [(r["article_id"], r["language"]) for r in records],
    }
    if evaluate.merge_adapters:  # other weights than an NF4 base + adapter
        parts["merge_adapters"] = True
    prompts, _ = ctx.config.prompt_choice("student", p["model"])
    if prompts:  # another prompt set asks for other predictions
        parts["prompts"] = prompts
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:12]


# ---------------------------------------------------------------- 3-4. generation


def summary_language(record: dict) -> str:
    return record.get("summary_language") or record["language"]


def predict(model, tokenizer, spec: ModelSpec, records: list[dict], rows: list[int], ctx) -> list:
    """Journal records for `rows`: the prediction or the reason there is none."""
    from babelsum.models.generate import generate
    from babelsum.models.prompts import chosen_prompts, fit_generation_prompt

    evaluate = ctx.config.evaluate
    prompt_set = chosen_prompts(ctx.config, "student", ctx.params["model"], lambda: ctx.config_dir)
    out = []
    by_target: dict[str, list[int]] = {}
    for row in rows:
        by_target.setdefault(summary_language(records[row]), []).append(row)
    for target, group in by_target.items():
        prompts, cut = [], {}
        for row in group:
            record = records[row]
            prompt, cut[row] = fit_generation_prompt(
                tokenizer,
                spec,
                record["text"],
                record.get("title") or "",
                record["language"],
                target,
                max_input_tokens=evaluate.max_input_tokens,
                prompts=prompt_set,
            )
            prompts.append(prompt)
        if evaluate.backend == "vllm":  # the same greedy decoding, in vLLM's engine
            generations = model.generate(prompts, evaluate.max_new_tokens)
        else:
            generations = generate(
                model,
                tokenizer,
                spec,
                prompts,
                batch_size=evaluate.batch_size,
                max_new_tokens=evaluate.max_new_tokens,
                max_batch_tokens=evaluate.max_batch_tokens,
                target_lang=target,
                source_lang=ctx.params["eval_lang"],
            )
        for row, generation in zip(group, generations, strict=True):
            record = records[row]
            out.append(
                {
                    "row": row,
                    "article_id": record["article_id"],
                    "language": record["language"],
                    "summary_language": target,
                    "reference": record.get("summary"),
                    "prediction": generation.text,
                    "status": generation.status,
                    "reason": generation.reason,
                    "new_tokens": generation.new_tokens,
                    # all of max_new_tokens used: the summary was most likely cut off
                    "max_new_tokens_reached": generation.new_tokens >= evaluate.max_new_tokens,
                    "reference_tokens": token_count(tokenizer, record.get("summary")),
                    "article_cut": cut[row],
                    "input_budget": input_budget(tokenizer, evaluate.max_input_tokens),
                }
            )
    return out


def token_count(tokenizer, text: str | None) -> int | None:
    """The length of `text` in the evaluated model's tokens (what max_new_tokens counts)."""
    if not text:
        return None
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def input_budget(tokenizer, max_input_tokens: int) -> int:
    """The prompt tokens an article may fill: max_input_tokens, or the model's own limit when
    that is lower (mBART-50 reads 1,024), as `fit_generation_prompt` cuts it."""
    limit = tokenizer.model_max_length
    return min(max_input_tokens, limit) if limit and limit < 1_000_000 else max_input_tokens
