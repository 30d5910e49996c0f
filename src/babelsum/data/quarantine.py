"""Records a stage sets aside, with the reason: written to `quarantine.jsonl`, never dropped.

Every reason is a short snake_case word (too_short, duplicate_text, teacher_failed, ...) so
that counts per reason and language can be tabled and logged; `detail` says which field,
line or value caused it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from babelsum.files import write_jsonl


@dataclass
class Rejected:
    reason: str
    detail: str
    record: dict = field(default_factory=dict)  # what was read, as far as it could be read

    @property
    def language(self) -> str:
        return str(self.record.get("language") or "?")

    def to_json(self) -> dict:
        return {
            "reason": self.reason,
            "detail": self.detail,
            "article_id": self.record.get("article_id"),
            "language": self.record.get("language"),
            "record": _printable(self.record),
        }


def _printable(value):
    """Undecodable bytes (kept as surrogates when read) shown as \\xNN escapes, for JSON."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    if isinstance(value, dict):
        return {str(k): _printable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_printable(v) for v in value]
    if value is None or isinstance(value, int | float):
        return value
    return repr(value)  # bytes, dates, ... from a Parquet column: as read, in JSON


def write_quarantine(path: Path, rejected: list[Rejected]) -> None:
    write_jsonl(path, (item.to_json() for item in rejected))


def counts_by_reason(rejected: list[Rejected]) -> dict[str, dict[str, int]]:
    """reason -> language -> count."""
    counts: dict[str, Counter] = {}
    for item in rejected:
        counts.setdefault(item.reason, Counter())[item.language] += 1
    return {reason: dict(sorted(c.items())) for reason, c in sorted(counts.items())}


def metrics(kept: dict[str, int], quarantined: dict[str, dict[str, int]]) -> dict[str, int]:
    """Flat names for the tracker: kept/<lang>, quarantined/<reason>/<lang>, totals."""
    out = {"kept": sum(kept.values())}
    out |= {f"kept/{lang}": n for lang, n in kept.items()}
    out["quarantined"] = sum(n for by_lang in quarantined.values() for n in by_lang.values())
    for reason, by_lang in quarantined.items():
        out |= {f"quarantined/{reason}/{lang}": n for lang, n in by_lang.items()}
    return out


def format_counts(kept: dict[str, int], quarantined: dict[str, dict[str, int]]) -> str:
    """A small table: one row for the kept records and one per quarantine reason."""
    langs = sorted(set(kept) | {lang for by_lang in quarantined.values() for lang in by_lang})
    rows = [("kept", kept)] + [(f"quarantined: {r}", c) for r, c in quarantined.items()]
    width = max(len(name) for name, _ in rows)
    lines = [" " * width + "".join(f"{lang:>8}" for lang in langs) + f"{'total':>8}"]
    for name, by_lang in rows:
        cells = "".join(f"{by_lang.get(lang, 0):>8}" for lang in langs)
        lines.append(f"{name:<{width}}{cells}{sum(by_lang.values()):>8}")
    return "\n".join(lines)
