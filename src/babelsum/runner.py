"""run_task(sweep_dir, stage, index): the one entry point a job calls, on any backend.

It finds the task in the sweep's plan, checks that its upstream tasks are done (else it
records `blocked`, naming them), runs the stage function, publishes the outputs and records
the result. Imports no ML library itself: the stage module does, once it runs.

Distributed tasks run this in every process; rank 0 alone writes status and outputs.
"""

from __future__ import annotations

import importlib
import os
import socket
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from babelsum.config import SweepConfig, validate_config
from babelsum.plan import Plan, Task
from babelsum.stages import StageContext, StageError
from babelsum.state import SweepFolder, TaskStatus

ERROR_LINES = 15


class TaskFailed(RuntimeError):
    """Raised after a failure was recorded, so that the scheduler also sees a failed task."""


def load_sweep(sweep_dir: str | Path) -> tuple[SweepFolder, SweepConfig, Plan]:
    import json

    import yaml

    folder = SweepFolder(sweep_dir)
    config = validate_config(
        yaml.safe_load(folder.config_path.read_text()), str(folder.config_path)
    )
    plan = Plan.from_json(json.loads(folder.plan_path.read_text()))
    return folder, config, plan


def stage_function(config: SweepConfig, stage: str) -> Callable[[StageContext], dict | None]:
    target = config.engine.stage_impl.get(stage, f"babelsum.stages.{stage}:run")
    module_name, func_name = target.split(":")
    try:
        return getattr(importlib.import_module(module_name), func_name)
    except (ImportError, AttributeError) as exc:
        raise StageError(f"cannot load stage function {target!r}: {exc}") from exc


def _rank() -> tuple[int, int]:
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def _attempt_id() -> str:
    """Shared by all processes of one attempt (names the temporary output folder)."""
    return os.environ.get("BABELSUM_ATTEMPT_ID") or os.environ.get(
        "SLURM_JOB_ID", ""
    ) + "-" + os.environ.get("SLURM_RESTART_COUNT", "0")


def _scheduler_ids() -> dict:
    array_job = os.environ.get("SLURM_ARRAY_JOB_ID")
    array_task = os.environ.get("SLURM_ARRAY_TASK_ID")
    job = f"{array_job}_{array_task}" if array_job else os.environ.get("SLURM_JOB_ID")
    return {
        "job_id": job,
        "array_job_id": array_job,
        "array_task_id": int(array_task) if array_task else None,
    }


def missing_upstream(folder: SweepFolder, task: Task) -> list[str]:
    return [key for key in task.needs if not folder.is_done(key)]


def run_task(sweep_dir: str | Path, stage: str, index: int) -> dict | None:
    """Run one task of a sweep and record its outcome in its status file."""
    folder, config, plan = load_sweep(sweep_dir)
    task = plan.stage(stage).tasks[index]
    rank, world_size = _rank()
    main = rank == 0

    missing = missing_upstream(folder, task)
    if missing:
        if main:
            shown = ", ".join(missing[:5]) + (
                f" (+{len(missing) - 5} more)" if len(missing) > 5 else ""
            )
            _record(
                folder,
                task,
                state="blocked",
                reason=f"upstream not done: {shown}",
                ended=time.time(),
            )
        return None

    if main:
        status = folder.read_status(task.key) or TaskStatus(task.key, task.stage, task.index)
        status.state, status.attempts = "running", status.attempts + 1
        status.params_hash, status.host, status.pid = (
            task.params_hash,
            socket.gethostname(),
            os.getpid(),
        )
        status.started, status.ended, status.reason, status.error = time.time(), None, None, None
        for name, value in _scheduler_ids().items():
            if value is not None:
                setattr(status, name, value)
        folder.write_status(status)
        attempt = status.attempts
    else:
        attempt = 0

    tmp_output = folder.task_dir(task.key) / f"output.tmp-{_attempt_id()}"
    if main:
        for old in folder.task_dir(task.key).glob("output.tmp-*"):
            if old != tmp_output:
                import shutil

                shutil.rmtree(old, ignore_errors=True)
    tmp_output.mkdir(parents=True, exist_ok=True)
    work_dir = folder.work_dir(task.key)
    work_dir.mkdir(parents=True, exist_ok=True)
    tracker = _open_tracker(folder, config, task, attempt, rank)
    ctx = StageContext(folder.root, config, task, tmp_output, work_dir, tracker, rank, world_size)

    try:
        summary = stage_function(config, stage)(ctx)
    except StageError as exc:
        _fail(folder, task, main, tracker, reason=str(exc), error=None)
        raise TaskFailed(str(exc)) from None
    except BaseException as exc:  # recorded, then re-raised: the scheduler must see it too
        if isinstance(exc, KeyboardInterrupt | SystemExit) and not main:
            raise
        if isinstance(exc, SystemExit) and _requeued(folder, task):
            raise  # submitit's checkpoint() marked it pending and requeued it: not a failure
        lines = traceback.format_exc().strip().splitlines()[-ERROR_LINES:]
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        _fail(folder, task, main, tracker, reason=reason, error="\n".join(lines))
        raise

    if main:
        folder.publish_output(task.key, tmp_output)
        _record(folder, task, state="done", ended=time.time(), summary=summary or {})
        tracker.close("FINISHED")
    return summary


def _requeued(folder: SweepFolder, task: Task) -> bool:
    status = folder.read_status(task.key)
    return status is not None and status.state == "pending"


def _open_tracker(folder: SweepFolder, config: SweepConfig, task: Task, attempt: int, rank: int):
    from babelsum import tracking

    if rank != 0:  # one writer per task; the other ranks' logs stay in their own journal
        return tracking.Tracker(folder.work_dir(task.key) / f"rank{rank}.journal.jsonl")
    opener = getattr(tracking, "open_task_tracker", None)
    if opener is None:
        return tracking.Tracker(folder.journal_path(task.key))
    return opener(folder.root, config, task, attempt=attempt, **_scheduler_ids())


def _fail(folder, task, main, tracker, *, reason: str, error: str | None) -> None:
    if not main:
        return
    _record(folder, task, state="failed", reason=reason, error=error, ended=time.time())
    try:
        tracker.set_tags({"failure_reason": reason})
        tracker.close("FAILED")
    except Exception as exc:  # tracking must never hide the task's own failure
        print(f"babelsum: could not record the failure in tracking: {exc}", file=sys.stderr)


def _record(folder: SweepFolder, task: Task, **fields) -> None:
    status = folder.read_status(task.key) or TaskStatus(task.key, task.stage, task.index)
    for name, value in fields.items():
        setattr(status, name, value)
    status.params_hash = task.params_hash
    folder.write_status(status)


def main(argv: list[str] | None = None) -> int:
    """`python -m babelsum.runner SWEEP_DIR STAGE INDEX` (what the local backend runs)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3:
        print("usage: python -m babelsum.runner SWEEP_DIR STAGE INDEX", file=sys.stderr)
        return 2
    try:
        run_task(args[0], args[1], int(args[2]))
    except TaskFailed as exc:
        print(f"babelsum: task failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
