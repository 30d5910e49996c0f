"""What `launch` does, as functions a notebook can call: start a sweep, look at it, rerun,
cancel. The CLI is a thin layer over these: it parses arguments and prints what they return.

    from babelsum import api
    run = api.sweep("configs/demo.yaml", executor="local")
    api.status(run.folder.root)          # one TaskView per task
    api.resubmit(run.folder.root)        # only what did not finish, and what it feeds
    api.list_sweeps()                    # the sweeps under sweeps/, newest first

No ML imports: this runs on the login node.
"""

from __future__ import annotations

import contextlib
import os
import time as clock
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from babelsum import backends, named_files, sweep_list
from babelsum.backends import RunOptions
from babelsum.config import SweepConfig, dump_config, validate_config
from babelsum.config.load import compose
from babelsum.errors import SweepError
from babelsum.files import write_atomic
from babelsum.named_files import fingerprints
from babelsum.plan import Plan, Task, make_plan
from babelsum.state import ACTIVE, Cause, State, SweepFolder
from babelsum.sweep import (
    PlanChange,
    TaskView,
    authored_text,
    compare_plans,
    config_hash,
    create_sweep,
    default_sweep_dir,
    downstream,
    load_sweep,
    open_sweep,
    read_statuses,
    source_config,
    task_views,
    tasks_to_rerun,
)
from babelsum.sweep_list import SweepSummary

DEFAULT_OPTIONS = RunOptions()


@dataclass
class Launched:
    """Tasks handed to a backend: what it said, and whether they have already ended."""

    folder: SweepFolder
    plan: Plan
    tasks: list[Task]
    submitted: list[str]  # the backend's lines (SLURM: array job ids per stage)
    ended: bool  # True for the local backend: submit returns when the tasks have ended
    notes: list[str] = field(default_factory=list)  # what resubmit changed, and why


def dry_run(
    config_file: str | Path | Sequence[str | Path], overrides: Sequence[str] = ()
) -> tuple[SweepConfig, Plan]:
    """The config and plan a sweep would have; nothing is written or submitted. Several
    config files merge in order (config/load.py)."""
    composed = compose(config_file, overrides)
    config = composed.validated()
    return config, make_plan(config, fingerprints(config, composed.config_dir))


@dataclass
class Created:
    """A new sweep folder, not yet submitted."""

    folder: SweepFolder
    config: SweepConfig
    plan: Plan
    backend: backends.Backend
    notices: list[str]  # preflight checks that could not run here
    reused: dict[str, Path] = field(default_factory=dict)  # task key -> the output it took


def create(
    config_file: str | Path | Sequence[str | Path],
    overrides: Sequence[str] = (),
    *,
    executor: str = "local",
    sweep_dir: str | Path | None = None,
    preflight: bool = True,
    reuse_from: Sequence[str | Path] = (),
) -> Created:
    """Check the config (unless `preflight` is False: the checks of preflight.py, every
    problem at once, nothing written), then write the sweep folder and its MLflow run."""
    composed = compose(config_file, overrides)
    config = composed.validated()
    backend = backends.get(executor)
    notices = []
    if preflight:
        from babelsum import preflight as checks

        notices = checks.check(config, composed.config_dir, backend.name).notices
    folder, plan = create_sweep(
        config,
        Path(sweep_dir) if sweep_dir else default_sweep_dir(config),
        backend.name,
        str(composed.files[0].resolve()),  # relative paths in the config start there
        overrides,
        files=[str(f.resolve()) for f in composed.files],
        authored=composed.data,
    )
    reused = reuse_outputs(folder, config, plan, reuse_from)
    if config.tracking.enabled:
        from babelsum.tracking import start_sweep_run

        start_sweep_run(folder.root, config, backend.parallel_tasks(config))
    return Created(folder, config, plan, backend, notices, reused)


def reuse_outputs(
    folder: SweepFolder, config: SweepConfig, plan: Plan, sweeps: Sequence[str | Path]
) -> dict[str, Path]:
    """Take the outputs of done tasks with the same identity (reuse.py); key -> source."""
    from babelsum import reuse

    cache = Path(config.engine.cache_dir).expanduser() if config.engine.cache_dir else None
    if not sweeps and cache is None:
        return {}
    found = reuse.find_reusable(plan, [Path(s) for s in sweeps], cache)
    reuse.adopt(folder, plan, found)
    return found


def to_run(created: Created) -> list[Task]:
    """The tasks of a new sweep that were not reused."""
    return [t for t in created.plan.tasks() if not created.folder.is_done(t.key)]


def sweep(
    config_file: str | Path,
    overrides: Sequence[str] = (),
    *,
    executor: str = "local",
    sweep_dir: str | Path | None = None,
    options: RunOptions = DEFAULT_OPTIONS,
    preflight: bool = True,
) -> Launched:
    """Create a sweep and run (local) or submit (slurm) every task."""
    new = create(
        config_file, overrides, executor=executor, sweep_dir=sweep_dir, preflight=preflight
    )
    return launch(new.folder, new.config, new.plan, to_run(new), new.backend, options)


def launch(
    folder: SweepFolder,
    config: SweepConfig,
    plan: Plan,
    tasks: list[Task],
    backend: backends.Backend,
    options: RunOptions,
) -> Launched:
    """Hand `tasks` to `backend`, one `launch` at a time per sweep: the sweep's lock is held
    while submitting, and while a local sweep runs (SweepBusy, naming the holder, if taken)."""
    with damage_named(folder):
        with folder.lock("submit", wait=False, purpose=f"`launch sweep` ({backend.name})"):
            return _submit(folder, config, plan, tasks, backend, options)


@contextlib.contextmanager
def damage_named(folder: SweepFolder) -> Iterator[None]:
    """An OS error on a path inside the sweep folder (a file where a folder should be, a
    folder where a file should be, no permission, a full disk) is one line naming the path;
    any other OS error keeps its traceback."""
    try:
        yield
    except OSError as exc:
        path = exc.filename2 or exc.filename
        if path is None or not Path(os.path.abspath(path)).is_relative_to(folder.root):
            raise
        raise SweepError(
            f"{path}: {exc.strerror or exc}; the sweep folder is damaged there (move that "
            "path aside, or restore it) or cannot be written"
        ) from None


def _submit(folder, config, plan, tasks, backend, options) -> Launched:
    """Submit under the sweep's lock (the caller holds it)."""
    submitted = backend.submit(folder, config, plan, tasks, options)
    return Launched(folder, plan, tasks, submitted, backend.runs_to_completion)


def status(sweep_dir: str | Path) -> list[TaskView]:
    """Every task of a sweep with its effective state (lost when its process or job is gone)."""
    folder, plan = open_sweep(sweep_dir)
    return views(folder, plan)


def views(folder: SweepFolder, plan: Plan) -> list[TaskView]:
    statuses = read_statuses(folder, plan)
    found = task_views(plan, statuses, backends.lost_tasks(statuses))
    return [_output_gone(folder, v) for v in found]


def _output_gone(folder: SweepFolder, view: TaskView) -> TaskView:
    """A done task whose output folder is gone (removed by hand, a damaged folder) is unknown:
    `launch status` says so, as `launch resubmit` reruns it."""
    output = folder.output_dir(view.task.key)
    if view.state != State.DONE or output.is_dir():
        return view
    reason = f"{output}: its output folder is gone; `launch resubmit` reruns the task"
    return TaskView(view.task, view.status, State.UNKNOWN, Cause.UNKNOWN, reason)


def to_rerun(
    sweep_dir: str | Path,
    stages: Sequence[str] | None = None,
    patterns: Sequence[str] | None = None,
    accept_config_change: bool = False,
) -> tuple[list[TaskView], list[str]]:
    """What `resubmit` would run: tasks not done, then what they feed, with their states;
    and notes on an edited config. Like `resubmit`, an edit that changes tasks is refused
    (SweepError) unless `accept_config_change`; then the tasks it changes are listed too.
    Nothing is written."""
    folder, config, plan = load_sweep(sweep_dir)
    edit = config_edit(folder, config)
    notes, changed = [], set()
    if edit is not None and edit.change:
        if not accept_config_change:
            raise SweepError(edit.refusal(folder.root))
        notes = [f"would take the edited config {edit.source}", *edit.change.lines()]
        plan, changed = edit.plan, downstream(edit.plan, set(edit.change.changed))
    elif edit is not None:
        notes = [f"{edit.source} changed since submission, but no task's work changes"]
    by_key = {v.task.key: v for v in views(folder, plan)}
    chosen = {t.key for t in tasks_to_rerun(folder, plan, list(stages or []), list(patterns or []))}
    return [by_key[t.key] for t in plan.tasks() if t.key in chosen | changed], notes


def resubmit(
    sweep_dir: str | Path,
    *,
    stages: Sequence[str] | None = None,
    patterns: Sequence[str] | None = None,
    mem: str | None = None,
    time: str | None = None,
    executor: str | None = None,
    options: RunOptions = DEFAULT_OPTIONS,
    accept_config_change: bool = False,
) -> Launched | None:
    """Rerun the tasks that are not done, then those they feed; None when all are done.

    Everything happens under the sweep's lock, which a running local sweep or another
    resubmit holds (SweepBusy then, nothing changed): two resubmits never queue a task twice.
    A sweep with tasks still queued or running is refused.

    The config file the sweep came from is read again: if the researcher edited it so that
    tasks change (their params_hash), resubmit refuses, listing them, unless
    `accept_config_change`: then the new config and plan are the sweep's, and changed done
    tasks rerun too (their outputs kept as `output.replaced-<time>`).

    A task that ran out of memory or time gets more (recovery.py, `engine.retry`), unless
    `mem` / `time` are given: those replace the resources of the stages rerun (their methods'
    own too). A task that failed `engine.retry.max_attempts` times is left out, with a note.
    """
    folder, _ = open_sweep(sweep_dir)
    with damage_named(folder), folder.lock("submit", wait=False, purpose="`launch resubmit`"):
        folder, config, plan = load_sweep(sweep_dir)
        backend = backends.get(executor or folder.meta().get("executor", "local"))
        now = {v.task.key: v for v in views(folder, plan)}
        refuse_if_active(now, sweep_dir)
        now_plan = plan
        config, plan, notes = take_config_change(folder, config, plan, accept_config_change)
        if plan is not now_plan:
            now = {v.task.key: v for v in views(folder, plan)}
        launched = _resubmit(
            folder, config, plan, now, backend, options, stages, patterns, mem, time
        )
        if launched is None:
            return Launched(folder, plan, [], [], True, notes) if notes else None
        launched.notes = notes + launched.notes
        return launched


def refuse_if_active(now: dict[str, TaskView], sweep_dir) -> None:
    """SweepError when a task is queued (it has a job) or running: resubmitting it would run
    it twice, or turn it back into a pending one."""
    active = [
        k
        for k, v in now.items()
        if v.state in ACTIVE and (v.status.job_id or v.state == State.RUNNING)
    ]
    if active:
        raise SweepError(
            f"{len(active)} task(s) are still queued or running (e.g. {active[0]}); "
            f"wait, or `launch cancel {sweep_dir}` first"
        )


@dataclass
class ConfigEdit:
    """The sweep's config (or a file it names) as edited since submission."""

    source: str  # what was edited: the config files, and the fields whose file changed
    config: SweepConfig  # the edited config, and its plan
    plan: Plan
    change: PlanChange  # the tasks whose work the edit changes
    authored: dict  # the edited config as written, before defaults
    files: dict[str, str]  # fingerprints of the files it names, now

    def refusal(self, sweep_dir: Path) -> str:
        return "\n".join(
            [
                f"{self.source} was edited after this sweep was submitted: "
                f"{len(self.change.changed)} task(s) changed, {len(self.change.added)} new, "
                f"{len(self.change.removed)} gone",
                *self.change.lines(),
                "undo the edit, or take the new config with "
                f"`launch resubmit {sweep_dir} --accept-config-change` (changed done "
                "tasks then rerun; their outputs are kept as output.replaced-<time>)",
            ]
        )


def config_edit(folder: SweepFolder, config: SweepConfig) -> ConfigEdit | None:
    """The edit of the sweep's source config since submission, read again from its files
    (the researcher may have edited them); None when there is none. Reads only."""
    meta = folder.meta()
    found = source_config(folder, meta)
    if found is None:
        return None
    source, composed = found
    # Both sides through today's code: a babelsum upgrade (new defaults, new hashes) is not
    # an edit. Sweeps made before the authored config was kept compare resolved configs.
    # A file the config names (DeepSpeed JSON, own prompt set, data files) counts as config;
    # sweeps made before files were fingerprinted have nothing to compare them with.
    new_config = composed.validated()
    files_now = fingerprints(new_config, composed.config_dir)
    files_then = meta.get("named_files", files_now)
    edited_files = named_files.changed(files_then, files_now)
    old_config = config
    if folder.authored_config_path.is_file():
        then = folder.authored_config_path.read_text(encoding="utf-8")
        if authored_text(composed.data) != then:
            old_config = validate_config(yaml.safe_load(then), str(folder.authored_config_path))
        else:
            old_config = new_config
    config_edited = dump_config(new_config) != dump_config(old_config)
    if not config_edited and not edited_files:
        return None
    source = ", ".join(
        ([source] if config_edited else []) + [f"the file {f} names" for f in edited_files]
    )
    new_plan = make_plan(new_config, files_now)
    change = compare_plans(make_plan(old_config, files_then), new_plan)
    return ConfigEdit(source, new_config, new_plan, change, composed.data, files_now)


def take_config_change(
    folder: SweepFolder, config: SweepConfig, plan: Plan, accept: bool
) -> tuple[SweepConfig, Plan, list[str]]:
    """The config and plan to resubmit with, after comparing the sweep's plan with a plan of
    its source config, read again; notes on what changed. Refused without `accept`."""
    edit = config_edit(folder, config)
    if edit is None:
        return config, plan, []
    if not accept:
        if not edit.change:
            note = (
                f"{edit.source} changed since submission, but no task's work changes "
                "(resources, tracking, engine?); the sweep keeps its config "
                "(--accept-config-change takes the new one)"
            )
            return config, plan, [note]
        raise SweepError(edit.refusal(folder.root))
    notes = [f"taking the edited config {edit.source}", *edit.change.lines()]
    tasks = edit.plan.by_key()
    for key in edit.change.changed:  # no longer done: rerun below, like any task not done
        aside = folder.set_aside_output(key)
        if aside is not None:
            notes.append(f"  {key}: its old output is kept in {aside}")
        if folder.read_status(key) is not None:
            folder.update_status(
                tasks[key], state=State.PENDING, attempts=0, reason="its config changed", cause=None
            )
    write_atomic(folder.config_path, dump_config(edit.config))
    write_atomic(folder.authored_config_path, authored_text(edit.authored))
    folder.write_plan(edit.plan)
    folder.update_meta(
        config_hash=config_hash(edit.config), tasks=len(edit.plan.tasks()), named_files=edit.files
    )
    return edit.config, edit.plan, notes


def _resubmit(
    folder: SweepFolder,
    config: SweepConfig,
    plan: Plan,
    now: dict[str, TaskView],
    backend: backends.Backend,
    options: RunOptions,
    stages,
    patterns,
    mem,
    time,
) -> Launched | None:
    """Resubmit what is not done (the caller holds the sweep's lock)."""
    retry = config.engine.retry
    tired = {
        k
        for k, v in now.items()
        if v.state != State.DONE and v.status.attempts >= retry.max_attempts
    }
    notes = [
        f"{k}: not resubmitted, it failed {now[k].status.attempts} times "
        f"(engine.retry.max_attempts); look at `launch logs {folder.root} {k}`"
        for k in sorted(tired)
    ]
    tasks = [
        t
        for t in tasks_to_rerun(folder, plan, list(stages or []), list(patterns or []))
        if t.key not in tired and not (set(t.needs) & tired)
    ]
    if not tasks:
        return None if not notes else Launched(folder, plan, [], [], True, notes)
    changes = {k: v for k, v in (("mem", mem), ("time", time)) if v}
    if changes:
        new_plan = plan.with_resources({t.stage for t in tasks}, **changes)
    else:
        new_plan, escalated = escalated_plan(plan, tasks, now, retry)
        notes += escalated
    if new_plan is not plan:
        plan = new_plan
        folder.write_plan(plan)
    tasks = [plan.by_key()[t.key] for t in tasks]
    for task in tasks:
        folder.update_status(task, durable=False, state=State.PENDING, reason=None, cause=None)
    folder.clear_cancel()
    launched = _submit(folder, config, plan, tasks, backend, options)
    launched.notes = notes
    return launched


def escalated_plan(plan: Plan, tasks: list[Task], now: dict[str, TaskView], retry) -> tuple:
    """The plan with more memory or time for the tasks that ran out of them; the notes."""
    from babelsum.recovery import escalate

    changes, notes = {}, []
    for task in tasks:
        view = now[task.key]
        if view.state not in (State.FAILED, State.LOST):
            continue
        res = task.resources or plan.stage(task.stage).resources
        step = escalate(task.key, view.cause, res, retry)
        if step is not None:
            notes.append(step.note)
            if step.changes:
                changes[task.key] = step.changes
    return (plan.with_task_resources(changes) if changes else plan), notes


@dataclass
class Cancelled:
    """What `launch cancel` did: the tasks it stopped, and why it left others alone."""

    stopped: list[str]
    notes: list[str]


def cancel(sweep_dir: str | Path) -> Cancelled:
    """Stop a sweep: nothing more starts (a local sweep records the tasks it skips as
    cancelled), and its queued and running tasks are stopped and recorded as failed
    (cancelled). Only what the sweep owns is stopped: a local task's pid is signalled only on
    the host that recorded it, and only while it is still that task's process.

    The cancel marker goes first and the statuses are read after it: a task either
    recorded itself running before (and is stopped here), or sees the marker when it starts
    (runner.py) and stops itself."""
    folder, plan = open_sweep(sweep_dir)
    with damage_named(folder):
        return _cancel(folder, plan)


def _cancel(folder: SweepFolder, plan: Plan) -> Cancelled:
    folder.request_cancel()
    active = [
        v.status
        for v in views(folder, plan)
        if v.state in ACTIVE and (v.status.job_id or v.status.pid)
    ]
    by_backend: dict[str, list] = {}
    for s in active:
        by_backend.setdefault(s.executor or "local", []).append(s)
    stopped: list[str] = []
    notes: list[str] = []
    for name, statuses in by_backend.items():
        gone, left = backends.get(name).cancel(folder, statuses)
        stopped += gone
        notes += left
    tasks = plan.by_key()
    for key in stopped:
        folder.update_status(
            tasks[key],
            state=State.FAILED,
            cause=Cause.CANCELLED,
            reason="cancelled by `launch cancel`",
            ended=clock.time(),
        )
    return Cancelled(stopped, notes)


def log_files(sweep_dir: str | Path, key: str) -> list[Path]:
    """The log files of a task's latest attempt: its output (and, on SLURM, its stderr).

    A task of a pack shares its job's log with the other tasks of the pack."""
    folder, plan = open_sweep(sweep_dir)
    if key not in plan.by_key():
        close = [k for k in plan.by_key() if key in k][:5]
        hint = f"; did you mean: {', '.join(close)}" if close else "; `launch status` lists them"
        raise SweepError(f"no task {key!r} in {folder.root}{hint}")
    status = folder.read_status(key)
    if status is None or not status.log:
        raise SweepError(f"{key} has not started yet: it has no log")
    out = Path(status.log)
    return [out, out.with_suffix(".err")] if out.suffix == ".out" else [out]


def list_sweeps(root: str | Path | None = None) -> list[SweepSummary]:
    """The sweeps under `root` (default: sweeps/, or $BABELSUM_SWEEPS), newest first: study,
    age, executor, task counts and a one-word state; a damaged one says what is wrong."""
    return sweep_list.list_sweeps(root)


def latest_sweep(root: str | Path | None = None) -> Path:
    """The newest sweep under `root` (default: sweeps/, or $BABELSUM_SWEEPS): what `latest`
    means on the command line."""
    return sweep_list.latest_sweep(root)
