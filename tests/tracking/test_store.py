"""Where runs go: the choice of store, the local SQLite default, unsafe stores, `launch ui`."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import pytest

from babelsum.config import validate_config
from babelsum.errors import TrackingError
from babelsum.sweep import create_sweep, load_sweep
from babelsum.tracking import (
    Tracker,
    open_task_tracker,
    start_sweep_run,
    sync_sweep,
    tracking_uri,
    ui_command,
    warn_if_unsafe_store,
)
from babelsum.tracking.journal import SyncState, read_entries
from babelsum.tracking.runs import RunSink
from babelsum.tracking.store import sqlite_path
from babelsum.tracking.uri import default_uri, filesystem_type
from tests.orchestration.fake_sweep import fake_sweep_config

TRAIN_EN = "train/tiny/full/en"


def sweep(tmp_path, **tracking):
    config = validate_config(fake_sweep_config(study="store-test", tracking=tracking))
    folder, plan = create_sweep(config, tmp_path / "sweep", "local", "test")
    return folder, config, plan


def test_the_environment_wins_then_the_config_then_the_recorded_store(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    folder, config, _ = sweep(tmp_path, enabled=True)
    assert tracking_uri(folder.root, config) == default_uri(folder.root)
    assert sqlite_path(default_uri(folder.root)) == folder.root / "mlflow.db"
    folder.update_meta(mlflow_tracking_uri="http://recorded:5000")
    assert tracking_uri(folder.root, config) == "http://recorded:5000"
    configured = config.model_copy(
        update={"tracking": config.tracking.model_copy(update={"uri": "http://config:5000"})}
    )
    assert tracking_uri(folder.root, configured) == "http://config:5000"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://env:5000")
    assert tracking_uri(folder.root, configured) == "http://env:5000"


def test_sqlite_on_a_network_filesystem_with_parallel_tasks_is_warned(tmp_path):
    mounts = tmp_path / "mounts"
    mounts.write_text(
        "/dev/sda1 / ext4 rw 0 0\n"
        "fs01:/export/scratch /scratch nfs4 rw 0 0\n"
        "/dev/nvme0 /scratch/local\\040disk xfs rw 0 0\n"
    )
    on_nfs = "sqlite:////scratch/me/sweep/mlflow.db"
    assert filesystem_type(tmp_path / "x", mounts) == "ext4"
    assert "nfs4 filesystem" in warn_if_unsafe_store(on_nfs, 64, mounts=mounts)
    assert warn_if_unsafe_store(on_nfs, 1, mounts=mounts) is None
    local = "sqlite:////scratch/local disk/mlflow.db"
    assert warn_if_unsafe_store(local, 64, mounts=mounts) is None
    assert warn_if_unsafe_store("http://mlflow:5000", 64, mounts=mounts) is None


def test_local_default_store_holds_runs_and_artifacts_in_the_sweep_folder(tmp_path, monkeypatch):
    """No server: the tasks write the SQLite file in the sweep folder, which `launch ui` serves."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    folder, config, plan = sweep(tmp_path, enabled=True)
    parent = start_sweep_run(folder.root, config)
    tracker = open_task_tracker(folder.root, config, plan.by_key()[TRAIN_EN], attempt=1)
    tracker.log_params({"lr": 0.1})
    tracker.log_params({"lr": 0.2})  # MLflow refuses a changed param; what follows still lands
    tracker.log_metrics({"loss": 0.5}, step=1)
    report = tmp_path / "report.md"
    report.write_text("ok\n")
    tracker.log_artifact(report)
    tracker.close()

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=default_uri(folder.root))
    (run,) = client.search_runs(
        [client.get_experiment_by_name("store-test").experiment_id], "tags.kind = 'task'"
    )
    assert run.data.tags["mlflow.parentRunId"] == parent
    assert run.data.params["lr"] == "0.1"
    assert [m.value for m in client.get_metric_history(run.info.run_id, "loss")] == [0.5]
    assert run.info.artifact_uri.startswith((folder.root / "mlartifacts").as_uri())
    (rejected,) = SyncState(folder.task_dir(TRAIN_EN)).load(default_uri(folder.root)).rejected
    assert "lr" in rejected["error"]
    assert sync_sweep(*load_sweep(folder.root))["records_pushed"] == 0

    command = ui_command(folder, config)
    assert command[command.index("--backend-store-uri") + 1] == default_uri(folder.root)
    assert command[command.index("--host") + 1] == "127.0.0.1"


def test_ui_of_a_sweep_that_logs_to_a_server_points_there(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    folder, config, _ = sweep(tmp_path, uri="http://mlflow.cluster:5000")
    with pytest.raises(TrackingError, match="http://mlflow.cluster:5000"):
        ui_command(folder, config)


def test_tracking_off_journals_but_creates_no_store(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    folder, config, plan = sweep(tmp_path, enabled=False)
    assert start_sweep_run(folder.root, config) is None
    tracker = open_task_tracker(folder.root, config, plan.by_key()[TRAIN_EN], attempt=1)
    tracker.log_metrics({"loss": 1.0})
    tracker.close()
    assert folder.journal_path(TRAIN_EN).stat().st_size > 0
    assert not (folder.root / "mlflow.db").exists()


def test_a_server_that_never_answers_does_not_hold_up_a_training_loop(tmp_path, monkeypatch):
    """A socket that takes connections and never answers stands for an overloaded server."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        uri = f"http://127.0.0.1:{silent.getsockname()[1]}"
        folder, config, _ = sweep(tmp_path, uri=uri)
        journal = folder.journal_path(TRAIN_EN)
        started = time.monotonic()
        tracker = Tracker(journal)
        tracker.connect(RunSink(folder, config, TRAIN_EN, uri), timeout_s=0.2)
        for step in range(1, 501):
            tracker.log_metrics({"loss": 1.0 / step}, step=step)
        tracker.close(timeout_s=0.5)
        assert time.monotonic() - started < 2.5
    assert len(read_entries(journal)) == 501  # 500 steps and the end, all in the journal


RUNS_OF_STUDY = """
import json, sys
from mlflow import MlflowClient
client = MlflowClient(tracking_uri=sys.argv[1])
experiment = client.get_experiment_by_name(sys.argv[2]).experiment_id
print(json.dumps([
    {"id": r.info.run_id, "kind": r.data.tags["kind"], "status": r.info.status,
     "parent": r.data.tags.get("mlflow.parentRunId"),
     "loss": [m.value for m in client.get_metric_history(r.info.run_id, "loss")]}
    for r in client.search_runs([experiment])
]))
"""


def test_sync_into_a_reset_store_logs_the_tasks_again_into_new_runs(tmp_path, monkeypatch):
    """`launch sync` and the look at the store run as new processes, as they would: this one
    keeps the deleted database open."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    folder, config, plan = sweep(tmp_path, enabled=True)
    start_sweep_run(folder.root, config)
    tracker = open_task_tracker(folder.root, config, plan.by_key()[TRAIN_EN], attempt=1)
    tracker.log_metrics({"loss": 0.5}, step=1)
    tracker.close()
    (folder.root / "mlflow.db").unlink()  # the researcher starts the store afresh

    launch = [sys.executable, "-m", "babelsum.cli", "sync", str(folder.root)]
    synced = subprocess.run(launch, capture_output=True, text=True, check=True)
    assert "is gone from" in synced.stderr
    assert json.loads(synced.stdout)["records_pushed"] > 0
    look = [sys.executable, "-c", RUNS_OF_STUDY, default_uri(folder.root), "store-test"]
    runs = json.loads(subprocess.run(look, capture_output=True, text=True, check=True).stdout)
    (task,) = [r for r in runs if r["kind"] == "task"]
    (parent,) = [r for r in runs if r["kind"] == "sweep"]
    assert task["parent"] == parent["id"] == folder.meta()["mlflow_parent_run_id"]
    assert task["loss"] == [0.5] and task["status"] == "FINISHED"


def test_records_beyond_mlflow_batch_limits_and_odd_names_arrive_whole(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    folder, config, plan = sweep(tmp_path, enabled=True)
    tracker = open_task_tracker(folder.root, config, plan.by_key()[TRAIN_EN], attempt=1)
    tracker.log_params({f"layer{i}": i for i in range(250)})  # MLflow takes 100 per call
    tracker.log_metrics({f"rouge/{i}": i / 1500 for i in range(1500)}, step=3)  # and 1000
    tracker.log_metrics({"loss (ja, 日本語)": float("nan")}, step=4)
    tracker.close()

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=default_uri(folder.root))
    (run,) = client.search_runs(
        [client.get_experiment_by_name("store-test").experiment_id], "tags.kind = 'task'"
    )
    assert sum(k.startswith("layer") for k in run.data.params) == 250
    assert sum(k.startswith("rouge/") for k in run.data.metrics) == 1500
    (nan,) = client.get_metric_history(run.info.run_id, "loss _ja_ 日本語_")  # ( , ) not allowed
    assert nan.step == 4 and nan.value != nan.value
