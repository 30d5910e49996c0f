"""A matrix as a table of text, for report.md (Markdown) and `launch report` (plain text).

Entries read "0.345 [0.301, 0.389]" (a score and its 95% interval), "+0.222 [+0.20, +0.25]*"
(a difference whose interval excludes 0), "+35.2%", "undefined" (relative change over a base
below the floor) or "missing (failed)" (the task did not finish; the reason is listed apart).
"""

from __future__ import annotations

from babelsum.report.matrices import Matrix
from babelsum.state import State

HEADER_CORNER = "train \\ eval"


def entry(matrix: Matrix, row: str, col: str, *, intervals: bool = True) -> str:
    where = (row, col)
    if where not in matrix.values:
        return ""
    value = matrix.values[where]
    if value is None:
        note = matrix.notes.get(where, "")
        if note.startswith("undefined"):
            return "undefined"
        state = note.split(":", 1)[0] if ":" in note else "missing"
        return f"missing ({state})" if state in _STATES else "missing"
    q = matrix.quantity
    if q.endswith("_relative"):
        return f"{value:+.1%}"
    if q == "n":
        return str(int(value))
    if q.endswith("_share"):
        return f"{value:.0%}"
    signed = q.endswith("delta")
    text = f"{value:+.3f}" if signed else f"{value:.3f}"
    interval = matrix.intervals.get(where)
    if intervals and interval is not None:
        low, high = interval
        text += f" [{low:+.3f}, {high:+.3f}]" if signed else f" [{low:.3f}, {high:.3f}]"
        if signed and (low > 0 or high < 0):
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
    header, rows = table_rows(matrix, intervals=intervals)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_escape(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def plain(matrix: Matrix, *, intervals: bool = True) -> str:
    header, rows = table_rows(matrix, intervals=intervals)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for cells in [header, *rows]:
        # the row label to the left, numbers to the right
        numbers = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        lines.append("  ".join([cells[0].ljust(widths[0]), *numbers]).rstrip())
    return "\n".join(lines)


def _escape(text: str) -> str:
    return text.replace("|", "\\|")
