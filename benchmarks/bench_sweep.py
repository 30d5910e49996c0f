"""The demo sweep twice, one after the other: evaluation packed per model (one job loads a
model once and runs all its cells) against one cell per job (`evaluate.cells_per_task=1`, the
shape before packing). Prints each sweep's wall time and their ratio, per stage the task time
summed and the share of it spent in the model (generation, training) against overhead
(process start, imports, model loading, scoring, bookkeeping), and whether packing changes any
number of cells.csv (a third, packed evaluation of the first sweep's trained models, so that
only packing can make a difference). Nothing about time is asserted.

Run: .venv/bin/python benchmarks/bench_sweep.py [--config configs/demo.yaml] [key=value ...]
     (e.g. `train.languages=[fr] evaluate.test_sets=[novel]` for a quicker pair)
"""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from babelsum.state import SweepFolder
from babelsum.sweep import open_sweep, read_statuses

REPO = Path(__file__).resolve().parents[1]
MODEL = ("generation", "train")
CELL = ("model", "method", "train_lang", "seed", "eval_lang", "test_set")


def run_sweep(
    config: str, overrides: list[str], sweep_dir: Path, reuse_from: Path | None = None
) -> float:
    started = time.perf_counter()
    command = [sys.executable, "-m", "babelsum.cli", "sweep", config, *overrides]
    command += ["--sweep-dir", str(sweep_dir), "--quiet"]
    command += ["--reuse-from", str(reuse_from)] if reuse_from else []
    subprocess.run(command, cwd=REPO, check=False, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def stage_times(sweep_dir: Path) -> dict[str, tuple[int, float, float]]:
    """stage -> (done tasks, task seconds, seconds in the model)."""
    folder, plan = open_sweep(sweep_dir)
    out: dict[str, tuple[int, float, float]] = {}
    for status in read_statuses(folder, plan):
        timing = status.timing
        if not timing:
            continue
        n, spent, model = out.get(status.stage, (0, 0.0, 0.0))
        total = timing.get("startup", 0.0) + timing.get("stage", 0.0)
        out[status.stage] = (n + 1, spent + total, model + sum(timing.get(k, 0.0) for k in MODEL))
    return out


def cells(sweep_dir: Path) -> list[dict]:
    path = SweepFolder(sweep_dir).output_dir("gather") / "cells.csv"
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return sorted(csv.DictReader(f), key=lambda row: [row[k] or "" for k in CELL])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/demo.yaml")
    parser.add_argument("overrides", nargs="*", metavar="key=value")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        packed_dir, single_dir = Path(tmp) / "packed", Path(tmp) / "one-cell-per-job"
        t_single = run_sweep(
            args.config, [*args.overrides, "evaluate.cells_per_task=1"], single_dir
        )
        t_packed = run_sweep(args.config, args.overrides, packed_dir)
        packed, single = stage_times(packed_dir), stage_times(single_dir)
        # The same numbers need the same trained models. Training is seeded, but only the
        # same thread counts give the same floating-point sums; so evaluate once more, packed,
        # on the models the one-cell-per-job sweep trained (reused by identity): what differs
        # then can only come from packing.
        trained = Path(tmp) / "trained"
        shutil.copytree(single_dir, trained, symlinks=True)
        for stage in ("evaluate", "judge", "gather"):
            shutil.rmtree(trained / "tasks" / stage, ignore_errors=True)
        same_models = Path(tmp) / "packed-same-models"
        run_sweep(args.config, args.overrides, same_models, reuse_from=trained)
        differences = cell_differences(cells(same_models), cells(single_dir))

    print(f"{args.config} {' '.join(args.overrides)}")
    print(f"{'one cell per job':<22} {t_single:8.1f} s wall")
    print(f"{'packed per model':<22} {t_packed:8.1f} s wall")
    print(f"end to end: packed {t_single / t_packed:.2f}x faster (aim: >= 2x)")
    print(f"\n{'stage':<10}{'shape':<18}{'tasks':>6}{'task s':>10}{'in model':>10}")
    for stage in packed:
        for name, times in (("one cell per job", single), ("packed", packed)):
            n, spent, model = times.get(stage, (0, 0.0, 0.0))
            share = f"{model / spent:.0%}" if spent else "-"
            print(f"{stage:<10}{name:<18}{n:>6}{spent:>10.1f}{share:>10}")
    if "evaluate" in packed and "evaluate" in single:
        ratio = single["evaluate"][1] / packed["evaluate"][1]
        print(f"\nevaluation task time: packed {ratio:.2f}x less (aim: >= 4x)")
    print(f"cells.csv identical (packed on the same trained models): {not differences}")
    for line in differences[:10]:
        print(f"  {line}")
    if differences:
        raise SystemExit("the two sweeps' cells differ")


def cell_differences(packed: list[dict], single: list[dict]) -> list[str]:
    """One line per value that differs between the two sweeps' cells.csv."""
    if not packed or len(packed) != len(single):
        return [f"cells: {len(packed)} packed, {len(single)} one per job"]
    return [
        f"{'/'.join(a[k] or '-' for k in CELL)}: {column} {a[column]} packed, "
        f"{b.get(column)} one per job"
        for a, b in zip(packed, single, strict=True)
        for column in a
        if a[column] != b.get(column)
    ]


if __name__ == "__main__":
    main()
