"""The local SLURM cluster (slurm/local-cluster) does what babelsum's SLURM backend relies on:
batch jobs, submitit arrays where one task fails, two-task jobs that meet through
torch.distributed, requeue, and a MaxArraySize that rejects larger arrays."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import submitit
import yaml

from babelsum.config import ResourcesConfig

REPO = Path(__file__).resolve().parents[2]

cluster = pytest.mark.usefixtures("slurm_cluster")


# ---------------------------------------------------------------- job functions
# submitit pickles these by reference: the job imports this module (PYTHONPATH=REPO below).


def tenfold(x: int) -> int:
    if x == 2:
        raise ValueError("task 2 fails on purpose")
    return 10 * x


def meet_over_gloo() -> tuple[int, int, int, float]:
    import torch
    import torch.distributed as dist

    env = submitit.helpers.TorchDistributedEnvironment().export()
    print(f"rank {env.rank} of {env.world_size}, master {env.master_addr}:{env.master_port}")
    dist.init_process_group(backend="gloo")
    try:
        total = torch.tensor([env.rank + 1.0])
        dist.all_reduce(total)
    finally:
        dist.destroy_process_group()
    return env.rank, env.world_size, env.local_rank, total.item()


# ---------------------------------------------------------------- helpers


@pytest.fixture
def executor(tmp_path, monkeypatch) -> submitit.AutoExecutor:
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    ex = submitit.AutoExecutor(folder=tmp_path / "submitit", cluster="slurm")
    ex.update_parameters(timeout_min=5, slurm_partition="local", cpus_per_task=1, mem_gb=1)
    return ex


def wait_for(jobs: list[submitit.Job], timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while not all(job.done() for job in jobs):
        if time.time() > deadline:
            queue = subprocess.run(["squeue"], capture_output=True, text=True).stdout
            pytest.fail(
                f"jobs {[j.job_id for j in jobs]} not done after {timeout}s; queue:\n{queue}"
            )
        time.sleep(0.5)


def sbatch(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["sbatch", "--parsable", *args], capture_output=True, text=True, cwd=cwd, timeout=60
    )


FINAL_STATES = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL"}


def run_batch_job(*args: str, cwd: Path, timeout: float = 120) -> dict[str, str]:
    """Submit and wait for a final state; returns `scontrol show job`'s fields.

    (`sbatch --wait` would do, but it polls at growing intervals and adds seconds.)"""
    submitted = sbatch(*args, cwd=cwd)
    assert submitted.returncode == 0, submitted.stderr
    job_id = submitted.stdout.strip()
    deadline = time.time() + timeout
    while time.time() < deadline:
        shown = subprocess.run(
            ["scontrol", "-o", "show", "job", job_id], capture_output=True, text=True, check=True
        ).stdout
        fields = dict(item.split("=", 1) for item in shown.split() if "=" in item)
        if fields["JobState"] in FINAL_STATES:
            return fields
        time.sleep(0.2)
    pytest.fail(f"job {job_id} did not finish within {timeout}s")


# ---------------------------------------------------------------- tests


@cluster
def test_node_is_up_and_responding():
    out = subprocess.run(
        ["sinfo", "-h", "-N", "-o", "%N %P %T"], capture_output=True, text=True, check=True
    ).stdout.split()
    node, partition, state = out
    assert partition == "local*"
    assert state in ("idle", "mixed", "allocated"), state  # a '*' suffix means not responding


@cluster
def test_batch_job_runs_and_reports_its_exit_status(tmp_path):
    job = run_batch_job("-o", "out.txt", "--wrap", "echo job $SLURM_JOB_ID", cwd=tmp_path)
    assert (job["JobState"], job["ExitCode"]) == ("COMPLETED", "0:0")
    assert (tmp_path / "out.txt").read_text().strip() == f"job {job['JobId']}"

    failed = run_batch_job("-o", "fail.txt", "--wrap", "exit 7", cwd=tmp_path)
    assert (failed["JobState"], failed["ExitCode"]) == ("FAILED", "7:0")


@cluster
def test_submitit_array_with_a_failing_task(executor):
    jobs = executor.map_array(tenfold, [1, 2, 3])
    wait_for(jobs)
    assert jobs[0].result() == 10
    assert jobs[2].result() == 30
    error = jobs[1].exception()
    assert isinstance(error, submitit.core.utils.FailedJobError)
    assert "task 2 fails on purpose" in str(error)


@cluster
def test_two_task_job_meets_through_torch_distributed(executor):
    executor.update_parameters(tasks_per_node=2, mem_gb=4)
    job = executor.submit(meet_over_gloo)
    wait_for([job])
    results = sorted(job.results())
    # each rank adds rank + 1: 1 + 2 = 3
    assert results == [(0, 2, 0, 3.0), (1, 2, 1, 3.0)]
    printed = " ".join(job.task(i).stdout() or "" for i in range(2))
    assert "rank 0 of 2" in printed and "rank 1 of 2" in printed


@cluster
def test_requeued_job_runs_again_within_seconds(tmp_path):
    """The cluster shortens the wait before a requeued job may start (AuthInfo=cred_expire,
    120 s by default), which the checkpoint-and-requeue tests rely on."""
    script = (
        'echo "run ${SLURM_RESTART_COUNT:-0}"\n'
        'if [ "${SLURM_RESTART_COUNT:-0}" = 0 ]; then scontrol requeue "$SLURM_JOB_ID"; sleep 60; fi\n'
    )
    started = time.time()
    job = run_batch_job(
        "--requeue", "--open-mode=append", "-o", "out.txt", "--wrap", script, cwd=tmp_path
    )
    assert job["JobState"] == "COMPLETED"
    lines = (tmp_path / "out.txt").read_text().splitlines()
    assert [line for line in lines if line.startswith("run")] == ["run 0", "run 1"]
    assert time.time() - started < 60


@cluster
def test_max_array_size_setting_rejects_larger_arrays(slurm_cluster, tmp_path):
    before = max_array_size()
    with slurm_cluster.settings(max_array_size=4):
        assert max_array_size() == 4
        too_big = sbatch("--array=0-4", "--wrap", "true", cwd=tmp_path)
        assert too_big.returncode != 0
        assert "Invalid job array specification" in too_big.stderr
        fits = sbatch("--array=0-3", "--wrap", "true", cwd=tmp_path)
        assert fits.returncode == 0, fits.stderr
    assert max_array_size() == before


def max_array_size() -> int:
    config = subprocess.run(
        ["scontrol", "show", "config"], capture_output=True, text=True, check=True
    ).stdout
    line = next(line for line in config.splitlines() if line.startswith("MaxArraySize"))
    return int(line.split("=")[1])


@pytest.mark.parametrize("profile", sorted((REPO / "slurm" / "profiles").glob("*.yaml")))
def test_example_cluster_profiles_are_valid_resources(profile):
    resources = yaml.safe_load(profile.read_text())["resources"]
    config = ResourcesConfig.model_validate(resources)
    assert config.for_stage("train").time
