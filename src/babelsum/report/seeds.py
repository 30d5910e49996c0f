"""Several training seeds of one cell, as one cell: the mean over seeds, the between-seed
standard deviation, and an interval that covers both the seed and the article variance.

The interval is a two-level bootstrap (metrics/bootstrap.py): each resample draws the seeds
with replacement, then the articles with replacement, the same articles for every drawn seed,
since every seed is evaluated on the same test articles. With 2 or 3 seeds the seed level is
coarse (a resample of 3 seeds can draw one seed three times): the between-seed standard
deviation is reported beside it. Only finished seeds count; the aggregate says which.

The aggregate is a cell with `seed: "mean"` and the key the cell would have without seeds;
the seeds' own cells stay in the list (and in cells.csv) with their seed.
"""

from __future__ import annotations

from collections import Counter

from babelsum.metrics.bootstrap import seeded_difference, seeded_mean
from babelsum.plan import evaluate_key
from babelsum.report.cells import (
    MEAN,
    METRICS,
    Cell,
    Evidence,
    base_of,
    between_seed_sd,
    compare_with_base,
)
from babelsum.report.statistics import Statistics
from babelsum.state import State

_SUMMED = ("failures", "empty", "max_new_tokens_reached", "articles_cut")


def aggregate_seeds(cells: list[Cell], evidence: Evidence, stats: Statistics) -> list[Cell]:
    """`cells` with, after the last seed of each several-seed cell, the seeds' aggregate."""
    groups: dict[tuple, list[Cell]] = {}
    for c in cells:
        if c.is_seed_run:
            groups.setdefault(c.group, []).append(c)
    bases = {base_of(c): c for c in cells if c.is_base}
    out = []
    for c in cells:
        out.append(c)
        if c.is_seed_run and c is groups[c.group][-1]:
            out.append(aggregate(groups[c.group], bases.get(base_of(c)), evidence, stats))
    return out


def aggregate(runs: list[Cell], base: Cell | None, evidence: Evidence, stats: Statistics) -> Cell:
    first = runs[0]
    done = [r for r in runs if r.done]
    cell = Cell(
        evaluate_key(first.model, first.method, first.train_lang, first.eval_lang, first.test_set),
        *first.group,
        state=str(State.DONE) if done else first.state,
        seed=MEAN,
        seeds=[r.seed for r in done],  # type: ignore[misc]
    )
    missing = [r for r in runs if not r.done]
    if missing:
        cell.reason = f"{len(done)} of {len(runs)} seeds finished; " + "; ".join(
            f"seed {r.seed}: {r.state}: {r.reason}" for r in missing
        )
    if not done:
        return cell
    keys = [r.key for r in done]
    _health(cell, done)
    articles = evidence.shared(keys)
    if not articles:
        cell.reason = (cell.reason + "; " if cell.reason else "") + "no article in every seed"
        return cell
    for metric in METRICS:
        runs_of = evidence.runs(keys, metric, articles)
        interval = seeded_mean(runs_of, samples=stats.samples, seed=stats.seed)
        cell.scores[metric] = {"mean": interval.mean, "low": interval.low, "high": interval.high}
        cell.seed_sd[metric] = between_seed_sd(runs_of.mean(axis=1))
    compare_with_base(cell, base, keys, evidence, stats)
    _judge(cell, done, evidence, stats)
    return cell


def _health(cell: Cell, done: list[Cell]) -> None:
    """Counts summed over the seeds, shares of all their outputs, lengths averaged."""
    outputs = sum(r.n or 0 for r in done)
    cell.n = done[0].n
    for name in _SUMMED:
        values = [getattr(r, name) for r in done if getattr(r, name) is not None]
        setattr(cell, name, sum(values) if values else None)
    for count, share in (
        ("failures", "failure_share"),
        ("empty", "empty_share"),
        ("max_new_tokens_reached", "max_new_tokens_share"),
    ):
        value = getattr(cell, count)
        setattr(cell, share, value / outputs if value is not None and outputs else None)
    for name in ("off_language_share", "mean_output_tokens", "mean_reference_tokens"):
        values = [getattr(r, name) for r in done if getattr(r, name) is not None]
        setattr(cell, name, sum(values) / len(values) if values else None)
    cell.input_budget, cell.max_new_tokens = done[0].input_budget, done[0].max_new_tokens
    cell.weights, cell.dtype = done[0].weights, done[0].dtype


def _judge(cell: Cell, done: list[Cell], evidence: Evidence, stats: Statistics) -> None:
    """The judge's scores over the seeds that were judged, on the articles judged in all."""
    judged = [r for r in done if r.judge is not None and r.key in evidence.judge]
    if not judged:
        states = [r for r in done if r.judge_state is not None]
        if states:
            cell.judge_state, cell.judge_reason = states[0].judge_state, states[0].judge_reason
        return
    keys = [r.key for r in judged]
    articles = evidence.shared(keys, judged=True)
    base = evidence.runs(keys, "judge_base", articles)
    tuned = evidence.runs(keys, "judge", articles)
    samples, seed = stats.samples, stats.seed
    base_mean = seeded_mean(base, samples=samples, seed=seed)
    tuned_mean = seeded_mean(tuned, samples=samples, seed=seed)
    # base and fine-tuned were scored together in each judge prompt: paired within a seed
    diff = seeded_difference([[0.0] * len(articles)], tuned - base, samples=samples, seed=seed)
    totals: Counter = Counter()
    reasons: Counter = Counter()
    for r in judged:
        totals.update({k: r.judge.get(k) or 0 for k in ("n", "judged", "missing", "wins")})
        totals.update({k: r.judge.get(k) or 0 for k in ("ties", "losses")})
        reasons.update(r.judge.get("missing_reasons") or {})
    bias = [
        r.judge["first_position_advantage"]
        for r in judged
        if r.judge.get("first_position_advantage") is not None
    ]
    cell.judge_state = str(State.DONE)
    cell.judge = {
        **dict(totals),
        "missing_reasons": dict(reasons),
        "articles": len(articles),  # judged in both orders for every seed: the means' articles
        "seeds": [r.seed for r in judged],
        "base_mean": _number(base_mean.mean),
        "base_low": _number(base_mean.low),
        "base_high": _number(base_mean.high),
        "tuned_mean": _number(tuned_mean.mean),
        "tuned_low": _number(tuned_mean.low),
        "tuned_high": _number(tuned_mean.high),
        "tuned_seed_sd": between_seed_sd(tuned.mean(axis=1)) if articles else None,
        "delta": _number(diff.delta),
        "delta_low": _number(diff.low),
        "delta_high": _number(diff.high),
        "delta_p_value": _number(diff.p_value),
        "first_position_advantage": sum(bias) / len(bias) if bias else None,
        "scale": "0-5, mean of both orders, mean over seeds",
    }
    if articles:
        cell.difference["judge"] = diff.to_json()


def _number(x: float) -> float | None:
    return None if x != x else x  # NaN (nothing judged) -> None
