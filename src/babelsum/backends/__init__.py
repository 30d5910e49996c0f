"""Where tasks run: one interface, two backends (local processes, SLURM through submitit).

A backend submits tasks, tells which of its tasks are lost (their process or job is gone
without a word), cancels them, and shows what it would submit. Everything else (plans,
statuses, what to rerun) is the same for both; nothing outside this package compares
executor names.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from babelsum.config import SweepConfig
    from babelsum.plan import Plan, Task
    from babelsum.state import Explanation, SweepFolder, TaskStatus

NAMES = ("local", "slurm")


@dataclass(frozen=True)
class RunOptions:
    """What `launch sweep` / `launch resubmit` ask of a backend beyond the tasks."""

    parallel: int | None = None  # local: tasks at once (default engine.local_parallel_tasks)
    show_progress: bool = True


class Backend(Protocol):
    name: str
    # True: submit() returns once the tasks have ended (local); False: once they are queued
    runs_to_completion: bool

    def submit(
        self,
        folder: SweepFolder,
        config: SweepConfig,
        plan: Plan,
        tasks: list[Task],
        options: RunOptions,
    ) -> list[str]:
        """Run or queue `tasks`; lines saying what was submitted."""
        ...

    def lost(self, statuses: list[TaskStatus]) -> dict[str, Explanation]:
        """The tasks (among this backend's active ones) whose process or job is gone, by key,
        with what the backend can tell of why."""
        ...

    def cancel(
        self, folder: SweepFolder, statuses: list[TaskStatus]
    ) -> tuple[list[str], list[str]]:
        """Stop these active tasks of this backend, if they are still the sweep's; the keys
        of the tasks stopped, and a note for each task left alone."""
        ...

    def parallel_tasks(self, config: SweepConfig) -> int:
        """How many tasks may run at once (tracking warns about SQLite under many writers)."""
        ...

    def describe(self, plan: Plan, config: SweepConfig, sweep: Path) -> list[str]:
        """Dry run: how the plan's tasks would be submitted (SLURM: each array, its sbatch
        options and what it waits for)."""
        ...


def get(name: str) -> Backend:
    """The backend called `name` (imported only when asked for: submitit is not free)."""
    if name not in NAMES:
        raise ValueError(f"unknown executor {name!r}; executors: {', '.join(NAMES)}")
    return importlib.import_module(f"babelsum.backends.{name}").BACKEND


def lost_tasks(statuses: list[TaskStatus]) -> dict[str, Explanation]:
    """Active tasks whose process or job is gone, asking each backend about its own."""
    from babelsum.state import ACTIVE

    by_backend: dict[str, list[TaskStatus]] = {}
    for status in statuses:
        if status.state in ACTIVE and status.executor in NAMES:
            by_backend.setdefault(status.executor, []).append(status)
    lost: dict[str, Explanation] = {}
    for name, group in by_backend.items():
        lost |= get(name).lost(group)
    return lost


THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def thread_env(threads: int) -> dict[str, str]:
    """The CPU threads of one task process (torch, MKL and OpenBLAS read these). Without them
    every process takes a thread per core: two tasks on two cores then run 4 threads that
    spin against each other (measured: training 9x slower than with one thread each)."""
    return dict.fromkeys(THREAD_VARIABLES, str(max(1, threads)))


def task_env(config: SweepConfig) -> dict[str, str]:
    """Variables every task process gets, on any backend (offline mode, caches)."""
    env = {"PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}
    if config.offline:
        env |= {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    if config.hf_cache:
        # explicit: an inherited HF_HUB_CACHE would override HF_HOME
        env["HF_HUB_CACHE"] = os.path.expanduser(config.hf_cache)
    return env
