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


def leaky(ctx: StageContext) -> dict:
    """A careless stage: prints the secrets of its environment (the task's log), and logs
    them as params, tags, a metric name and text artifacts; one task fails naming them."""
    names = os.environ.get("TEST_LEAK_NAMES", "").split()
    leaked = {name: os.environ.get(name, "") for name in names}
    lines = [f"{name}={value}" for name, value in leaked.items()]
    lines += [f"connecting with {value}" for value in leaked.values()]
    text = "\n".join(lines) + "\n"
    print(text, flush=True)
    ctx.tracker.log_params({"env": leaked, "note": " ".join(leaked.values())})
    ctx.tracker.set_tags({"connection": leaked.get("DATABASE_URL", ""), "said": lines[-1]})
    ctx.tracker.log_metrics({f"latency {leaked.get('SHORT_PASS', '')}": 1.0})
    for name in ("stage-log.txt", "settings.cfg", "notes"):
        (ctx.output_dir / name).write_text(text)
        ctx.tracker.log_artifact(ctx.output_dir / name)
    if ctx.task.key == os.environ.get("TEST_LEAK_FAIL_KEY"):
        raise RuntimeError(f"cannot reach {leaked.get('REDIS_URL')}: {' '.join(lines)}")
    (ctx.output_dir / "value.txt").write_text(ctx.task.key)
    return {}
