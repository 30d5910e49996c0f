"""Tracking against a real MLflow server (tests/tracking/mlflow_server.py): runs found by tags,
requeued tasks in the same run, an outage that loses nothing, and secrets that never arrive.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path

import pytest

from babelsum import cli
from babelsum.config import validate_config
from babelsum.state import SweepFolder
from babelsum.sweep import create_sweep, load_sweep
from babelsum.tracking import open_task_tracker, start_sweep_run, sync_sweep
from babelsum.tracking.journal import SyncState
from tests.orchestration.fake_sweep import fake_sweep_config

STAGES = "tests.tracking.fake_stages"
TRAIN_FR = "train/tiny/full/fr"


def tracking_config(study: str, uri: str, **changes) -> dict:
    return fake_sweep_config(
        {
            "stage_impl": {
                s: f"{STAGES}:run" for s in ("prepare", "teacher", "split", "train", "evaluate")
            }
            | {"gather": f"{STAGES}:gather"}
        },
        study=study,
        tracking={"uri": uri},
        **changes,
    )


def make_sweep(root: Path, study: str, uri: str, **changes):
    config = validate_config(tracking_config(study, uri, **changes))
    folder, plan = create_sweep(config, root / "sweep", "local", "test")
    return folder, config, plan


def experiment_id(server, study: str) -> str:
    return server.client().get_experiment_by_name(study).experiment_id


def steps_of(client, run_id: str, key: str) -> list[int]:
    return sorted(m.step for m in client.get_metric_history(run_id, key))


def test_task_runs_carry_tags_parent_and_reattach_on_requeue(tracking_server, study_name, tmp_path):
    folder, config, plan = make_sweep(tmp_path, study_name, tracking_server.uri)
    parent = start_sweep_run(folder.root, config)
    assert parent and folder.meta()["mlflow_parent_run_id"] == parent
    task = plan.by_key()[TRAIN_FR]

    tracker = open_task_tracker(
        folder.root, config, task, attempt=1, job_id="77_1", array_job_id="77", array_task_id=1
    )
    for step in range(1, 6):
        tracker.log_metrics({"loss": 1.0 / step}, step=step)
    tracker.close()

    client = tracking_server.client()
    exp = experiment_id(tracking_server, study_name)
    runs = client.search_runs([exp], "tags.stage = 'train' and tags.train_lang = 'fr'")
    assert len(runs) == 1
    run = runs[0]
    tags = run.data.tags
    assert tags["mlflow.parentRunId"] == parent
    assert tags["mlflow.runName"] == TRAIN_FR
    assert {k: tags[k] for k in ("model", "method", "task_key", "attempt")} == {
        "model": "tiny",
        "method": "full",
        "task_key": TRAIN_FR,
        "attempt": "1",
    }
    assert (tags["slurm_job_id"], tags["slurm_array_job_id"], tags["slurm_array_task_id"]) == (
        "77_1",
        "77",
        "1",
    )
    assert tags["config_hash"] == folder.meta()["config_hash"]
    assert tags["git_commit"] and tags["container_image"] == "none"
    assert run.data.params["task.train_lang"] == "fr"
    assert run.info.status == "FINISHED"
    assert steps_of(client, run.info.run_id, "loss") == [1, 2, 3, 4, 5]

    sweep_run = client.get_run(parent)
    assert sweep_run.data.params["train.languages"] == "en,fr"
    assert sweep_run.data.tags["kind"] == "sweep"
    # and the diff of the checkout when it is dirty (test_comparable_runs.py)
    assert {a.path for a in client.list_artifacts(parent)} - {"git-diff.patch"} == {"config.yaml"}

    # a requeued attempt reopens the same run
    again = open_task_tracker(folder.root, config, task, attempt=2, job_id="78_1")
    assert client.get_run(run.info.run_id).info.status == "RUNNING"
    again.close("FAILED")
    runs = client.search_runs([exp], f"tags.task_key = '{TRAIN_FR}'")
    assert [r.info.run_id for r in runs] == [run.info.run_id]
    assert runs[0].data.tags["attempt"] == "2"
    assert runs[0].info.status == "FAILED"


def test_outage_loses_nothing_and_sync_sends_each_metric_once(
    tracking_server, study_name, tmp_path, caplog
):
    folder, config, plan = make_sweep(tmp_path, study_name, tracking_server.uri)
    start_sweep_run(folder.root, config)
    task = plan.by_key()[TRAIN_FR]
    tracker = open_task_tracker(folder.root, config, task, attempt=1)
    for step in range(1, 4):
        tracker.log_metrics({"loss": 1.0 / step}, step=step)
    tracker.flush()

    tracking_server.stop()
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="babelsum.tracking"):
        for step in range(4, 11):
            tracker.log_metrics({"loss": 1.0 / step}, step=step)
            tracker.flush()
        tracker.log_params({"resumed": True})
        report = tmp_path / "report.md"
        report.write_text("# report\n")
        tracker.log_artifact(report)
        tracker.close()
    assert time.monotonic() - started < 30, "an unreachable server must not stall the task"
    warnings = [r for r in caplog.records if "cannot be used" in r.getMessage()]
    assert len(warnings) == 1

    tracking_server.start()
    first, second = sync_sweep(*load_sweep(folder.root)), sync_sweep(*load_sweep(folder.root))
    assert first["records_pushed"] > 0 and first["rejected"] == 0
    assert second["records_pushed"] == 0

    client = tracking_server.client()
    (run,) = client.search_runs(
        [experiment_id(tracking_server, study_name)], "tags.stage = 'train'"
    )
    assert steps_of(client, run.info.run_id, "loss") == list(range(1, 11))
    assert run.data.params["resumed"] == "True"
    assert run.info.status == "FINISHED"
    assert [a.path for a in client.list_artifacts(run.info.run_id)] == ["report.md"]

    # a push that landed but whose offset was never saved (a crash) is replayed: still once
    state = SyncState(folder.task_dir(TRAIN_FR))
    (uri,) = json.loads(state.path.read_text())["stores"]
    sync = state.load(uri)
    sync.offset = 0
    state.save(uri, sync)
    assert sync_sweep(*load_sweep(folder.root))["records_pushed"] > 0
    assert steps_of(client, run.info.run_id, "loss") == list(range(1, 11))


def test_secrets_from_environment_config_and_stage_never_reach_mlflow(
    tracking_server, study_name, tmp_path, monkeypatch
):
    hf_token = "hf_" + "Q7" * 17
    password = "correct-horse-battery-staple"
    api_key = "wandb-0123456789abcdef"
    monkeypatch.setenv("HF_TOKEN", hf_token)
    monkeypatch.setenv("MY_SERVICE_PASSWORD", password)
    folder, config, plan = make_sweep(
        tmp_path,
        study_name,
        tracking_server.uri,
        container={"image": "/images/babelsum.sif", "env": {"WANDB_API_KEY": api_key}},
        models={"tiny": {"path": f"https://researcher:{password}@models.example.org/tiny"}},
    )
    start_sweep_run(folder.root, config)
    tracker = open_task_tracker(folder.root, config, plan.by_key()[TRAIN_FR], attempt=1)
    tracker.log_params({"hub": {"token": "whatever-it-is"}, "note": f"logged in with {hf_token}"})
    tracker.set_tags({"auth": f"Bearer {password}", "DB_PASSWORD": "x"})
    notes = tmp_path / "notes.txt"
    notes.write_text(f"token={hf_token}\nkey {api_key}\n")
    tracker.log_artifact(notes)
    tracker.close()

    client = tracking_server.client()
    texts = []
    for run in client.search_runs([experiment_id(tracking_server, study_name)]):
        texts += [f"{k}={v}" for k, v in {**run.data.params, **run.data.tags}.items()]
        downloaded = Path(
            client.download_artifacts(run.info.run_id, "", str(tmp_path / run.info.run_id))
        )
        texts += [p.read_text() for p in downloaded.rglob("*") if p.is_file()]
    texts += [p.read_text() for p in folder.task_dir(TRAIN_FR).rglob("*") if p.is_file()]
    everything = "\n".join(texts)
    assert "container.env.WANDB_API_KEY=***" in everything  # the key is kept, its value is not
    for secret in (hf_token, password, api_key, "whatever-it-is"):
        assert secret not in everything


@pytest.mark.slow
def test_sweep_finishes_through_an_outage_and_sync_completes_it(
    tracking_server, study_name, tmp_path, monkeypatch, fake_config_file
):
    """`launch sweep` with the server stopped mid-sweep, then `launch sync` twice."""
    config_path = tmp_path / "sweep.yaml"
    import yaml

    config_path.write_text(yaml.safe_dump(tracking_config(study_name, tracking_server.uri)))
    fake_config_file()  # PYTHONPATH for the task processes (tests.tracking.fake_stages)
    monkeypatch.setenv("TEST_STEP_SLEEP", "0.05")
    sweep_dir = tmp_path / "sweep"
    outcome = {}

    def sweep():
        outcome["rc"] = cli.main(
            ["sweep", str(config_path), "--sweep-dir", str(sweep_dir), "--quiet"]
        )

    thread = threading.Thread(target=sweep)
    thread.start()
    folder = SweepFolder(sweep_dir)
    deadline = time.monotonic() + 300
    while not (folder.root.exists() and folder.is_done("split")) and time.monotonic() < deadline:
        time.sleep(0.2)
    tracking_server.stop()
    thread.join(timeout=600)
    assert outcome["rc"] == 0, "the sweep must finish while MLflow is down"

    plan = json.loads(folder.plan_path.read_text())
    keys = [t["key"] for s in plan["stages"] for t in s["tasks"]]
    unsynced = [k for k in keys if _unsynced_bytes(folder, k)]
    assert unsynced, "the outage came too late to test anything"

    tracking_server.start()
    assert cli.main(["sync", str(sweep_dir)]) == 0
    assert cli.main(["sync", str(sweep_dir)]) == 0
    assert not [k for k in keys if _unsynced_bytes(folder, k)]

    client = tracking_server.client()
    exp = experiment_id(tracking_server, study_name)
    runs = client.search_runs([exp], "tags.kind = 'task'", max_results=1000)
    assert sorted(r.data.tags["task_key"] for r in runs) == sorted(keys)
    parent = folder.meta()["mlflow_parent_run_id"]
    assert {r.data.tags["mlflow.parentRunId"] for r in runs} == {parent}
    assert client.get_run(parent).info.status == "FINISHED"  # the gather ended the sweep
    for run in runs:
        assert run.info.status == "FINISHED", run.data.tags["task_key"]
        if run.data.tags["stage"] != "gather":
            assert steps_of(client, run.info.run_id, "loss") == list(range(1, 13))
            assert len(client.get_metric_history(run.info.run_id, "final_loss")) == 1
    (fr,) = client.search_runs(
        [exp], "tags.stage = 'evaluate' and tags.eval_lang = 'fr' and tags.method = 'base'"
    )
    assert fr.data.tags["train_lang"] == "-"


def _unsynced_bytes(folder: SweepFolder, key: str) -> int:
    journal = folder.journal_path(key)
    state = SyncState(folder.task_dir(key))
    stores = json.loads(state.path.read_text())["stores"] if state.path.exists() else {}
    offset = max((s["offset"] for s in stores.values()), default=0)
    return journal.stat().st_size - offset
