"""The sweep folder: resolved config, plan, one status file per task, atomic writes, a lock.

Layout of a sweep folder:

    sweep.json              id, study, created, executor, the config's hash
    config.yaml             the resolved config (after overrides)
    plan.json               every task of every stage
    tasks/<key>/status.json state, attempts, job ids, host, times, the error's last lines
    tasks/<key>/output/     the task's outputs; appears only when complete (renamed into place)
    tasks/<key>/work/       kept across attempts: checkpoints, partial shards
    tasks/<key>/journal.jsonl  everything the task logged (replayed into MLflow by `launch sync`)
    jobs/                   submitit's job folders (pickles are code: the folder is private)
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from babelsum.files import file_lock, write_atomic, write_json

if TYPE_CHECKING:
    from babelsum.plan import Plan, Task


class State(str, Enum):
    """Where a task stands. The first five are written in status files; LOST is what
    `launch status` calls a running or queued task whose process or job is gone."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    BLOCKED = "blocked"
    LOST = "lost"

    def __str__(self) -> str:
        return self.value


class Cause(str, Enum):
    """Why a task did not finish: what `launch resubmit` acts on (more memory, more time)."""

    ERROR = "error"  # a problem the researcher can fix (data, config, model name): see reason
    EXCEPTION = "exception"  # an unexpected error (a bug?): see the traceback's last lines
    OUT_OF_MEMORY = "out_of_memory"
    TIME_LIMIT = "time_limit"
    PREEMPTED = "preempted"
    NODE_FAILURE = "node_failure"
    CANCELLED = "cancelled"
    KILLED = "killed"  # a signal: SIGKILL is often the kernel's out-of-memory killer
    BLOCKED = "blocked"  # an input task did not finish
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Explanation:
    """Why a task was lost, as its backend can tell: the cause and one line."""

    cause: Cause
    reason: str


ENDED = (State.DONE, State.FAILED, State.BLOCKED, State.LOST)  # nothing more will happen
ACTIVE = (State.PENDING, State.RUNNING)  # queued or running: may still change


@dataclass(frozen=True)
class Upstream:
    """An upstream task as a downstream task sees it: what it is, how it ended, its output."""

    key: str
    stage: str
    params: dict[str, Any]
    state: State
    reason: str | None
    output: Path | None  # the finished output folder; None unless done


@dataclass
class TaskStatus:
    key: str
    stage: str
    index: int
    state: State = State.PENDING
    attempts: int = 0
    params_hash: str = ""
    executor: str | None = None  # "local" or "slurm"
    job_id: str | None = None  # SLURM job id of the latest attempt (array: JOBID_INDEX)
    array_job_id: str | None = None
    array_task_id: int | None = None
    host: str | None = None
    pid: int | None = None
    started: float | None = None
    ended: float | None = None
    reason: str | None = None  # one line: why it failed or is blocked
    cause: Cause | None = None  # the kind of failure (Cause), for recovery
    error: str | None = None  # the last lines of the traceback or log
    log: str | None = None  # where the output of the task's latest attempt goes
    reused_from: str | None = None  # the output folder it was taken from instead of running
    summary: dict[str, Any] = field(default_factory=dict)  # numbers returned by the stage
    # seconds: startup (process start, or the previous task of the job, to the stage), stage,
    # and the stage's own sections (model_load, generation, scoring, train, ...)
    timing: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TaskStatus:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        known["state"] = State(known.get("state", State.PENDING))
        if known.get("cause") is not None:
            known["cause"] = Cause(known["cause"])
        return cls(**known)

    def to_json(self) -> dict[str, Any]:
        cause = None if self.cause is None else Cause(self.cause).value
        return asdict(self) | {"state": State(self.state).value, "cause": cause}


class SweepFolder:
    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()

    # paths ---------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.root / "config.yaml"

    @property
    def plan_path(self) -> Path:
        return self.root / "plan.json"

    @property
    def meta_path(self) -> Path:
        return self.root / "sweep.json"

    @property
    def jobs_dir(self) -> Path:
        return self.root / "jobs"

    def task_dir(self, key: str) -> Path:
        return self.root / "tasks" / key

    def status_path(self, key: str) -> Path:
        return self.task_dir(key) / "status.json"

    def output_dir(self, key: str) -> Path:
        return self.task_dir(key) / "output"

    def work_dir(self, key: str) -> Path:
        return self.task_dir(key) / "work"

    def journal_path(self, key: str) -> Path:
        return self.task_dir(key) / "journal.jsonl"

    def log_path(self, key: str) -> Path:
        return self.task_dir(key) / "log.txt"

    # sweep ----------------------------------------------------------------
    def exists(self) -> bool:
        return self.meta_path.is_file()

    def create(self, meta: dict[str, Any], config_text: str, plan: Plan) -> None:
        # Private: submitit pickles in jobs/ are code that SLURM will run as this user.
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        write_atomic(self.config_path, config_text)
        self.write_plan(plan)
        write_json(self.meta_path, meta)

    def meta(self) -> dict[str, Any]:
        return json.loads(self.meta_path.read_text())

    def update_meta(self, **fields: Any) -> None:
        with self.lock("meta"):
            write_json(self.meta_path, self.meta() | fields)

    def read_plan(self) -> Plan:
        from babelsum.plan import Plan

        return Plan.from_json(json.loads(self.plan_path.read_text(encoding="utf-8")))

    def write_plan(self, plan: Plan) -> None:
        write_json(self.plan_path, plan.to_json())

    @contextlib.contextmanager
    def lock(self, name: str = "submit", wait: bool = True) -> Iterator[None]:
        """An exclusive lock on the sweep; with wait=False raise BlockingIOError if someone
        holds it."""
        with file_lock(self.root / f".{name}.lock", None if wait else 0) as held:
            if not held:
                raise BlockingIOError(f"{self.root} is locked ({name})")
            yield

    # task status ------------------------------------------------------------
    def read_status(self, key: str) -> TaskStatus | None:
        path = self.status_path(key)
        try:
            return TaskStatus.from_json(json.loads(path.read_text()))
        except FileNotFoundError:
            return None

    def write_status(self, status: TaskStatus, durable: bool = True) -> None:
        write_json(self.status_path(status.key), status.to_json(), durable)

    def update_status(self, task: Task, durable: bool = True, **fields: Any) -> TaskStatus:
        """Change some fields of a task's status (a task never started has no file yet)."""
        status = self.read_status(task.key) or TaskStatus(task.key, task.stage, task.index)
        for name, value in fields.items():
            setattr(status, name, value)
        self.write_status(status, durable)
        return status

    def upstream(self, task: Task) -> Upstream:
        status = self.read_status(task.key) or TaskStatus(task.key, task.stage, task.index)
        output = self.output_dir(task.key) if self.is_done(task.key) else None
        return Upstream(task.key, task.stage, task.params, status.state, status.reason, output)

    def is_done(self, key: str) -> bool:
        status = self.read_status(key)
        return status is not None and status.state == State.DONE and self.output_dir(key).is_dir()

    # outputs ----------------------------------------------------------------
    def publish_output(self, key: str, tmp: Path) -> None:
        """Move a complete output folder into place; an older output is replaced."""
        final = self.output_dir(key)
        if final.exists():
            old = final.with_name(f"output.old-{int(time.time())}")
            os.replace(final, old)
            shutil.rmtree(old, ignore_errors=True)
        os.replace(tmp, final)
