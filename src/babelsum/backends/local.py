"""Run a sweep's tasks on this machine, stage by stage, with a bounded number in parallel.

Each task runs as `python -m babelsum.runner SWEEP STAGE INDEX` in its own process (or N
processes with torch.distributed variables for a multi-process task), so a crash or an out-of-
memory kill takes down one task, not the sweep, and the same runner code runs as on SLURM.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from babelsum.backends import RunOptions, task_env
from babelsum.config import SweepConfig
from babelsum.plan import Plan, Task
from babelsum.state import Cause, Explanation, State, SweepFolder, TaskStatus

NAME = "local"


class LocalBackend:
    """Tasks as processes on this machine, stage by stage, a bounded number at once."""

    name = NAME
    runs_to_completion = True

    def submit(
        self,
        folder: SweepFolder,
        config: SweepConfig,
        plan: Plan,
        tasks: list[Task],
        options: RunOptions,
    ) -> list[str]:
        run_local(folder, config, plan, tasks, options.parallel, options.show_progress)
        return []

    def lost(self, statuses: list[TaskStatus]) -> dict[str, Explanation]:
        """Running tasks of this host whose process is gone, though no `launch` saw it end
        (a task of another host cannot be checked from here, so it is not called lost)."""
        host = socket.gethostname()
        gone = Explanation(Cause.UNKNOWN, "its process disappeared, and with it its `launch`")
        return {
            s.key: gone
            for s in statuses
            if s.state == State.RUNNING and s.host == host and s.pid and not _pid_alive(s.pid)
        }

    def cancel(self, statuses: list[TaskStatus]) -> None:
        host = socket.gethostname()
        for status in statuses:
            # a pid means something only on the host that recorded it
            if status.state == State.RUNNING and status.pid and status.host == host:
                try:
                    os.kill(status.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass

    def parallel_tasks(self, config: SweepConfig) -> int:
        return config.engine.local_parallel_tasks

    def describe(self, plan: Plan, config: SweepConfig, sweep: Path) -> list[str]:
        jobs = sum(len(stage.jobs(stage.tasks)) for stage in plan.stages)
        return [f"local: {jobs} job(s) (the tasks of a pack share one process)"]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (dead, not yet reaped: its parent died too) answers signal 0
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_job(folder: SweepFolder, job: list[Task], processes: int, env: dict[str, str]) -> int:
    """Run a job (one task, or the tasks of a pack one after the other) in `processes` local
    processes; return the exit code of rank 0. Its output goes to the first task's log."""
    log_path = folder.log_path(job[0].key)
    for task in job:
        folder.update_status(
            task,
            executor=NAME,
            job_id=None,
            array_job_id=None,
            array_task_id=None,
            log=str(log_path),
        )
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "a", encoding="utf-8")
    command = [
        sys.executable,
        "-m",
        "babelsum.runner",
        str(folder.root),
        job[0].stage,
        ",".join(str(t.index) for t in job),
        f"local-{uuid.uuid4().hex[:8]}",  # the attempt: one for all its processes
    ]
    attempt_env = dict(env)
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
    if codes[0] < 0:
        record_killed(folder, job, -codes[0])
    return codes[0]


def record_killed(folder: SweepFolder, job: list[Task], signum: int) -> None:
    """A job killed by a signal could not say so itself: mark its unfinished tasks."""
    name = signal.Signals(signum).name if signum in signal.Signals._value2member_map_ else signum
    reason = f"killed by {name}" + (
        " (often the kernel's out-of-memory killer, or kill -9)" if signum == signal.SIGKILL else ""
    )
    for task in job:
        status = folder.read_status(task.key)
        if status is not None and status.state == State.RUNNING:
            folder.update_status(
                task, state=State.FAILED, cause=Cause.KILLED, reason=reason, ended=time.time()
            )


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

    env = {**os.environ, **task_env(config)}
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
                jobs = stage.jobs(group)
                # a multi-process task already uses several cores: run those one at a time
                workers = 1 if processes > 1 else min(parallel, len(jobs))
                with ThreadPoolExecutor(max_workers=workers) as pool:
                    runs = {pool.submit(run_job, folder, job, processes, env): job for job in jobs}
                    for future in as_completed(runs):
                        code = future.result()
                        for task in runs[future]:
                            codes[task.key] = code
                        failed += sum(not folder.is_done(t.key) for t in runs[future])
                        note = f"[red]{failed} failed" if failed else ""
                        progress.update(bar, advance=len(runs[future]), note=note)
    return codes


BACKEND = LocalBackend()
