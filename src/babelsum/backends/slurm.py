"""Submit a sweep to SLURM through submitit: one array job per stage, `afterany` dependencies.

`afterany` rather than `afterok`: a downstream task whose inputs are missing records itself
`blocked` and exits, so one failed language does not stall the sweep, and gather renders
the matrix with holes. Arrays larger than the cluster's MaxArraySize are split into chunks
(array indices start at 0, so the limit bounds the highest index).
"""

from __future__ import annotations

import getpass
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import submitit
from submitit.helpers import Checkpointable, DelayedSubmission, TorchDistributedEnvironment

from babelsum.backends import RunOptions, task_env
from babelsum.config import STAGES, Resources, SweepConfig
from babelsum.errors import SubmitError
from babelsum.plan import Plan, Task
from babelsum.state import State, SweepFolder, TaskStatus

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

    def lost(self, statuses: list[TaskStatus]) -> set[str]:
        """Queued or running tasks whose job is no longer in the queue (none when squeue
        cannot be asked: then nothing can be said)."""
        queued = queued_jobs()
        if queued is None:
            return set()
        return {
            s.key
            for s in statuses
            if s.job_id and s.job_id not in queued and (s.array_job_id or "") not in queued
        }

    def cancel(self, statuses: list[TaskStatus]) -> None:
        jobs = sorted({s.job_id for s in statuses if s.job_id})
        if jobs:
            subprocess.run(["scancel", *jobs], check=False)

    def parallel_tasks(self, config: SweepConfig) -> int:
        return max(config.resources.for_stage(stage).array_parallelism for stage in STAGES)

    def describe(
        self, stage: str, tasks: list[Task], config: SweepConfig, resources: Resources, sweep: Path
    ) -> list[str]:
        return ["sbatch " + " ".join(sbatch_preview(stage, len(tasks), config, resources, sweep))]


class TaskCall(Checkpointable):
    """What each array element runs: exports torch.distributed variables, then run_task.

    On timeout or preemption submitit calls `checkpoint`, which marks the task pending and
    requeues the same call; the stage resumes from its own checkpoints in its work folder.
    """

    def __call__(self, sweep_dir: str, stage: str, index: int) -> dict | None:
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
        return runner.run_task(sweep_dir, stage, index, placement)

    def checkpoint(self, sweep_dir: str, stage: str, index: int) -> DelayedSubmission:
        if submitit.JobEnvironment().global_rank == 0:
            folder = SweepFolder(sweep_dir)
            task = folder.read_plan().stage(stage).tasks[index]
            folder.update_status(
                task, state=State.PENDING, reason="requeued after timeout or preemption"
            )
        return super().checkpoint(sweep_dir, stage, index)


def time_minutes(text: str | None) -> int | None:
    """SLURM time 'D-HH:MM:SS', 'HH:MM:SS', 'MM:SS' or 'MM' -> minutes."""
    if text is None:
        return None
    days, _, rest = text.rpartition("-")
    parts = [int(p) for p in rest.split(":")]
    if len(parts) == 3:
        h, m, s = parts
    elif len(parts) == 2:
        h, m, s = 0, *parts
    else:
        h, m, s = 0, parts[0], 0
    return (int(days or 0) * 24 + h) * 60 + m + (1 if s else 0)


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
    params["additional_parameters"] = extra
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
    """Shell lines run in the sbatch script before the task: the task environment."""
    return ["export " + " ".join(f"{k}={shlex.quote(v)}" for k, v in task_env(config).items())]


def python_command(config: SweepConfig, folder: SweepFolder) -> str | None:
    if config.container is None:
        return None
    from babelsum.backends import apptainer as containers

    return containers.python_command(
        config.container, folder.root, config.hf_cache, containers.config_binds(config)
    )


def submit(
    folder: SweepFolder, config: SweepConfig, plan: Plan, tasks: list[Task]
) -> list[StageSubmission]:
    """Submit `tasks` (grouped by stage, one array per stage) and record their job ids."""
    if shutil.which("srun") is None or shutil.which("sbatch") is None:
        raise SubmitError(
            "no `sbatch`/`srun` on PATH: run `launch` on a SLURM login node (outside a container)"
        )
    if config.container is not None:
        from babelsum.backends import apptainer as containers

        containers.check_container(config.container)
    python = python_command(config, folder)
    wanted = {t.key for t in tasks}
    limit = max_array_size(config)
    submitted: list[StageSubmission] = []
    upstream_ids: list[str] = []
    for stage in plan.stages:
        todo = [t for t in stage.tasks if t.key in wanted]
        if not todo:
            continue
        dependency = "afterany:" + ":".join(upstream_ids) if upstream_ids else None
        array_ids = []
        # one array per resource group: train methods may ask for other resources than the stage
        for resources, group in stage.groups(todo):
            executor = submitit.SlurmExecutor(
                folder=folder.jobs_dir / stage.name / "%j",
                python=python,
                max_num_timeout=config.engine.max_timeouts,
            )
            executor.update_parameters(
                setup=task_setup_lines(config),
                **sbatch_parameters(stage.name, config, resources, dependency),
            )
            for chunk in chunks(group, limit):
                array_ids.append(submit_array(folder, executor, stage.name, chunk))
        submitted.append(StageSubmission(stage.name, array_ids, len(todo)))
        upstream_ids = array_ids
    folder.update_meta(executor=NAME)
    return submitted


def submit_array(
    folder: SweepFolder, executor: submitit.SlurmExecutor, stage: str, tasks: list[Task]
) -> str:
    """Submit `tasks` as one array job; record each task's job ids; the array's job id."""
    n = len(tasks)
    try:
        jobs = executor.map_array(
            TaskCall(), [str(folder.root)] * n, [stage] * n, [t.index for t in tasks]
        )
    except (submitit.core.utils.FailedJobError, subprocess.CalledProcessError, OSError) as exc:
        raise SubmitError(f"sbatch refused the {stage} array: {str(exc).strip()[:500]}") from None
    array_id = jobs[0].job_id.split("_")[0]
    for position, (task, job) in enumerate(zip(tasks, jobs, strict=True)):
        folder.update_status(
            task,
            durable=False,
            state=State.PENDING,
            executor=NAME,
            job_id=job.job_id,
            array_job_id=array_id,
            array_task_id=position,
            reason=None,
            error=None,
        )
    return array_id


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
    stage: str, n_tasks: int, config: SweepConfig, res: Resources, folder: Path
) -> list[str]:
    """The `#SBATCH` lines the stage's array would get (for --dry-run); nothing is submitted."""
    from submitit.slurm.slurm import _make_sbatch_string

    dependency = "afterany:<upstream arrays>" if stage != "prepare" else None
    params = sbatch_parameters(stage, config, res, dependency)
    text = _make_sbatch_string(
        command="<task>",
        folder=folder / "jobs" / stage / "%j",
        map_count=n_tasks if n_tasks > 1 else None,
        **params,
    )
    return [
        line.removeprefix("#SBATCH ") for line in text.splitlines() if line.startswith("#SBATCH")
    ]


BACKEND = SlurmBackend()
