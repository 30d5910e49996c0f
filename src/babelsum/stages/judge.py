"""The judge stage: an LLM scores the base and the fine-tuned summary of each test article.

Task params as for evaluate (model, method, train_lang, eval_lang, test_set); it reads the
predictions of this evaluation cell and of the base model's cell on the same test set and
language. The recipe:

1. pair the two cells' predictions by article (the first `evaluate.judge.max_articles`)
2. load the judge model (`evaluate.judge.model`, a name under `models`)
3. ask for JSON scores 0-5 in both orders, greedy, retrying unreadable answers with a
   correction (`babelsum.metrics.judge`); a pair where either side has no prediction, or the
   judge never answers usably, is recorded *missing* with its reason, never scored 0
4. `judgments.jsonl` (one record per article) and `scores.json` (means with 95% intervals,
   the paired difference, wins/ties/losses, missing counts, the first position's advantage,
   and each judged article's base score with the base cell's key: the judge tasks that share
   a base cell give the base model's own judge score, `metrics.judge.base_model_scores`)
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Sequence

from babelsum.config import JudgeConfig, ModelSpec
from babelsum.data.splits import test_articles
from babelsum.errors import StageError
from babelsum.files import read_jsonl, write_jsonl
from babelsum.metrics.bootstrap import mean_interval, paired_difference
from babelsum.metrics.judge import Judgment, Messages, judge_articles
from babelsum.metrics.outputs import JUDGMENTS, PREDICTIONS, SCORES
from babelsum.stages import StageContext

log = logging.getLogger(__name__)


def run(ctx: StageContext) -> dict | None:
    if not ctx.is_main_process:
        return None  # the judge runs in one process; extra ranks have nothing to do
    settings = ctx.config.evaluate.judge
    if settings is None:
        raise StageError("a judge task runs only with `evaluate.judge` set in the config")
    p = ctx.params
    ctx.tracker.set_tags({k: p[k] or "-" for k in ("model", "method", "train_lang", "eval_lang")})
    ctx.tracker.set_tags({"test_set": p["test_set"], "judge": settings.model})
    ctx.tracker.log_params(settings.model_dump())

    # ---- 1. pairs of predictions
    tuned = read_jsonl(ctx.input("predictions") / PREDICTIONS)
    base = {_article(r): r for r in read_jsonl(ctx.input("base_predictions") / PREDICTIONS)}
    articles = {
        _article(r): r["text"]
        for r in test_articles(ctx.input("split"), p["test_set"], p["eval_lang"], None)
    }
    pairs = [(r, base.get(_article(r))) for r in tuned][: settings.max_articles]

    # ---- 2-3. the judge
    spec = ctx.config.models[settings.model]
    judgeable = [i for i, (t, b) in enumerate(pairs) if _unjudgeable(t, b) is None]
    judgments: dict[int, Judgment] = {}
    if judgeable:
        if "judge" not in ctx.shared:  # the judge model is loaded once per job (pack)
            with ctx.timed("model_load"):
                ctx.shared["judge"] = open_judge(spec, settings)
        ask, cut_article = ctx.shared["judge"]
        items = [
            (
                cut_article(articles.get(_article(pairs[i][0]), "")),
                pairs[i][1]["prediction"] or "",
                pairs[i][0]["prediction"] or "",
                pairs[i][0]["summary_language"],
            )
            for i in judgeable
        ]
        with ctx.timed("generation"):
            judged = judge_articles(ask, items, retries=settings.retries)
        judgments = dict(zip(judgeable, judged, strict=True))

    # ---- 4. outputs
    records = [
        judgment_record(tuned_rec, base_rec, judgments.get(i))
        for i, (tuned_rec, base_rec) in enumerate(pairs)
    ]
    write_jsonl(ctx.output_dir / JUDGMENTS, records)
    scores = judge_scores(records, ctx.config.evaluate.bootstrap_samples, ctx.config.seed)
    scores |= {"task": ctx.task.key, "judge_model": settings.model, "judge_path": spec.path}
    scores |= {
        "max_input_tokens": settings.max_input_tokens,
        "base_predictions": ctx.task.inputs["base_predictions"],  # the base cell's task key
    }
    (ctx.output_dir / SCORES).write_text(json.dumps(scores, indent=2, ensure_ascii=False) + "\n")
    summary = {k: scores[k] for k in ("n", "judged", "missing", "base_mean", "tuned_mean", "delta")}
    ctx.tracker.log_metrics({f"judge_{k}": float(v) for k, v in summary.items() if v is not None})
    return summary


def _article(record: dict) -> tuple[str, str]:
    return record["article_id"], record["language"]


def _unjudgeable(tuned: dict, base: dict | None) -> str | None:
    """Why a pair cannot be judged, or None. Empty summaries are judged (they deserve a 0)."""
    if base is None:
        return "the base model has no prediction for this article"
    for side, record in (("fine-tuned", tuned), ("base", base)):
        if record["status"] == "failed":
            return f"the {side} generation failed: {record.get('reason')}"
    return None


def open_judge(spec: ModelSpec, settings: JudgeConfig):
    """`ask` (conversations -> answers) over the judge model, and the article cutter."""
    from babelsum.models.generate import generate
    from babelsum.models.loading import is_seq2seq, load_model, load_tokenizer
    from babelsum.models.prompts import (
        apply_chat_template,
        truncate_to_tokens,
        uses_chat_template,
    )

    if is_seq2seq(spec):
        raise StageError(f"judge model {spec.path} is seq2seq; the judge must be a causal LM")
    tokenizer = load_tokenizer(spec)
    model = load_model(spec)
    chat = uses_chat_template(spec)
    if chat and not getattr(tokenizer, "chat_template", None):
        raise StageError(f"judge model {spec.path} has no chat template; set `chat: false`")

    def ask(conversations: Sequence[Messages]) -> list[str | None]:
        prompts = [
            apply_chat_template(tokenizer, c, spec.path) if chat else render_plain(c)
            for c in conversations
        ]
        generations = generate(
            model,
            tokenizer,
            spec,
            prompts,
            batch_size=settings.batch_size,
            max_new_tokens=settings.max_new_tokens,
        )
        return [g.text for g in generations]

    def cut_article(text: str) -> str:
        kept, cut = truncate_to_tokens(tokenizer, text, settings.max_input_tokens)
        return kept + (" [...]" if cut else "")

    return ask, cut_article


def render_plain(conversation: Messages) -> str:
    """A base (non-chat) judge reads the conversation as one text ending where it answers."""
    return "\n\n".join(m["content"] for m in conversation) + "\n\n"


# ---------------------------------------------------------------- 4. outputs


def judgment_record(tuned: dict, base: dict | None, judgment: Judgment | None) -> dict:
    record = {
        "article_id": tuned["article_id"],
        "language": tuned["language"],
        "summary_language": tuned["summary_language"],
    }
    if judgment is None:
        return record | {"status": "missing", "reason": _unjudgeable(tuned, base)}
    readings = [
        {
            "order": r.order,
            "scores": dict(zip(("base", "tuned"), r.scores() or (None, None), strict=True)),
            "rationale_a": r.verdict.rationale_a if r.verdict else None,
            "rationale_b": r.verdict.rationale_b if r.verdict else None,
            "answers": r.answers,
            "problem": r.problem,
        }
        for r in judgment.readings
    ]
    return record | {
        "status": "ok" if judgment.complete else "missing",
        "reason": None if judgment.complete else f"no usable judge answer ({judgment.reason})",
        "base_score": judgment.base_score,
        "tuned_score": judgment.tuned_score,
        "winner": judgment.winner,
        "readings": readings,
    }


def judge_scores(records: list[dict], bootstrap_samples: int, seed: int) -> dict:
    """Means over the articles judged in both orders; missing ones are counted, not scored."""
    judged = [r for r in records if r["status"] == "ok"]
    base = [r["base_score"] for r in judged]
    tuned = [r["tuned_score"] for r in judged]
    base_mean = mean_interval(base, samples=bootstrap_samples, seed=seed)
    tuned_mean = mean_interval(tuned, samples=bootstrap_samples, seed=seed)
    difference = paired_difference(base, tuned, samples=bootstrap_samples, seed=seed)
    winners = Counter(r["winner"] for r in judged)
    first_advantage = [_first_minus_second(reading) for r in judged for reading in r["readings"]]
    n = len(records)

    def number(x: float) -> float | None:
        return None if x != x else x  # NaN (nothing judged) -> None

    return {
        "n": n,
        "judged": len(judged),
        "missing": n - len(judged),
        "missing_share": (n - len(judged)) / n if n else None,
        "missing_reasons": dict(
            Counter(_kind(r["reason"]) for r in records if r["status"] != "ok")
        ),
        "base_mean": number(base_mean.mean),
        "base_low": number(base_mean.low),
        "base_high": number(base_mean.high),
        "tuned_mean": number(tuned_mean.mean),
        "tuned_low": number(tuned_mean.low),
        "tuned_high": number(tuned_mean.high),
        "delta": number(difference.delta),
        "delta_low": number(difference.low),
        "delta_high": number(difference.high),
        "delta_p_value": number(difference.p_value),
        "wins": winners["tuned"],
        "ties": winners["tie"],
        "losses": winners["base"],
        # how much more the summary shown first scores, on average: the judge's position bias
        "first_position_advantage": (
            sum(first_advantage) / len(first_advantage) if first_advantage else None
        ),
        "scale": "0-5, mean of both orders",
        # the base summary's score per judged article, pooled across the judge tasks that
        # share its base cell into the base model's own score (metrics.judge.base_model_scores)
        "base_scores": [
            {"article_id": r["article_id"], "language": r["language"], "score": r["base_score"]}
            for r in judged
        ],
    }


def _first_minus_second(reading: dict) -> float:
    """Score of the summary shown first minus the one shown second, in one reading."""
    scores = reading["scores"]
    base_minus_tuned = scores["base"] - scores["tuned"]
    return base_minus_tuned if reading["order"] == "base_first" else -base_minus_tuned


def _kind(reason: str) -> str:
    """A reason without its particulars, to count alike reasons together."""
    return reason.split(" (", 1)[0].split(":", 1)[0]
