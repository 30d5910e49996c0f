"""How far a sweep has come: per stage its counts, elapsed and remaining time, and the step
each running training task has reached. What `launch status` shows; no printing here.

The remaining time of a stage is an estimate from its done tasks' durations (started to ended
of their last attempt): the work left (running tasks' expected rest, plus one mean duration
per pending task) spread over the tasks running now. None ("?") while no task of the stage
is done. It covers the stage's own work, not the wait for upstream stages.

No ML imports: this runs on the login node.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from babelsum.plan import Plan
from babelsum.state import ACTIVE, State, SweepFolder
from babelsum.sweep import TaskView

TRAIN = "train"
JOURNAL_TAIL_BYTES = 256 * 1024  # a step is logged every few seconds: its record is near the end
JOURNAL_HEAD_BYTES = 64 * 1024  # where a task journals its params (max_steps)


@dataclass
class StageProgress:
    stage: str
    tasks: int
    counts: Counter = field(default_factory=Counter)  # State -> number of tasks
    elapsed_s: float | None = None  # first start to the last end (or to now, while active)
    remaining_s: float | None = None  # None: unknown, no task of the stage is done yet

    @property
    def active(self) -> int:
        return sum(self.counts.get(s, 0) for s in ACTIVE)


@dataclass
class TrainingStep:
    """The latest step a running training task logged."""

    key: str
    step: int
    logged: float  # when (time.time())
    max_steps: int | None = None
    metrics: dict[str, float] = field(default_factory=dict)  # loss, epoch, learning_rate, ...


def stage_progress(
    plan: Plan, views: list[TaskView], now: float | None = None
) -> list[StageProgress]:
    now = time.time() if now is None else now
    out = []
    for stage in plan.stages:
        mine = [v for v in views if v.task.stage == stage.name]
        progress = StageProgress(stage.name, len(stage.tasks), Counter(v.state for v in mine))
        progress.elapsed_s = _elapsed(mine, now)
        progress.remaining_s = _remaining(mine, now)
        out.append(progress)
    return out


def _elapsed(views: list[TaskView], now: float) -> float | None:
    starts = [v.status.started for v in views if v.status.started]
    if not starts:
        return None
    if any(v.state in ACTIVE and v.status.started for v in views):
        return now - min(starts)
    ends = [v.status.ended for v in views if v.status.ended]
    return (max(ends) if ends else now) - min(starts)


def _duration(view: TaskView) -> float | None:
    s = view.status
    if view.state != State.DONE or s.reused_from or not (s.started and s.ended):
        return None  # a reused task took no time here
    return max(s.ended - s.started, 0.0)


def _remaining(views: list[TaskView], now: float) -> float | None:
    active = [v for v in views if v.state in ACTIVE]
    if not active:
        return 0.0
    durations = [d for v in views if (d := _duration(v)) is not None]
    if not durations:
        return None
    mean = sum(durations) / len(durations)
    running = [v for v in active if v.state == State.RUNNING and v.status.started]
    left = sum(max(mean - (now - v.status.started), 0.0) for v in running)
    left += mean * (len(active) - len(running))
    return left / max(len(running), 1)


def training_steps(folder: SweepFolder, views: list[TaskView]) -> list[TrainingStep]:
    """The latest logged step of each running training task that has logged one."""
    steps = []
    for v in views:
        if v.task.stage == TRAIN and v.state == State.RUNNING:
            step = latest_step(folder.journal_path(v.task.key), v.task.key)
            if step is not None:
                steps.append(step)
    return steps


def latest_step(journal: Path, key: str) -> TrainingStep | None:
    """The last step logged in the journal's tail, with the latest value of each metric up to
    the last training loss (TrainingMetrics logs loss, epoch, learning rate ... every
    `logging_steps`; RougeCheck logs val_* at its own steps)."""
    from babelsum.tracking.journal import read_entries

    try:
        size = journal.stat().st_size
    except FileNotFoundError:
        return None
    latest, metrics = None, {}
    # the first line read from mid-file is a fragment: read_entries reports it as unreadable
    for entry in reversed(read_entries(journal, max(size - JOURNAL_TAIL_BYTES, 0))):
        record = entry.record
        if not (record and record.get("kind") == "metrics" and record.get("step") is not None):
            continue
        latest = latest or record
        for name, value in (record.get("metrics") or {}).items():
            if isinstance(value, (int, float)):
                metrics.setdefault(name, value)
        if "loss" in metrics:
            break
    if latest is None:
        return None
    step, logged = int(latest["step"]), float(latest.get("time", 0.0))
    return TrainingStep(key, step, logged, _max_steps(journal), metrics)


def _max_steps(journal: Path) -> int | None:
    """`max_steps` from the params the train stage journals when it starts (None: it trains
    for a number of epochs). Read from the journal's first block, where they are."""
    with open(journal, "rb") as f:
        head = f.read(JOURNAL_HEAD_BYTES)
    found = None
    for line in head.split(b"\n")[:-1]:  # the last piece may be cut mid-record
        try:
            record = json.loads(line)
        except ValueError:
            continue
        params = record.get("params") if isinstance(record, dict) else None
        if isinstance(params, dict) and "max_steps" in params:
            found = params["max_steps"]
    try:
        return int(found) if found is not None and int(found) > 0 else None
    except (TypeError, ValueError):
        return None


def duration(seconds: float | None) -> str:
    """12s, 4m05s, 3h12m, 2d04h; '?' when unknown."""
    if seconds is None:
        return "?"
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"
