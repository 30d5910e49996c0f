"""Fixtures of the tracking tests: a real `mlflow server` on 127.0.0.1."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from tests.tracking.mlflow_server import CLIENT_SETTINGS, MlflowServer


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory) -> Iterator[MlflowServer]:
    server = MlflowServer(tmp_path_factory.mktemp("mlflow-server"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def tracking_server(mlflow_server, monkeypatch) -> MlflowServer:
    """The session's server, running; MLflow client settings of the test are undone after it."""
    mlflow_server.start()
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    for name in CLIENT_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    yield mlflow_server
    for name in CLIENT_SETTINGS:  # the tracker's defaults for its process
        os.environ.pop(name, None)


@pytest.fixture
def study_name() -> str:
    """A study (hence MLflow experiment) name of its own for each test."""
    return f"tracking-test-{uuid.uuid4().hex[:8]}"
