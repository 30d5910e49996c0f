"""Everything gather writes, from a sweep folder: cells, comparisons, the overview, CSVs,
heatmaps, report.md."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from babelsum.config import SweepConfig
from babelsum.metrics.rouge import ROUGE_TYPES
from babelsum.report.cells import (
    Cell,
    adjust_p_values,
    collect_cells,
    diagonal_same_topic,
    write_cells,
)
from babelsum.report.comparisons import Comparison, compare_methods, write_comparisons_csv
from babelsum.report.heatmaps import heatmap_path, plot_all
from babelsum.report.markdown import write_report
from babelsum.report.matrices import build_matrices, write_cells_csv, write_matrix_csv
from babelsum.report.overview import OverviewRow, build_overview, write_overview
from babelsum.report.seeds import aggregate_seeds
from babelsum.report.statistics import Statistics
from babelsum.state import Upstream

HEATMAP_METRICS = [*ROUGE_TYPES, "judge"]


@dataclass
class SweepResults:
    cells: list[Cell]  # each task's cell, seed means after their seeds, n/a cells last
    comparisons: list[Comparison]
    overview: list[OverviewRow]


def sweep_results(
    config: SweepConfig, evaluations: list[Upstream], judgments: list[Upstream]
) -> SweepResults:
    """The results of a sweep from its evaluate and judge tasks, with the config's statistics:
    cells (differences from base, seed means), method comparisons, the overview; p-values
    adjusted within their families."""
    stats = Statistics.of(config)
    cells, evidence = collect_cells(evaluations, judgments, stats)
    cells = aggregate_seeds(cells, evidence, stats)
    cells += diagonal_same_topic(cells, config.eval_languages)
    adjust_p_values(cells, stats.p_adjust)
    comparisons = compare_methods(cells, evidence, stats)
    return SweepResults(cells, comparisons, build_overview(cells, evidence, stats))


def sweep_cells(
    config: SweepConfig, evaluations: list[Upstream], judgments: list[Upstream]
) -> list[Cell]:
    """The cells of a sweep (`sweep_results(...).cells`)."""
    return sweep_results(config, evaluations, judgments).cells


def build_report(results: SweepResults, config: SweepConfig, out_dir: Path) -> dict:
    """Write cells.json, cells.csv, comparisons.csv, overview.json, matrices/, heatmaps/ and
    report.md under `out_dir`."""
    cells = results.cells
    out_dir.mkdir(parents=True, exist_ok=True)
    write_cells(out_dir / "cells.json", cells)
    write_cells_csv(cells, out_dir / "cells.csv")
    write_comparisons_csv(results.comparisons, out_dir / "comparisons.csv")
    write_overview(out_dir / "overview.json", results.overview)
    matrices = build_matrices(cells)
    for matrix in matrices:
        write_matrix_csv(matrix, out_dir / "matrices")
    images = plot_all(matrices, out_dir / "heatmaps", HEATMAP_METRICS)
    heatmaps = {
        (m.model, m.method, m.test_set, metric): path
        for m in matrices
        for metric in HEATMAP_METRICS
        if (path := heatmap_path(out_dir / "heatmaps", m.model, m.method, m.test_set, metric))
        in images
    }
    write_report(out_dir / "report.md", results, matrices, config, heatmaps)
    tasks = [c for c in cells if c.is_task]
    return {
        "cells": len(tasks),
        "finished": sum(c.done for c in tasks),
        "missing": sum(not c.done for c in tasks),
        "matrices": len(matrices),
        "heatmaps": len(images),
        "comparisons": len(results.comparisons),
    }
