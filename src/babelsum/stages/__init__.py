"""Stages: one module per stage, each with `run(ctx: StageContext) -> dict | None`.

A stage reads its inputs from the outputs of upstream tasks, writes its own outputs under
`ctx.output_dir` (a temporary folder the runner renames into place once `run` returns), and
returns a small dict of summary numbers that the runner stores in the task's status file.
Stages know nothing of SLURM: the backend decides where they run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from babelsum.config import SweepConfig
    from babelsum.plan import Task
    from babelsum.tracking import Tracker


class StageError(Exception):
    """A failure with a reason the researcher can act on (bad data, bad module name, NaN loss).

    The runner records the message as the task's failure reason, without a traceback.
    """


@dataclass
class StageContext:
    sweep_dir: Path
    config: SweepConfig
    task: Task
    output_dir: Path  # write outputs here; renamed to the task's output folder when complete
    work_dir: Path  # kept across attempts: checkpoints, partial shards
    tracker: Tracker
    rank: int = 0  # distributed rank of this process (0 when not distributed)
    world_size: int = 1

    @property
    def params(self) -> dict:
        return self.task.params

    def output_of(self, key: str) -> Path:
        """The finished output folder of an upstream task."""
        from babelsum.state import SweepFolder

        return SweepFolder(self.sweep_dir).output_dir(key)

    @property
    def is_main_process(self) -> bool:
        return self.rank == 0
