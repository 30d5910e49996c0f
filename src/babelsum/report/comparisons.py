"""Methods against each other: every pair of trained (model, method) with the same training
language, per evaluation language and test set, on the same articles.

A comparison is `a - b` (a comes first in the config) of one metric (each ROUGE variant, and
the judge's score of the fine-tuned summary when both were judged), over the articles both
cells were evaluated on (matched by article id and language): the paired bootstrap difference
with its 95% interval and p-value, adjusted within its family (one method pair, test set and
metric: every training and evaluation language of that pair). With several seeds each side
is its seeds' mean, resampled seeds-then-articles (report/seeds.py). `comparisons.csv` holds
one row per comparison; a comparison that cannot be made has a note and no numbers.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from babelsum.metrics.bootstrap import seeded_difference
from babelsum.report.cells import METRICS, Cell, Evidence, headline, run_keys
from babelsum.report.statistics import Statistics, adjust_families, significant

JUDGE = "judge"


@dataclass
class Comparison:
    model_a: str
    method_a: str
    model_b: str
    method_b: str
    train_lang: str
    eval_lang: str
    test_set: str
    metric: str  # a ROUGE variant, or "judge" (the fine-tuned summary's judge score, 0-5)
    n: int | None = None  # articles both were evaluated on
    seeds_a: int | None = None  # training seeds averaged on each side
    seeds_b: int | None = None
    mean_a: float | None = None
    mean_b: float | None = None
    delta: float | None = None  # mean_a - mean_b
    delta_low: float | None = None
    delta_high: float | None = None
    p_value: float | None = None
    p_floor: bool | None = None  # p_value is the floor 1/(B+1): the true value is below
    p_adjusted: float | None = None
    significant: bool | None = None  # adjusted p below 0.05
    note: str | None = None  # why there is no number

    def test(self) -> dict:
        """The test as `adjust_families` reads it, with its family: one method pair, test
        set and metric."""
        family = (self.model_a, self.method_a, self.model_b, self.method_b)
        return {
            "delta": self.delta,
            "p_value": self.p_value,
            "family": (*family, self.test_set, self.metric),
        }


COLUMNS = [f.name for f in fields(Comparison)]


def compare_methods(cells: list[Cell], evidence: Evidence, stats: Statistics) -> list[Comparison]:
    """Every comparison of the sweep, in config order, with adjusted p-values."""
    shown = [c for c in headline(cells) if not c.is_base and c.applicable]
    by_cell = {c.group: c for c in shown}
    methods = list(dict.fromkeys((c.model, c.method) for c in shown))
    metrics = [*METRICS, *([JUDGE] if evidence.judge else [])]
    out = []
    for i, a in enumerate(methods):
        for b in methods[i + 1 :]:
            for ca in shown:
                if (ca.model, ca.method) != a:
                    continue
                cb = by_cell.get((*b, ca.train_lang, ca.eval_lang, ca.test_set))
                if cb is not None:
                    out += [_compare(ca, cb, metric, evidence, stats) for metric in metrics]
    tests = [c.test() for c in out]
    adjust_families(tests, lambda test: test["family"], stats.p_adjust)
    for comparison, test in zip(out, tests, strict=True):
        comparison.p_adjusted = test["p_adjusted"]
        if comparison.p_adjusted is not None:
            comparison.significant = significant(test) != 0
    return out


def _compare(a: Cell, b: Cell, metric: str, evidence: Evidence, stats: Statistics) -> Comparison:
    out = Comparison(
        a.model, a.method, b.model, b.method, a.train_lang, a.eval_lang, a.test_set, metric
    )  # type: ignore[arg-type]
    not_done = [f"{c.model}/{c.method}: {c.state}" for c in (a, b) if not c.done]
    if not_done:
        out.note = "; ".join(not_done)
        return out
    keys_a, keys_b = run_keys(a), run_keys(b)
    judged = metric == JUDGE
    if judged and not all(k in evidence.judge for k in keys_a + keys_b):
        out.note = "not judged on both sides"
        return out
    articles = evidence.shared(keys_a + keys_b, judged=judged)
    out.seeds_a, out.seeds_b = len(keys_a), len(keys_b)
    if not articles:
        out.note = "no article in common"
        return out
    runs_a = evidence.runs(keys_a, metric, articles)
    runs_b = evidence.runs(keys_b, metric, articles)
    diff = seeded_difference(runs_b, runs_a, samples=stats.samples, seed=stats.seed)
    out.n = len(articles)
    out.mean_a, out.mean_b = float(runs_a.mean()), float(runs_b.mean())
    out.delta, out.delta_low, out.delta_high = diff.delta, diff.low, diff.high
    out.p_value, out.p_floor = diff.p_value, diff.p_floor
    return out


def write_comparisons_csv(comparisons: list[Comparison], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, COLUMNS)
        writer.writeheader()
        writer.writerows(asdict(c) for c in comparisons)
