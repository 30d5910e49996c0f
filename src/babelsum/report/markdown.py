"""report.md: the sweep's results written like a paper's results section.

It says how the numbers were made (test sets, n, tokenizers, intervals), which cells are
missing and why, then for each model and method: the headline matrix (ROUGE-L) with its
difference from the base model, what happens on the diagonal (same training and evaluation
language) and off it (cross-lingual transfer), the relative changes and where they are
undefined, generation health (failures, off-language outputs), the judge, and the other ROUGE
variants. Nothing missing is hidden; nothing undefined is given a number.
"""

from __future__ import annotations

import time
from pathlib import Path

from babelsum.config import SweepConfig
from babelsum.metrics.rouge import tokenizer_description
from babelsum.report import tables
from babelsum.report.cells import METRICS, Cell
from babelsum.report.matrices import METRIC_NAMES, Matrix, find, trained_methods
from babelsum.state import State

HEADLINE = "rougeL"
TEST_SET_TITLES = {
    "novel": "Novel topics (no topic shared with any training language)",
    "same_topic": "Same topics (other-language versions of training topics)",
}


def write_report(
    path: Path,
    cells: list[Cell],
    matrices: list[Matrix],
    config: SweepConfig,
    heatmaps: dict[tuple[str, str, str, str], Path],
) -> None:
    """Write report.md; `heatmaps` maps (model, method, test_set, metric) to a PNG path."""
    parts = [f"# Results: {config.study}", _generated(), _setup(cells, config), _coverage(cells)]
    test_sets = list(dict.fromkeys(c.test_set for c in cells))
    for model, method in trained_methods(cells):
        parts.append(f"## {model}, {method} fine-tuning")
        for test_set in test_sets:
            parts.append(
                _section(cells, matrices, config, model, method, test_set, heatmaps, path.parent)
            )
    parts.append(_reading_notes(config))
    path.write_text("\n\n".join(p for p in parts if p) + "\n", encoding="utf-8")


def _generated() -> str:
    return f"*Written by `launch` (gather stage) on {time.strftime('%Y-%m-%d %H:%M')}.*"


def _setup(cells: list[Cell], config: SweepConfig) -> str:
    evaluate = config.evaluate
    methods = ", ".join(f"{m.model} ({m.label})" for m in config.train.methods) or "none"
    done = [c for c in cells if c.done and c.n is not None]
    sizes = sorted({c.n for c in done})
    if not sizes:
        size = "no cell has finished yet"
    elif len(sizes) == 1:
        size = f"n = {sizes[0]} articles per cell"
    else:
        size = f"n = {sizes[0]} to {sizes[-1]} articles per cell"
    langs = sorted({c.eval_lang for c in cells})
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
    return "\n".join(
        [
            "## Setup",
            "",
            f"Models and methods: {methods}. Training languages: "
            f"{', '.join(config.train.languages)}. Evaluation languages: {', '.join(langs)}.",
            f"Each cell is one model on the test articles of one language ({size}), "
            "summarized greedily "
            f"(at most {evaluate.max_new_tokens} new tokens, articles cut to "
            f"{evaluate.max_input_tokens} tokens).",
            "ROUGE is F1 on a 0-1 scale, the mean over articles; a failed or empty generation "
            "scores 0. Intervals are 95% percentile bootstrap intervals over articles "
            f"({evaluate.bootstrap_samples} resamples, seed {config.seed}); differences from the "
            "base model use a paired bootstrap over the same articles. A * marks a difference "
            "whose interval excludes 0.",
            f"Tokenizers: {tokenizers}.",
            f"Relative change is reported only where the base model scores at least "
            f"{evaluate.relative_floor}; below that it is undefined.",
            judge,
        ]
    )


def _coverage(cells: list[Cell]) -> str:
    missing = [c for c in cells if not c.done]
    lines = ["## Coverage", ""]
    lines.append(f"{len(cells) - len(missing)} of {len(cells)} evaluation cells finished.")
    judged = [c for c in cells if c.judge_state is not None]
    if judged:
        judge_missing = [c for c in judged if c.judge_state != State.DONE]
        lines.append(f"{len(judged) - len(judge_missing)} of {len(judged)} judge tasks finished.")
        lines.append(_judge_coverage([c.judge for c in judged if c.judge]))
    else:
        judge_missing = []
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


def _section(cells, matrices, config, model, method, test_set, heatmaps, root: Path) -> str:
    def m(quantity: str) -> Matrix:
        return find(matrices, model, method, test_set, quantity)

    name = METRIC_NAMES[HEADLINE]
    parts = [f"### {TEST_SET_TITLES.get(test_set, test_set)}"]
    parts.append(
        f"**{name}** (rows: training language, `base` = the untrained model; columns: "
        f"evaluation language; 95% intervals)\n\n{tables.markdown(m(HEADLINE))}"
    )
    parts.append(
        f"**Difference from the base model, {name}** (paired bootstrap 95% intervals)\n\n"
        f"{tables.markdown(m(HEADLINE + '_delta'))}"
    )
    parts.append(_narrative(m(HEADLINE), m(HEADLINE + "_delta"), cells, model, method, test_set))
    parts.append(_relative(m(HEADLINE + "_relative"), config.evaluate.relative_floor))
    image = heatmaps.get((model, method, test_set, HEADLINE))
    if image is not None:
        parts.append(f"![{name} heatmap]({image.relative_to(root).as_posix()})")
    parts.append(
        "**Generation health.** Failed generations (share of the cell's articles):\n\n"
        f"{tables.markdown(m('failure_share'))}\n\n"
        "Outputs in another language than asked (share of the answered articles; outputs with "
        "fewer than 3 letters cannot be told and are left out):\n\n"
        f"{tables.markdown(m('off_language_share'))}"
    )
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
                missing += 1
                continue
            (diagonal if row == col else off).append((row, col, value))
    blocks = []
    if diagonal:
        raised = [d for d in diagonal if _significant(delta, d[0], d[1]) == 1]
        blocks.append(
            f"In its own language, fine-tuning changed {METRIC_NAMES[HEADLINE]} by "
            f"{_mean(d[2] for d in diagonal):+.3f} on average; the interval excludes 0 in favour "
            f"of fine-tuning in {len(raised)} of {len(diagonal)} languages."
        )
        items = []
        for row, col, value in diagonal:
            base = absolute.value("base", col)
            tuned = absolute.value(row, col)
            low, high = delta.intervals.get((row, col), (float("nan"),) * 2)
            before = f"{base:.3f} → {tuned:.3f} " if base is not None and tuned is not None else ""
            items.append(
                f"- {row}: {before}({value:+.3f}, 95% CI [{low:+.3f}, {high:+.3f}], "
                f"n = {n_of.get((row, col), '?')})"
            )
        blocks.append("\n".join(items))
    if off:
        up = sum(_significant(delta, r, c) == 1 for r, c, _ in off)
        down = sum(_significant(delta, r, c) == -1 for r, c, _ in off)
        blocks.append(
            f"Across languages (training and evaluation language differ), the mean difference is "
            f"{_mean(v for _, _, v in off):+.3f}; {up} of {len(off)} intervals lie above 0 and "
            f"{down} below."
        )
    if not blocks:
        blocks.append("No finished cell to compare with the base model.")
    if missing:
        blocks.append(f"{missing} cell(s) of this matrix are missing (see Coverage).")
    return "\n\n".join(blocks)


def _relative(matrix: Matrix, floor: float) -> str:
    undefined = sum(1 for note in matrix.notes.values() if note.startswith("undefined"))
    text = f"**Relative change, {METRIC_NAMES[HEADLINE]}**\n\n{tables.markdown(matrix)}"
    if undefined:
        text += (
            f"\n\n{undefined} relative change(s) are undefined: the base model scores below "
            f"{floor} there, and a percentage of almost nothing means nothing. Read the "
            "absolute difference instead."
        )
    return text


def _judge(m, cells, model, method, test_set, heatmaps, root: Path) -> str:
    lines = [
        "**LLM judge**, mean score of the fine-tuned model (0-5) and its difference from the "
        "base model on the same articles",
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


def _reading_notes(config: SweepConfig) -> str:
    return "\n".join(
        [
            "## Reading these numbers",
            "",
            "- ROUGE values compare within a column (one evaluation language), not across "
            "columns: each language has its own tokenizer (MeCab morphemes for Japanese make "
            "its scores higher than word-level ones).",
            "- A failed generation counts 0 in the means; failure shares are listed per cell, "
            "so a mean pulled down by failures can be recognised.",
            "- Off-language share: answered summaries that py3langid reads as another language "
            "than the one asked; cross-lingual cells often drift to the training language.",
            "- Files: `cells.csv` (one row per cell, every number), `matrices/` (one CSV per "
            "matrix), `heatmaps/` (PNG), `cells.json` (what `launch report` prints).",
        ]
    )


def _significant(delta: Matrix, row: str, col: str) -> int:
    low, high = delta.intervals.get((row, col), (0.0, 0.0))
    return 1 if low > 0 else -1 if high < 0 else 0


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values) if values else float("nan")


def _cell_text(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")
