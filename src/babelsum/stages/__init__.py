"""Stages: one module per stage, each with `run(ctx: StageContext) -> dict | None`.

A stage reads its inputs by name (`ctx.input("split")`, `ctx.input("model")`: the finished
output folders of the upstream tasks the plan named), writes its own outputs under
`ctx.output_dir` (a temporary folder the runner renames into place once `run` returns), and
returns a small dict of summary numbers that the runner stores in the task's status file.
Stages know nothing of SLURM, of the sweep folder's layout or of each other.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from babelsum.config import SweepConfig
    from babelsum.plan import Plan, Task
    from babelsum.state import SweepFolder, Upstream
    from babelsum.tracking import Tracker


@dataclass
class StageContext:
    folder: SweepFolder
    plan: Plan
    config: SweepConfig
    task: Task
    output_dir: Path  # write outputs here; renamed to the task's output folder when complete
    work_dir: Path  # kept across attempts: checkpoints, partial shards
    tracker: Tracker
    rank: int = 0  # distributed rank of this process (0 when not distributed)
    world_size: int = 1
    # what the tasks of one job share (the evaluation cells of a model: the loaded model)
    shared: dict[str, Any] = field(default_factory=dict)
    # seconds per section of the task, recorded in its status file and as time/* metrics
    timing: dict[str, float] = field(default_factory=dict)

    @property
    def params(self) -> dict:
        return self.task.params

    @property
    def is_main_process(self) -> bool:
        return self.rank == 0

    @contextlib.contextmanager
    def timed(self, section: str) -> Iterator[None]:
        """Add the time spent in the block to `timing[section]`."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timing[section] = self.timing.get(section, 0.0) + time.perf_counter() - started

    def input(self, name: str) -> Path:
        """The finished output folder of the upstream task the plan calls `name`."""
        key = self.task.inputs[name]
        if not isinstance(key, str):
            raise TypeError(f"input {name!r} of {self.task.key} names several tasks; use inputs()")
        return self.folder.output_dir(key)

    def inputs(self, name: str) -> list[Path]:
        """The finished output folders of the upstream tasks the plan calls `name`."""
        keys = self.task.inputs.get(name, ())
        return [self.folder.output_dir(k) for k in ((keys,) if isinstance(keys, str) else keys)]

    def optional_inputs(self, name: str) -> list[Upstream]:
        """The upstream tasks the plan calls `name`, each with its state and, when done, its
        output folder (gather reads what finished and shows the rest as holes)."""
        tasks = self.plan.by_key()
        return [self.folder.upstream(tasks[k]) for k in self.task.optional_inputs.get(name, ())]

    @property
    def config_dir(self) -> Path | None:
        """The folder of the config file the sweep was started from (relative paths in the
        config start there)."""
        return self.folder.config_dir()
