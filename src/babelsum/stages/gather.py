"""The gather stage: the cross-lingual matrices and report of everything that finished.

It uses (does not need) every evaluate and judge task: it runs even when some failed or were
blocked, reads what exists, and shows each hole as a missing cell with the reason from that
task's status file. Outputs: report.md, cells.csv, cells.json, comparisons.csv (methods
against each other), overview.json (report.md's first table), matrices/*.csv, heatmaps/*.png.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from babelsum.stages import StageContext

if TYPE_CHECKING:
    from babelsum.report.build import SweepResults
    from babelsum.report.cells import Cell

# what the sweep's MLflow run gets (report.md links the heatmaps by their relative paths)
REPORT_FILES = ("report.md", "cells.csv", "comparisons.csv", "overview.json", "heatmaps")


def run(ctx: StageContext) -> dict:
    from babelsum.report.build import build_report, sweep_results

    results = sweep_results(
        ctx.config, ctx.optional_inputs("cells"), ctx.optional_inputs("judgments")
    )
    summary = build_report(results, ctx.config, ctx.output_dir)
    ctx.tracker.log_metrics({k: float(v) for k, v in summary.items()})
    track_results(ctx, results)
    return summary


def track_results(ctx: StageContext, results: SweepResults) -> None:
    """The results where MLflow users look: the report on the sweep's run, each evaluation
    run's difference from base, the trained models in the registry (when asked for). All of
    it is journaled (tracking/gathered.py): `launch sync` sends what MLflow missed."""
    from babelsum.tracking import gathered

    for name in REPORT_FILES:
        if (ctx.output_dir / name).exists():
            ctx.tracker.log_artifact(ctx.output_dir / name, sweep_run=True)
    differences = {c.key: difference_metrics(c) for c in results.cells if c.is_task and c.done}
    keys = gathered.log_task_metrics(ctx.folder, ctx.config, differences)
    if ctx.config.tracking.register_models:
        for task in ctx.plan.tasks():
            if task.stage == "train" and ctx.folder.is_done(task.key):
                if gathered.register_trained_model(ctx.folder, ctx.config, task):
                    keys.append(task.key)
    gathered.push(ctx.folder, ctx.config, keys)


def difference_metrics(cell: Cell) -> dict[str, float]:
    """A cell's difference from base as run metrics: `rougeL_delta` with `_low`, `_high`,
    `_p`, `_p_adjusted` (within its matrix), and `rougeL_relative` with its interval."""
    out = {}
    for metric, test in cell.difference.items():
        if test:
            name = f"{metric}_delta"
            out |= {name: test["delta"], f"{name}_low": test["low"], f"{name}_high": test["high"]}
            out |= {f"{name}_p": test["p_value"], f"{name}_p_adjusted": test.get("p_adjusted")}
    for metric, change in cell.relative.items():
        interval = cell.relative_interval.get(metric) or [None, None]
        out |= {f"{metric}_relative": change}
        out |= {f"{metric}_relative_low": interval[0], f"{metric}_relative_high": interval[1]}
    return {k: float(v) for k, v in out.items() if v is not None}
