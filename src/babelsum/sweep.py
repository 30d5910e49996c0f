"""A sweep's life outside its tasks: create the folder, choose what to (re)run, read its state.

No ML imports: this runs on the login node for `launch sweep`, `status` and `resubmit`.
"""

from __future__ import annotations

import fnmatch
import getpass
import hashlib
import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from babelsum import named_files
from babelsum.config import SweepConfig, dump_config, validate_config
from babelsum.config.load import Composed
from babelsum.errors import SweepError
from babelsum.files import write_atomic
from babelsum.plan import Plan, Task, make_plan
from babelsum.state import Cause, Explanation, State, SweepFolder, TaskStatus


def config_hash(config: SweepConfig) -> str:
    return hashlib.sha256(dump_config(config).encode()).hexdigest()[:12]


SWEEPS_ENV = "BABELSUM_SWEEPS"  # where new sweeps go, and where `latest` and `list` look


def sweeps_root() -> Path:
    return Path(os.environ.get(SWEEPS_ENV) or "sweeps")


def default_sweep_dir(config: SweepConfig, root: Path | None = None) -> Path:
    return (root or sweeps_root()) / f"{config.study}-{time.strftime('%Y%m%d-%H%M%S')}"


def create_sweep(
    config: SweepConfig,
    sweep_dir: Path,
    executor: str,
    source: str,
    overrides: Sequence[str] = (),
    files: Sequence[str] = (),
    authored: dict | None = None,
) -> tuple[SweepFolder, Plan]:
    """Write config and plan; refuse a folder holding another sweep.

    `files` (the first is `source`, from whose folder relative paths start), `overrides` and
    `authored` (what they gave, merged, before validation and defaults) are what the config
    was read from: `launch resubmit` reads the files again to notice an edit after submission.
    Tasks get a status file when they are submitted or started: no file means pending.
    """
    folder = SweepFolder(sweep_dir)
    if folder.exists():
        meta = folder.meta()
        raise SweepError(
            f"{folder.root} already holds sweep {meta.get('id')!r} (study {meta.get('study')!r}); "
            f"continue it with `launch resubmit {sweep_dir}` or choose another --sweep-dir"
        )
    if folder.root.exists() and not folder.root.is_dir():
        raise SweepError(f"{folder.root} is a file, not a folder; choose another --sweep-dir")
    if folder.root.exists() and any(folder.root.iterdir()):
        raise SweepError(f"{folder.root} exists and is not empty; choose another --sweep-dir")
    named = named_files.fingerprints(config, Path(source).parent)
    plan = make_plan(config, named)
    meta = {
        "id": folder.root.name,
        "study": config.study,
        "created": time.time(),
        "user": getpass.getuser(),
        "host": socket.gethostname(),
        "executor": executor,
        "config_source": source,
        "config_files": list(files) or [source],
        "config_overrides": list(overrides),
        "config_hash": config_hash(config),
        "named_files": named,  # what resubmit compares against: see named_files.py
        "tasks": len(plan.tasks()),
    }
    folder.create(meta, dump_config(config), plan)
    if authored is not None:
        write_atomic(folder.authored_config_path, authored_text(authored))
    return folder, plan


def authored_text(data: dict) -> str:
    """The config as the researcher wrote it (files merged, overrides applied), before
    validation fills in defaults: what an edit changes, and a babelsum upgrade does not."""
    import yaml

    return yaml.safe_dump(data, sort_keys=True, allow_unicode=True)


def open_sweep(sweep_dir: str | Path) -> tuple[SweepFolder, Plan]:
    """A sweep folder and its plan, for commands that do not need the config."""
    folder = SweepFolder(sweep_dir)
    try:
        exists = folder.exists()
    except OSError as exc:  # another user's sweep: the folder is private (mode 0700)
        raise SweepError(f"{sweep_dir}: cannot read it ({exc.strerror})") from None
    if not exists:
        raise SweepError(f"{sweep_dir} is not a sweep folder (no sweep.json)")
    folder.meta()  # a damaged sweep.json is named here, before any command acts
    return folder, folder.read_plan()


def load_sweep(sweep_dir: str | Path) -> tuple[SweepFolder, SweepConfig, Plan]:
    """A sweep folder with its resolved config and its plan."""
    folder, plan = open_sweep(sweep_dir)
    return folder, read_config(folder), plan


def read_config(folder: SweepFolder) -> SweepConfig:
    """The sweep's resolved config (config.yaml); SweepError naming it when it is damaged."""
    import yaml

    path = folder.config_path
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SweepError(f"{path} is missing; restore it, or start a new sweep") from None
    except (OSError, ValueError, yaml.YAMLError) as exc:  # UnicodeDecodeError is a ValueError
        problem = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else "unreadable"
        raise SweepError(f"{path}: damaged ({problem}); restore it") from None
    if not isinstance(data, dict):
        raise SweepError(f"{path}: damaged (not a mapping of config keys); restore it")
    return validate_config(data, str(path))


@dataclass
class PlanChange:
    """How a plan made from the edited config differs from the sweep's, by task key."""

    changed: list[str]  # in both, with another params_hash
    added: list[str]
    removed: list[str]

    def __bool__(self) -> bool:
        return bool(self.changed or self.added or self.removed)

    def lines(self, limit: int = 20) -> list[str]:
        """One line per task (changed, then new, then gone), at most `limit`, then a count."""
        rows = (
            [f"  changed: {k}" for k in self.changed]
            + [f"  new:     {k}" for k in self.added]
            + [f"  gone:    {k}" for k in self.removed]
        )
        more = [f"  ... and {len(rows) - limit} more"] if len(rows) > limit else []
        return rows[:limit] + more


def compare_plans(old: Plan, new: Plan) -> PlanChange:
    """Which tasks an edited config changes: a task's params_hash covers every setting its
    output depends on (plan.stage_settings), so equal hashes mean the same work."""
    before = {t.key: t.params_hash for t in old.tasks()}
    after = {t.key: t.params_hash for t in new.tasks()}
    return PlanChange(
        changed=[k for k in after if k in before and before[k] != after[k]],
        added=[k for k in after if k not in before],
        removed=[k for k in before if k not in after],
    )


def source_config(folder: SweepFolder, meta: dict) -> tuple[str, Composed] | None:
    """The files the sweep's config was read from, read again with its overrides (the
    researcher may have edited them since); None when a file is gone."""
    from babelsum.config.load import compose

    files = meta.get("config_files") or [meta.get("config_source")]
    if not all(files) or not all(Path(f).is_file() for f in files):
        return None
    return ", ".join(files), compose(files, list(meta.get("config_overrides") or []))


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
    check_selection(plan, stages, patterns)
    not_done = {t.key for t in plan.tasks() if not folder.is_done(t.key)}
    if stages:
        not_done = {k for k in not_done if k.split("/")[0] in stages}
    if patterns:
        not_done = {k for k in not_done if any(fnmatch.fnmatchcase(k, p) for p in patterns)}
    chosen = downstream(plan, not_done)
    return [t for t in plan.tasks() if t.key in chosen]


def check_selection(plan: Plan, stages: list[str] | None, patterns: list[str] | None) -> None:
    """SweepError for a --stage the plan does not have, or a --task that matches no task at
    all (a typo would otherwise read as "every task is done")."""
    names = [s.name for s in plan.stages]
    for stage in stages or []:
        if stage not in names:
            raise SweepError(f"--stage {stage!r}: no such stage here; stages: {', '.join(names)}")
    keys = list(plan.by_key())
    for pattern in patterns or []:
        if not any(fnmatch.fnmatchcase(k, pattern) for k in keys):
            raise SweepError(
                f"--task {pattern!r} matches no task of this sweep; `launch status` lists them"
            )


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
