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

from babelsum.backends import THREAD_VARIABLES, RunOptions, task_env, thread_env
from babelsum.config import SweepConfig
from babelsum.plan import Plan, Task
from babelsum.state import Cause, Explanation, State, SweepFolder, TaskStatus

NAME = "local"
RUNNER = "babelsum.runner"  # the module each task process runs (`python -m`)


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
        """Running tasks of this host whose process is gone (or whose pid now belongs to
        another process), though no `launch` saw it end (a task of another host cannot be
        checked from here, so it is not called lost)."""
        host = socket.gethostname()
        gone = Explanation(Cause.UNKNOWN, "its process disappeared, and with it its `launch`")
        return {
            s.key: gone
            for s in statuses
            if s.state == State.RUNNING and s.host == host and s.pid and not task_process(s)
        }

    def cancel(
        self, folder: SweepFolder, statuses: list[TaskStatus]
    ) -> tuple[list[str], list[str]]:
        """SIGTERM the running tasks whose process is still theirs: a pid means something
        only on the host that recorded it, and a pid may have been reused since. The tasks
        stopped (or already gone), and a note for each task left alone."""
        host = socket.gethostname()
        stopped, notes = [], []
        for status in statuses:
            if status.state != State.RUNNING or not status.pid:
                continue
            if status.host != host:
                notes.append(
                    f"{status.key}: not stopped, it runs on {status.host} (pid {status.pid}); "
                    f"run `launch cancel` there"
                )
                continue
            if task_process(status, folder.root):
                try:
                    os.kill(status.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            stopped.append(status.key)  # stopped now, or its process was gone already
        return stopped, notes

    def parallel_tasks(self, config: SweepConfig) -> int:
        return config.engine.local_parallel_tasks

    def describe(self, plan: Plan, config: SweepConfig, sweep: Path) -> list[str]:
        jobs = sum(len(stage.jobs(stage.tasks)) for stage in plan.stages)
        return [f"local: {jobs} job(s) (the tasks of a pack share one process)"]


def task_process(status: TaskStatus, sweep: Path | None = None) -> bool:
    """Whether the process `status.pid` of this host is still the one running the task: a
    runner of that stage and index (of the sweep `sweep`, when given), started before the
    task recorded its start. A pid is reused once its process ends, and a zombie is no
    longer running, so signal 0 alone cannot tell."""
    if not Path("/proc/self").is_dir():  # no procfs (macOS): signal 0 is all one can ask
        return _pid_alive(status.pid)
    proc = Path(f"/proc/{status.pid}")
    try:
        args = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
        stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return False
    if stat[0] == "Z" or RUNNER not in args:
        return False
    where = args[args.index(RUNNER) + 1 : args.index(RUNNER) + 4]
    if len(where) < 3 or where[1] != status.stage:
        return False
    if str(status.index) not in where[2].split(","):
        return False
    if sweep is not None and os.path.realpath(where[0]) != str(sweep):
        return False
    started = _start_time(stat)
    # 2 s: the boot time the start is counted from is rounded to a second
    return started is None or status.started is None or started <= status.started + 2


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive all the same
        pass
    return True


def _start_time(stat: list[str]) -> float | None:
    """When a process started (seconds since the epoch), from its /proc/PID/stat fields."""
    try:
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
        return boot + int(stat[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, StopIteration, ValueError, IndexError):
        return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_job(folder: SweepFolder, job: list[Task], processes: int, env: dict[str, str]) -> int:
    """Run a job (one task, or the tasks of a pack one after the other) in `processes` local
    processes; return the exit code of rank 0. Its output goes to the first task's log.
    Nothing starts once `launch cancel` was asked: the tasks are recorded as cancelled."""
    if folder.cancel_requested():
        record_cancelled(folder, job)
        return 1
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
        RUNNER,
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


def record_cancelled(folder: SweepFolder, job: list[Task]) -> None:
    """`launch cancel` was asked before this job started: record its tasks as cancelled."""
    for task in job:
        folder.update_status(
            task,
            executor=NAME,
            state=State.FAILED,
            cause=Cause.CANCELLED,
            reason="cancelled by `launch cancel` before it started",
            ended=time.time(),
        )


def record_killed(folder: SweepFolder, job: list[Task], signum: int) -> None:
    """A job killed by a signal could not say so itself: mark its unfinished tasks."""
    name = signal.Signals(signum).name if signum in signal.Signals._value2member_map_ else signum
    reason = f"killed by {name}" + (
        " (often the kernel's out-of-memory killer, or kill -9)" if signum == signal.SIGKILL else ""
    )
    cause = Cause.KILLED
    if folder.cancel_requested():  # `launch cancel` sent the signal: say so, as it does
        cause, reason = Cause.CANCELLED, "cancelled by `launch cancel`"
    for task in job:
        status = folder.read_status(task.key)
        if status is not None and status.state == State.RUNNING:
            folder.update_status(
                task, state=State.FAILED, cause=cause, reason=reason, ended=time.time()
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
                job_env = env | threads_for(workers * processes, env)
                with ThreadPoolExecutor(max_workers=workers) as pool:
                    runs = {
                        pool.submit(run_job, folder, job, processes, job_env): job for job in jobs
                    }
                    for future in as_completed(runs):
                        code = future.result()
                        for task in runs[future]:
                            codes[task.key] = code
                        failed += sum(not folder.is_done(t.key) for t in runs[future])
                        note = f"[red]{failed} failed" if failed else ""
                        progress.update(bar, advance=len(runs[future]), note=note)
    return codes


def threads_for(concurrent: int, env: dict[str, str]) -> dict[str, str]:
    """The cores shared out among `concurrent` processes, unless the user set the thread
    variables themselves."""
    if any(name in env for name in THREAD_VARIABLES):
        return {}
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return thread_env((cores or 1) // concurrent)


BACKEND = LocalBackend()
