"""Test-only stage functions for the orchestration tests (no ML): write, fail, sleep, resume.

Selected with `engine.stage_impl` in a test config. Which tasks fail or sleep is read from
environment variables (inherited by local task processes and by sbatch), so a test can change
its mind between submit and resubmit.
"""

import json
import os
import time

from babelsum.errors import StageError
from babelsum.stages import StageContext


def _listed(ctx: StageContext, variable: str) -> bool:
    return ctx.task.key in os.environ.get(variable, "").split()


def run(ctx: StageContext) -> dict:
    if _listed(ctx, "TEST_FAIL_KEYS"):
        raise StageError(f"planted failure in {ctx.task.key}")
    if _listed(ctx, "TEST_CRASH_KEYS"):
        raise RuntimeError("planted crash")
    if _listed(ctx, "TEST_SLEEP_KEYS"):
        time.sleep(600)
    if _listed(ctx, "TEST_SLOW_KEYS"):
        time.sleep(float(os.environ.get("TEST_SLOW_SECONDS", "30")))
    if _listed(ctx, "TEST_HOG_KEYS"):  # touch every page, so that the memory is really used
        hog = bytearray(int(os.environ.get("TEST_HOG_MB", "200")) * 2**20)
        for i in range(0, len(hog), 4096):
            hog[i] = 1
        time.sleep(5)  # SLURM looks at the memory once a second
    inputs = [
        (output / "value.txt").read_text()
        for name in ctx.task.inputs
        for output in ctx.inputs(name)
    ]
    (ctx.output_dir / "value.txt").write_text(ctx.task.key)
    ctx.tracker.log_metrics({"inputs": len(inputs)})
    return {"inputs": len(inputs), "processes": ctx.world_size}


def gather(ctx: StageContext) -> dict:
    cells = ctx.optional_inputs("cells")
    present = [c.key for c in cells if c.output is not None]
    missing = sorted(c.key for c in cells if c.output is None)
    (ctx.output_dir / "cells.json").write_text(
        json.dumps({"present": sorted(present), "missing": missing})
    )
    return {"present": len(present), "missing": len(missing)}


def resumable(ctx: StageContext) -> dict:
    """Counts to `steps`, one step per second, keeping progress in the work folder."""
    progress = ctx.work_dir / "step.txt"
    step = int(progress.read_text()) if progress.exists() else 0
    starts = ctx.work_dir / "starts.txt"
    starts.write_text((starts.read_text() if starts.exists() else "") + f"{step}\n")
    steps = int(os.environ.get("TEST_STEPS", "3"))
    while step < steps:
        time.sleep(1)
        step += 1
        progress.write_text(str(step))
    (ctx.output_dir / "value.txt").write_text(f"{ctx.task.key} steps={step}")
    return {"steps": step, "starts": len(starts.read_text().split())}
