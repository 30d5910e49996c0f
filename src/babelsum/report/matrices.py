"""Cross-lingual matrices: training language (rows) x evaluation language (columns).

One matrix per (model, method, test set, quantity). Absolute scores have a `base` row (the
untrained model); differences and relative changes have one row per training language. A
matrix entry is a number or None; a None carries a note saying why (the task failed, was
blocked, the relative change is undefined, "n/a" for a same-topic cell on the diagonal,
which cannot exist). A difference carries its test (adjusted p-value) for the star. With
several training seeds an entry is the seeds' mean (report/seeds.py). `cells.csv` holds the
same numbers, one row per cell (each seed's and the mean), for pandas.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from babelsum.plan import BASE
from babelsum.report.cells import HEALTH, METRICS, Cell, headline
from babelsum.report.statistics import significant

TEST_SET_NAMES = {"novel": "novel topics", "same_topic": "same topics"}
METRIC_NAMES = {
    "rouge1": "ROUGE-1",
    "rouge2": "ROUGE-2",
    "rougeL": "ROUGE-L",
    "rougeLsum": "ROUGE-Lsum",
    "judge": "judge score (0-5)",
}
NOT_APPLICABLE_NOTE = "n/a"  # a note starting so is a cell that cannot exist


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
    tests: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # differences

    def value(self, row: str, col: str) -> float | None:
        return self.values.get((row, col))

    def significance(self, row: str, col: str) -> int:
        """+1 / -1 where the adjusted p-value puts the difference above / below 0, else 0."""
        return significant(self.tests.get((row, col)))

    def file_name(self) -> str:
        return f"{self.model}/{self.method}/{self.test_set}/{self.quantity}.csv"


class Entry(NamedTuple):
    value: float | None
    interval: tuple[float, float] | None = None
    note: str | None = None
    test: dict[str, Any] | None = None


@dataclass(frozen=True)
class Quantity:
    name: str
    with_base: bool  # does the matrix have a base row
    read: Callable[[Cell], Entry]


def _score(metric: str):
    def read(cell: Cell) -> Entry:
        s = cell.scores.get(metric)
        return Entry(s["mean"], (s["low"], s["high"])) if s else Entry(None)

    return read


def _delta(metric: str):
    def read(cell: Cell) -> Entry:
        d = cell.difference.get(metric)
        if d is None:
            return Entry(None, note=cell.relative_note.get(metric))
        return Entry(d["delta"], (d["low"], d["high"]), test=d)

    return read


def _relative(metric: str):
    def read(cell: Cell) -> Entry:
        interval = cell.relative_interval.get(metric)
        return Entry(
            cell.relative.get(metric),
            tuple(interval) if interval else None,  # type: ignore[arg-type]
            cell.relative_note.get(metric),
        )

    return read


def _seed_sd(metric: str):
    def read(cell: Cell) -> Entry:
        return Entry(cell.seed_sd.get(metric), note=None if cell.seed_sd else "one seed")

    return read


def _field(name: str):
    def read(cell: Cell) -> Entry:
        return Entry(getattr(cell, name))

    return read


def _judge(which: str):
    def read(cell: Cell) -> Entry:
        if cell.judge is None:
            return Entry(None, note=f"{cell.judge_state or 'no judge task'}: {cell.judge_reason}")
        j = cell.judge
        value = j.get(f"{which}_mean" if which != "delta" else "delta")
        low = j.get(f"{which}_low")
        high = j.get(f"{which}_high")
        interval = (low, high) if low is not None and high is not None else None
        reasons = ", ".join(j.get("missing_reasons") or {}) or "no article"
        note = None if value is not None else f"nothing judged: {reasons}"
        test = cell.difference.get("judge") if which == "delta" else None
        return Entry(value, interval, note, test)

    return read


def quantities(judged: bool, seeds: bool = False) -> list[Quantity]:
    out = []
    for m in METRICS:
        out += [
            Quantity(m, True, _score(m)),
            Quantity(f"{m}_delta", False, _delta(m)),
            Quantity(f"{m}_relative", False, _relative(m)),
        ]
        if seeds:
            out.append(Quantity(f"{m}_seed_sd", False, _seed_sd(m)))
    out += [
        Quantity(name, True, _field(name))
        for name in (
            "n",
            "failure_share",
            "empty_share",
            "max_new_tokens_share",
            "off_language_share",
            "mean_output_tokens",
        )
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
    """The matrix of one quantity; `cells` are the headline cells (seed means, not seeds)."""
    order = _unique([c.eval_lang for c in cells] + [c.train_lang for c in cells])
    mine = [c for c in cells if c.model == model and c.test_set == test_set]
    trained = [c for c in mine if c.method == method]
    base = [c for c in mine if c.is_base] if q.with_base else []
    rows = ([BASE] if base else []) + sorted(
        _unique(c.train_lang for c in trained), key=order.index
    )
    cols = sorted(_unique(c.eval_lang for c in base + trained), key=order.index)
    matrix = Matrix(model, method, test_set, q.name, rows, cols)
    for cell in base + trained:
        where = (BASE if cell.is_base else cell.train_lang, cell.eval_lang)
        if not cell.applicable:
            matrix.values[where] = None
            matrix.notes[where] = f"{NOT_APPLICABLE_NOTE}: {cell.reason}"
            continue
        if not cell.done:
            matrix.values[where] = None
            matrix.notes[where] = f"{cell.state}: {cell.reason}"
            continue
        entry = q.read(cell)
        matrix.values[where] = entry.value
        if entry.interval is not None and None not in entry.interval:
            matrix.intervals[where] = entry.interval
        if entry.test is not None:
            matrix.tests[where] = entry.test
        if entry.value is None and entry.note:
            matrix.notes[where] = entry.note
    return matrix


def build_matrices(cells: list[Cell]) -> list[Matrix]:
    """Every matrix of the sweep, from its headline cells (a seed mean stands for its seeds)."""
    shown = headline(cells)
    judged = any(c.judge is not None or c.judge_state is not None for c in shown)
    seeds = any(c.seeds for c in shown)
    test_sets = _unique(c.test_set for c in shown)
    return [
        build_matrix(shown, model, method, test_set, q)
        for model, method in trained_methods(shown)
        for test_set in test_sets
        for q in quantities(judged, seeds)
    ]


def find(matrices: list[Matrix], model: str, method: str, test_set: str, quantity: str) -> Matrix:
    for m in matrices:
        if (m.model, m.method, m.test_set, m.quantity) == (model, method, test_set, quantity):
            return m
    raise KeyError(f"no matrix {model}/{method}/{test_set}/{quantity}")


def write_matrix_csv(matrix: Matrix, folder: Path) -> Path:
    """Rows = training language (and base), columns = evaluation language; empty = missing
    or n/a (cells.csv says which)."""
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
    columns, rows = cells_table(cells)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(rows)


def cells_table(cells: list[Cell]) -> tuple[list[str], list[dict]]:
    """The columns and rows of cells.csv (also `babelsum.results.load`'s DataFrame).

    One row per cell, in the order given: each seed's cell (`seed` its number) and, after a
    cell's seeds, their mean (`seed` "mean", `seeds` the seeds it averages); `seed` is empty
    without several seeds. A same-topic cell on the diagonal has state "n/a" and the reason.
    Columns after `judge_reason` were added later (generation health, seeds, adjusted
    p-values, relative-change intervals); the earlier ones keep their names and order.
    """
    columns = [
        "model", "method", "train_lang", "eval_lang", "test_set", "state", "reason",
        "n", "failures", "empty", "failure_share", "off_language_share",
    ]  # fmt: skip
    for m in METRICS:
        columns += [m, f"{m}_low", f"{m}_high", f"{m}_delta", f"{m}_delta_low"]
        columns += [f"{m}_delta_high", f"{m}_delta_p", f"{m}_relative", f"{m}_relative_note"]
    columns += ["judge_state", "judge_n", "judge_missing", "judge_base", "judge_tuned"]
    columns += ["judge_delta", "judge_delta_low", "judge_delta_high", "judge_reason"]
    health = [h for h in HEALTH if h not in columns]
    columns += ["seed", "seeds", *health, "weights", "dtype"]
    for m in METRICS:
        columns += [f"{m}_delta_p_adjusted", f"{m}_delta_p_floor", f"{m}_relative_low"]
        columns += [f"{m}_relative_high", f"{m}_seed_sd", f"{m}_delta_seed_sd"]
    columns += ["judge_delta_p", "judge_delta_p_adjusted", "judge_delta_p_floor"]
    rows = []
    for c in cells:
        row = {k: getattr(c, k) for k in columns[:12]}
        for m in METRICS:
            s, d = c.scores.get(m) or {}, c.difference.get(m) or {}
            row |= {m: s.get("mean"), f"{m}_low": s.get("low"), f"{m}_high": s.get("high")}
            row |= {f"{m}_delta": d.get("delta"), f"{m}_delta_low": d.get("low")}
            row |= {f"{m}_delta_high": d.get("high"), f"{m}_delta_p": d.get("p_value")}
            row |= {f"{m}_relative": c.relative.get(m)}
            row |= {f"{m}_relative_note": c.relative_note.get(m)}
            low, high = c.relative_interval.get(m) or (None, None)
            row |= {f"{m}_delta_p_adjusted": d.get("p_adjusted")}
            row |= {f"{m}_delta_p_floor": d.get("p_floor")}
            row |= {f"{m}_relative_low": low, f"{m}_relative_high": high}
            row |= {f"{m}_seed_sd": c.seed_sd.get(m), f"{m}_delta_seed_sd": d.get("seed_sd")}
        j, jd = c.judge or {}, c.difference.get("judge") or {}
        row |= {"judge_state": c.judge_state, "judge_n": j.get("n")}
        row |= {"judge_missing": j.get("missing"), "judge_base": j.get("base_mean")}
        row |= {"judge_tuned": j.get("tuned_mean"), "judge_delta": j.get("delta")}
        row |= {"judge_delta_low": j.get("delta_low"), "judge_delta_high": j.get("delta_high")}
        row |= {"judge_reason": c.judge_reason}
        row |= {"judge_delta_p": jd.get("p_value"), "judge_delta_p_adjusted": jd.get("p_adjusted")}
        row |= {"judge_delta_p_floor": jd.get("p_floor")}
        row |= {"seed": c.seed, "seeds": " ".join(map(str, c.seeds)) if c.seeds else None}
        row |= {h: getattr(c, h) for h in health}
        row |= {"weights": c.weights, "dtype": c.dtype}
        rows.append(row)
    return columns, rows


def _unique(items) -> list:
    return list(dict.fromkeys(x for x in items if x is not None))
