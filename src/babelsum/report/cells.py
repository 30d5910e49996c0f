"""The cells of a sweep's results: one per evaluation task, read from whatever exists.

A cell is (model, method, train_lang, eval_lang, test_set), and with several training seeds
one cell per seed (`seed`) plus their aggregate (`seed: "mean"`, report/seeds.py). A finished
cell carries its scores and its generation health; a trained model's cell also carries its
difference from the base model on the same articles (paired bootstrap over articles, 95%
interval, p-value never below 1/(B+1)), the relative change with its interval (undefined when
the base scores below `evaluate.relative_floor`) and, when judged, the judge's scores. A cell
whose task did not finish carries its state and the reason from its status file instead.
A same-topic cell on the diagonal does not exist: it is listed with state "n/a" and why.

`Evidence` keeps each finished cell's per-article scores: differences, seed aggregates and
method comparisons resample them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from babelsum.files import read_jsonl
from babelsum.metrics.bootstrap import relative_change, seeded_difference
from babelsum.metrics.outputs import JUDGMENTS, PREDICTIONS, SCORES
from babelsum.metrics.rouge import ROUGE_TYPES
from babelsum.plan import BASE, evaluate_key, key_seed
from babelsum.report.statistics import Statistics, adjust_families, with_floor
from babelsum.state import State, Upstream

# relative change and differences for these; judge scores have their own
METRICS = ROUGE_TYPES
MEAN = "mean"  # the seed of a cell that averages several training seeds
NOT_APPLICABLE = "n/a"  # the state of a cell that cannot exist
SAME_TOPIC_DIAGONAL = (
    "a same-topic article in the training language would be the training article itself"
)
HEALTH = (
    "n", "failures", "empty", "failure_share", "off_language_share", "empty_share",
    "max_new_tokens_reached", "max_new_tokens_share", "mean_output_tokens",
    "mean_reference_tokens", "articles_cut", "input_budget", "max_new_tokens",
)  # fmt: skip

Article = tuple[str, str]  # (article_id, language)


@dataclass
class Cell:
    key: str
    model: str
    method: str  # 'base' for the untrained model
    train_lang: str | None
    eval_lang: str
    test_set: str
    state: str  # done, failed, blocked, pending, running, "missing output", n/a
    reason: str | None = None
    n: int | None = None
    failures: int | None = None
    empty: int | None = None
    failure_share: float | None = None
    off_language_share: float | None = None
    scores: dict[str, dict[str, float | None]] = field(
        default_factory=dict
    )  # metric -> mean/low/high
    difference: dict[str, dict[str, Any] | None] = field(default_factory=dict)  # vs base
    relative: dict[str, float | None] = field(default_factory=dict)
    relative_note: dict[str, str] = field(
        default_factory=dict
    )  # why a relative change is undefined
    judge: dict[str, Any] | None = None  # the judge task's scores.json
    judge_state: str | None = None
    judge_reason: str | None = None
    # generation health (scores.json); shares are of the cell's n articles
    empty_share: float | None = None
    max_new_tokens_reached: int | None = None
    max_new_tokens_share: float | None = None
    mean_output_tokens: float | None = None  # answered outputs, in the model's tokens
    mean_reference_tokens: float | None = None
    articles_cut: int | None = None
    input_budget: int | None = None  # the prompt tokens an article could fill
    max_new_tokens: int | None = None
    relative_interval: dict[str, list[float] | None] = field(default_factory=dict)
    # None: the sweep trains one seed; an int: one of several seeds; "mean": their aggregate
    seed: int | str | None = None
    seeds: list[int] | None = None  # the aggregate's finished seeds
    seed_sd: dict[str, float | None] = field(default_factory=dict)  # between-seed sd
    # what was evaluated (scores.json): full | nf4 | nf4+adapter | merged, and its dtype
    weights: str | None = None
    dtype: str | None = None

    @property
    def is_base(self) -> bool:
        return self.method == BASE

    @property
    def done(self) -> bool:
        return self.state == State.DONE

    @property
    def applicable(self) -> bool:
        return self.state != NOT_APPLICABLE

    @property
    def is_seed_run(self) -> bool:
        """One training seed's cell of a sweep that trains several (shown through its mean)."""
        return isinstance(self.seed, int)

    @property
    def is_task(self) -> bool:
        """A cell that is an evaluation task (not a seed mean, not an impossible cell)."""
        return self.seed != MEAN and self.applicable

    @property
    def group(self) -> tuple:
        """What a cell measures, whatever the seed."""
        return self.model, self.method, self.train_lang, self.eval_lang, self.test_set

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Cell:
        return cls(**data)


def headline(cells: list[Cell]) -> list[Cell]:
    """The cells matrices and the overview show: seed means stand for their seeds."""
    return [c for c in cells if not c.is_seed_run]


def run_keys(cell: Cell) -> list[str]:
    """The evaluation tasks a cell's numbers come from: its own, or its finished seeds'."""
    if cell.seed != MEAN:
        return [cell.key]
    p = (cell.model, cell.method, cell.train_lang, cell.eval_lang, cell.test_set)
    return [evaluate_key(*p, seed) for seed in cell.seeds or []]


@dataclass
class Evidence:
    """Per-article numbers of each finished cell, by evaluation task key."""

    rouge: dict[str, dict[Article, dict[str, float]]] = field(default_factory=dict)
    # (base, fine-tuned) judge scores of the articles judged in both orders
    judge: dict[str, dict[Article, tuple[float, float]]] = field(default_factory=dict)

    def shared(self, keys: list[str], judged: bool = False) -> list[Article]:
        """The articles every one of `keys` has, in the first one's order."""
        source = self.judge if judged else self.rouge
        if not keys or any(k not in source for k in keys):
            return []
        rest = [source[k] for k in keys[1:]]
        return [a for a in source[keys[0]] if all(a in r for r in rest)]

    def runs(self, keys: list[str], metric: str, articles: list[Article]) -> np.ndarray:
        """(runs, articles) scores: one row per key. `metric` "judge" is the fine-tuned
        summary's judge score, "judge_base" the base summary's."""
        if metric.startswith("judge"):
            side = 0 if metric == "judge_base" else 1
            return np.array([[self.judge[k][a][side] for a in articles] for k in keys])
        return np.array([[self.rouge[k][a][metric] for a in articles] for k in keys])


def collect_cells(
    evaluations: list[Upstream], judgments: list[Upstream], stats: Statistics
) -> tuple[list[Cell], Evidence]:
    """Every evaluation cell, in plan order, with its difference from the base model and
    its judge's scores where it was judged; and the per-article evidence."""
    cells = [_read_cell(u) for u in evaluations]
    outputs = {u.key: u.output for u in evaluations}
    evidence = Evidence()
    evidence.rouge = {c.key: _per_article(outputs[c.key]) for c in cells if c.done}
    base_cells = {base_of(c): c for c in cells if c.is_base}
    judged = {_identity(u.params): u for u in judgments}
    for cell in cells:
        if cell.is_base:
            continue
        if cell.done:
            compare_with_base(cell, base_cells.get(base_of(cell)), [cell.key], evidence, stats)
        judge = judged.get(_cell_identity(cell))
        if judge is not None:
            _read_judge(cell, judge, evidence, stats)
    return cells, evidence


def base_of(cell: Cell) -> tuple[str, str, str]:
    return cell.model, cell.eval_lang, cell.test_set


def _identity(params: dict[str, Any]) -> tuple:
    keys = ("model", "method", "train_lang", "eval_lang", "test_set")
    return (*(params[k] for k in keys), key_seed(params))


def _cell_identity(cell: Cell) -> tuple:
    return (*cell.group, cell.seed)


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
        seed=key_seed(p),
    )
    if evaluation.output is None:
        cell.reason = cell.reason or _default_reason(cell.state)
        return cell
    scores_path = evaluation.output / SCORES
    if not scores_path.is_file():
        cell.state, cell.reason = "missing output", f"no {SCORES} in {evaluation.output}"
        return cell
    scores = json.loads(scores_path.read_text(encoding="utf-8"))
    for name in (*HEALTH, "weights", "dtype"):
        setattr(cell, name, scores.get(name))
    if cell.empty_share is None and cell.n:  # scores of an older run
        cell.empty_share = (cell.empty or 0) / cell.n
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


def _per_article(output: Path | None) -> dict[Article, dict[str, float]]:
    """ROUGE of each article of a finished cell (0 where the generation failed)."""
    zero = dict.fromkeys(METRICS, 0.0)
    path = output / PREDICTIONS if output is not None else None
    if path is None or not path.is_file():
        return {}
    return {
        (record["article_id"], record["language"]): record.get("rouge") or zero
        for record in read_jsonl(path)
    }


def compare_with_base(
    cell: Cell, base: Cell | None, keys: list[str], evidence: Evidence, stats: Statistics
) -> None:
    """The difference of `cell` (its runs `keys`) from the base model on the articles both
    were evaluated on, and the relative change; with several runs, the between-seed sd of
    the difference too."""
    if base is None or not base.done:
        reason = "no base-model cell" if base is None else f"base cell {base.state}"
        cell.relative_note = dict.fromkeys(METRICS, reason)
        return
    shared = evidence.shared([base.key, *keys])
    for metric in METRICS:
        if not shared:
            cell.difference[metric] = None
            cell.relative[metric] = None
            cell.relative_note[metric] = "no article in common with the base cell"
            continue
        base_runs = evidence.runs([base.key], metric, shared)
        runs = evidence.runs(keys, metric, shared)
        diff = seeded_difference(base_runs, runs, samples=stats.samples, seed=stats.seed)
        cell.difference[metric] = diff.to_json()
        if len(keys) > 1:
            cell.difference[metric]["seed_sd"] = between_seed_sd(
                runs.mean(axis=1) - base_runs.mean()
            )
        base_mean = float(base_runs.mean())
        if base_mean < stats.relative_floor:
            cell.relative[metric] = None
            cell.relative_interval[metric] = None
            cell.relative_note[metric] = (
                f"undefined: base {base_mean:.3f} is below the floor {stats.relative_floor}"
            )
            continue
        change = relative_change(base_runs, runs, samples=stats.samples, seed=stats.seed)
        cell.relative[metric] = change.mean
        finite = np.isfinite([change.low, change.high]).all()
        cell.relative_interval[metric] = [change.low, change.high] if finite else None


def between_seed_sd(values) -> float | None:
    """The sample standard deviation of per-seed numbers (None for fewer than two)."""
    values = np.asarray(values, dtype=float)
    return float(values.std(ddof=1)) if values.size > 1 else None


def _read_judge(cell: Cell, judge: Upstream, evidence: Evidence, stats: Statistics) -> None:
    path = judge.output / SCORES if judge.output is not None else None
    if path is not None and path.is_file():
        cell.judge_state = str(State.DONE)
        cell.judge = json.loads(path.read_text(encoding="utf-8"))
        cell.difference["judge"] = judge_difference(cell.judge, stats)
        judgments = judge.output / JUDGMENTS
        if judgments.is_file():
            evidence.judge[cell.key] = {
                (r["article_id"], r["language"]): (r["base_score"], r["tuned_score"])
                for r in read_jsonl(judgments)
                if r.get("status") == "ok"
            }
    else:
        cell.judge_state = "missing output" if judge.state == State.DONE else str(judge.state)
        cell.judge_reason = judge.reason or _default_reason(judge.state)


def judge_difference(scores: dict[str, Any], stats: Statistics) -> dict[str, Any] | None:
    """The judge's fine-tuned-minus-base difference as a test like the ROUGE ones (its
    p-value raised to the floor 1/(B+1) where it fell below)."""
    if scores.get("delta") is None:
        return None
    p_value, floored = with_floor(scores.get("delta_p_value"), stats.samples)
    return {
        "delta": scores["delta"],
        "low": scores.get("delta_low"),
        "high": scores.get("delta_high"),
        "p_value": p_value,
        "p_floor": floored,
        "n": scores.get("judged"),
    }


def adjust_p_values(cells: list[Cell], method: str) -> None:
    """Adjusted p-values of the differences from base, within each matrix: one family per
    (model, method, test set, metric) of the headline cells, and one per seed of the seeds'
    own cells."""
    tests = []
    for c in cells:
        for metric in (*METRICS, "judge"):
            test = c.difference.get(metric)
            if test is not None:
                seed = c.seed if c.is_seed_run else None
                tests.append((test, (c.model, c.method, c.test_set, metric, seed)))
    family = {id(test): f for test, f in tests}
    adjust_families([t for t, _ in tests], lambda t: family[id(t)], method)


def diagonal_same_topic(cells: list[Cell], eval_langs: list[str]) -> list[Cell]:
    """The same-topic cells that cannot exist, one per trained model (and seed) whose
    training language is evaluated: listed as n/a, so tables say why they are empty."""
    out, seen = [], set()
    if not any(c.test_set == "same_topic" for c in cells):
        return out
    for c in cells:
        where = (c.model, c.method, c.train_lang, c.seed)
        if c.is_base or where in seen or c.train_lang not in eval_langs:
            continue
        seen.add(where)
        seed = c.seed if c.is_seed_run else None
        key = evaluate_key(c.model, c.method, c.train_lang, c.train_lang, "same_topic", seed)
        out.append(
            Cell(
                key,
                c.model,
                c.method,
                c.train_lang,
                c.train_lang,
                "same_topic",
                NOT_APPLICABLE,
                SAME_TOPIC_DIAGONAL,
                seed=c.seed,
                seeds=c.seeds,
            )
        )
    return out


def write_cells(path: Path, cells: list[Cell]) -> None:
    path.write_text(json.dumps([c.to_json() for c in cells], indent=2, ensure_ascii=False) + "\n")


def read_cells(path: Path) -> list[Cell]:
    return [Cell.from_json(d) for d in json.loads(path.read_text(encoding="utf-8"))]
