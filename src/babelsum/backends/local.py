"""Run a sweep's tasks on this machine, stage by stage, with a bounded number in parallel.

Each task runs as `python -m babelsum.runner SWEEP STAGE INDEX` in its own process (or N
processes with torch.distributed variables for a multi-process task), so a crash or an out-of-
memory kill takes down one task, not the sweep, and the same runner code runs as on SLURM.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from babelsum.config import SweepConfig
from babelsum.plan import Plan, Task
from babelsum.state import SweepFolder


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def task_environment(config: SweepConfig) -> dict[str, str]:
    """Variables every task process gets (offline mode, caches)."""
    env = dict(os.environ)
    if config.offline:
        env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    if config.hf_cache:
        env["HF_HUB_CACHE"] = config.hf_cache  # explicit: an inherited value would override HF_HOME
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_one(folder: SweepFolder, task: Task, processes: int, env: dict[str, str]) -> int:
    """Run a task in `processes` local processes; return the exit code of rank 0."""
    folder.update_status(task, executor="local", job_id=None, array_job_id=None, array_task_id=None)
    log = open(folder.log_path(task.key), "a", encoding="utf-8")
    command = [
        sys.executable,
        "-m",
        "babelsum.runner",
        str(folder.root),
        task.stage,
        str(task.index),
    ]
    attempt_env = {**env, "BABELSUM_ATTEMPT_ID": f"local-{uuid.uuid4().hex[:8]}"}
    if processes > 1:
        attempt_env.update(
            MASTER_ADDR="127.0.0.1",
            MASTER_PORT=str(_free_port()),
            WORLD_SIZE=str(processes),
            LOCAL_WORLD_SIZE=str(processes),
        )
    procs = []
    with log:
        for rank in range(processes):
            rank_env = (
                {**attempt_env, "RANK": str(rank), "LOCAL_RANK": str(rank)}
                if processes > 1
                else attempt_env
            )
            procs.append(
                subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=rank_env)
            )
        codes = [p.wait() for p in procs]
    return codes[0]


def run_local(
    folder: SweepFolder,
    config: SweepConfig,
    plan: Plan,
    tasks: list[Task],
    parallel: int | None = None,
    show_progress: bool = True,
) -> dict[str, int]:
    """Run `tasks` stage by stage (a stage starts when the one before has ended)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    env = task_environment(config)
    parallel = parallel or config.engine.local_parallel_tasks
    wanted = {t.key for t in tasks}
    codes: dict[str, int] = {}
    columns = (
        TextColumn("{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[note]}"),
    )
    with Progress(*columns, disable=not show_progress, transient=False) as progress:
        for stage in plan.stages:
            todo = [t for t in stage.tasks if t.key in wanted]
            if not todo:
                continue
            bar = progress.add_task(stage.name, total=len(todo), note="")
            failed = 0
            for resources, group in stage.groups(todo):
                processes = resources.processes
                # a multi-process task already uses several cores: run those one at a time
                workers = 1 if processes > 1 else min(parallel, len(group))
                with ThreadPoolExecutor(max_workers=workers) as pool:
                    runs = {pool.submit(run_one, folder, t, processes, env): t for t in group}
                    for future in as_completed(runs):
                        codes[runs[future].key] = code = future.result()
                        failed += code != 0
                        note = f"[red]{failed} failed" if failed else ""
                        progress.update(bar, advance=1, note=note)
    return codes


def log_tail(folder: SweepFolder, key: str, lines: int = 5) -> str:
    path: Path = folder.log_path(key)
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
