"""A sweep's results as pandas DataFrames, for a notebook.

    from babelsum import results
    cells = results.load("sweeps/demo-20250101-120000")   # or results.load("latest")
    cells.pivot_table(index="train_lang", columns="eval_lang", values="rougeL")

`load` gives one row per evaluation cell (model, method, train_lang, eval_lang, test_set):
its state and why it is missing, n, failures, empty summaries, each ROUGE mean with its 95%
interval, the difference from the base model with its interval and p-value, the relative
change, and the judge's scores: the columns of the gather stage's cells.csv, plus the task's
`key`. It reads gather's cells.json; before gather has run (a sweep still running), it reads
the evaluation and judge outputs that exist now, as `launch report` does.
`df.attrs["source"]` says which.

`comparisons` gives gather's comparisons.csv (methods against each other on the same articles).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from babelsum.errors import SweepError
from babelsum.sweep import load_sweep, open_sweep
from babelsum.sweep_list import resolve

if TYPE_CHECKING:
    import pandas as pd

    from babelsum.report.cells import Cell

GATHER = "gather"


def load(sweep_dir: str | Path) -> pd.DataFrame:
    """The evaluation cells of a sweep, one row each (see the module's docstring)."""
    import pandas as pd

    from babelsum.report.matrices import cells_table

    path, _ = resolve(sweep_dir)
    folder, _ = open_sweep(path)
    saved = folder.output_dir(GATHER) / "cells.json"
    if saved.is_file():
        cells, source = _read_saved(saved), str(saved)
    else:
        cells, source = _live_cells(path), "live: gather has not run yet"
    columns, rows = cells_table(cells)
    frame = pd.DataFrame(
        [{"key": c.key, **row} for c, row in zip(cells, rows, strict=True)],
        columns=["key", *columns],
    )
    frame = _numbers_as_floats(frame)
    frame.attrs["source"] = source
    return frame


def _numbers_as_floats(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns of numbers and None (e.g. a relative change undefined in every cell) as floats
    with NaN, as read_csv would give them: None would make pandas keep them as objects."""
    from pandas.api.types import is_object_dtype

    for name in frame.columns:
        if not is_object_dtype(frame[name]):
            continue
        values = frame[name].dropna()
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            frame[name] = frame[name].astype(float)
    return frame


def comparisons(sweep_dir: str | Path) -> pd.DataFrame:
    """gather's comparisons.csv as a DataFrame."""
    import pandas as pd

    path, _ = resolve(sweep_dir)
    folder, _ = open_sweep(path)
    csv = folder.output_dir(GATHER) / "comparisons.csv"
    if not csv.is_file():
        raise SweepError(
            f"{csv} does not exist: the gather stage writes it when it runs "
            f"(`launch status {folder.root}` shows whether it has)"
        )
    return pd.read_csv(csv)


def _read_saved(path: Path) -> list[Cell]:
    from babelsum.report.cells import read_cells

    try:
        return read_cells(path)
    except (ValueError, TypeError, KeyError) as exc:  # damaged, or not gather's cell list
        raise SweepError(f"{path} is not a list of evaluation cells ({exc})") from None


def _live_cells(sweep_dir: Path) -> list[Cell]:
    """The cells from the evaluation and judge outputs that exist now."""
    from babelsum.report.build import sweep_cells

    folder, config, plan = load_sweep(sweep_dir)
    of_stage = {
        stage: [folder.upstream(t) for t in plan.tasks() if t.stage == stage]
        for stage in ("evaluate", "judge")
    }
    return sweep_cells(config, of_stage["evaluate"], of_stage["judge"])


__all__ = ["comparisons", "load"]
