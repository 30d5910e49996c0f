"""Test-only stage functions for the tracking tests (no ML): each logs like a real stage.

`run` logs params, tags, a loss curve (one metric record per step, like a training loop) and
an artifact; `gather` records which upstream outputs it found. Selected with
`engine.stage_impl` in a test config.
"""

import json
import os
import time

from babelsum.stages import StageContext

STEPS = 12


def run(ctx: StageContext) -> dict:
    ctx.tracker.log_params({"learning_rate": 0.1, "schedule": {"warmup": 2, "kind": "cosine"}})
    ctx.tracker.set_tags({"planted": os.environ.get("TEST_PLANTED_TAG", "none")})
    for step in range(1, STEPS + 1):
        ctx.tracker.log_metrics({"loss": 1.0 / step, "tokens_per_second": 100.0 + step}, step=step)
        time.sleep(float(os.environ.get("TEST_STEP_SLEEP", "0")))
    report = ctx.output_dir / "report.json"
    report.write_text(json.dumps({"key": ctx.task.key, "steps": STEPS}))
    ctx.tracker.log_artifact(report)
    (ctx.output_dir / "value.txt").write_text(ctx.task.key)
    ctx.tracker.log_metrics({"final_loss": 1.0 / STEPS})
    return {"steps": STEPS}


def gather(ctx: StageContext) -> dict:
    present = [c.key for c in ctx.optional_inputs("cells") if c.output is not None]
    ctx.tracker.log_metrics({"cells_present": len(present)})
    (ctx.output_dir / "cells.json").write_text(json.dumps(sorted(present)))
    return {"present": len(present)}
