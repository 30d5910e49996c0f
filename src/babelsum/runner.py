"""run_task(sweep_dir, stage, index, placement): the one entry point a job calls, on any backend.

It finds the task in the sweep's plan, checks that its upstream tasks are done (else it
records `blocked`, naming them), runs the stage function, publishes the outputs and records
the result. Imports no ML library itself: the stage module does, once it runs.

Distributed tasks run this in every process; rank 0 alone writes status and outputs.
"""

from __future__ import annotations

import importlib
import os
import shutil
import socket
import sys
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from babelsum import named_files
from babelsum.config import SweepConfig
from babelsum.errors import StageError, UserError
from babelsum.plan import Plan, Task
from babelsum.stages import StageContext
from babelsum.state import Cause, State, SweepFolder
from babelsum.sweep import load_sweep

ERROR_LINES = 15


class TaskFailed(RuntimeError):
    """Raised after a failure was recorded, so that the scheduler also sees a failed task."""


@dataclass(frozen=True)
class Placement:
    """Where this attempt of a task runs, as its backend knows it."""

    attempt_id: str  # the same in every process of one attempt (names the temporary output)
    job_id: str | None = None  # SLURM: JOBID or ARRAYJOBID_INDEX
    array_job_id: str | None = None
    array_task_id: int | None = None


def stage_function(config: SweepConfig, stage: str) -> Callable[[StageContext], dict | None]:
    target = config.engine.stage_impl.get(stage, f"babelsum.stages.{stage}:run")
    module_name, func_name = target.split(":")
    try:
        return getattr(importlib.import_module(module_name), func_name)
    except (ImportError, AttributeError) as exc:
        raise StageError(f"cannot load stage function {target!r}: {exc}") from exc


def _rank() -> tuple[int, int]:
    """This process's place in a distributed task (torch.distributed's variables)."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


# fingerprints of the files the config names: as submitted (None: a sweep from before
# fingerprints), and as they are now
NamedFiles = tuple[dict[str, str] | None, dict[str, str]]


def missing_upstream(folder: SweepFolder, task: Task) -> list[str]:
    return [key for key in task.needs if not folder.is_done(key)]


def refuse_edited_files(
    folder: SweepFolder, config: SweepConfig, task: Task, files: NamedFiles
) -> None:
    """StageError when a file the task reads (named_files.py) is not the one submitted: its
    output would not be what its identity says."""
    edited = named_files.edited_for_task(config, task.stage, task.params, *files)
    if edited:
        raise StageError(
            f"the file {', '.join(edited)} names was edited after this sweep was submitted; "
            f"undo the edit, or take it with `launch resubmit {folder.root} "
            "--accept-config-change`"
        )


def run_task(
    sweep_dir: str | Path, stage: str, index: int, placement: Placement | None = None
) -> dict | None:
    """Run one task of a sweep and record its outcome in its status file."""
    return run_tasks(sweep_dir, stage, [index], placement)[0]


def run_tasks(
    sweep_dir: str | Path, stage: str, indices: list[int], placement: Placement | None = None
) -> list[dict | None]:
    """Run one job: the tasks `indices` of `stage`, one after the other in this process.

    The tasks of a pack (the evaluation cells of one model) share what they load through
    `ctx.shared`, so the model is loaded once. Each task records its own outcome; a failed
    task does not stop the others. Afterwards the first failure is raised, so that the
    scheduler sees the job failed. `placement` comes from the backend; called directly (a
    test, a notebook), the job runs as an attempt of its own in this process.
    """
    placement = placement or Placement(attempt_id=f"direct-{uuid.uuid4().hex[:8]}")
    folder, config, plan = load_sweep(sweep_dir)
    # the files the config names, as submitted and as they are now: read once per job
    submitted = folder.meta().get("named_files")
    now = named_files.fingerprints(config, folder.config_dir()) if submitted is not None else {}
    shared: dict = {}
    summaries: list[dict | None] = []
    errors: list[Exception] = []
    ready = _process_started()
    for index in indices:
        task = plan.stage(stage).tasks[index]
        try:
            summaries.append(
                _run(folder, config, plan, task, placement, shared, ready, (submitted, now))
            )
        except Exception as exc:  # recorded by _run; the other tasks still run
            errors.append(exc)
            summaries.append(None)
        ready = time.time()
    if errors:
        failed = [e for e in errors if isinstance(e, TaskFailed)]
        if len(failed) < len(errors):  # a bug: its own type and traceback
            raise next(e for e in errors if not isinstance(e, TaskFailed))
        raise TaskFailed("; ".join(str(e) for e in failed)) from None
    return summaries


def _process_started() -> float:
    """When this process started (the imports before the first task count as its overhead)."""
    try:
        import psutil

        return psutil.Process().create_time()
    except (ImportError, OSError):
        return time.time()


def _run(
    folder: SweepFolder,
    config: SweepConfig,
    plan: Plan,
    task: Task,
    placement: Placement,
    shared: dict,
    ready: float,
    files: NamedFiles,
) -> dict | None:
    """One task: check its inputs, record the attempt, run the stage, publish, record."""
    rank, world_size = _rank()
    main = rank == 0

    # ---- 1. inputs: a task whose upstream is not done records `blocked` and ends
    missing = missing_upstream(folder, task)
    if missing:
        if main:
            shown = ", ".join(missing[:5]) + (
                f" (+{len(missing) - 5} more)" if len(missing) > 5 else ""
            )
            _record(
                folder,
                task,
                state=State.BLOCKED,
                cause=Cause.BLOCKED,
                reason=f"upstream not done: {shown}",
                ended=time.time(),
            )
        return None

    # ---- 2. the attempt starts: status, temporary output, work folder, tracker
    attempt = _start_attempt(folder, task, placement) if main else 0
    if folder.cancel_requested():  # looked at after recording `running`: see api.cancel
        if main:
            _record(
                folder,
                task,
                state=State.FAILED,
                cause=Cause.CANCELLED,
                reason="cancelled by `launch cancel`",
                ended=time.time(),
            )
        raise TaskFailed(f"{task.key}: cancelled by `launch cancel`")
    tmp_output = folder.task_dir(task.key) / f"output.tmp-{placement.attempt_id}"
    if main:
        for old in folder.task_dir(task.key).glob("output.tmp-*"):
            if old != tmp_output:
                shutil.rmtree(old, ignore_errors=True)
    tmp_output.mkdir(parents=True, exist_ok=True)
    work_dir = folder.work_dir(task.key)
    work_dir.mkdir(parents=True, exist_ok=True)
    tracker = _open_tracker(folder, config, task, attempt, rank, placement)
    ctx = StageContext(
        folder, plan, config, task, tmp_output, work_dir, tracker, rank, world_size, shared
    )

    # ---- 3. the stage; a user's error is its reason, anything else keeps its traceback
    try:
        refuse_edited_files(folder, config, task, files)
        run = stage_function(config, task.stage)
        started = time.time()
        ctx.timing["startup"] = started - ready  # process start (or the previous task) to here
        summary = run(ctx)
        ctx.timing["stage"] = time.time() - started
    except UserError as exc:
        reason = " ".join(exc.lines())
        _fail(folder, task, main, tracker, Cause.ERROR, reason=reason, error=None)
        raise TaskFailed(reason) from None
    except BaseException as exc:  # recorded, then re-raised: the scheduler must see it too
        if isinstance(exc, KeyboardInterrupt | SystemExit) and not main:
            raise
        if isinstance(exc, SystemExit) and _requeued(folder, task):
            raise  # submitit's checkpoint() marked it pending and requeued it: not a failure
        lines = traceback.format_exc().strip().splitlines()[-ERROR_LINES:]
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        _fail(folder, task, main, tracker, cause_of(exc), reason=reason, error="\n".join(lines))
        raise

    # ---- 4. outputs in place, then `done`
    if main:
        try:
            folder.publish_output(task.key, tmp_output)
        except OSError as exc:  # disk full, quota, a folder removed under us: say so
            reason = f"could not publish its outputs to {folder.output_dir(task.key)}: {exc}"
            _fail(folder, task, main, tracker, Cause.ERROR, reason=reason, error=None)
            raise TaskFailed(reason) from None
        if config.engine.cache_dir:
            from babelsum.reuse import remember

            remember(Path(config.engine.cache_dir).expanduser(), task, folder.output_dir(task.key))
        timing = {k: round(v, 3) for k, v in ctx.timing.items()}
        tracker.log_metrics({f"time/{k}": v for k, v in timing.items()})
        _record(
            folder, task, state=State.DONE, ended=time.time(), summary=summary or {}, timing=timing
        )
        tracker.close("FINISHED")
    return summary


def _start_attempt(folder: SweepFolder, task: Task, placement: Placement) -> int:
    status = folder.status_of(task)
    status.state, status.attempts = State.RUNNING, status.attempts + 1
    status.params_hash, status.host, status.pid = (
        task.params_hash,
        socket.gethostname(),
        os.getpid(),
    )
    status.started, status.ended, status.reason, status.error = time.time(), None, None, None
    status.cause = None
    for name in ("job_id", "array_job_id", "array_task_id"):
        if getattr(placement, name) is not None:
            setattr(status, name, getattr(placement, name))
    folder.write_status(status)
    return status.attempts


def _requeued(folder: SweepFolder, task: Task) -> bool:
    status = folder.read_status(task.key)
    return status is not None and status.state == State.PENDING


def _open_tracker(
    folder: SweepFolder,
    config: SweepConfig,
    task: Task,
    attempt: int,
    rank: int,
    placement: Placement,
):
    from babelsum import tracking

    if rank != 0:  # one writer per task; the other ranks' logs stay in their own journal
        return tracking.Tracker(folder.work_dir(task.key) / f"rank{rank}.journal.jsonl")
    return tracking.open_task_tracker(
        folder.root,
        config,
        task,
        attempt=attempt,
        job_id=placement.job_id,
        array_job_id=placement.array_job_id,
        array_task_id=placement.array_task_id,
    )


def cause_of(exc: BaseException) -> Cause:
    """Out of GPU memory (torch's OutOfMemoryError), out of host memory (MemoryError, "out of
    memory" in the message: a resubmission can ask for more), a time limit, an interrupt, or
    another exception."""
    if type(exc).__name__ == "OutOfMemoryError" or "cuda out of memory" in str(exc).lower():
        return Cause.GPU_OUT_OF_MEMORY  # torch.OutOfMemoryError: the GPU's memory
    if isinstance(exc, MemoryError) or "out of memory" in str(exc).lower():
        return Cause.OUT_OF_MEMORY
    if "timed-out" in str(exc):  # submitit, at a time limit after its last requeue
        return Cause.TIME_LIMIT
    if isinstance(exc, KeyboardInterrupt | SystemExit):
        return Cause.KILLED
    return Cause.EXCEPTION


def _fail(folder, task, main, tracker, cause: Cause, *, reason: str, error: str | None) -> None:
    if not main:
        return
    _record(  # masked: `launch status` shows these, and a traceback can quote an env value
        folder,
        task,
        state=State.FAILED,
        cause=cause,
        reason=tracker.masked(reason),
        error=tracker.masked(error) if error else error,
        ended=time.time(),
    )
    try:
        tracker.set_tags({"failure_reason": reason})
        tracker.close("FAILED")
    except Exception as exc:  # tracking must never hide the task's own failure
        print(f"babelsum: could not record the failure in tracking: {exc}", file=sys.stderr)


def _record(folder: SweepFolder, task: Task, **fields) -> None:
    status = folder.status_of(task)
    for name, value in fields.items():
        setattr(status, name, value)
    status.params_hash = task.params_hash
    folder.write_status(status)


def main(argv: list[str] | None = None) -> int:
    """`python -m babelsum.runner SWEEP_DIR STAGE INDEX[,INDEX...] ATTEMPT_ID` (what the local
    backend runs, in each process of a job)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 4:
        print(
            "usage: python -m babelsum.runner SWEEP_DIR STAGE INDEX[,INDEX...] ATTEMPT_ID",
            file=sys.stderr,
        )
        return 2
    try:
        indices = [int(i) for i in args[2].split(",")]
        run_tasks(args[0], args[1], indices, Placement(attempt_id=args[3]))
    except TaskFailed as exc:
        print(f"babelsum: task failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
