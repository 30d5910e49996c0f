"""The split report: examples and topics per split and language, and length statistics.

Lengths are counted in characters and in whitespace-separated tokens ("whitespace_tokens"):
model tokenizers differ, and whitespace tokens mean little for Japanese, where characters
are the useful measure.
"""

from __future__ import annotations

import statistics
from collections import Counter


def _stats(values: list[int]) -> dict[str, float]:
    if not values:
        return {"mean": 0, "median": 0, "p95": 0, "max": 0}
    ordered = sorted(values)
    return {
        "mean": round(statistics.fmean(ordered), 1),
        "median": statistics.median(ordered),
        "p95": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
        "max": ordered[-1],
    }


def _lengths(records: list[dict]) -> dict[str, dict[str, float]]:
    summaries = [r["summary"] or "" for r in records]
    texts = [r["text"] for r in records]
    return {
        "text_characters": _stats([len(t) for t in texts]),
        "text_whitespace_tokens": _stats([len(t.split()) for t in texts]),
        "summary_characters": _stats([len(s) for s in summaries]),
        "summary_whitespace_tokens": _stats([len(s.split()) for s in summaries]),
    }


def topic_languages(splits: dict[str, list[dict]]) -> dict[str, int]:
    """Number of languages -> topics with articles in that many, over all splits together (a
    same-topic test article's topic is also in training). Keys are text, as in JSON."""
    languages: dict[str, set[str]] = {}
    for rows in splits.values():
        for r in rows:
            languages.setdefault(r["article_id"], set()).add(r["language"])
    counts = Counter(len(langs) for langs in languages.values())
    return {str(n): counts[n] for n in range(1, max(counts, default=0) + 1)}


def split_report(
    splits: dict[str, list[dict]],
    seed: int,
    quarantined: dict[str, dict[str, int]],
    same_topic_cells: dict[str, list[str]] | None = None,
) -> dict:
    counts = {
        name: dict(sorted(Counter(r["language"] for r in rows).items()))
        for name, rows in splits.items()
    }
    lengths = {}
    for name, rows in splits.items():
        by_lang: dict[str, list[dict]] = {}
        for r in rows:
            by_lang.setdefault(r["language"], []).append(r)
        lengths[name] = {lang: _lengths(rs) for lang, rs in sorted(by_lang.items())}
    return {
        "seed": seed,
        "examples": counts,
        "topics": {name: len({r["article_id"] for r in rows}) for name, rows in splits.items()},
        "topic_languages": topic_languages(splits),
        "lengths": lengths,
        "quarantined": quarantined,
        # "X>Y" -> articles of the same-topic cell of a model trained on X, evaluated on Y
        "same_topic_cells": {pair: len(t) for pair, t in (same_topic_cells or {}).items()},
    }


def report_markdown(report: dict) -> str:
    langs = sorted({lang for counts in report["examples"].values() for lang in counts})
    lines = [
        "# Split report",
        "",
        f"Seed {report['seed']}. Splits are by topic (`article_id`); lengths in characters and "
        "whitespace tokens.",
        "",
        "| split | topics | " + " | ".join(langs) + " | total |",
        "|---|---:|" + "---:|" * (len(langs) + 1),
    ]
    for name, counts in report["examples"].items():
        cells = " | ".join(str(counts.get(lang, 0)) for lang in langs)
        lines.append(f"| {name} | {report['topics'][name]} | {cells} | {sum(counts.values())} |")
    lines += [
        "",
        "| split | language | text chars (median / p95) | text whitespace tokens (median) "
        "| summary chars (median) | summary whitespace tokens (median) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, by_lang in report["lengths"].items():
        for lang, s in by_lang.items():
            lines.append(
                f"| {name} | {lang} | {s['text_characters']['median']} / "
                f"{s['text_characters']['p95']} | {s['text_whitespace_tokens']['median']} | "
                f"{s['summary_characters']['median']} | "
                f"{s['summary_whitespace_tokens']['median']} |"
            )
    if report.get("same_topic_cells"):
        lines += [
            "",
            "Same-topic cells (training language > evaluation language): articles in the "
            "evaluation language whose topic is in that training language's train split and "
            "which are in no train split. The diagonal has none: such an article would be the "
            "training article itself.",
            "",
            "| cell | n |",
            "|---|---:|",
        ]
        lines += [f"| {pair} | {n} |" for pair, n in report["same_topic_cells"].items()]
    by_count = report.get("topic_languages") or {}
    if by_count:
        lines += [
            "",
            "| topics with articles in | " + " | ".join(f"{n} lang." for n in by_count) + " |",
            "|---|" + "---:|" * len(by_count),
            "| topics | " + " | ".join(str(n) for n in by_count.values()) + " |",
        ]
    if report["quarantined"]:
        lines += ["", "Quarantined at the split:", ""]
        for reason, by_lang in report["quarantined"].items():
            shown = ", ".join(f"{lang} {n}" for lang, n in by_lang.items())
            lines.append(f"- {reason}: {shown}")
    return "\n".join(lines) + "\n"
