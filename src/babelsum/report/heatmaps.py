"""Heatmap PNGs of the matrices (matplotlib, Agg backend: no display needed on a cluster).

One figure per (model, method, test set, metric): the absolute scores with the base model's
row on the left, the difference from the base model on the right (a star where the adjusted
p-value is below 0.05). A missing cell is grey and says "missing"; an undefined one and a
same-topic cell on the diagonal (which cannot exist) say "n/a".
"""

from __future__ import annotations

import math
from pathlib import Path

from babelsum.metrics.judge import MAX_SCORE, MIN_SCORE
from babelsum.report.matrices import METRIC_NAMES, NOT_APPLICABLE_NOTE, TEST_SET_NAMES, Matrix

MISSING_COLOR = "#d9d9d9"
MIN_SPAN = 0.1  # the narrowest colour scale of a score panel


def plot_pair(
    absolute: Matrix,
    delta: Matrix,
    path: Path,
    title: str,
    limits: tuple[float, float] | None = None,
) -> Path:
    """Two panels side by side; `limits` fixes the absolute panel's colour scale (0-5 for
    the judge), else it spans the scores shown."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    width = 2.2 + 0.9 * (len(absolute.cols) + len(delta.cols))
    height = 1.6 + 0.5 * max(len(absolute.rows), len(delta.rows), 1)
    fig, axes = plt.subplots(1, 2, figsize=(width, height), constrained_layout=True)
    _panel(axes[0], absolute, "viridis", centered=False, label="score", limits=limits)
    _panel(axes[1], delta, "RdBu", centered=True, label="difference from base")
    fig.suptitle(title, fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _panel(
    ax,
    matrix: Matrix,
    cmap: str,
    *,
    centered: bool,
    label: str,
    limits: tuple[float, float] | None = None,
) -> None:
    import numpy as np

    grid = np.full((len(matrix.rows), len(matrix.cols)), np.nan)
    for i, row in enumerate(matrix.rows):
        for j, col in enumerate(matrix.cols):
            value = matrix.value(row, col)
            if value is not None and math.isfinite(value):
                grid[i, j] = value
    finite = grid[np.isfinite(grid)]
    if centered:
        bound = float(np.abs(finite).max()) if finite.size else 1.0
        vmin, vmax = -(bound or 1.0), bound or 1.0
    else:
        vmin = float(finite.min()) if finite.size else 0.0
        vmax = float(finite.max()) if finite.size else 1.0
        if vmax - vmin < MIN_SPAN:  # one value, or all alike: a scale around them
            vmin, vmax = vmin - MIN_SPAN / 2, vmax + MIN_SPAN / 2
        if limits is not None:
            vmin, vmax = limits
    ax.set_facecolor(MISSING_COLOR)
    image = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    ax.set_xticks(range(len(matrix.cols)), matrix.cols)
    ax.set_yticks(range(len(matrix.rows)), matrix.rows)
    ax.set_xlabel("evaluation language")
    ax.set_ylabel("training language")
    ax.set_title(label, fontsize=9)
    for i, row in enumerate(matrix.rows):
        for j, col in enumerate(matrix.cols):
            color = _text_color(image, grid[i, j])
            ax.text(
                j, i, _label(matrix, row, col), ha="center", va="center", fontsize=8, color=color
            )
    ax.figure.colorbar(image, ax=ax, shrink=0.8)


def _text_color(image, value: float) -> str:
    """White on dark cells, black on light ones (and on the grey of missing cells)."""
    if not math.isfinite(value):
        return "black"
    red, green, blue, _ = image.cmap(image.norm(value))
    return "white" if 0.299 * red + 0.587 * green + 0.114 * blue < 0.5 else "black"


def _label(matrix: Matrix, row: str, col: str) -> str:
    if (row, col) not in matrix.values:
        return ""
    value = matrix.value(row, col)
    if value is None:
        note = matrix.notes.get((row, col), "")
        return "n/a" if note.startswith((NOT_APPLICABLE_NOTE, "undefined")) else "missing"
    text = f"{value:+.3f}" if matrix.quantity.endswith("delta") else f"{value:.3f}"
    if matrix.quantity.endswith("delta") and matrix.significance(row, col):
        text += "*"
    return text


def heatmap_path(folder: Path, model: str, method: str, test_set: str, metric: str) -> Path:
    return folder / model / method / f"{test_set}_{metric}.png"


def plot_all(matrices: list[Matrix], folder: Path, metrics: list[str]) -> list[Path]:
    """A figure for each metric of `metrics` ("rougeL", "judge", ...) that has matrices."""
    by_name = {(m.model, m.method, m.test_set, m.quantity): m for m in matrices}
    written = []
    for model, method, test_set, quantity in list(by_name):
        metric = quantity.removesuffix("_delta")
        if not quantity.endswith("_delta") or metric not in metrics:
            continue
        # the judge scores no base row: its left panel is the fine-tuned model's mean
        absolute = by_name.get(
            (model, method, test_set, "judge_tuned" if metric == "judge" else metric)
        )
        if absolute is None:
            continue
        delta = by_name[model, method, test_set, quantity]
        topics = TEST_SET_NAMES.get(test_set, test_set)
        title = f"{model} / {method} / {topics}: {METRIC_NAMES[metric]}"
        path = heatmap_path(folder, model, method, test_set, metric)
        limits = (MIN_SCORE, MAX_SCORE) if metric == "judge" else None
        written.append(plot_pair(absolute, delta, path, title, limits))
    return written
