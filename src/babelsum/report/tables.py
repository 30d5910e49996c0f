"""A matrix as a table of text, for report.md (Markdown) and `launch report` (plain text).

Entries read "0.345 [0.301, 0.389]" (a score and its 95% interval), "+0.222 [+0.20, +0.25]*"
(a difference whose adjusted p-value is below 0.05), "+35.2% [+20.1%, +50.3%]", "undefined"
(relative change over a base below the floor), "n/a" (a cell that cannot exist: a same-topic
cell on the diagonal) or "missing (failed)" (the task did not finish; the reason is listed
apart).
"""

from __future__ import annotations

from babelsum.report.matrices import NOT_APPLICABLE_NOTE, Matrix
from babelsum.state import State

HEADER_CORNER = "train \\ eval"


def entry(matrix: Matrix, row: str, col: str, *, intervals: bool = True) -> str:
    where = (row, col)
    if where not in matrix.values:
        return ""
    value = matrix.values[where]
    if value is None:
        note = matrix.notes.get(where, "")
        if note.startswith(NOT_APPLICABLE_NOTE):
            return "n/a"
        if note.startswith("undefined"):
            return "undefined"
        state = note.split(":", 1)[0] if ":" in note else "missing"
        return f"missing ({state})" if state in _STATES else "missing"
    q = matrix.quantity
    interval = matrix.intervals.get(where) if intervals else None
    if q.endswith("_relative"):
        text = f"{value:+.1%}"
        if interval is not None:
            text += f" [{interval[0]:+.1%}, {interval[1]:+.1%}]"
        return text
    if q == "n":
        return str(int(value))
    if q.endswith("_share"):
        return f"{value:.0%}"
    if q.endswith("_tokens"):
        return f"{value:.1f}"
    signed = q.endswith("delta")
    text = f"{value:+.3f}" if signed else f"{value:.3f}"
    if interval is not None:
        low, high = interval
        text += f" [{low:+.3f}, {high:+.3f}]" if signed else f" [{low:.3f}, {high:.3f}]"
    if signed and matrix.significance(row, col):
        text += "*"
    return text


_STATES = {*(str(s) for s in State), "missing output", "nothing judged"}


def table_rows(matrix: Matrix, *, intervals: bool = True) -> tuple[list[str], list[list[str]]]:
    header = [HEADER_CORNER, *matrix.cols]
    rows = [
        [row, *(entry(matrix, row, col, intervals=intervals) for col in matrix.cols)]
        for row in matrix.rows
    ]
    return header, rows


def markdown(matrix: Matrix, *, intervals: bool = True) -> str:
    return markdown_table(*table_rows(matrix, intervals=intervals))


def plain(matrix: Matrix, *, intervals: bool = True) -> str:
    return plain_table(*table_rows(matrix, intervals=intervals))


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(_escape(c) for c in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_escape(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def plain_table(header: list[str], rows: list[list[str]], labels: int = 1) -> str:
    """Columns padded to their widest entry: the first `labels` to the left, numbers right."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for cells in [header, *rows]:
        left = [c.ljust(w) for c, w in zip(cells[:labels], widths[:labels], strict=True)]
        right = [c.rjust(w) for c, w in zip(cells[labels:], widths[labels:], strict=True)]
        lines.append("  ".join(left + right).rstrip())
    return "\n".join(lines)


def _escape(text: str) -> str:
    return text.replace("|", "\\|")
