"""A real MLflow tracking server for the tracking tests, started by mlflow/start-sqlite.sh.

`mlflow server --backend-store-uri sqlite:///... --host 127.0.0.1 --port <free>` from the
virtualenv, started once per session (about 8 s) and stopped at its end. A test may stop it
to stand for an outage and start it again (same port, same database): `mlflow_server.stop()`,
`mlflow_server.start()`. Each test that uses `tracking_server` finds it running.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
START_SCRIPT = REPO / "mlflow" / "start-sqlite.sh"
CLIENT_SETTINGS = (
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR",
    "MLFLOW_HTTP_REQUEST_TIMEOUT",
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class MlflowServer:
    root: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.root / "server.log"

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout_s: float = 120.0) -> None:
        if self.is_running():
            return
        env = {
            **os.environ,
            "MLFLOW": str(Path(sys.executable).with_name("mlflow")),
            "MLFLOW_DB_DIR": str(self.root / "db"),
            "MLFLOW_ARTIFACTS": str(self.root / "artifacts"),
            "MLFLOW_HOST": "127.0.0.1",
            "MLFLOW_PORT": str(self.port),
            "MLFLOW_WORKERS": "1",
        }
        env.pop("MLFLOW_TRACKING_URI", None)
        log = open(self.log_path, "a")
        # its own process group: stopping it stops the uvicorn worker too
        self.process = subprocess.Popen(
            [str(START_SCRIPT)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"mlflow server exited:\n{self.log_path.read_text()[-3000:]}")
            if self.answers():
                return
            time.sleep(0.3)
        self.stop()
        pytest.fail(f"mlflow server did not answer in {timeout_s} s:\n{self.log_tail()}")

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None
        while self.answers():  # a worker may outlive its parent for a moment
            time.sleep(0.2)

    def log_tail(self) -> str:
        return self.log_path.read_text()[-3000:] if self.log_path.exists() else ""

    def client(self):
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.uri)
