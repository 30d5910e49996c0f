"""What `launch status` and `launch list` print: a rich table on a terminal, plain text
elsewhere (pipes, log files, tests), JSON for scripts. The numbers come from progress.py and
sweep_list.py; this module only lays them out.

rich is imported only when the output is a terminal, so `launch status | grep` stays fast.
No ML imports: this runs on the login node.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from babelsum.plan import Plan
from babelsum.progress import (
    StageProgress,
    TrainingStep,
    duration,
    stage_progress,
    training_steps,
)
from babelsum.state import State, SweepFolder
from babelsum.sweep import TaskView
from babelsum.sweep_list import SweepSummary

if TYPE_CHECKING:
    from rich.console import RenderableType

SHOWN_STATES = (State.DONE, State.RUNNING, State.PENDING, State.FAILED, State.BLOCKED, State.LOST)
STATE_STYLE = {
    State.DONE: "green",
    State.RUNNING: "cyan",
    State.PENDING: "bright_black",
    State.FAILED: "bold red",
    State.BLOCKED: "yellow",
    State.LOST: "bold magenta",
    State.UNKNOWN: "bold magenta",
}
SWEEP_STYLE = {
    "done": "green",
    "running": "cyan",
    "failed": "bold red",
    "blocked": "yellow",
    "damaged": "bold magenta",
}
MAX_FAILURES_SHOWN = 50
FAILED_STATES = (State.FAILED, State.LOST, State.UNKNOWN)  # what `launch status` exits 1 for


@dataclass
class SweepStatus:
    """Everything `launch status` shows, computed once for the table, rich or plain, and JSON."""

    folder: SweepFolder
    meta: dict[str, Any]
    views: list[TaskView]
    stages: list[StageProgress]
    steps: list[TrainingStep]
    now: float

    @property
    def failed(self) -> list[TaskView]:
        return [v for v in self.views if v.state in FAILED_STATES]

    @property
    def columns(self) -> tuple[State, ...]:
        """The states shown; `unknown` (a damaged status file) only when a task is."""
        unknown = any(v.state == State.UNKNOWN for v in self.views)
        return SHOWN_STATES + ((State.UNKNOWN,) if unknown else ())


def sweep_status(
    folder: SweepFolder, plan: Plan, views: list[TaskView], now: float | None = None
) -> SweepStatus:
    now = time.time() if now is None else now
    return SweepStatus(
        folder,
        folder.meta(),
        views,
        stage_progress(plan, views, now),
        training_steps(folder, views),
        now,
    )


def last_error_line(view: TaskView) -> str | None:
    """The last line of the recorded traceback, if the task recorded one."""
    lines = (view.status.error or "").strip().splitlines()
    return lines[-1].strip() if lines else None


def remaining(stage: StageProgress) -> str:
    if not stage.active:
        return "-"
    return "?" if stage.remaining_s is None else "~" + duration(stage.remaining_s)


def elapsed(stage: StageProgress) -> str:
    return "-" if stage.elapsed_s is None else duration(stage.elapsed_s)


def step_text(step: TrainingStep) -> str:
    return f"{step.step}/{step.max_steps}" if step.max_steps else str(step.step)


def step_details(step: TrainingStep) -> str:
    shown = [
        f"{name} {step.metrics[name]:{fmt}}"
        for name, fmt in (("epoch", ".2f"), ("loss", ".4g"))
        if name in step.metrics
    ]
    return ", ".join(shown)


def header(status: SweepStatus) -> str:
    meta = status.meta
    return (
        f"sweep {status.folder.root}  (study {meta.get('study')!r}, "
        f"executor {meta.get('executor', '?')}, {len(status.views)} tasks)"
    )


def notes(status: SweepStatus) -> list[str]:
    """Reused and blocked tasks, in one line each."""
    out = []
    reused = [v for v in status.views if v.status.reused_from]
    if reused:
        out.append(
            f"reused: {len(reused)} task(s) took the output of a done task with the same "
            f"identity, e.g. {reused[0].task.key} from {reused[0].status.reused_from}"
        )
    blocked = [v for v in status.views if v.state == State.BLOCKED]
    if blocked:
        out.append(
            f"blocked: {len(blocked)} task(s) whose inputs are missing, "
            f"e.g. {blocked[0].task.key}: {blocked[0].status.reason}"
        )
    return out


# ------------------------------------------------------------------ plain text


def plain_status(status: SweepStatus) -> str:
    lines = [
        header(status),
        "",
        f"{'stage':<10}{'tasks':>7}"
        + "".join(f"{s:>9}" for s in status.columns)
        + f"{'elapsed':>10}{'remaining':>11}",
    ]
    for stage in status.stages:
        lines.append(
            f"{stage.stage:<10}{stage.tasks:>7}"
            + "".join(f"{stage.counts.get(s, 0):>9}" for s in status.columns)
            + f"{elapsed(stage):>10}{remaining(stage):>11}"
        )
    if status.steps:
        lines.append("\ntraining:")
        for step in status.steps:
            details = step_details(step)
            lines.append(
                f"  {step.key}: step {step_text(step)}"
                + (f" ({details})" if details else "")
                + f", logged {duration(status.now - step.logged)} ago"
            )
    failed = status.failed
    if failed:
        lines.append("\nfailed or lost:")
        for v in failed[:MAX_FAILURES_SHOWN]:
            lines.append(f"  {v.task.key}: [{v.cause or 'unknown'}] {v.reason or ''}".rstrip())
            last = last_error_line(v)
            if last and last not in (v.reason or ""):
                lines.append(f"      last error line: {last}")
            if v.status.log:
                lines.append(f"      log: {v.status.log}  (`launch logs SWEEP {v.task.key}`)")
        if len(failed) > MAX_FAILURES_SHOWN:
            lines.append(
                f"  ... and {len(failed) - MAX_FAILURES_SHOWN} more (`launch status --json`)"
            )
    lines += [f"\n{note}" for note in notes(status)]
    return "\n".join(lines)


def plain_list(sweeps: list[SweepSummary], root: Path, now: float | None = None) -> str:
    now = time.time() if now is None else now
    if not sweeps:
        return f"no sweep under {root}"
    rows = [list_row(s, now) for s in sweeps]
    headers = ["sweep", "study", "age", "executor", "done", "running", "failed", "state"]
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    lines = [
        "  ".join(f"{cell:<{width}}" for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [headers, *rows]
    ]
    lines += [f"\n{s.path.name}: damaged: {s.problem}" for s in sweeps if s.problem]
    return "\n".join(lines)


def list_row(s: SweepSummary, now: float) -> list[str]:
    if s.problem:
        return [s.path.name, "-", age(s, now), "-", "-", "-", "-", s.state]
    failed = sum(s.counts.get(state, 0) for state in FAILED_STATES)
    return [
        s.path.name,
        s.study or "?",
        age(s, now),
        s.executor or "?",
        f"{s.counts.get(State.DONE, 0)}/{s.tasks}",
        str(s.counts.get(State.RUNNING, 0)),
        str(failed),
        s.state,
    ]


def age(s: SweepSummary, now: float) -> str:
    return "?" if s.created is None else duration(max(now - s.created, 0.0))


# ------------------------------------------------------------------ rich (a terminal)


def _table(title: str | None = None):
    from rich import box
    from rich.table import Table

    return Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        padding=(0, 1, 0, 0),
        title=title,
        title_justify="left",
        title_style="bold",
    )


def rich_status(status: SweepStatus) -> RenderableType:
    from rich.console import Group
    from rich.text import Text

    parts: list[Any] = [Text(header(status), style="bold"), Text()]
    table = _table()
    table.add_column("stage")
    table.add_column("tasks", justify="right")
    for state in status.columns:
        table.add_column(str(state), justify="right")
    table.add_column("elapsed", justify="right")
    table.add_column("left", justify="right")  # "remaining" would not fit 80 columns
    for stage in status.stages:
        counts = [
            Text(str(n), style=STATE_STYLE[s])
            if (n := stage.counts.get(s, 0))
            else Text("·", "dim")
            for s in status.columns
        ]
        table.add_row(stage.stage, str(stage.tasks), *counts, elapsed(stage), remaining(stage))
    parts.append(table)
    if status.steps:
        steps = _table("training")
        for name in ("task", "step", "epoch", "loss", "logged"):
            steps.add_column(name, justify="left" if name == "task" else "right")
        for step in status.steps:
            m = step.metrics
            steps.add_row(
                step.key,
                step_text(step),
                f"{m['epoch']:.2f}" if "epoch" in m else "",
                f"{m['loss']:.4g}" if "loss" in m else "",
                f"{duration(status.now - step.logged)} ago",
            )
        parts += [Text(), steps]
    failed = status.failed
    if failed:
        table = _table("failed or lost")
        table.add_column("task", overflow="fold")
        table.add_column("cause")
        table.add_column("what happened, and the log", overflow="fold")
        for v in failed[:MAX_FAILURES_SHOWN]:
            what = Text(v.reason or "")
            last = last_error_line(v)
            if last and last not in (v.reason or ""):
                what.append(f"\n{last}", style="dim")
            if v.status.log:
                what.append(f"\n{v.status.log}", style="dim")
            table.add_row(v.task.key, Text(str(v.cause or "unknown"), "red"), what)
        parts += [Text(), table]
        more = len(failed) - MAX_FAILURES_SHOWN
        if more > 0:
            parts.append(Text(f"... and {more} more (`launch status --json`)"))
        parts.append(Text("a task's whole log: launch logs SWEEP KEY", style="dim"))
    parts += [Text(f"\n{note}") for note in notes(status)]
    return Group(*parts)


def rich_list(sweeps: list[SweepSummary], root: Path, now: float | None = None) -> RenderableType:
    from rich.console import Group
    from rich.text import Text

    now = time.time() if now is None else now
    if not sweeps:
        return Text(f"no sweep under {root}")
    table = _table(str(root))
    for name in ("sweep", "study", "age", "executor", "done", "running", "failed", "state"):
        table.add_column(name, justify="right" if name in ("age", "done", "running") else "left")
    for s in sweeps:
        row = list_row(s, now)
        table.add_row(*row[:-1], Text(row[-1], SWEEP_STYLE.get(s.state, "")))
    problems = [Text(f"{s.path.name}: {s.problem}", "magenta") for s in sweeps if s.problem]
    return Group(table, *problems)


# ------------------------------------------------------------------ JSON


def status_json(status: SweepStatus) -> str:
    tasks = [
        {
            "key": v.task.key,
            "stage": v.task.stage,
            "state": v.state,
            "cause": v.cause,
            "reason": v.reason,
            "last_error_line": last_error_line(v),
            "log": v.status.log,
            "reused_from": v.status.reused_from,
            "started": v.status.started,
            "ended": v.status.ended,
            "timing": v.status.timing,
            "attempts": v.status.attempts,
            "job_id": v.status.job_id,
            "array_job_id": v.status.array_job_id,
            "host": v.status.host,
            "summary": v.status.summary,
        }
        for v in status.views
    ]
    stages = [
        {
            "stage": s.stage,
            "tasks": s.tasks,
            "counts": {str(k): n for k, n in s.counts.items()},
            "elapsed_s": s.elapsed_s,
            "remaining_s": s.remaining_s,  # null: no task of the stage done yet
        }
        for s in status.stages
    ]
    training = [
        {
            "key": s.key,
            "step": s.step,
            "max_steps": s.max_steps,
            "logged": s.logged,
            "metrics": s.metrics,
        }
        for s in status.steps
    ]
    counts = dict(Counter(str(v.state) for v in status.views))
    return json.dumps(
        {
            "sweep": str(status.folder.root),
            "study": status.meta.get("study"),
            "tasks": tasks,
            "counts": counts,
            "stages": stages,
            "training": training,
        },
        indent=2,
    )
