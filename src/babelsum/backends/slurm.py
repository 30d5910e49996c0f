"""Submit a sweep to SLURM through submitit: one array job per stage, `afterany` dependencies.

`afterany` rather than `afterok`: a downstream task whose inputs are missing records itself
`blocked` and exits, so one failed language does not stall the sweep, and gather renders
the matrix with holes. Arrays larger than the cluster's MaxArraySize are split into chunks
(array indices start at 0, so the limit bounds the highest index).
"""

from __future__ import annotations

import getpass
import math
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import submitit
from submitit.helpers import Checkpointable, DelayedSubmission, TorchDistributedEnvironment

from babelsum.backends import THREAD_VARIABLES, RunOptions, task_env
from babelsum.config import STAGES, Resources, SweepConfig
from babelsum.config.units import minutes
from babelsum.errors import SubmitError
from babelsum.plan import Plan, Task
from babelsum.state import Cause, Explanation, State, SweepFolder, TaskStatus

NAME = "slurm"


class SlurmBackend:
    """Each stage's tasks as SLURM array jobs, submitted through submitit."""

    name = NAME
    runs_to_completion = False

    def submit(
        self,
        folder: SweepFolder,
        config: SweepConfig,
        plan: Plan,
        tasks: list[Task],
        options: RunOptions,
    ) -> list[str]:
        return [
            f"  {sub.stage:<9} {sub.tasks:>5} tasks  job {', '.join(sub.array_job_ids)}"
            for sub in submit(folder, config, plan, tasks)
        ]

    def lost(self, statuses: list[TaskStatus]) -> dict[str, Explanation]:
        """Queued or running tasks whose job is no longer in the queue, with why (none when
        squeue cannot be asked: then nothing can be said)."""
        queued = queued_jobs()
        if queued is None:
            return {}
        return {
            s.key: explain(s)
            for s in statuses
            if s.job_id and s.job_id not in queued and (s.array_job_id or "") not in queued
        }

    def cancel(
        self, folder: SweepFolder, statuses: list[TaskStatus]
    ) -> tuple[list[str], list[str]]:
        """scancel the jobs of these tasks (ids SLURM gave this sweep's submissions); a job
        that already left the queue is simply not found."""
        jobs = sorted({s.job_id for s in statuses if s.job_id})
        if not jobs:
            return [], []
        try:
            done = subprocess.run(
                ["scancel", *jobs], capture_output=True, text=True, timeout=120, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return [], [f"scancel could not run ({exc}); nothing on SLURM was cancelled"]
        notes = [f"scancel: {line}" for line in done.stderr.splitlines() if line.strip()][:5]
        return [s.key for s in statuses if s.job_id], notes

    def parallel_tasks(self, config: SweepConfig) -> int:
        return max(config.resources.for_stage(stage).array_parallelism for stage in STAGES)

    def describe(self, plan: Plan, config: SweepConfig, sweep: Path) -> list[str]:
        """Each array job the sweep would be submitted as: what it waits for, its sbatch line."""
        lines = []
        for array in arrays(plan, plan.tasks()):
            tasks = sum(len(job) for job in array.jobs)
            shown = ", ".join(array.upstream[:3]) + (" ..." if len(array.upstream) > 3 else "")
            waits = f"waits for {len(array.upstream)} task(s): {shown}" if array.upstream else ""
            after = "afterany:<their array elements>" if array.upstream else None
            options = sbatch_preview(
                array.stage, len(array.jobs), config, array.resources, sweep, after
            )
            lines += [
                f"{array.stage}: {len(array.jobs)} job(s), {tasks} task(s); "
                + (waits or "waits for nothing"),
                "  sbatch " + " ".join(options),
            ]
        return lines


class TaskCall(Checkpointable):
    """What each array element runs: exports torch.distributed variables, then run_task.

    On timeout or preemption submitit calls `checkpoint`, which marks the task pending and
    requeues the same call; the stage resumes from its own checkpoints in its work folder.
    """

    def __call__(self, sweep_dir: str, stage: str, indices: list[int]) -> list[dict | None]:
        from babelsum import runner

        job = submitit.JobEnvironment()
        if job.num_tasks > 1:
            # one SLURM task per GPU; LOCAL_RANK picks the device, so keep all GPUs visible
            TorchDistributedEnvironment().export(set_cuda_visible_devices=False)
        placement = runner.Placement(
            # one attempt = one run of the job; a requeued job runs again with a new count
            attempt_id=f"{job.job_id}-{os.environ.get('SLURM_RESTART_COUNT', '0')}",
            job_id=job.job_id,
            array_job_id=job.array_job_id,
            array_task_id=None if job.array_task_id is None else int(job.array_task_id),
        )
        return runner.run_tasks(sweep_dir, stage, indices, placement)

    def checkpoint(self, sweep_dir: str, stage: str, indices: list[int]) -> DelayedSubmission:
        if submitit.JobEnvironment().global_rank == 0:
            folder = SweepFolder(sweep_dir)
            tasks = folder.read_plan().stage(stage).tasks
            for task in (tasks[i] for i in indices):
                if not folder.is_done(task.key):
                    folder.update_status(
                        task, state=State.PENDING, reason="requeued after timeout or preemption"
                    )
        return super().checkpoint(sweep_dir, stage, indices)


def time_minutes(text: str | None) -> int | None:
    """SLURM time -> whole minutes, rounded up (what submitit's `time` takes)."""
    return None if text is None else math.ceil(minutes(text))


def sbatch_parameters(
    stage: str, config: SweepConfig, res: Resources, dependency: str | None
) -> dict:
    """submitit SlurmExecutor parameters for one stage's array."""
    params: dict = {
        "job_name": f"bs-{config.study}-{stage}",
        "nodes": res.nodes,
        "ntasks_per_node": res.tasks_per_node,
        "cpus_per_task": res.cpus_per_task,
        "array_parallelism": res.array_parallelism,
        "signal_delay_s": config.engine.signal_delay_s,
    }
    optional = {
        "partition": res.partition,
        "account": res.account,
        "qos": res.qos,
        "constraint": res.constraint,
        "mem": res.mem,
        "time": time_minutes(res.time),
        "gpus_per_node": res.gpus_per_node or None,
        "dependency": dependency,
    }
    params.update({k: v for k, v in optional.items() if v is not None})
    extra = {"requeue": True, **res.extra}
    if extra["requeue"] is False:
        extra["no_requeue"] = True  # sbatch's own way to say it
    # submitit writes True as a bare flag (`--exclusive`); false means the flag is left out
    # (it would be `--requeue=False`, which sbatch refuses)
    params["additional_parameters"] = {k: v for k, v in extra.items() if v is not False}
    return params


def max_array_size(config: SweepConfig) -> int:
    if config.engine.max_array_size:
        return config.engine.max_array_size
    try:
        out = subprocess.run(
            ["scontrol", "show", "config"], capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return 1001
    m = re.search(r"^MaxArraySize\s*=\s*(\d+)", out, re.M)
    return int(m.group(1)) if m else 1001


def chunks(tasks: list[Task], size: int) -> list[list[Task]]:
    return [tasks[i : i + size] for i in range(0, len(tasks), size)]


@dataclass
class StageSubmission:
    stage: str
    array_job_ids: list[str]
    tasks: int


def task_setup_lines(config: SweepConfig) -> list[str]:
    """Shell lines run in the sbatch script before the task: the task environment, and the
    signal SLURM sends before a time limit (training then saves a checkpoint at once)."""
    env = task_env(config) | {"BABELSUM_SAVE_SIGNAL": "USR2"}
    # one CPU thread per core SLURM gave the task (--cpus-per-task), unless set already
    threads = " ".join(
        f"{name}=${{{name}:-${{SLURM_CPUS_PER_TASK:-1}}}}" for name in THREAD_VARIABLES
    )
    return [
        "export " + " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()),
        f"export {threads}",
    ]


def python_command(config: SweepConfig, folder: SweepFolder) -> str | None:
    if config.container is None:
        return None
    from babelsum.backends import apptainer as containers

    # relative prompt folders start at the config's folder
    config_dir = folder.config_dir() if folder.exists() else None
    return containers.python_command(
        config.container, folder.root, config.hf_cache, containers.config_binds(config, config_dir)
    )


@dataclass
class Array:
    """One array job: jobs of one stage that share resources and upstream tasks."""

    stage: str
    resources: Resources
    jobs: list[list[Task]]  # each element runs one job: a task, or the tasks of a pack
    upstream: tuple[str, ...]  # keys of the tasks it waits for (those submitted with it)


def arrays(plan: Plan, tasks: list[Task]) -> list[Array]:
    """`tasks` as array jobs, in submission order.

    Each job waits only for the tasks it reads (`afterany` on those array elements), so a
    base model is evaluated right after the split and each trained model as soon as it is
    trained. Jobs that wait for the same tasks and need the same resources share an array.
    """
    wanted = {t.key for t in tasks}
    found = []
    for stage in plan.stages:
        todo = [t for t in stage.tasks if t.key in wanted]
        for resources, group in stage.groups(todo):
            by_upstream: dict[tuple[str, ...], list[list[Task]]] = {}
            for job in stage.jobs(group):
                keys = {k for t in job for k in (*t.needs, *t.uses) if k in wanted}
                by_upstream.setdefault(tuple(sorted(keys)), []).append(job)
            found += [Array(stage.name, resources, jobs, up) for up, jobs in by_upstream.items()]
    return found


def dependency(upstream: tuple[str, ...], element_of: dict[str, str], sizes: dict[str, int]):
    """`afterany:` on the array elements running `upstream`; a whole array by its id when
    every element of it is waited for (so the line stays short)."""
    elements: dict[str, set[str]] = {}
    for key in upstream:
        array, _, index = element_of[key].partition("_")
        elements.setdefault(array, set()).add(index)
    parts = []
    for array, indices in sorted(elements.items()):
        if len(indices) == sizes[array]:
            parts.append(array)
        else:
            parts += [f"{array}_{i}" for i in sorted(indices, key=int)]
    return "afterany:" + ":".join(parts) if parts else None


def submit(
    folder: SweepFolder, config: SweepConfig, plan: Plan, tasks: list[Task]
) -> list[StageSubmission]:
    """Submit `tasks` as array jobs (`arrays`) and record each task's job ids."""
    if shutil.which("srun") is None or shutil.which("sbatch") is None:
        raise SubmitError(
            "no `sbatch`/`srun` on PATH: run `launch` on a SLURM login node (outside a container)"
        )
    if config.container is not None:
        from babelsum.backends import apptainer as containers

        containers.check_container(config.container)
    python = python_command(config, folder)
    limit = max_array_size(config)
    element_of: dict[str, str] = {}  # task key -> the array element running it (JOB_INDEX)
    sizes: dict[str, int] = {}  # array job id -> its number of elements
    submitted: dict[str, StageSubmission] = {}
    for array in arrays(plan, tasks):
        executor = submitit.SlurmExecutor(
            folder=folder.jobs_dir / array.stage / "%j",
            python=python,
            max_num_timeout=config.engine.max_timeouts,
        )
        after = dependency(array.upstream, element_of, sizes)
        executor.update_parameters(
            setup=task_setup_lines(config),
            **sbatch_parameters(array.stage, config, array.resources, after),
        )
        for chunk in chunks(array.jobs, limit):
            array_id = submit_array(folder, executor, array.stage, chunk)
            sizes[array_id] = len(chunk)
            for position, job in enumerate(chunk):
                element_of |= {t.key: f"{array_id}_{position}" for t in job}
            stage = submitted.setdefault(array.stage, StageSubmission(array.stage, [], 0))
            stage.array_job_ids.append(array_id)
            stage.tasks += sum(len(job) for job in chunk)
    folder.update_meta(executor=NAME)
    return list(submitted.values())


def submit_array(
    folder: SweepFolder, executor: submitit.SlurmExecutor, stage: str, jobs: list[list[Task]]
) -> str:
    """Submit `jobs` as one array job; record each task's job ids; the array's job id."""
    n = len(jobs)
    try:
        submitted = executor.map_array(
            TaskCall(), [str(folder.root)] * n, [stage] * n, [[t.index for t in j] for j in jobs]
        )
    except (submitit.core.utils.FailedJobError, subprocess.CalledProcessError, OSError) as exc:
        raise SubmitError(f"sbatch refused the {stage} array: {str(exc).strip()[:500]}") from None
    array_id = submitted[0].job_id.split("_")[0]
    for position, (job, element) in enumerate(zip(jobs, submitted, strict=True)):
        for task in job:
            folder.update_status(
                task,
                durable=False,
                state=State.PENDING,
                executor=NAME,
                job_id=element.job_id,
                array_job_id=array_id,
                array_task_id=position,
                reason=None,
                error=None,
                log=str(element.paths.stdout),
            )
    return array_id


# sacct's job states, and what slurmstepd writes to a job's stderr, for each cause
SACCT_STATES = {
    "OUT_OF_MEMORY": Cause.OUT_OF_MEMORY,
    "TIMEOUT": Cause.TIME_LIMIT,
    "PREEMPTED": Cause.PREEMPTED,
    "NODE_FAIL": Cause.NODE_FAILURE,
    "CANCELLED": Cause.CANCELLED,
    "FAILED": Cause.EXCEPTION,
}
STDERR_SIGNS = [
    (
        re.compile(r"oom[-_ ]kill|out of memory|exceeded (job )?memory limit", re.I),
        Cause.OUT_OF_MEMORY,
    ),
    (re.compile(r"DUE TO TIME LIMIT"), Cause.TIME_LIMIT),
    (re.compile(r"DUE TO PREEMPTION"), Cause.PREEMPTED),
    (re.compile(r"DUE TO NODE FAIL"), Cause.NODE_FAILURE),
    (re.compile(r"CANCELLED AT"), Cause.CANCELLED),
]


def explain(status: TaskStatus) -> Explanation:
    """Why a task's job left the queue without the task recording it: from sacct where
    accounting works, otherwise from what SLURM wrote to the job's stderr."""
    return (
        _from_sacct(status.job_id)
        or _from_stderr(status.log)
        or Explanation(
            Cause.UNKNOWN,
            "its job left the queue without a word (no accounting here to ask; see its log)",
        )
    )


def _from_sacct(job_id: str | None) -> Explanation | None:
    if not job_id or shutil.which("sacct") is None:
        return None
    try:
        out = subprocess.run(
            ["sacct", "-j", job_id, "-n", "-P", "-X", "-o", "State,ExitCode"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    line = out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else ""
    state, _, exit_code = line.partition("|")
    cause = next((c for name, c in SACCT_STATES.items() if state.startswith(name)), None)
    if cause is None:
        return None
    return Explanation(cause, f"SLURM says {state.lower()} (exit code {exit_code})")


def _from_stderr(log: str | None) -> Explanation | None:
    if not log:
        return None
    stderr = Path(log).with_suffix(".err")
    try:
        text = stderr.read_text(errors="replace")[-20000:]
    except OSError:
        return None
    for line in reversed(text.splitlines()):
        if "DUE TO JOB REQUEUE" in line:  # an earlier run that submitit requeued: not the end
            continue
        for pattern, cause in STDERR_SIGNS:
            if pattern.search(line):
                return Explanation(cause, line.strip()[:300])
    return None


def queued_jobs() -> set[str] | None:
    """Ids of this user's jobs in the queue, array elements expanded (`123_4`), or None."""
    try:
        out = subprocess.run(
            ["squeue", "-h", "-r", "-u", getpass.getuser(), "-o", "%i"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    return {line.strip() for line in out.stdout.splitlines() if line.strip()}


def sbatch_preview(
    stage: str,
    n_jobs: int,
    config: SweepConfig,
    res: Resources,
    folder: Path,
    dependency: str | None = None,
) -> list[str]:
    """The `#SBATCH` lines an array of `n_jobs` would get (for --dry-run); nothing is submitted."""
    from submitit.slurm.slurm import _make_sbatch_string

    params = sbatch_parameters(stage, config, res, dependency)
    text = _make_sbatch_string(
        command="<task>",
        folder=folder / "jobs" / stage / "%j",
        map_count=n_jobs if n_jobs > 1 else None,
        **params,
    )
    return [
        line.removeprefix("#SBATCH ") for line in text.splitlines() if line.startswith("#SBATCH")
    ]


BACKEND = SlurmBackend()
