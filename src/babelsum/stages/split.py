"""Split stage: merge teacher summaries, split by topic, guard against leaks, report.

Outputs: `train/`, `validation/`, `test_novel/`, `test_same_topic/` (datasets.save_to_disk,
canonical fields, summary filled), `same_topic_cells.json` (which same-topic articles make
the cell of each training x evaluation language pair), `split_report.json` and `split_report.md`, and
`quarantine.jsonl` for the articles set aside here (teacher failures, no summary).
Read a split with `babelsum.data.splits.load_split`.
"""

from __future__ import annotations

import json
import logging

from babelsum.errors import StageError
from babelsum.plan import BASE
from babelsum.stages import StageContext

log = logging.getLogger(__name__)


def run(ctx: StageContext) -> dict:
    import datasets

    from babelsum.data import quarantine
    from babelsum.data.leak_guard import find_leaks, same_topic_violations
    from babelsum.data.schema import save_records
    from babelsum.data.split_report import report_markdown, split_report
    from babelsum.data.splits import SAME_TOPIC_CELLS, official_splits, split_by_topic

    config = ctx.config
    ctx.tracker.log_params({f"split.{k}": v for k, v in config.split.model_dump().items()})

    # ---- articles with a summary: gold, or from the teacher
    records = datasets.load_from_disk(str(ctx.input("prepare") / "dataset")).to_list()
    records, rejected = _with_summaries(ctx, records)
    if not records:
        reasons = ", ".join(sorted({r.reason for r in rejected})) or "none read"
        raise StageError(f"no article has a summary ({reasons}); see quarantine.jsonl")

    # ---- split by topic (or as the source did), then make sure nothing leaked and every
    # same-topic cell that an evaluation will read is what its name says
    languages = list(config.languages)
    if config.split.use_official:
        splits = official_splits(records, config.split, languages)
    else:
        splits = split_by_topic(records, config.split, languages, config.same_topic_pairs)
    leaks = find_leaks(splits)
    if leaks:
        raise StageError(
            f"leak guard: {len(leaks)} test examples leak into training: {_few(leaks)}"
        )
    written = [tuple(pair.split(">")) for pair in splits.same_topic_cells]
    violations = same_topic_violations(splits, sorted({*written, *same_topic_cells_read(ctx)}))
    if violations:
        raise StageError(f"leak guard: {len(violations)} same-topic problems: {_few(violations)}")

    # ---- outputs
    for name, rows in splits.by_name().items():
        save_records(rows, ctx.output_dir / name)
    (ctx.output_dir / SAME_TOPIC_CELLS).write_text(
        json.dumps(splits.same_topic_cells, indent=1) + "\n", encoding="utf-8"
    )
    quarantine.write_quarantine(ctx.output_dir / "quarantine.jsonl", rejected)
    quarantined = quarantine.counts_by_reason(rejected)
    report = split_report(splits.by_name(), config.split.seed, quarantined, splits.same_topic_cells)
    (ctx.output_dir / "split_report.json").write_text(json.dumps(report, indent=2) + "\n")
    markdown = report_markdown(report)
    (ctx.output_dir / "split_report.md").write_text(markdown, encoding="utf-8")
    print(markdown, flush=True)

    metrics = {
        f"examples/{name}/{lang}": n
        for name, counts in report["examples"].items()
        for lang, n in counts.items()
    }
    metrics |= {f"topics/{name}": n for name, n in report["topics"].items()}
    metrics["quarantined"] = len(rejected)
    ctx.tracker.log_metrics(metrics)
    ctx.tracker.log_artifact(ctx.output_dir / "split_report.md")
    return {
        **{name: sum(counts.values()) for name, counts in report["examples"].items()},
        "quarantined": len(rejected),
    }


def same_topic_cells_read(ctx: StageContext) -> list[tuple[str, str]]:
    """The same-topic cells (training language, evaluation language) that the sweep's
    evaluation tasks will read."""
    evaluations = [s for s in ctx.plan.stages if s.name == "evaluate"]
    return sorted(
        {
            (t.params["train_lang"], t.params["eval_lang"])
            for stage in evaluations
            for t in stage.tasks
            if t.params["test_set"] == "same_topic" and t.params["method"] != BASE
        }
    )


def _few(lines: list[str]) -> str:
    return "; ".join(lines[:3]) + (f"; and {len(lines) - 3} more" if len(lines) > 3 else "")


def _with_summaries(ctx: StageContext, records: list[dict]):
    """Records that have a summary, and the others as quarantine entries with the reason."""
    from babelsum.data.quarantine import Rejected
    from babelsum.data.teacher_summaries import merge_teacher_summaries

    rejected: list[Rejected] = []
    if ctx.config.teacher is not None:
        shard_files = [shard / "summaries.jsonl" for shard in ctx.inputs("teacher_shards")]
        missing = [str(p) for p in shard_files if not p.is_file()]
        if missing:
            raise StageError(f"teacher output missing: {', '.join(missing)}")
        records, rejected = merge_teacher_summaries(records, shard_files)
    with_summary = [r for r in records if r["summary"]]
    rejected += [
        Rejected("no_summary", "the source has no summary and no teacher is configured", r)
        for r in records
        if not r["summary"]
    ]
    return with_summary, rejected
