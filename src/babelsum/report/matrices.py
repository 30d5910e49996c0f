"""Cross-lingual matrices: training language (rows) x evaluation language (columns).

One matrix per (model, method, test set, quantity). Absolute scores have a `base` row (the
untrained model); differences and relative changes have one row per training language. A
matrix entry is a number or None; a None carries a note saying why (the task failed, was
blocked, the relative change is undefined, ...). `cells.csv` holds the same numbers, one row
per cell, for pandas.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from babelsum.plan import BASE
from babelsum.report.cells import METRICS, Cell

TEST_SET_NAMES = {"novel": "novel topics", "same_topic": "same topics"}
METRIC_NAMES = {
    "rouge1": "ROUGE-1",
    "rouge2": "ROUGE-2",
    "rougeL": "ROUGE-L",
    "rougeLsum": "ROUGE-Lsum",
    "judge": "judge score (0-5)",
}


@dataclass
class Matrix:
    model: str
    method: str
    test_set: str
    quantity: str  # e.g. "rougeL", "rougeL_delta", "failure_share"
    rows: list[str]
    cols: list[str]
    values: dict[tuple[str, str], float | None] = field(default_factory=dict)
    intervals: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)
    notes: dict[tuple[str, str], str] = field(default_factory=dict)

    def value(self, row: str, col: str) -> float | None:
        return self.values.get((row, col))

    def file_name(self) -> str:
        return f"{self.model}/{self.method}/{self.test_set}/{self.quantity}.csv"


@dataclass(frozen=True)
class Quantity:
    name: str
    with_base: bool  # does the matrix have a base row
    read: Callable[[Cell], tuple[float | None, tuple[float, float] | None, str | None]]


def _score(metric: str):
    def read(cell: Cell):
        s = cell.scores.get(metric)
        return (s["mean"], (s["low"], s["high"]), None) if s else (None, None, None)

    return read


def _delta(metric: str):
    def read(cell: Cell):
        d = cell.difference.get(metric)
        if d is None:
            return None, None, cell.relative_note.get(metric)
        return d["delta"], (d["low"], d["high"]), None

    return read


def _relative(metric: str):
    def read(cell: Cell):
        return cell.relative.get(metric), None, cell.relative_note.get(metric)

    return read


def _field(name: str):
    def read(cell: Cell):
        return getattr(cell, name), None, None

    return read


def _judge(which: str):
    def read(cell: Cell):
        if cell.judge is None:
            return None, None, f"{cell.judge_state or 'no judge task'}: {cell.judge_reason}"
        j = cell.judge
        value = j.get(f"{which}_mean" if which != "delta" else "delta")
        low = j.get(f"{which}_low")
        high = j.get(f"{which}_high")
        interval = (low, high) if low is not None and high is not None else None
        reasons = ", ".join(j.get("missing_reasons") or {}) or "no article"
        note = None if value is not None else f"nothing judged: {reasons}"
        return value, interval, note

    return read


def quantities(judged: bool) -> list[Quantity]:
    out = []
    for m in METRICS:
        out += [
            Quantity(m, True, _score(m)),
            Quantity(f"{m}_delta", False, _delta(m)),
            Quantity(f"{m}_relative", False, _relative(m)),
        ]
    out += [
        Quantity("n", True, _field("n")),
        Quantity("failure_share", True, _field("failure_share")),
        Quantity("off_language_share", True, _field("off_language_share")),
    ]
    if judged:
        out += [
            Quantity("judge_base", False, _judge("base")),
            Quantity("judge_tuned", False, _judge("tuned")),
            Quantity("judge_delta", False, _judge("delta")),
        ]
    return out


def trained_methods(cells: list[Cell]) -> list[tuple[str, str]]:
    """(model, method) pairs with trained cells, in plan order."""
    seen: dict[tuple[str, str], None] = {}
    for c in cells:
        if not c.is_base:
            seen.setdefault((c.model, c.method), None)
    return list(seen)


def build_matrix(cells: list[Cell], model: str, method: str, test_set: str, q: Quantity) -> Matrix:
    mine = [c for c in cells if c.model == model and c.test_set == test_set]
    trained = [c for c in mine if c.method == method]
    base = [c for c in mine if c.is_base] if q.with_base else []
    rows = ([BASE] if base else []) + _unique(c.train_lang for c in trained)
    cols = _unique(c.eval_lang for c in base + trained)
    matrix = Matrix(model, method, test_set, q.name, rows, cols)
    for cell in base + trained:
        where = (BASE if cell.is_base else cell.train_lang, cell.eval_lang)
        if not cell.done:
            matrix.values[where] = None
            matrix.notes[where] = f"{cell.state}: {cell.reason}"
            continue
        value, interval, note = q.read(cell)
        matrix.values[where] = value
        if interval is not None and None not in interval:
            matrix.intervals[where] = interval
        if value is None and note:
            matrix.notes[where] = note
    return matrix


def build_matrices(cells: list[Cell]) -> list[Matrix]:
    judged = any(c.judge is not None or c.judge_state is not None for c in cells)
    test_sets = _unique(c.test_set for c in cells)
    return [
        build_matrix(cells, model, method, test_set, q)
        for model, method in trained_methods(cells)
        for test_set in test_sets
        for q in quantities(judged)
    ]


def find(matrices: list[Matrix], model: str, method: str, test_set: str, quantity: str) -> Matrix:
    for m in matrices:
        if (m.model, m.method, m.test_set, m.quantity) == (model, method, test_set, quantity):
            return m
    raise KeyError(f"no matrix {model}/{method}/{test_set}/{quantity}")


def write_matrix_csv(matrix: Matrix, folder: Path) -> Path:
    """Rows = training language (and base), columns = evaluation language; empty = missing."""
    path = folder / matrix.file_name()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["train_lang \\ eval_lang", *matrix.cols])
        for row in matrix.rows:
            values = [matrix.value(row, col) for col in matrix.cols]
            writer.writerow([row, *("" if v is None else f"{v:.6g}" for v in values)])
    return path


def write_cells_csv(cells: list[Cell], path: Path) -> None:
    """One row per evaluation cell: every number, the state, and the reason it is missing."""
    columns = [
        "model", "method", "train_lang", "eval_lang", "test_set", "state", "reason",
        "n", "failures", "empty", "failure_share", "off_language_share",
    ]  # fmt: skip
    for m in METRICS:
        columns += [m, f"{m}_low", f"{m}_high", f"{m}_delta", f"{m}_delta_low"]
        columns += [f"{m}_delta_high", f"{m}_delta_p", f"{m}_relative", f"{m}_relative_note"]
    columns += ["judge_state", "judge_n", "judge_missing", "judge_base", "judge_tuned"]
    columns += ["judge_delta", "judge_delta_low", "judge_delta_high", "judge_reason"]
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        for c in cells:
            row = {k: getattr(c, k) for k in columns[:12]}
            for m in METRICS:
                s, d = c.scores.get(m) or {}, c.difference.get(m) or {}
                row |= {m: s.get("mean"), f"{m}_low": s.get("low"), f"{m}_high": s.get("high")}
                row |= {f"{m}_delta": d.get("delta"), f"{m}_delta_low": d.get("low")}
                row |= {f"{m}_delta_high": d.get("high"), f"{m}_delta_p": d.get("p_value")}
                row |= {f"{m}_relative": c.relative.get(m)}
                row |= {f"{m}_relative_note": c.relative_note.get(m)}
            j = c.judge or {}
            row |= {"judge_state": c.judge_state, "judge_n": j.get("n")}
            row |= {"judge_missing": j.get("missing"), "judge_base": j.get("base_mean")}
            row |= {"judge_tuned": j.get("tuned_mean"), "judge_delta": j.get("delta")}
            row |= {"judge_delta_low": j.get("delta_low"), "judge_delta_high": j.get("delta_high")}
            row |= {"judge_reason": c.judge_reason}
            writer.writerow(row)


def _unique(items) -> list:
    return list(dict.fromkeys(x for x in items if x is not None))
