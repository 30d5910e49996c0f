"""Everything gather writes, from a sweep folder: cells, CSVs, heatmaps, report.md."""

from __future__ import annotations

from pathlib import Path

from babelsum.config import SweepConfig
from babelsum.metrics.rouge import ROUGE_TYPES
from babelsum.report.cells import Cell, collect_cells, write_cells
from babelsum.report.heatmaps import heatmap_path, plot_all
from babelsum.report.markdown import write_report
from babelsum.report.matrices import build_matrices, write_cells_csv, write_matrix_csv
from babelsum.state import Upstream

HEATMAP_METRICS = [*ROUGE_TYPES, "judge"]


def sweep_cells(
    config: SweepConfig, evaluations: list[Upstream], judgments: list[Upstream]
) -> list[Cell]:
    """The cells of a sweep from its evaluate and judge tasks, with the config's statistics."""
    evaluate = config.evaluate
    return collect_cells(
        evaluations,
        judgments,
        relative_floor=evaluate.relative_floor,
        bootstrap_samples=evaluate.bootstrap_samples,
        seed=config.seed,
    )


def build_report(cells: list[Cell], config: SweepConfig, out_dir: Path) -> dict:
    """Write cells.json, cells.csv, matrices/, heatmaps/ and report.md under `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_cells(out_dir / "cells.json", cells)
    write_cells_csv(cells, out_dir / "cells.csv")
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
    write_report(out_dir / "report.md", cells, matrices, config, heatmaps)
    return {
        "cells": len(cells),
        "finished": sum(c.done for c in cells),
        "missing": sum(not c.done for c in cells),
        "matrices": len(matrices),
        "heatmaps": len(images),
    }
