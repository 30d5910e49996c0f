"""Reuse instead of recompute: a task whose identity (plan.py: its settings, its stage's code
version and its inputs' identities) matches a done task of another sweep, or of the shared
cache `engine.cache_dir`, takes that task's output instead of running.

Outputs are hard-linked where the filesystem allows (they survive the old sweep's deletion
and take no space), copied otherwise. Changing only the evaluation settings therefore reruns
evaluation and gather, never the teacher or the training.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from pathlib import Path

from babelsum.errors import SweepError
from babelsum.plan import Plan, Task
from babelsum.state import State, SweepFolder, TaskStatus

CACHE_META = "task.json"


def find_reusable(plan: Plan, sweeps: list[Path], cache_dir: Path | None) -> dict[str, Path]:
    """Task key -> the output folder of a done task with the same identity."""
    by_identity: dict[str, Path] = {}
    for sweep in sweeps:
        source = SweepFolder(sweep)
        if not source.exists():
            raise SweepError(f"--reuse-from {sweep}: not a sweep folder (no sweep.json)")
        for task in source.read_plan().tasks():
            if task.identity and source.is_done(task.key):
                by_identity.setdefault(task.identity, source.output_dir(task.key))
    found = {}
    for task in plan.tasks():
        output = by_identity.get(task.identity)
        if output is None and cache_dir is not None:
            cached = cache_dir / task.stage / task.identity / "output"
            output = cached if cached.is_dir() else None
        if output is not None:
            found[task.key] = output
    return found


def adopt(folder: SweepFolder, plan: Plan, found: dict[str, Path]) -> None:
    """Give each task of `found` that output, and a done status saying where it came from."""
    tasks = plan.by_key()
    for key, output in found.items():
        task = tasks[key]
        staged = folder.task_dir(key) / f"output.tmp-reused-{uuid.uuid4().hex[:8]}"
        _link_tree(output, staged)
        folder.publish_output(key, staged)
        source = _source_status(output)
        folder.write_status(
            TaskStatus(
                key,
                task.stage,
                task.index,
                state=State.DONE,
                params_hash=task.params_hash,
                summary=source.summary if source else {},
                reused_from=str(output),
                ended=time.time(),
            ),
            durable=False,
        )


def remember(cache_dir: Path, task: Task, output: Path) -> None:
    """Put a done task's output in the shared cache under its identity (once)."""
    final = cache_dir / task.stage / task.identity
    if (final / "output").is_dir():
        return
    # unique per writer: sweeps on several hosts may share the cache (and their pids)
    staged = cache_dir / task.stage / f".{task.identity}.{uuid.uuid4().hex[:12]}.tmp"
    _link_tree(output, staged / "output")
    (staged / CACHE_META).write_text(json.dumps({"key": task.key, "stage": task.stage}) + "\n")
    try:
        os.rename(staged, final)
    except OSError:  # another sweep cached it meanwhile
        shutil.rmtree(staged, ignore_errors=True)


def _link_tree(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        shutil.copytree(source, target, copy_function=os.link)
    except OSError:  # another filesystem: hard links cannot cross it
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target)


def _source_status(output: Path) -> TaskStatus | None:
    path = output.parent / "status.json"
    try:
        return TaskStatus.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None
