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


def start_job(tmp_path: Path, shared: Path, port: int, **extra: str) -> subprocess.Popen:
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
        **extra,
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


def test_the_recipes_listen_on_loopback_and_create_private_folders(tmp_path):
    """start-sqlite.sh run with a stand-in `mlflow` that prints its arguments."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW")}
    env |= {"MLFLOW": "echo", "MLFLOW_DB_DIR": str(tmp_path / "db"), "MLFLOW_PORT": "5999"}
    # started from a shell with a typical umask (022): the script must not depend on it
    done = subprocess.run(
        ["bash", "-c", f"umask 022; exec bash {REPO / 'mlflow' / 'start-sqlite.sh'}"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    args = done.stdout.split()
    assert args[args.index("--host") + 1] == "127.0.0.1"
    assert "http://127.0.0.1:5999" in done.stderr
    for folder in (tmp_path / "db", tmp_path / "db" / "artifacts"):
        assert oct(folder.stat().st_mode & 0o777) == "0o700", folder
    umask = subprocess.run(
        ["bash", "-c", f"source {REPO / 'mlflow' / 'server-common.sh'}; umask"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert umask == "0077"


def test_auth_over_the_network_is_reminded_of_tls_and_no_auth_of_its_exposure(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW")}
    env |= {"MLFLOW": "echo", "MLFLOW_DB_DIR": str(tmp_path / "db"), "MLFLOW_HOST": "0.0.0.0"}
    script = str(REPO / "mlflow" / "start-sqlite.sh")
    exposed = subprocess.run(["bash", script], env=env, capture_output=True, text=True)
    assert "without auth" in exposed.stderr
    env |= {"MLFLOW_AUTH": "1", "MLFLOW_FLASK_SERVER_SECRET_KEY": "k" * 32}
    auth = subprocess.run(["bash", script], env=env, capture_output=True, text=True)
    assert "TLS proxy or an SSH tunnel" in auth.stderr
    args = auth.stdout.split()
    assert args[args.index("--app-name") + 1] == "basic-auth"


def test_the_server_job_saves_the_auth_database_with_the_runs():
    text = SCRIPT.read_text()
    assert "DATABASES=(mlflow.db basic_auth.db)" in text
    assert "umask 077" in text
    ini = (REPO / "mlflow" / "basic_auth.ini").read_text()
    assert "database_uri = sqlite:///basic_auth.db" in ini  # beside mlflow.db: the cwd


@pytest.mark.slow
def test_users_of_basic_auth_survive_a_restart_of_the_server_job(tmp_path, monkeypatch):
    """With MLFLOW_AUTH=1 the job keeps basic_auth.db on local disk and saves it with
    mlflow.db: a user created before a restart logs in after it (the second job starts
    without the admin password, which only a fresh user database needs)."""
    pytest.importorskip("flask_wtf", reason="basic auth needs mlflow[auth] (Flask-WTF)")
    from mlflow.exceptions import MlflowException
    from mlflow.server.auth.client import AuthServiceClient

    from mlflow import MlflowClient

    shared, port = tmp_path / "shared", free_port()
    auth = {
        "MLFLOW_AUTH": "1",
        "MLFLOW_FLASK_SERVER_SECRET_KEY": "s" * 32,
        "MLFLOW_AUTH_CONFIG_PATH": str(REPO / "mlflow" / "basic_auth.ini"),
    }
    admin_password = "Admin-pass-0123456789"
    job = start_job(tmp_path, shared, port, MLFLOW_AUTH_ADMIN_PASSWORD=admin_password, **auth)
    try:
        uri = wait_for_address(job, shared, tmp_path / "job.log")
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", admin_password)
        AuthServiceClient(uri).create_user("alice", "Alice-pass-0123456789")
        assert end_job(job) == 0
    finally:
        if job.poll() is None:
            job.kill()
    saved = shared / "basic_auth.db"
    assert saved.is_file() and oct(saved.stat().st_mode & 0o777) == "0o600"
    assert oct((shared / "mlflow.db").stat().st_mode & 0o777) == "0o600"

    job = start_job(tmp_path, shared, port, **auth)
    try:
        uri = wait_for_address(job, shared, tmp_path / "job.log")
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "alice")
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "Alice-pass-0123456789")
        assert MlflowClient(tracking_uri=uri).create_experiment("alice-after-restart")
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "wrong-password-0123456")
        with pytest.raises(MlflowException):
            MlflowClient(tracking_uri=uri).create_experiment("refused")
        assert end_job(job) == 0
    finally:
        if job.poll() is None:
            job.kill()
