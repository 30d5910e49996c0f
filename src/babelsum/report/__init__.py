"""The sweep's results: cells, cross-lingual matrices, CSVs, heatmaps, report.md, terminal view."""

from babelsum.report.terminal import render_terminal

__all__ = ["render_terminal"]
