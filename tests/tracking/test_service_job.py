"""mlflow/mlflow-server.sbatch: a tracking server as a long job that keeps its database.

The script runs under bash here as SLURM would run it on a service node (SLURM sends the
batch shell TERM before the time limit); a real MLflow server starts inside it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.tracking.mlflow_server import free_port

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "mlflow" / "mlflow-server.sbatch"


def start_job(tmp_path: Path, shared: Path, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "MLFLOW_HOME": str(shared),
        "MLFLOW_HOST": "127.0.0.1",
        "MLFLOW_PORT": str(port),
        "MLFLOW_WORKERS": "1",
        "MLFLOW_BACKUP_S": "2",
        "MLFLOW": str(Path(sys.executable).with_name("mlflow")),
        "PYTHON": sys.executable,
        "BABELSUM_REPO": str(REPO),
        "TMPDIR": str(tmp_path / "node-local"),
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    (tmp_path / "node-local").mkdir(exist_ok=True)
    log = open(tmp_path / "job.log", "a")
    return subprocess.Popen(["bash", str(SCRIPT)], env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_for_address(job: subprocess.Popen, shared: Path, log: Path) -> str:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if (shared / "address").exists():
            return (shared / "address").read_text().strip()
        if job.poll() is not None:
            pytest.fail(f"the server job ended early:\n{log.read_text()[-3000:]}")
        time.sleep(0.3)
    pytest.fail(f"no address after 120 s:\n{log.read_text()[-3000:]}")


def end_job(job: subprocess.Popen) -> int:
    job.send_signal(signal.SIGTERM)  # what SLURM sends the batch shell (--signal=B:TERM@120)
    return job.wait(timeout=60)


@pytest.mark.slow
def test_server_job_saves_its_database_and_the_next_job_starts_from_it(tmp_path):
    from mlflow import MlflowClient

    shared, port = tmp_path / "shared", free_port()
    job = start_job(tmp_path, shared, port)
    try:
        uri = wait_for_address(job, shared, tmp_path / "job.log")
        assert uri == f"http://127.0.0.1:{port}"
        client = MlflowClient(tracking_uri=uri)
        run = client.create_run(client.create_experiment("kept-across-jobs"))
        client.log_metric(run.info.run_id, "loss", 0.25, step=7)
        assert end_job(job) == 0
    finally:
        if job.poll() is None:
            job.kill()
    assert not (shared / "address").exists()

    saved = MlflowClient(tracking_uri=f"sqlite:///{shared / 'mlflow.db'}")
    assert [m.value for m in saved.get_metric_history(run.info.run_id, "loss")] == [0.25]

    job = start_job(tmp_path, shared, port)
    try:
        uri = wait_for_address(job, shared, tmp_path / "job.log")
        again = MlflowClient(tracking_uri=uri).get_run(run.info.run_id)
        assert again.data.metrics == {"loss": 0.25}
        assert end_job(job) == 0
    finally:
        if job.poll() is None:
            job.kill()
