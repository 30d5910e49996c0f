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
    cancel.json             `launch cancel` was asked: nothing more starts until a resubmit
    .submit.lock            held by the `launch` that submits, or runs a local sweep

Every path is checked to lie inside the folder: a task key is a relative path of safe parts.
A damaged status file makes only its task "unknown"; a damaged sweep.json, plan.json or
config.yaml is a SweepError naming the file.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from babelsum.errors import SweepBusy, SweepError
from babelsum.files import file_lock, fsync_folder, sync_tree, write_atomic, write_json

if TYPE_CHECKING:
    from babelsum.plan import Plan, Task


class State(str, Enum):
    """Where a task stands. The first five are written in status files; LOST is what
    `launch status` calls a running or queued task whose process or job is gone, UNKNOWN a
    task whose status file cannot be read (the reason names the file)."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    BLOCKED = "blocked"
    LOST = "lost"
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return self.value


class Cause(str, Enum):
    """Why a task did not finish: what `launch resubmit` acts on (more memory, more time)."""

    ERROR = "error"  # a problem the researcher can fix (data, config, model name): see reason
    EXCEPTION = "exception"  # an unexpected error (a bug?): see the traceback's last lines
    OUT_OF_MEMORY = "out_of_memory"
    GPU_OUT_OF_MEMORY = "gpu_out_of_memory"  # CUDA memory: more host memory would not help
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


# nothing more will happen (an unknown task is rerun by `launch resubmit`)
ENDED = (State.DONE, State.FAILED, State.BLOCKED, State.LOST, State.UNKNOWN)
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
        """A status read back; ValueError naming the field when `d` is not one."""
        if not isinstance(d, dict):
            raise ValueError(f"expected a JSON object, got {type(d).__name__}")
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        for name, types in _FIELD_TYPES.items():
            if name in known and not isinstance(known[name], types):
                raise ValueError(f"{name}: {known[name]!r} is not {_type_names(types)}")
            if isinstance(known.get(name), bool) and bool not in types:
                raise ValueError(f"{name}: {known[name]!r} is not {_type_names(types)}")
        for name in ("key", "stage", "index"):
            if name not in known:
                raise ValueError(f"no {name!r}")
        for name in ("started", "ended"):  # NaN, Infinity, 1e300: no time to show
            if known.get(name) is not None and not 0 <= known[name] < 1e11:
                raise ValueError(f"{name}: {known[name]!r} is not a time")
        known["state"] = State(known.get("state", State.PENDING))
        if known["state"] == State.LOST or known["state"] == State.UNKNOWN:
            raise ValueError(f"state: {known['state'].value!r} is never written")
        if known.get("cause") is not None:
            known["cause"] = Cause(known["cause"])
        return cls(**known)

    def to_json(self) -> dict[str, Any]:
        cause = None if self.cause is None else Cause(self.cause).value
        return asdict(self) | {"state": State(self.state).value, "cause": cause}


_NUMBER = (int, float)
_TEXT = (str, type(None))
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "key": (str,),
    "stage": (str,),
    "index": (int,),
    "state": (str,),
    "attempts": (int,),
    "params_hash": (str,),
    "executor": _TEXT,
    "job_id": _TEXT,
    "array_job_id": _TEXT,
    "array_task_id": (int, type(None)),
    "host": _TEXT,
    "pid": (int, type(None)),
    "started": (*_NUMBER, type(None)),
    "ended": (*_NUMBER, type(None)),
    "reason": _TEXT,
    "cause": _TEXT,
    "error": _TEXT,
    "log": _TEXT,
    "reused_from": _TEXT,
    "summary": (dict,),
    "timing": (dict,),
}


def _type_names(types: tuple[type, ...]) -> str:
    return " or ".join("null" if t is type(None) else t.__name__ for t in types)


def check_key(key: str) -> str:
    """`key` if it is a task key that stays inside tasks/ (relative, no empty, `.` or `..`
    parts, no control characters), else SweepError: keys come from plan.json, which the
    folder does not trust."""
    parts = key.split("/") if isinstance(key, str) else [""]
    if (
        any(p in ("", ".", "..") for p in parts)
        or any(ord(c) < 32 or ord(c) == 127 for c in key)
        or len(key) > 1000
    ):
        raise SweepError(
            f"task key {key!r} is not a safe path inside the sweep folder "
            "(parts separated by '/', none empty, '.' or '..', no control characters)"
        )
    return key


class SweepFolder:
    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()

    def inside(self, path: Path) -> Path:
        """`path` if it lies inside the sweep folder (lexically: no `..` climbs out), else
        SweepError. Every path the sweep writes under a name it did not choose goes through."""
        normal = Path(os.path.normpath(path))
        if normal != self.root and self.root not in normal.parents:
            raise SweepError(f"{path} is outside the sweep folder {self.root}; refusing to write")
        return normal

    # paths ---------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.root / "config.yaml"

    @property
    def authored_config_path(self) -> Path:
        """The config as written (files merged, overrides applied), before defaults."""
        return self.root / "config.authored.yaml"

    @property
    def plan_path(self) -> Path:
        return self.root / "plan.json"

    @property
    def meta_path(self) -> Path:
        return self.root / "sweep.json"

    @property
    def jobs_dir(self) -> Path:
        return self.root / "jobs"

    @property
    def cancel_path(self) -> Path:
        return self.root / "cancel.json"

    def task_dir(self, key: str) -> Path:
        return self.inside(self.root / "tasks" / check_key(key))

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
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a file on the way, no permission
            raise SweepError(
                f"cannot create the sweep folder {self.root}: {exc.strerror}"
            ) from None
        os.chmod(self.root, 0o700)
        write_atomic(self.config_path, config_text)
        self.write_plan(plan)
        write_json(self.meta_path, meta)

    def meta(self) -> dict[str, Any]:
        meta = self._read_json(self.meta_path, "`launch resubmit` cannot continue without it")
        if not isinstance(meta, dict):
            raise SweepError(f"{self.meta_path}: damaged (not a JSON object)")
        return meta

    def config_dir(self) -> Path | None:
        """The folder of the config file the sweep was made from: relative paths in the
        config start there (None for a sweep made without one)."""
        source = self.meta().get("config_source")
        return Path(source).resolve().parent if source else None

    def update_meta(self, **fields: Any) -> None:
        with self.lock("meta"):
            write_json(self.meta_path, self.meta() | fields)

    def read_plan(self) -> Plan:
        """The plan, checked: readable, every key safe and once, indices in order."""
        from babelsum.plan import Plan

        data = self._read_json(self.plan_path, "restore it, or start a new sweep from the config")
        try:
            plan = Plan.from_json(data)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise SweepError(
                f"{self.plan_path}: damaged ({_one_line(exc)}); "
                "restore it, or start a new sweep from the config"
            ) from None
        seen: set[str] = set()
        for stage in plan.stages:
            for position, task in enumerate(stage.tasks):
                try:
                    check_key(task.key)
                except SweepError as exc:
                    raise SweepError(f"{self.plan_path}: {exc}") from None
                if task.key in seen:
                    raise SweepError(f"{self.plan_path}: task key {task.key!r} appears twice")
                if task.index != position or task.stage != stage.name:
                    raise SweepError(
                        f"{self.plan_path}: task {task.key!r} is out of place "
                        f"(stage {task.stage!r}, index {task.index}; expected {stage.name!r}, "
                        f"{position})"
                    )
                seen.add(task.key)
        return plan

    @staticmethod
    def _read_json(path: Path, hint: str) -> Any:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SweepError(f"{path} is missing; {hint}") from None
        except (OSError, ValueError, RecursionError) as exc:  # UnicodeDecodeError: a ValueError
            raise SweepError(f"{path}: damaged ({_one_line(exc)}); {hint}") from None

    def write_plan(self, plan: Plan) -> None:
        write_json(self.plan_path, plan.to_json())

    @contextlib.contextmanager
    def lock(
        self, name: str = "submit", wait: bool = True, purpose: str | None = None
    ) -> Iterator[None]:
        """An exclusive lock on the sweep; with wait=False raise SweepBusy, saying who holds
        it, if someone does. `purpose` (e.g. "`launch resubmit`") is recorded for that."""
        holder = self.root / f".{name}.lock.holder"
        with file_lock(self.root / f".{name}.lock", None if wait else 0) as held:
            if not held:
                raise SweepBusy(
                    f"{self.root} is busy: {_holder(holder)}; "
                    "wait until it ends (or `launch cancel` it), then try again"
                )
            if purpose:
                me = {"purpose": purpose, "pid": os.getpid(), "host": socket.gethostname()}
                write_json(holder, me | {"since": time.time()}, durable=False)
            yield

    # cancel -----------------------------------------------------------------
    def request_cancel(self) -> None:
        """Record that `launch cancel` was asked: no task of this sweep starts any more (the
        local backend and the runner look) until `launch resubmit` clears it."""
        me = {"time": time.time(), "host": socket.gethostname(), "pid": os.getpid()}
        write_json(self.cancel_path, me)

    def cancel_requested(self) -> bool:
        return self.cancel_path.exists()

    def clear_cancel(self) -> None:
        self.cancel_path.unlink(missing_ok=True)

    # task status ------------------------------------------------------------
    def read_status(self, key: str) -> TaskStatus | None:
        """The task's status; None before it has one; an UNKNOWN status (the reason names
        the file) when the file cannot be read: one damaged file spoils one task only."""
        path = self.status_path(key)
        try:
            status = TaskStatus.from_json(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError, RecursionError) as exc:  # torn, not JSON, ...
            return _damaged(key, path, _one_line(exc))
        if status.key != key:
            return _damaged(key, path, f"it is the status of {status.key!r}")
        return status

    def status_of(self, task: Task) -> TaskStatus:
        """The task's status to update: a new one when it has none or its file is damaged."""
        status = self.read_status(task.key)
        if status is None or status.state == State.UNKNOWN:
            return TaskStatus(task.key, task.stage, task.index)
        return status

    def write_status(self, status: TaskStatus, durable: bool = True) -> None:
        write_json(self.status_path(status.key), status.to_json(), durable)

    def update_status(self, task: Task, durable: bool = True, **fields: Any) -> TaskStatus:
        """Change some fields of a task's status (a task never started has no file yet)."""
        status = self.status_of(task)
        for name, value in fields.items():
            setattr(status, name, value)
        self.write_status(status, durable)
        return status

    def upstream(self, task: Task) -> Upstream:
        status = self.status_of(task)
        output = self.output_dir(task.key) if self.is_done(task.key) else None
        return Upstream(task.key, task.stage, task.params, status.state, status.reason, output)

    def is_done(self, key: str) -> bool:
        status = self.read_status(key)
        return status is not None and status.state == State.DONE and self.output_dir(key).is_dir()

    # outputs ----------------------------------------------------------------
    def publish_output(self, key: str, tmp: Path) -> None:
        """Move a complete output folder into place, durably: its files are fsynced before
        the rename and the task folder after it. An older output (a task rerun because its
        status file was damaged, say) is kept as `output.replaced-<time>`, never deleted."""
        final = self.output_dir(key)
        sync_tree(tmp)
        self.set_aside_output(key)
        os.replace(tmp, final)
        fsync_folder(final.parent)

    def set_aside_output(self, key: str) -> Path | None:
        """Move a task's output to `output.replaced-<time>` (kept, not deleted); its path,
        or None when the task has no output."""
        final = self.output_dir(key)
        if not final.exists():
            return None
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = final.with_name(f"output.replaced-{stamp}")
        if aside.exists():
            aside = final.with_name(f"output.replaced-{stamp}-{uuid.uuid4().hex[:6]}")
        os.replace(final, aside)
        fsync_folder(final.parent)
        return aside


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


def _damaged(key: str, path: Path, problem: str) -> TaskStatus:
    return TaskStatus(
        key,
        key.split("/")[0],
        -1,
        state=State.UNKNOWN,
        cause=Cause.UNKNOWN,
        reason=f"{path}: damaged status file ({problem}); `launch resubmit` reruns the task",
    )


def _holder(path: Path) -> str:
    """Who holds a lock, as its holder recorded it."""
    try:
        who = json.loads(path.read_text(encoding="utf-8"))
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(who["since"])))
        return f"{who['purpose']} holds its lock (pid {who['pid']} on {who['host']}, since {since})"
    except (OSError, ValueError, TypeError, KeyError):
        return "another `launch` holds its lock"
