"""`launch report SWEEP_DIR`: the overview and the headline matrices of a sweep as plain text.

Reads the gather stage's `cells.json` and `overview.json` when gather has run; otherwise reads
the evaluation and judge outputs that exist right now (so a sweep can be looked at while it
runs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from babelsum.errors import SweepError
from babelsum.report import tables
from babelsum.report.cells import Cell, headline, read_cells
from babelsum.report.matrices import (
    METRIC_NAMES,
    TEST_SET_NAMES,
    build_matrices,
    find,
    trained_methods,
)
from babelsum.report.overview import OverviewRow, read_overview, row_texts

if TYPE_CHECKING:
    from babelsum.config import SweepConfig
    from babelsum.plan import Plan
    from babelsum.state import SweepFolder

HEADLINE = "rougeL"


def render_cells(
    cells: list[Cell], study: str, source: str, overview: list[OverviewRow] | None = None
) -> str:
    tasks = [c for c in cells if c.is_task]
    finished = sum(c.done for c in tasks)
    out = [f"{study}: {finished} of {len(tasks)} evaluation cells finished ({source})"]
    if not tasks:
        return out[0] + "\nno evaluation task in this sweep's plan"
    if overview:
        out += ["", "== overview: ROUGE-L, 95% CI (report.md says what each column means) =="]
        out.append(tables.plain_table(*row_texts(overview, short=True), labels=2))
    matrices = build_matrices(cells)
    judged = any(m.quantity == "judge_delta" for m in matrices)
    shown_cells = headline(cells)
    test_sets = list(dict.fromkeys(c.test_set for c in shown_cells))
    shown = [
        (HEADLINE, f"{METRIC_NAMES[HEADLINE]}:"),
        (HEADLINE + "_delta", "difference from base (95% CI, * adjusted p < 0.05):"),
        ("failure_share", "failed generations:"),
        ("empty_share", "empty outputs:"),
        ("max_new_tokens_share", "outputs that hit max_new_tokens:"),
        ("off_language_share", "off-language outputs:"),
    ]
    if judged:
        shown.append(("judge_delta", "judge, fine-tuned minus base (0-5):"))
    for model, method in trained_methods(shown_cells):
        for test_set in test_sets:
            out += ["", f"== {model} / {method} / {TEST_SET_NAMES.get(test_set, test_set)} =="]
            for quantity, title in shown:
                out += [title, tables.plain(find(matrices, model, method, test_set, quantity))]
    missing = [c for c in tasks if not c.done]
    if missing:
        out += ["", "missing cells:"]
        out += [f"  {c.key}: {c.state}: {c.reason}" for c in missing]
    return "\n".join(out)


def render_terminal(folder: SweepFolder, config: SweepConfig, plan: Plan) -> str:
    """The sweep's overview and matrices as text: from gather's cells.json (and
    overview.json), or live from the task outputs."""
    from babelsum.report.build import sweep_results

    saved = folder.output_dir("gather") / "cells.json"
    if saved.is_file():
        overview = saved.parent / "overview.json"
        try:
            cells = read_cells(saved)
            rows = read_overview(overview) if overview.is_file() else None
        except (OSError, ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
            problem = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            raise SweepError(
                f"{saved} or {overview.name} beside it: damaged ({problem}); move them aside "
                "(`launch report` then reads the evaluation outputs) or rerun gather"
            ) from None
        return render_cells(cells, config.study, f"from {saved}", rows)
    of_stage = {
        stage: [folder.upstream(t) for t in plan.tasks() if t.stage == stage]
        for stage in ("evaluate", "judge")
    }
    results = sweep_results(config, of_stage["evaluate"], of_stage["judge"])
    return render_cells(
        results.cells, config.study, "live: gather has not run yet", results.overview
    )
