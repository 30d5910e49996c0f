"""report.md: the sweep's results written like a paper's results section.

It opens with the overview (one row per model and method), then the methods compared with
each other on the same articles, then how the numbers were made (test sets, each model's
training and input budgets and decoding, the statistics), which cells are missing and why,
then for each model and method: the headline matrix (ROUGE-L) with its difference from the
base model, what happens on the diagonal (same training and evaluation language) and off it
(cross-lingual transfer), the relative changes and where they are undefined, generation
health (failed, empty, cut off at max_new_tokens, lengths, off-language outputs), the judge,
and the other ROUGE variants. Nothing missing is hidden; nothing undefined is given a number;
every "significant" rests on an adjusted p-value.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from babelsum.config import SweepConfig
from babelsum.metrics.bootstrap import p_floor
from babelsum.metrics.rouge import tokenizer_description
from babelsum.plan import BASE
from babelsum.report import tables
from babelsum.report.cells import METRICS, NOT_APPLICABLE, SAME_TOPIC_DIAGONAL, Cell, headline
from babelsum.report.comparisons import Comparison
from babelsum.report.matrices import (
    METRIC_NAMES,
    NOT_APPLICABLE_NOTE,
    Matrix,
    find,
    trained_methods,
)
from babelsum.report.overview import row_texts
from babelsum.report.statistics import ALPHA, Statistics, p_text
from babelsum.state import State

if TYPE_CHECKING:
    from babelsum.report.build import SweepResults

HEADLINE = "rougeL"
TEST_SET_TITLES = {
    "novel": "Novel topics (no topic shared with any training or validation data)",
    "same_topic": "Same topics (articles whose topic is in the training language's train split)",
}
NOVEL = (
    "*Novel topics*: test articles whose topic is in no training or validation data, in any "
    "language."
)
SAME_TOPIC = (
    "*Same topics* (trained on X, evaluated on Y): Y-language articles whose topic is in the "
    "training language's train split, and which are themselves in no train split. There is "
    f"no same-topic cell on the diagonal (X = Y): {SAME_TOPIC_DIAGONAL}; the tables show n/a "
    "there. A base model's same-topic cell in Y holds the same-topic articles in Y of every "
    "training language together; a difference from it uses the articles both were evaluated "
    "on."
)


def write_report(
    path: Path,
    results: SweepResults,
    matrices: list[Matrix],
    config: SweepConfig,
    heatmaps: dict[tuple[str, str, str, str], Path],
) -> None:
    """Write report.md; `heatmaps` maps (model, method, test_set, metric) to a PNG path."""
    cells = results.cells
    stats = Statistics.of(config)
    parts = [
        f"# Results: {config.study}",
        _generated(),
        _overview(results, stats),
        _comparisons(results.comparisons, cells, stats),
        _setup(cells, config, stats),
        _coverage(cells),
    ]
    shown = headline(cells)
    test_sets = list(dict.fromkeys(c.test_set for c in shown))
    for model, method in trained_methods(shown):
        parts.append(f"## {model}, {method} fine-tuning")
        for test_set in test_sets:
            parts.append(
                _section(shown, matrices, stats, model, method, test_set, heatmaps, path.parent)
            )
    parts.append(_reading_notes())
    path.write_text("\n\n".join(p for p in parts if p) + "\n", encoding="utf-8")


def _generated() -> str:
    return f"*Written by `launch` (gather stage) on {time.strftime('%Y-%m-%d %H:%M')}.*"


# ---------------------------------------------------------------- overview and comparisons


def _overview(results: SweepResults, stats: Statistics) -> str:
    if not results.overview:
        return "## Overview\n\nNo evaluation cell in this sweep."
    header, rows = row_texts(results.overview)
    seeds = any(c.seeds for c in results.cells)
    return "\n".join(
        [
            "## Overview",
            "",
            tables.markdown_table(header, rows),
            "",
            "One row per fine-tuned model and method, and per base model (`base`); ROUGE-L "
            "(0-1) with 95% intervals. *Own language*: the mean over the cells whose training "
            "and evaluation language are the same (for a base model: its cells in the "
            "training languages). *Same topics*: a same-topic set has no own-language cell "
            "(a same-topic article in the training language would be the training article "
            "itself), so this column is the mean over the model's off-diagonal same-topic "
            "cells (for a base model: its same-topic cells). *vs base, other languages*: the "
            "mean over the novel-topic cells whose training and evaluation language differ of "
            "the difference from the base model on the same articles. A mean over several "
            "cells resamples each cell's articles on their own (stratified bootstrap); "
            '"(3 of 4 cells)" marks a mean over fewer cells than exist. *Health* names the '
            f"cells where more than {stats.health_flag_share:.0%} of the outputs were empty or "
            "used all of max_new_tokens (`evaluate.health_flag_share`)."
            + (
                " With several training seeds every cell is the mean over its seeds."
                if seeds
                else ""
            ),
        ]
    )


def _comparisons(comparisons: list[Comparison], cells: list[Cell], stats: Statistics) -> str:
    lines = ["## Method comparisons", ""]
    pairs = list(dict.fromkeys((c.model_a, c.method_a, c.model_b, c.method_b) for c in comparisons))
    if not pairs:
        lines.append("One fine-tuned method per training language: nothing to compare.")
        return "\n".join(lines)
    lines.append(
        "Each fine-tuned method against each other one trained on the same language, on the "
        "articles both were evaluated on (matched by article id and language): the difference "
        "of the first minus the second, with its paired bootstrap 95% interval. A * marks an "
        f"adjusted p-value below {ALPHA:g} ({stats.adjustment} within one pair, test set and "
        "metric). Every ROUGE variant, n and the p-values: `comparisons.csv`."
    )
    test_sets = list(dict.fromkeys(c.test_set for c in comparisons))
    metrics = [HEADLINE, *(["judge"] if any(c.metric == "judge" for c in comparisons) else [])]
    for model_a, method_a, model_b, method_b in pairs:
        a, b = f"{model_a} {method_a}", f"{model_b} {method_b}"
        lines += ["", f"### {a} minus {b}"]
        for test_set in test_sets:
            for metric in metrics:
                mine = [
                    c
                    for c in comparisons
                    if (c.model_a, c.method_a, c.model_b, c.method_b)
                    == (model_a, method_a, model_b, method_b)
                    and c.test_set == test_set
                    and c.metric == metric
                ]
                if not mine:
                    continue
                matrix = comparison_matrix(mine, cells)
                title = TEST_SET_TITLES.get(test_set, test_set).split(" (")[0]
                lines += ["", f"**{METRIC_NAMES[metric]}, {title.lower()}**", ""]
                lines += [tables.markdown(matrix), "", _comparison_sentence(mine, a, b)]
    return "\n".join(lines)


def comparison_matrix(comparisons: list[Comparison], cells: list[Cell]) -> Matrix:
    """The comparisons of one pair, test set and metric as a training x evaluation matrix."""
    first = comparisons[0]
    order = list(dict.fromkeys(c.eval_lang for c in cells))
    rows = sorted({c.train_lang for c in comparisons}, key=order.index)
    cols = sorted({c.eval_lang for c in comparisons}, key=order.index)
    matrix = Matrix(first.model_a, first.method_a, first.test_set, "comparison_delta", rows, cols)
    for c in comparisons:
        where = (c.train_lang, c.eval_lang)
        matrix.values[where] = c.delta
        if c.delta is None:
            matrix.notes[where] = c.note or "missing"
            continue
        matrix.intervals[where] = (c.delta_low, c.delta_high)
        matrix.tests[where] = {"delta": c.delta, "p_adjusted": c.p_adjusted}
    if first.test_set == "same_topic":
        for lang in set(rows) & set(cols):
            matrix.values[lang, lang] = None
            matrix.notes[lang, lang] = f"{NOT_APPLICABLE_NOTE}: {SAME_TOPIC_DIAGONAL}"
    return matrix


def _comparison_sentence(comparisons: list[Comparison], a: str, b: str) -> str:
    made = [c for c in comparisons if c.delta is not None]
    higher = sum(bool(c.significant) and c.delta > 0 for c in made)
    lower = sum(bool(c.significant) and c.delta < 0 for c in made)
    text = (
        f"{a} scores higher in {higher} and lower in {lower} of {len(made)} cells "
        "(adjusted p < 0.05); the others show no clear difference."
    )
    if len(made) < len(comparisons):
        text += f" {len(comparisons) - len(made)} cell(s) cannot be compared (missing)."
    return text


# ---------------------------------------------------------------- setup and coverage


def _setup(cells: list[Cell], config: SweepConfig, stats: Statistics) -> str:
    evaluate = config.evaluate
    done = [c for c in cells if c.is_task and c.done and c.n is not None]
    sizes = sorted({c.n for c in done})
    if not sizes:
        size = "no cell has finished yet"
    elif len(sizes) == 1:
        size = f"n = {sizes[0]} articles per cell"
    else:
        size = f"n = {sizes[0]} to {sizes[-1]} articles per cell"
    langs = list(dict.fromkeys(c.eval_lang for c in cells))
    tokenizers = "; ".join(
        f"{lang}: {tokenizer_description(lang, evaluate.rouge_stemming)}" for lang in langs
    )
    judge = (
        f"An LLM judge ({evaluate.judge.model}) scored the base and the fine-tuned summary of "
        "each article from 0 to 5, seeing them in both orders; a summary's score is the mean of "
        "the two readings. Articles the judge never answered usably are missing, not 0."
        if evaluate.judge
        else "No LLM judge was configured."
    )
    test_sets = [NOVEL if t == "novel" else SAME_TOPIC for t in evaluate.test_sets]
    return "\n".join(
        [
            "## Setup",
            "",
            f"Training languages: {', '.join(config.train.languages)}. Evaluation languages: "
            f"{', '.join(langs)}. Each cell is one model on the test articles of one language "
            f"({size}).",
            "",
            *(f"- {t}" for t in test_sets),
            "",
            "How each model was trained and evaluated: these differ between models and "
            "confound the comparison of methods (an article cut to 1,024 tokens is not the "
            "article cut to 4,096).",
            "",
            _budgets(cells, config),
            "",
            _statistics_text(config, stats),
            "",
            f"Tokenizers: {tokenizers}.",
            "",
            judge,
        ]
    )


def _budgets(cells: list[Cell], config: SweepConfig) -> str:
    """One row per trained method and per base model: training length, input budgets,
    decoding."""
    evaluate = config.evaluate
    header = [
        "model", "method", "epochs", "max steps", "train input tokens", "eval input tokens",
        "max new tokens", "decoding", "seeds",
    ]  # fmt: skip
    seeds = config.train.seeds
    rows = []
    for m in config.train.methods:
        seed_text = ", ".join(map(str, seeds)) if seeds else str(m.seed)
        rows.append(
            [
                m.model,
                m.label,
                f"{m.epochs:g}",
                str(m.max_steps or "—"),
                str(m.max_input_tokens),
                _eval_budget(cells, m.model, evaluate.max_input_tokens),
                str(evaluate.max_new_tokens),
                _decoding(config, m.model),
                seed_text,
            ]  # fmt: skip
        )
    if evaluate.base_models:
        for model in dict.fromkeys(m.model for m in config.train.methods):
            rows.append(
                [
                    model,
                    BASE,
                    "—",
                    "—",
                    "—",
                    _eval_budget(cells, model, evaluate.max_input_tokens),
                    str(evaluate.max_new_tokens),
                    _decoding(config, model),
                    "—",
                ]  # fmt: skip
            )
    note = (
        "*Max steps*, when set, ends training before the epochs do. "
        "*Eval input tokens*: the prompt tokens an article may fill, `evaluate.max_input_tokens` "
        "or the model's own limit where that is lower (as the finished cells recorded it; "
        '"at most" where none has finished). Articles longer than that are cut; the health '
        "tables count them."
    )
    return tables.markdown_table(header, rows) + "\n\n" + note


def _eval_budget(cells: list[Cell], model: str, configured: int) -> str:
    budgets = sorted({c.input_budget for c in cells if c.model == model and c.input_budget})
    if not budgets:
        return f"at most {configured}"
    text = ", ".join(map(str, budgets))
    return text + (" (the model's limit)" if budgets[-1] < configured else "")


def _decoding(config: SweepConfig, model: str) -> str:
    """ "greedy", or the settings of `models.X.decoding` that are not greedy's defaults."""
    decoding = getattr(config.models[model], "decoding", None)
    values = decoding.model_dump(exclude_defaults=True) if decoding is not None else {}
    kind = "beam search" if values.get("num_beams", 1) > 1 else "greedy"
    return ", ".join([kind, *(f"{k} {v}" for k, v in values.items())])


def _statistics_text(config: SweepConfig, stats: Statistics) -> str:
    seeds = config.train.seeds
    floor = p_floor(stats.samples)
    lines = [
        "Statistics:",
        "",
        "- ROUGE is F1 on a 0-1 scale, the mean over articles; a failed or empty generation "
        "scores 0.",
        f"- Intervals are 95% percentile bootstrap intervals over articles ({stats.samples} "
        f"resamples, seed {stats.seed}). Differences from the base model and between methods "
        "use a paired bootstrap over the same articles (matched by article id and language).",
        f"- p-values are two-sided bootstrap p-values. With {stats.samples} resamples none can "
        f"be below 1/({stats.samples} + 1) = {floor:.2g}: a smaller one is shown as "
        f'"{p_text(floor, True)}", never as 0.',
        f'- Multiple comparisons: a * and every "above 0" or "below 0" use p-values adjusted '
        f"with {stats.adjustment} (`evaluate.p_adjust: {stats.p_adjust}`) within each matrix "
        "(one model, method, test set and metric; for method comparisons one method pair, test "
        f"set and metric), at {ALPHA:g}. The intervals themselves are not adjusted.",
        "- Relative change is the ratio of paired means, (fine-tuned - base) / base, with a "
        "bootstrap interval from the same resamples. It is undefined where the base model "
        f"scores below {stats.relative_floor} (`evaluate.relative_floor`): a percentage of "
        "almost nothing means nothing.",
    ]
    if seeds and len(seeds) > 1:
        lines.append(
            f"- Training seeds: {', '.join(map(str, seeds))} (`train.seeds`). Each entry is the "
            "mean over the finished seeds; its interval resamples the seeds with replacement, "
            "then the articles, the same articles for every drawn seed (every seed is evaluated "
            "on the same test articles), so it covers both the seed and the article variance. "
            "The between-seed standard deviation is shown beside it; each seed's own cell is "
            'in cells.csv (`seed`), their mean as `seed` "mean".'
        )
    else:
        lines.append(
            "- One training run per model, method and language (`train.seeds` not set or one "
            "seed): the intervals cover the article variance only, not the seed variance."
        )
    return "\n".join(lines)


def _coverage(cells: list[Cell]) -> str:
    tasks = [c for c in cells if c.is_task]
    missing = [c for c in tasks if not c.done]
    lines = ["## Coverage", ""]
    lines.append(f"{len(tasks) - len(missing)} of {len(tasks)} evaluation cells finished.")
    judged = [c for c in tasks if c.judge_state is not None]
    if judged:
        judge_missing = [c for c in judged if c.judge_state != State.DONE]
        lines.append(f"{len(judged) - len(judge_missing)} of {len(judged)} judge tasks finished.")
        lines.append(_judge_coverage([c.judge for c in judged if c.judge]))
    else:
        judge_missing = []
    if any(c.state == NOT_APPLICABLE for c in cells):
        lines.append(
            "Same-topic cells on the diagonal are not cells of this study (n/a, not missing): "
            f"{SAME_TOPIC_DIAGONAL}."
        )
    if missing or judge_missing:
        lines += ["", "| cell | state | reason |", "|---|---|---|"]
        lines += [f"| `{c.key}` | {c.state} | {_cell_text(c.reason)} |" for c in missing]
        lines += [
            f"| judge of `{c.key}` | {c.judge_state} | {_cell_text(c.judge_reason)} |"
            for c in judge_missing
        ]
        lines += ["", "Missing cells are shown as *missing* in every table below."]
    return "\n".join(lines)


def _judge_coverage(scores: list[dict]) -> str:
    """How many article pairs the finished judge tasks could score, and why not the rest."""
    pairs = sum(s.get("n", 0) for s in scores)
    judged = sum(s.get("judged", 0) for s in scores)
    reasons: dict[str, int] = {}
    for s in scores:
        for reason, count in (s.get("missing_reasons") or {}).items():
            reasons[reason] = reasons.get(reason, 0) + count
    why = "; ".join(f"{reason}: {count}" for reason, count in reasons.items())
    return f"They judged {judged} of {pairs} article pairs in both orders" + (
        f" (missing: {why})." if why else "."
    )


# ---------------------------------------------------------------- one method, one test set


def _section(cells, matrices, stats, model, method, test_set, heatmaps, root: Path) -> str:
    def m(quantity: str) -> Matrix:
        return find(matrices, model, method, test_set, quantity)

    name = METRIC_NAMES[HEADLINE]
    seeds = any(c.seeds for c in cells if (c.model, c.method) == (model, method))
    parts = [f"### {TEST_SET_TITLES.get(test_set, test_set)}"]
    parts.append(
        f"**{name}** (rows: training language, `base` = the untrained model; columns: "
        f"evaluation language; 95% intervals{'; mean over seeds' if seeds else ''})\n\n"
        f"{tables.markdown(m(HEADLINE))}"
    )
    if test_set == "same_topic":
        parts.append(f"n/a: {SAME_TOPIC_DIAGONAL}.")
    parts.append(
        f"**Difference from the base model, {name}** (paired bootstrap 95% intervals; * "
        f"adjusted p < {ALPHA:g}, {stats.adjustment} within this matrix)\n\n"
        f"{tables.markdown(m(HEADLINE + '_delta'))}"
    )
    if seeds:
        parts.append(
            f"**Between-seed standard deviation, {name}** (of the seeds' cell means)\n\n"
            f"{tables.markdown(m(HEADLINE + '_seed_sd'))}"
        )
    parts.append(_narrative(m(HEADLINE), m(HEADLINE + "_delta"), cells, model, method, test_set))
    parts.append(_relative(m(HEADLINE + "_relative"), stats.relative_floor))
    image = heatmaps.get((model, method, test_set, HEADLINE))
    if image is not None:
        parts.append(f"![{name} heatmap]({image.relative_to(root).as_posix()})")
    parts.append(_health(cells, model, method, test_set, stats))
    if any(q.quantity == "judge_delta" for q in matrices):
        parts.append(_judge(m, cells, model, method, test_set, heatmaps, root))
    others = [x for x in METRICS if x != HEADLINE]
    parts.append(
        "**Other ROUGE variants**, difference from the base model\n\n"
        + "\n\n".join(f"{METRIC_NAMES[x]}\n\n{tables.markdown(m(x + '_delta'))}" for x in others)
    )
    return "\n\n".join(parts)


def _narrative(absolute: Matrix, delta: Matrix, cells, model, method, test_set) -> str:
    """What the diagonal and the off-diagonal cells say, in sentences with their numbers."""
    n_of = {
        (c.train_lang, c.eval_lang): c.n
        for c in cells
        if c.model == model and c.method == method and c.test_set == test_set
    }
    diagonal, off, missing = [], [], 0
    for row in delta.rows:
        for col in delta.cols:
            if (row, col) not in delta.values:
                continue
            value = delta.value(row, col)
            if value is None:
                missing += not delta.notes.get((row, col), "").startswith(NOT_APPLICABLE_NOTE)
                continue
            (diagonal if row == col else off).append((row, col, value))
    blocks = []
    if diagonal:
        raised = [d for d in diagonal if delta.significance(d[0], d[1]) == 1]
        blocks.append(
            f"In its own language, fine-tuning changed {METRIC_NAMES[HEADLINE]} by "
            f"{_mean(d[2] for d in diagonal):+.3f} on average; the difference is above 0 "
            f"(adjusted p < {ALPHA:g}) in {len(raised)} of {len(diagonal)} languages."
        )
        items = []
        for row, col, value in diagonal:
            base = absolute.value("base", col)
            tuned = absolute.value(row, col)
            low, high = delta.intervals.get((row, col), (float("nan"),) * 2)
            test = delta.tests.get((row, col)) or {}
            before = f"{base:.3f} → {tuned:.3f} " if base is not None and tuned is not None else ""
            p = p_text(test.get("p_adjusted"), bool(test.get("p_floor")))
            items.append(
                f"- {row}: {before}({value:+.3f}, 95% CI [{low:+.3f}, {high:+.3f}], "
                f"adjusted p {p if p.startswith('<') else '= ' + p}, "
                f"n = {n_of.get((row, col), '?')})"
            )
        blocks.append("\n".join(items))
    if off:
        up = sum(delta.significance(r, c) == 1 for r, c, _ in off)
        down = sum(delta.significance(r, c) == -1 for r, c, _ in off)
        blocks.append(
            f"Across languages (training and evaluation language differ), the mean difference is "
            f"{_mean(v for _, _, v in off):+.3f}; {up} of {len(off)} differences are above 0 and "
            f"{down} below (adjusted p < {ALPHA:g})."
        )
    if not blocks:
        blocks.append("No finished cell to compare with the base model.")
    if missing:
        blocks.append(f"{missing} cell(s) of this matrix are missing (see Coverage).")
    return "\n\n".join(blocks)


def _relative(matrix: Matrix, floor: float) -> str:
    undefined = sum(1 for note in matrix.notes.values() if note.startswith("undefined"))
    text = (
        f"**Relative change, {METRIC_NAMES[HEADLINE]}** (ratio of paired means, 95% bootstrap "
        f"interval)\n\n{tables.markdown(matrix)}"
    )
    if undefined:
        text += (
            f"\n\n{undefined} relative change(s) are undefined: the base model scores below "
            f"{floor} there, and a percentage of almost nothing means nothing. Read the "
            "absolute difference instead."
        )
    return text


def _health(cells: list[Cell], model: str, method: str, test_set: str, stats: Statistics) -> str:
    """One row per cell of this method (and its base model) on this test set."""
    mine = [
        c
        for c in cells
        if c.model == model and c.test_set == test_set and c.method in (method, BASE) and c.done
    ]
    header = [
        "cell", "n", "failed", "empty", "hit max_new_tokens", "output tokens",
        "reference tokens", "articles cut", "off-language",
    ]  # fmt: skip
    rows = []
    for c in mine:
        where = f"base {c.eval_lang}" if c.is_base else f"{c.train_lang} > {c.eval_lang}"
        rows.append(
            [
                where,
                str(c.n),
                _share(c.failure_share, c.failures),
                _share(c.empty_share, c.empty, stats.health_flag_share),
                _share(c.max_new_tokens_share, c.max_new_tokens_reached, stats.health_flag_share),
                _number(c.mean_output_tokens),
                _number(c.mean_reference_tokens),
                str(c.articles_cut) if c.articles_cut is not None else "?",
                f"{c.off_language_share:.0%}" if c.off_language_share is not None else "?",
            ]  # fmt: skip
        )
    if not rows:
        return "**Generation health.** No finished cell."
    seeds = any(c.seeds for c in mine)
    return (
        "**Generation health** (counts of the cell's articles"
        + (", summed over seeds" if seeds else "")
        + "; ⚠ marks a share above "
        f"{stats.health_flag_share:.0%}; lengths are mean tokens of the evaluated model's "
        "tokenizer, output over the answered articles; off-language: share of the answered "
        "outputs, those with fewer than 3 letters left out)\n\n"
        + tables.markdown_table(header, rows)
    )


def _share(share: float | None, count: int | None, flag: float | None = None) -> str:
    if share is None:
        return "?"
    text = f"{count} ({share:.0%})"
    return text + " ⚠" if flag is not None and share > flag else text


def _number(value: float | None) -> str:
    return "?" if value is None else f"{value:.1f}"


def _judge(m, cells, model, method, test_set, heatmaps, root: Path) -> str:
    lines = [
        "**LLM judge**, mean score of the fine-tuned model (0-5) and its difference from the "
        "base model on the same articles (* adjusted p < 0.05 within this matrix)",
        "",
        tables.markdown(m("judge_tuned")),
        "",
        tables.markdown(m("judge_delta")),
    ]
    judged = [
        c
        for c in cells
        if c.model == model and c.method == method and c.test_set == test_set and c.judge
    ]
    if judged:
        wins = sum(c.judge.get("wins", 0) for c in judged)
        ties = sum(c.judge.get("ties", 0) for c in judged)
        losses = sum(c.judge.get("losses", 0) for c in judged)
        missing = sum(c.judge.get("missing", 0) for c in judged)
        total = sum(c.judge.get("n", 0) for c in judged)
        bias = [
            c.judge["first_position_advantage"]
            for c in judged
            if c.judge.get("first_position_advantage") is not None
        ]
        lines += [
            "",
            f"Of {total} article pairs, {total - missing} were judged in both orders: the "
            f"fine-tuned summary won {wins}, tied {ties} and lost {losses} (a win counts only "
            f"when both orders agree). {missing} pair(s) are missing (no prediction, or no "
            "usable judge answer).",
        ]
        if bias:
            lines.append(
                f"The summary shown first scored {_mean(bias):+.2f} points more on average "
                "(position bias, cancelled by averaging both orders)."
            )
    image = heatmaps.get((model, method, test_set, "judge"))
    if image is not None:
        lines += ["", f"![judge heatmap]({image.relative_to(root).as_posix()})"]
    return "\n".join(lines)


def _reading_notes() -> str:
    return "\n".join(
        [
            "## Reading these numbers",
            "",
            "- ROUGE values compare within a column (one evaluation language), not across "
            "columns: each language has its own tokenizer (MeCab morphemes for Japanese make "
            "its scores higher than word-level ones).",
            "- A failed or empty generation counts 0 in the means; the health tables list "
            "them per cell, with the outputs cut off at max_new_tokens, so a mean pulled down "
            "by them can be recognised.",
            "- Off-language share: answered summaries that py3langid reads as another language "
            "than the one asked; cross-lingual cells often drift to the training language.",
            "- Files: `cells.csv` (one row per cell, every number; with seeds one row per seed "
            "and one for their mean), `comparisons.csv` (methods against each other), "
            "`overview.json` (the overview), `matrices/` (one CSV per matrix), `heatmaps/` "
            "(PNG), `cells.json` (what `launch report` prints).",
        ]
    )


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values) if values else float("nan")


def _cell_text(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")
