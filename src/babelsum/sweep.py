"""A sweep's life outside its tasks: create the folder, choose what to (re)run, read its state.

No ML imports: this runs on the login node for `launch sweep`, `status` and `resubmit`.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from babelsum.config import SweepConfig, dump_config
from babelsum.plan import Plan, Task, make_plan
from babelsum.state import SweepFolder, TaskStatus

TERMINAL = ("done", "failed", "blocked")


class SweepError(Exception):
    """A sweep-level problem the user must fix (one line)."""


def config_hash(config: SweepConfig) -> str:
    return hashlib.sha256(dump_config(config).encode()).hexdigest()[:12]


def default_sweep_dir(config: SweepConfig, root: Path = Path("sweeps")) -> Path:
    return root / f"{config.study}-{time.strftime('%Y%m%d-%H%M%S')}"


def create_sweep(
    config: SweepConfig, sweep_dir: Path, executor: str, source: str
) -> tuple[SweepFolder, Plan]:
    """Write config and plan; refuse a folder holding another sweep.

    Tasks get a status file when they are submitted or started: no file means pending.
    """
    folder = SweepFolder(sweep_dir)
    if folder.exists():
        meta = folder.meta()
        raise SweepError(
            f"{folder.root} already holds sweep {meta.get('id')!r} (study {meta.get('study')!r}); "
            f"continue it with `launch resubmit {sweep_dir}` or choose another --sweep-dir"
        )
    if folder.root.exists() and any(folder.root.iterdir()):
        raise SweepError(f"{folder.root} exists and is not empty; choose another --sweep-dir")
    plan = make_plan(config)
    meta = {
        "id": folder.root.name,
        "study": config.study,
        "created": time.time(),
        "user": getpass.getuser(),
        "host": socket.gethostname(),
        "executor": executor,
        "config_source": source,
        "config_hash": config_hash(config),
        "tasks": len(plan.tasks()),
    }
    folder.create(meta, dump_config(config), plan.to_json())
    return folder, plan


def downstream(plan: Plan, keys: set[str]) -> set[str]:
    """Every task that reads, directly or not, from one of `keys`."""
    result = set(keys)
    for task in plan.tasks():  # stages are in order, so one pass reaches every descendant
        if any(k in result for k in (*task.needs, *task.uses)):
            result.add(task.key)
    return result


def tasks_to_rerun(folder: SweepFolder, plan: Plan, stages: list[str] | None = None) -> list[Task]:
    """Tasks that are not done, then the tasks they feed (in plan order)."""
    not_done = {t.key for t in plan.tasks() if not folder.is_done(t.key)}
    if stages:
        not_done = {k for k in not_done if k.split("/")[0] in stages}
    chosen = downstream(plan, not_done)
    return [t for t in plan.tasks() if t.key in chosen]


@dataclass
class TaskView:
    task: Task
    status: TaskStatus
    state: str  # the status file's state, or "lost" when its process or job is gone


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def task_views(folder: SweepFolder, plan: Plan, queued_jobs: set[str] | None) -> list[TaskView]:
    """Every task with its effective state.

    A task marked running (or pending on SLURM) whose process or job is gone is `lost`: it was
    killed (out of memory, time, scancel, SIGKILL) before it could record anything.
    `queued_jobs` holds the SLURM ids in the queue (None when squeue cannot be asked).
    """
    host = socket.gethostname()
    views = []
    for task in plan.tasks():
        status = folder.read_status(task.key) or TaskStatus(task.key, task.stage, task.index)
        state = status.state
        if state == "running" and status.executor != "slurm" and status.host == host and status.pid:
            if not _pid_alive(status.pid):
                state = "lost"
        elif state in ("running", "pending") and status.executor == "slurm" and status.job_id:
            if queued_jobs is not None and not _in_queue(status, queued_jobs):
                state = "lost"
        views.append(TaskView(task, status, state))
    return views


def _in_queue(status: TaskStatus, queued: set[str]) -> bool:
    return status.job_id in queued or (status.array_job_id or "") in queued
