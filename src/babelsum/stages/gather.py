"""The gather stage: the cross-lingual matrices and report of everything that finished.

It uses (does not need) every evaluate and judge task: it runs even when some failed or were
blocked, reads what exists, and shows each hole as a missing cell with the reason from that
task's status file. Outputs: report.md, cells.csv, cells.json, matrices/*.csv, heatmaps/*.png.
"""

from __future__ import annotations

from babelsum.stages import StageContext


def run(ctx: StageContext) -> dict:
    from babelsum.plan import Plan
    from babelsum.report.build import build_report, collect_sweep_cells
    from babelsum.state import SweepFolder

    folder = SweepFolder(ctx.sweep_dir)
    tasks = Plan.from_json(_read_json(folder.plan_path)).by_key()
    used = [tasks[key] for key in ctx.task.uses if key in tasks]
    cells = collect_sweep_cells(folder, ctx.config, used)
    summary = build_report(cells, ctx.config, ctx.output_dir)
    ctx.tracker.log_metrics({k: float(v) for k, v in summary.items()})
    return summary


def _read_json(path):
    import json

    return json.loads(path.read_text(encoding="utf-8"))
