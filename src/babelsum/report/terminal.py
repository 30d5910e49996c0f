"""`launch report SWEEP_DIR`: the headline matrices of a sweep as plain text.

Reads the gather stage's `cells.json` when gather has run; otherwise reads the evaluation
and judge outputs that exist right now (so a sweep can be looked at while it runs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from babelsum.report import tables
from babelsum.report.cells import Cell, read_cells
from babelsum.report.matrices import (
    METRIC_NAMES,
    TEST_SET_NAMES,
    build_matrices,
    find,
    trained_methods,
)

if TYPE_CHECKING:
    from babelsum.config import SweepConfig
    from babelsum.plan import Plan
    from babelsum.state import SweepFolder

HEADLINE = "rougeL"


def render_cells(cells: list[Cell], study: str, source: str) -> str:
    matrices = build_matrices(cells)
    finished = sum(c.done for c in cells)
    out = [f"{study}: {finished} of {len(cells)} evaluation cells finished ({source})"]
    if not cells:
        return out[0] + "\nno evaluation task in this sweep's plan"
    judged = any(m.quantity == "judge_delta" for m in matrices)
    test_sets = list(dict.fromkeys(c.test_set for c in cells))
    shown = [
        (HEADLINE, f"{METRIC_NAMES[HEADLINE]}:"),
        (HEADLINE + "_delta", "difference from base (95% CI, * excludes 0):"),
        ("failure_share", "failed generations:"),
        ("off_language_share", "off-language outputs:"),
    ]
    if judged:
        shown.append(("judge_delta", "judge, fine-tuned minus base (0-5):"))
    for model, method in trained_methods(cells):
        for test_set in test_sets:
            out += ["", f"== {model} / {method} / {TEST_SET_NAMES.get(test_set, test_set)} =="]
            for quantity, title in shown:
                out += [title, tables.plain(find(matrices, model, method, test_set, quantity))]
    missing = [c for c in cells if not c.done]
    if missing:
        out += ["", "missing cells:"]
        out += [f"  {c.key}: {c.state}: {c.reason}" for c in missing]
    return "\n".join(out)


def render_terminal(folder: SweepFolder, config: SweepConfig, plan: Plan) -> str:
    """The sweep's matrices as text: from gather's cells.json, or live from the task outputs."""
    from babelsum.report.build import sweep_cells

    saved = folder.output_dir("gather") / "cells.json"
    if saved.is_file():
        return render_cells(read_cells(saved), config.study, f"from {saved}")
    of_stage = {
        stage: [folder.upstream(t) for t in plan.tasks() if t.stage == stage]
        for stage in ("evaluate", "judge")
    }
    cells = sweep_cells(config, of_stage["evaluate"], of_stage["judge"])
    return render_cells(cells, config.study, "live: gather has not run yet")
