"""The cells of a sweep's results: one per evaluation task, read from whatever exists.

A cell is (model, method, train_lang, eval_lang, test_set). A finished cell carries its
scores; a trained model's cell also carries its difference from the base model on the same
articles (paired bootstrap over articles, 95% interval), the relative change (undefined when
the base scores below `evaluate.relative_floor`) and, when judged, the judge's scores. A cell
whose task did not finish carries its state and the reason from its status file instead.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from babelsum.files import read_jsonl
from babelsum.metrics.bootstrap import paired_difference
from babelsum.metrics.outputs import PREDICTIONS, SCORES
from babelsum.metrics.rouge import ROUGE_TYPES
from babelsum.plan import BASE
from babelsum.state import State, Upstream

# relative change and differences for these; judge scores have their own
METRICS = ROUGE_TYPES


@dataclass
class Cell:
    key: str
    model: str
    method: str  # 'base' for the untrained model
    train_lang: str | None
    eval_lang: str
    test_set: str
    state: str  # done, failed, blocked, pending, running; "missing output" if done without one
    reason: str | None = None
    n: int | None = None
    failures: int | None = None
    empty: int | None = None
    failure_share: float | None = None
    off_language_share: float | None = None
    scores: dict[str, dict[str, float | None]] = field(
        default_factory=dict
    )  # metric -> mean/low/high
    difference: dict[str, dict[str, float] | None] = field(default_factory=dict)  # vs base
    relative: dict[str, float | None] = field(default_factory=dict)
    relative_note: dict[str, str] = field(
        default_factory=dict
    )  # why a relative change is undefined
    judge: dict[str, Any] | None = None  # the judge task's scores.json
    judge_state: str | None = None
    judge_reason: str | None = None

    @property
    def is_base(self) -> bool:
        return self.method == BASE

    @property
    def done(self) -> bool:
        return self.state == State.DONE

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Cell:
        return cls(**data)


def collect_cells(
    evaluations: list[Upstream],
    judgments: list[Upstream],
    *,
    relative_floor: float,
    bootstrap_samples: int,
    seed: int,
) -> list[Cell]:
    """Every evaluation cell, in plan order, with its judge's scores where it was judged."""
    cells = [_read_cell(u) for u in evaluations]
    outputs = {u.key: u.output for u in evaluations}
    base_cells = {_base_of(c): c for c in cells if c.is_base}
    per_article = {c.key: _per_article(outputs[c.key]) for c in cells if c.done}
    judged = {_identity(u.params): u for u in judgments}
    for cell in cells:
        if cell.is_base:
            continue
        base = base_cells.get(_base_of(cell))
        if cell.done and base is not None and base.done:
            _compare(cell, base, per_article, relative_floor, bootstrap_samples, seed)
        elif cell.done:
            reason = "no base-model cell" if base is None else f"base cell {base.state}"
            cell.relative_note = dict.fromkeys(METRICS, reason)
        judge = judged.get(_identity(asdict(cell)))
        if judge is not None:
            _read_judge(cell, judge)
    return cells


def _identity(params: dict[str, Any]) -> tuple:
    return tuple(params[k] for k in ("model", "method", "train_lang", "eval_lang", "test_set"))


def _base_of(cell: Cell) -> tuple[str, str, str]:
    return cell.model, cell.eval_lang, cell.test_set


def _read_cell(evaluation: Upstream) -> Cell:
    p = evaluation.params
    cell = Cell(
        evaluation.key,
        p["model"],
        p["method"],
        p["train_lang"],
        p["eval_lang"],
        p["test_set"],
        str(evaluation.state),
        evaluation.reason,
    )
    if evaluation.output is None:
        cell.reason = cell.reason or _default_reason(cell.state)
        return cell
    scores_path = evaluation.output / SCORES
    if not scores_path.is_file():
        cell.state, cell.reason = "missing output", f"no {SCORES} in {evaluation.output}"
        return cell
    scores = json.loads(scores_path.read_text(encoding="utf-8"))
    for name in ("n", "failures", "empty", "failure_share", "off_language_share"):
        setattr(cell, name, scores.get(name))
    rouge = scores["rouge"]
    cell.scores = {
        m: {"mean": rouge[m], "low": rouge[f"{m}_low"], "high": rouge[f"{m}_high"]} for m in METRICS
    }
    return cell


def _default_reason(state: str) -> str:
    return {
        State.PENDING: "not run yet",
        State.RUNNING: "still running (or its job died: see `launch status`)",
    }.get(state, state)


def _per_article(output: Path | None) -> dict[tuple[str, str], dict[str, float]]:
    """ROUGE of each article of a finished cell (0 where the generation failed)."""
    zero = dict.fromkeys(METRICS, 0.0)
    path = output / PREDICTIONS if output is not None else None
    if path is None or not path.is_file():
        return {}
    return {
        (record["article_id"], record["language"]): record.get("rouge") or zero
        for record in read_jsonl(path)
    }


def _compare(cell, base, per_article, relative_floor, samples, seed) -> None:
    """Difference from the base model on the articles both were evaluated on."""
    mine, theirs = per_article[cell.key], per_article[base.key]
    shared = [a for a in mine if a in theirs]
    for metric in METRICS:
        if not shared:
            cell.difference[metric] = None
            cell.relative[metric] = None
            cell.relative_note[metric] = "no article in common with the base cell"
            continue
        diff = paired_difference(
            [theirs[a][metric] for a in shared],
            [mine[a][metric] for a in shared],
            samples=samples,
            seed=seed,
        )
        cell.difference[metric] = diff.to_json()
        base_mean = sum(theirs[a][metric] for a in shared) / len(shared)
        if base_mean < relative_floor:
            cell.relative[metric] = None
            cell.relative_note[metric] = (
                f"undefined: base {base_mean:.3f} is below the floor {relative_floor}"
            )
        else:
            cell.relative[metric] = diff.delta / base_mean


def _read_judge(cell: Cell, judge: Upstream) -> None:
    path = judge.output / SCORES if judge.output is not None else None
    if path is not None and path.is_file():
        cell.judge_state = str(State.DONE)
        cell.judge = json.loads(path.read_text(encoding="utf-8"))
    else:
        cell.judge_state = "missing output" if judge.state == State.DONE else str(judge.state)
        cell.judge_reason = judge.reason or _default_reason(judge.state)


def write_cells(path: Path, cells: list[Cell]) -> None:
    path.write_text(json.dumps([c.to_json() for c in cells], indent=2, ensure_ascii=False) + "\n")


def read_cells(path: Path) -> list[Cell]:
    return [Cell.from_json(d) for d in json.loads(path.read_text(encoding="utf-8"))]
