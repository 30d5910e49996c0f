"""A sweep's life outside its tasks: create the folder, choose what to (re)run, read its state.

No ML imports: this runs on the login node for `launch sweep`, `status` and `resubmit`.
"""

from __future__ import annotations

import fnmatch
import getpass
import hashlib
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from babelsum.config import SweepConfig, dump_config, validate_config
from babelsum.errors import SweepError
from babelsum.plan import Plan, Task, make_plan
from babelsum.state import Cause, Explanation, State, SweepFolder, TaskStatus


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
    folder.create(meta, dump_config(config), plan)
    return folder, plan


def open_sweep(sweep_dir: str | Path) -> tuple[SweepFolder, Plan]:
    """A sweep folder and its plan, for commands that do not need the config."""
    folder = SweepFolder(sweep_dir)
    if not folder.exists():
        raise SweepError(f"{sweep_dir} is not a sweep folder (no sweep.json)")
    return folder, folder.read_plan()


def load_sweep(sweep_dir: str | Path) -> tuple[SweepFolder, SweepConfig, Plan]:
    """A sweep folder with its resolved config and its plan."""
    import yaml

    folder, plan = open_sweep(sweep_dir)
    config = validate_config(
        yaml.safe_load(folder.config_path.read_text(encoding="utf-8")), str(folder.config_path)
    )
    return folder, config, plan


def downstream(plan: Plan, keys: set[str]) -> set[str]:
    """Every task that reads, directly or not, from one of `keys`."""
    result = set(keys)
    for task in plan.tasks():  # stages are in order, so one pass reaches every descendant
        if any(k in result for k in (*task.needs, *task.uses)):
            result.add(task.key)
    return result


def tasks_to_rerun(
    folder: SweepFolder,
    plan: Plan,
    stages: list[str] | None = None,
    patterns: list[str] | None = None,
) -> list[Task]:
    """Tasks that are not done (of `stages`, matching a glob of `patterns`, when given), then
    the tasks they feed (in plan order)."""
    not_done = {t.key for t in plan.tasks() if not folder.is_done(t.key)}
    if stages:
        not_done = {k for k in not_done if k.split("/")[0] in stages}
    if patterns:
        not_done = {k for k in not_done if any(fnmatch.fnmatchcase(k, p) for p in patterns)}
    chosen = downstream(plan, not_done)
    return [t for t in plan.tasks() if t.key in chosen]


@dataclass
class TaskView:
    task: Task
    status: TaskStatus
    state: State  # the status file's state, or LOST when its process or job is gone
    cause: Cause | None = None  # why it failed, or was lost
    reason: str | None = None  # one line


def read_statuses(folder: SweepFolder, plan: Plan) -> list[TaskStatus]:
    """Every task's status; a task without a status file is pending."""
    return [folder.read_status(t.key) or TaskStatus(t.key, t.stage, t.index) for t in plan.tasks()]


def task_views(
    plan: Plan, statuses: list[TaskStatus], lost: dict[str, Explanation]
) -> list[TaskView]:
    """Every task with its effective state; `lost` explains the tasks whose process or job
    the backend found gone (killed for memory or time, scancel, SIGKILL) before they could
    record it."""
    views = []
    for task, status in zip(plan.tasks(), statuses, strict=True):
        gone = lost.get(task.key)
        if gone is not None:
            views.append(TaskView(task, status, State.LOST, gone.cause, gone.reason))
        else:
            views.append(TaskView(task, status, status.state, status.cause, status.reason))
    return views
