"""The overview table report.md opens with: one row per (model, method), and per base model.

Columns (ROUGE-L; with several seeds every cell is its seeds' mean):
- own language, novel topics: the mean over the model's diagonal cells (trained and evaluated
  in the same language); for a base model, over its cells in the training languages;
- same topics: same-topic sets have no own-language cell (a same-topic article in the
  training language would be the training article itself), so this is the mean over the
  model's off-diagonal same-topic cells; for a base model, over its same-topic cells;
- difference from base in other languages, novel topics: the mean over the off-diagonal
  novel-topic cells of the difference from the base model on the same articles;
- the judge's score of the fine-tuned summaries, own language, novel topics (when judged);
  in a base row, the judge's score of the base summaries on those same articles (judged
  beside each fine-tuned summary, both orders).
Each mean over several cells has a 95% interval from a stratified bootstrap: every cell's
articles (and seeds) resampled on their own, the cells' means averaged. An entry made from
fewer cells than exist says so ("3 of 4 cells"). The health column names the cells whose
empty or max_new_tokens-truncated share is above `evaluate.health_flag_share`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from babelsum.metrics.bootstrap import difference_draws, interval_of, mean_draws
from babelsum.plan import BASE
from babelsum.report.cells import Cell, Evidence, base_of, headline, run_keys
from babelsum.report.statistics import Statistics

HEADLINE = "rougeL"
COLUMNS = {
    "own_novel": "ROUGE-L, own language, novel topics",
    "same_topic": "ROUGE-L, same topics (mean of off-diagonal cells)",
    "cross_delta": "ROUGE-L vs base, other languages, novel topics",
    "judge": "judge (0-5), own language, novel topics",
}
SHORT = {  # for the terminal
    "own_novel": "own language, novel",
    "same_topic": "same topics, off-diagonal",
    "cross_delta": "vs base, other languages, novel",
    "judge": "judge, own language, novel",
}
SIGNED = {"cross_delta"}
MAX_FLAGS = 3  # cells named in the health column; the rest are counted


@dataclass
class OverviewValue:
    mean: float | None
    low: float | None
    high: float | None
    cells: int  # finished cells the mean is over
    expected: int  # cells there are


@dataclass
class OverviewRow:
    model: str
    method: str  # 'base' for the untrained model
    values: dict[str, OverviewValue | None] = field(default_factory=dict)  # None: not shown
    flags: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: dict) -> OverviewRow:
        values = {k: OverviewValue(**v) if v else None for k, v in data["values"].items()}
        return cls(data["model"], data["method"], values, data["flags"])


def build_overview(cells: list[Cell], evidence: Evidence, stats: Statistics) -> list[OverviewRow]:
    shown = [c for c in headline(cells) if c.applicable]
    judged = bool(evidence.judge)
    trained = list(dict.fromkeys((c.model, c.method) for c in shown if not c.is_base))
    bases = {base_of(c): c for c in shown if c.is_base}
    rows = []
    for model, method in trained:
        mine = [c for c in shown if (c.model, c.method) == (model, method)]
        own = [c for c in mine if c.test_set == "novel" and c.train_lang == c.eval_lang]
        cross = [c for c in mine if c.test_set == "novel" and c.train_lang != c.eval_lang]
        row = OverviewRow(model, method)
        row.values["own_novel"] = _pooled(own, _mean_of(HEADLINE, evidence), stats)
        row.values["same_topic"] = _pooled(
            [c for c in mine if c.test_set == "same_topic"], _mean_of(HEADLINE, evidence), stats
        )
        row.values["cross_delta"] = _pooled(cross, _delta_of(HEADLINE, evidence, bases), stats)
        if judged:
            row.values["judge"] = _pooled(own, _mean_of("judge", evidence), stats)
        runs = [c for c in cells if c.is_task and (c.model, c.method) == (model, method)]
        row.flags = health_flags(runs, stats)
        rows.append(row)
    for model in dict.fromkeys(c.model for c in shown if c.is_base):
        languages = {c.train_lang for c in shown if c.model == model and not c.is_base}
        base_cells = [c for c in shown if c.model == model and c.is_base]
        own = [c for c in base_cells if c.test_set == "novel" and c.eval_lang in languages]
        row = OverviewRow(model, BASE)
        row.values["own_novel"] = _pooled(own, _mean_of(HEADLINE, evidence), stats)
        row.values["same_topic"] = _pooled(
            [c for c in base_cells if c.test_set == "same_topic"],
            _mean_of(HEADLINE, evidence),
            stats,
        )
        row.values["cross_delta"] = None
        if judged:  # the base summaries as the judge scored them beside the fine-tuned ones
            trained_own = [
                c
                for c in shown
                if c.model == model
                and not c.is_base
                and c.test_set == "novel"
                and c.train_lang == c.eval_lang
            ]
            row.values["judge"] = _pooled(trained_own, _mean_of("judge_base", evidence), stats)
        row.flags = health_flags(base_cells, stats)
        rows.append(row)
    return rows


Draws = Callable[[Cell, Statistics, int], tuple[float, np.ndarray | None]]


def _mean_of(metric: str, evidence: Evidence) -> Draws:
    def draws(cell: Cell, stats: Statistics, stream: int):
        keys = run_keys(cell)
        judged = metric.startswith("judge")
        if judged and not all(k in evidence.judge for k in keys):
            return float("nan"), None
        runs = evidence.runs(keys, metric, evidence.shared(keys, judged=judged))
        return mean_draws(runs, stats.samples, stats.seed + stream)

    return draws


def _delta_of(metric: str, evidence: Evidence, bases: dict) -> Draws:
    def draws(cell: Cell, stats: Statistics, stream: int):
        base = bases.get(base_of(cell))
        if base is None or not base.done:
            return float("nan"), None
        keys = run_keys(cell)
        articles = evidence.shared([base.key, *keys])
        base_runs = evidence.runs([base.key], metric, articles)
        runs = evidence.runs(keys, metric, articles)
        return difference_draws(base_runs, runs, stats.samples, stats.seed + stream)

    return draws


def _pooled(cells: list[Cell], draws_of: Draws, stats: Statistics) -> OverviewValue | None:
    """The mean over `cells` of each cell's number, cells resampled independently (each its
    own random stream; one cell alone keeps the sweep's seed, so its interval is the matrix's)."""
    if not cells:
        return None
    points, draws = [], []
    for stream, cell in enumerate(c for c in cells if c.done):
        point, resampled = draws_of(cell, stats, stream)
        if resampled is not None:
            points.append(point)
            draws.append(resampled)
    if not points:
        return OverviewValue(None, None, None, 0, len(cells))
    interval = interval_of(float(np.mean(points)), np.mean(draws, axis=0))
    return OverviewValue(interval.mean, interval.low, interval.high, len(points), len(cells))


def health_flags(cells: list[Cell], stats: Statistics) -> list[str]:
    """ "fr>en novel: 60% empty" for each finished cell above the health threshold."""
    flags = []
    for c in cells:
        if not c.done:
            continue
        where = f"{c.eval_lang}" if c.is_base else f"{c.train_lang}>{c.eval_lang}"
        where += f" {c.test_set}" + (f" seed {c.seed}" if c.is_seed_run else "")
        for share, what in (
            ("empty_share", "empty"),
            ("max_new_tokens_share", "hit max_new_tokens"),
        ):
            value = getattr(c, share)
            if value is not None and value > stats.health_flag_share:
                flags.append(f"{where}: {value:.0%} {what}")
    return flags


def row_texts(rows: list[OverviewRow], short: bool = False) -> tuple[list[str], list[list[str]]]:
    """The overview as a header and rows of text (report.md; `short` headers for `launch
    report`). A column no row has a value in (no same-topic set, no judge) is left out."""
    columns = [k for k in COLUMNS if any(r.values.get(k) is not None for r in rows)]
    names = SHORT if short else COLUMNS
    header = ["model", "method", *(names[k] for k in columns), "health"]
    texts = []
    for r in rows:
        values = [_text(r.values.get(k), k in SIGNED) for k in columns]
        flags = r.flags[:MAX_FLAGS] + (
            [f"{len(r.flags) - MAX_FLAGS} more"] if len(r.flags) > MAX_FLAGS else []
        )
        texts.append([r.model, r.method, *values, "; ".join(flags) or "ok"])
    return header, texts


def _text(value: OverviewValue | None, signed: bool) -> str:
    if value is None:
        return "—"
    if value.mean is None:
        return f"missing (0 of {value.expected} cells)"
    number = "{:+.3f}" if signed else "{:.3f}"
    text = number.format(value.mean)
    if value.low is not None and value.high is not None:
        text += f" [{number.format(value.low)}, {number.format(value.high)}]"
    if value.cells < value.expected:
        text += f" ({value.cells} of {value.expected} cells)"
    return text


def write_overview(path: Path, rows: list[OverviewRow]) -> None:
    path.write_text(json.dumps([asdict(r) for r in rows], indent=2, ensure_ascii=False) + "\n")


def read_overview(path: Path) -> list[OverviewRow]:
    return [OverviewRow.from_json(d) for d in json.loads(path.read_text(encoding="utf-8"))]
