"""The gather stage: the cross-lingual matrices and report of everything that finished.

It uses (does not need) every evaluate and judge task: it runs even when some failed or were
blocked, reads what exists, and shows each hole as a missing cell with the reason from that
task's status file. Outputs: report.md, cells.csv, cells.json, comparisons.csv (methods
against each other), overview.json (report.md's first table), matrices/*.csv, heatmaps/*.png.
"""

from __future__ import annotations

from babelsum.stages import StageContext


def run(ctx: StageContext) -> dict:
    from babelsum.report.build import build_report, sweep_results

    results = sweep_results(
        ctx.config, ctx.optional_inputs("cells"), ctx.optional_inputs("judgments")
    )
    summary = build_report(results, ctx.config, ctx.output_dir)
    ctx.tracker.log_metrics({k: float(v) for k, v in summary.items()})
    return summary
