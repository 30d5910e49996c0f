"""The train stage: fine-tune one model with one method on the articles of one language.

Task params: model, method (the method's label), train_lang, and seed when the sweep sets
`train.seeds`. The recipe, top to bottom:

1. the method and the model from the config; the precision this machine supports
2. training examples: the evaluation prompt (article truncated to its token budget before
   templating) and the reference summary as the only supervised tokens; the same from the
   validation split for the validation loss (`eval_steps`)
3. Trainer arguments (before the model: ZeRO-3 then loads weights straight into shards)
4. the model: full weights (`full`, `seq2seq`), LoRA adapters (`lora`) or LoRA on NF4 (`qlora`)
5. train, resuming from the last complete checkpoint in the task's work folder; with
   `select_best`, the best checkpoint's weights are loaded back at the end
6. save the model or adapter with its tokenizer (Hugging Face layout; full weights in the
   training precision) and train_summary.json; with `train.merge_adapters`, the adapter merged
   into its base in `merged/`

Runs in every process of a distributed task; only rank 0 writes the outputs, but every rank
takes part in saving (ZeRO-3 gathers the weight shards).

Raises StageError for: no training articles in train_lang, a prompt that leaves no room for the
article, LoRA targets the model does not have, a DeepSpeed file that is missing or not JSON,
precision the machine cannot do, and a NaN loss.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
from transformers import Trainer, set_seed

from babelsum.config import ModelSpec, SweepConfig, TrainMethod
from babelsum.errors import StageError
from babelsum.stages import StageContext
from babelsum.training.arguments import (
    TORCH_DTYPES,
    liger_kernel_notice,
    resolve_precision,
    training_arguments,
)
from babelsum.training.callbacks import BestCheckpoint, RougeCheck, SaveBeforeStop, TrainingMetrics
from babelsum.training.checkpoints import checkpoint_step, resumable_checkpoint
from babelsum.training.collate import BatchStats, make_collator
from babelsum.training.deepspeed_file import (
    find_deepspeed_config,
    read_deepspeed_config,
    zero_stage,
)
from babelsum.training.examples import build_examples, records_in_language, validation_sample
from babelsum.training.merge import merge_adapter

log = logging.getLogger(__name__)


def run(ctx: StageContext) -> dict:
    # ---- 1. what to train
    method, index = find_method(ctx.config, ctx.params["model"], ctx.params["method"])
    where = f"train.methods[{index}]"
    if "seed" in ctx.params:  # train.seeds: this task's seed replaces the method's
        method = method.model_copy(update={"seed": ctx.params["seed"]})
    spec = ctx.config.models[method.model]
    train_lang = ctx.params["train_lang"]
    precision = resolve_precision(method.precision, where)
    ctx.tracker.log_params(
        {"model_path": spec.path, **method.model_dump(exclude_none=True), "precision": precision}
    )
    ctx.tracker.set_tags(
        {
            "model": method.model,
            "method": method.label,
            "train_lang": train_lang,
            "seed": method.seed,
        }
    )
    if method.batching == "padding_free" and spec.attn_implementation != "flash_attention_2":
        log.warning(
            "%s: padding_free batching with %s attention masks the packed row densely; "
            "it is fast with attn_implementation flash_attention_2 (GPU)",
            where,
            spec.attn_implementation,
        )

    # ---- 2. examples
    from babelsum.data.splits import load_split
    from babelsum.models.loading import is_seq2seq, load_tokenizer
    from babelsum.models.prompts import chosen_prompts

    split_dir = ctx.input("split")
    tokenizer = load_tokenizer(spec)
    records = records_in_language(load_split(split_dir, "train"), train_lang)
    if not records:
        raise StageError(
            f"the train split has no article in {train_lang!r}; check data and split settings"
        )
    prompts = chosen_prompts(ctx.config, "student", method.model, lambda: ctx.config_dir)
    ctx.tracker.log_params({"prompts": prompts.name})
    examples, data_report = build_examples(records, tokenizer, spec, method, where, prompts)
    ctx.tracker.log_metrics({f"data_{k}": float(v) for k, v in data_report.items()})
    eval_examples = None
    if method.eval_steps:
        eval_examples = validation_examples(
            split_dir, train_lang, tokenizer, spec, method, where, prompts
        )

    # ---- 3. trainer arguments
    deepspeed = None
    if method.deepspeed:
        path = find_deepspeed_config(method.deepspeed, ctx.config_dir, where)
        deepspeed = read_deepspeed_config(path, where)
    checkpoint_dir = ctx.work_dir / "checkpoints"
    notices = [n for n in [liger_kernel_notice(method, where)] if n]
    for notice in notices:
        log.warning(notice)
    args = training_arguments(
        method,
        checkpoint_dir=checkpoint_dir,
        precision=precision,
        deepspeed_config=deepspeed,
        where=where,
        use_liger_kernel=method.use_liger_kernel and not notices,
    )

    # ---- 4. model, seeded first: a LoRA adapter's first weights are drawn here, before the
    # Trainer seeds anything; unseeded, two runs of one config trained different adapters
    set_seed(method.seed)
    with ctx.timed("model_load"):
        model = load_for_method(spec, method, precision, where)

    # ---- 5. train
    stats = BatchStats()
    metrics = TrainingMetrics(ctx.tracker, stats, ctx.is_main_process)
    callbacks = [metrics, SaveBeforeStop()]
    best = None
    if method.select_best:
        best = BestCheckpoint(method.select_best, method.early_stopping_patience)
        callbacks.append(best)
    if method.rouge_every_steps:
        callbacks.append(
            rouge_check(
                ctx, method, spec, tokenizer, split_dir, train_lang, deepspeed, prompts, best
            )
        )
    pad_id = (
        tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=examples,
        eval_dataset=eval_examples,
        data_collator=make_collator(method.batching, pad_id, stats, seq2seq=is_seq2seq(spec)),
        processing_class=tokenizer,
        callbacks=callbacks,
    )
    with args.main_process_first(local=False, desc="checkpoints"):
        resume, note = resumable_checkpoint(checkpoint_dir, checkpoint_settings(ctx, method, spec))
    if note and ctx.is_main_process:
        ctx.tracker.set_tags({"resume_note": note})
    with ctx.timed("train"):
        result = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    seconds = ctx.timing["train"]
    selected = select_best_checkpoint(trainer, best)

    # ---- 6. save
    model_dir = ctx.output_dir / "model"
    full_weights = method.method in ("full", "seq2seq")
    if full_weights and deepspeed is None:
        # mixed precision trains fp32 master weights: save them in the training precision
        # (DeepSpeed saves its own 16-bit weights already)
        trainer.model.to(getattr(torch, TORCH_DTYPES[precision]))
    # every rank: ZeRO-3 gathers the shards here; rank 0 writes weights (or adapter) + tokenizer
    trainer.save_model(str(model_dir))
    trainer.accelerator.wait_for_everyone()
    losses = [log["loss"] for log in trainer.state.log_history if "loss" in log]
    summary = {
        "examples": data_report["examples"],
        "truncated_articles": data_report["truncated_articles"],
        "steps": trainer.state.global_step,
        "resumed_from_step": checkpoint_step(resume) if resume else 0,
        "first_loss": losses[0] if losses else None,
        "last_loss": losses[-1] if losses else None,
        "train_loss": result.training_loss,
        "train_seconds": seconds,
        "tokens_per_second": metrics.run_tokens_per_second,  # the whole run's
        "padding_ratio": metrics.last_logged.get("padding_ratio"),
        **selected,
    }
    if ctx.is_main_process:
        details = {
            **summary,
            "model": method.model,
            "model_path": spec.path,
            "method": method.label,
            "train_lang": train_lang,
            "precision": precision,
            "processes": ctx.world_size,
            "deepspeed_zero_stage": zero_stage(deepspeed),
            "parameters": count_parameters(model),
            "trainable_parameters": count_parameters(model, trainable_only=True),
            "saved_dtype": (
                str(trainer.model.dtype).removeprefix("torch.") if full_weights else None
            ),
            "use_liger_kernel": args.use_liger_kernel,
            "notices": notices,
            "data": data_report,
            "log_history": trainer.state.log_history,
        }
        if ctx.config.train.merge_adapters and method.method in ("lora", "qlora"):
            del trainer, model  # the base is loaded again, whole, to merge into
            _free_accelerator_memory()
            with ctx.timed("merge"):
                merge_adapter(model_dir, ctx.output_dir / "merged", spec)
            details["merged_model"] = "merged"
        (ctx.output_dir / "train_summary.json").write_text(json.dumps(details, indent=2))
        ctx.tracker.log_metrics(
            {k: float(v) for k, v in summary.items() if isinstance(v, int | float)}
        )
    return summary


def find_method(config: SweepConfig, model: str, label: str) -> tuple[TrainMethod, int]:
    for index, method in enumerate(config.train.methods):
        if method.model == model and method.label == label:
            return method, index
    raise StageError(f"no train method {label!r} for model {model!r} in the sweep's config")


def load_for_method(spec: ModelSpec, method: TrainMethod, precision: str, where: str):
    """Full weights to train (`full`, `seq2seq`), or frozen weights with LoRA adapters."""
    from babelsum.models.loading import load_model

    if method.method in ("full", "seq2seq"):
        # fp32 master weights: the Trainer (or DeepSpeed) runs bf16/fp16 as mixed precision
        return load_model(spec.model_copy(update={"dtype": "float32"}), for_training=True)
    from babelsum.training.lora import add_lora

    # the frozen weights only feed the adapters: store them in the compute precision
    dtype = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}[precision]
    quantized = method.method == "qlora"
    model = load_model(
        spec.model_copy(update={"dtype": dtype}),
        quantize_4bit=quantized,
        compute_dtype=getattr(torch, dtype),
        for_training=True,
    )
    return add_lora(model, method, quantized=quantized, where=where)


# changing these does not invalidate a checkpoint (e.g. raise max_steps to train longer)
RESUMABLE_CHANGES = {"max_steps", "epochs", "save_steps", "save_total_limit", "logging_steps"}
RESUMABLE_CHANGES |= {"rouge_every_steps", "rouge_samples"}
RESUMABLE_CHANGES |= {"eval_steps", "eval_samples", "early_stopping_patience", "use_liger_kernel"}
# nor do the method's SLURM resources (mem, time...): the process count is checked apart
RESUMABLE_CHANGES |= {"resources"}


def checkpoint_settings(ctx: StageContext, method: TrainMethod, spec: ModelSpec) -> dict:
    """What a checkpoint must have been made with to be continued."""
    return {
        "method": method.model_dump(mode="json", exclude=RESUMABLE_CHANGES),
        "model": spec.model_dump(mode="json"),
        "processes": ctx.world_size,
    }


def rouge_check(
    ctx, method, spec, tokenizer, split_dir: Path, train_lang: str, deepspeed, prompt_set, best
):
    """The periodic ROUGE check on the first `rouge_samples` validation articles; it offers
    its rougeL to `best` (select_best: rougeL) when given."""
    from babelsum.data.splits import load_split
    from babelsum.models.generate import generate

    prompts, references, lang = validation_sample(
        load_split(split_dir, "validation"), train_lang, tokenizer, spec, method, prompt_set
    )

    def summarize(model) -> list[str | None]:
        generations = generate(
            model,
            tokenizer,
            spec,
            prompts,
            batch_size=method.per_device_batch_size,
            max_new_tokens=method.max_summary_tokens,
            target_lang=lang,
            source_lang=train_lang,
        )
        return [g.text for g in generations]

    return RougeCheck(
        method.rouge_every_steps,
        summarize,
        references,
        lang,
        ctx.tracker,
        ctx.is_main_process,
        all_processes=zero_stage(deepspeed) == 3,
        best=best,
    )


def validation_examples(split_dir: Path, train_lang, tokenizer, spec, method, where, prompts):
    """The validation loss's examples: the first `eval_samples` validation articles in
    train_lang (all when unset), built like the training examples."""
    from babelsum.data.splits import load_split

    records = records_in_language(load_split(split_dir, "validation"), train_lang)
    if not records:
        raise StageError(
            f"{where}.eval_steps: the validation split has no article in {train_lang!r}; "
            "raise split.validation_topics or drop eval_steps"
        )
    examples, _ = build_examples(
        records[: method.eval_samples], tokenizer, spec, method, where, prompts
    )
    return examples


def select_best_checkpoint(trainer: Trainer, best: BestCheckpoint | None) -> dict:
    """With select_best: load the best checkpoint's weights back into the model (unless the
    last step was the best) and say which step that was, and whether training stopped early."""
    if best is None:
        return {}
    state = trainer.state
    step = state.best_global_step or None
    if step is not None and step != state.global_step and state.best_model_checkpoint:
        # the Trainer's own loader knows every layout (plain weights, PEFT adapters,
        # DeepSpeed shards); its load_best_model_at_end would track one metric of its own
        # evaluations only, not the ROUGE checks
        trainer._load_best_model()
    if step is not None:
        log.info("best checkpoint: step %d (%s %.4f)", step, best.name, state.best_metric)
    return {
        "best_step": step,
        "best_metric": best.name,
        "best_value": state.best_metric,
        "stopped_early_at": best.stopped_early_at,
    }


def _free_accelerator_memory() -> None:
    import gc

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def count_parameters(model: torch.nn.Module, trainable_only: bool = False) -> int:
    """Parameters of the whole model (under ZeRO-3 a process holds only a shard of each)."""
    return sum(
        getattr(p, "ds_numel", p.numel())
        for p in model.parameters()
        if p.requires_grad or not trainable_only
    )
