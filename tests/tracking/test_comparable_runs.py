"""MLflow runs worth comparing, against a real `mlflow server` (tests/tracking/mlflow_server.py).

The evaluate and gather stages run for real through the runner; only generation is planted
(`predict` answers from a table, no model is loaded: the tracking code is what is tested), as
are the edges that cannot run here: a Hub manifest (`launch prefetch` reaches the Hub), a
container image (a file of bytes: Apptainer is not installed), a git checkout of the config.
"""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path

import pytest

from babelsum.config import validate_config
from babelsum.runner import run_task
from babelsum.sweep import create_sweep, load_sweep
from babelsum.tracking import open_task_tracker, provenance, start_sweep_run, sync_sweep
from tests.stages.planted import SUMMARIES, TOPICS, mark, write_split
from tests.tracking.test_provenance import git, make_checkout

BASE = "evaluate/tiny/base/en/novel"
TUNED = "evaluate/tiny/full-en/en/novel"
TRAIN = "train/tiny/full/en"
HUB_MODEL = "Qwen/Qwen2.5-0.5B-Instruct"  # a Hub id: its revision comes from the manifest
HUB_SHA = "0123456789abcdef0123456789abcdef01234567"
IMAGE_BYTES = b"not really an apptainer image\n" * 1000


@pytest.fixture
def dirty_checkout(tmp_path, monkeypatch) -> Path:
    """A git checkout with a commit and an uncommitted change; the sweep's code comes from it."""
    repo = make_checkout(tmp_path / "checkout")
    monkeypatch.setattr(provenance, "checkout", lambda config_source=None: repo)
    return repo


def planted_predict(texts: dict[str, str | None]):
    """evaluate's `predict`, answering `texts[topic]` (None: a failed generation, "": empty);
    the Porto answer used all of max_new_tokens."""

    def predict(model, tokenizer, spec, records, rows, ctx):
        out = []
        for row in rows:
            record = records[row]
            text = texts[record["title"]]
            out.append(
                {
                    "row": row,
                    "article_id": record["article_id"],
                    "language": record["language"],
                    "summary_language": record["language"],
                    "reference": record["summary"],
                    "prediction": text or None,
                    "status": "failed" if text is None else "ok" if text else "empty",
                    "reason": "RuntimeError: planted" if text is None else None,
                    "new_tokens": 12 if record["title"] == "Porto" else 5,
                    "max_new_tokens_reached": record["title"] == "Porto",
                    "reference_tokens": 10,
                    "article_cut": False,
                    "input_budget": 256,
                }
            )
        return out

    return predict


def good(topic: str) -> str:
    return SUMMARIES["en"].format(t=topic)


@pytest.fixture
def evaluated_sweep(tracking_server, study_name, tmp_path, monkeypatch, dirty_checkout):
    """A sweep with tracking on the server: base and full-en evaluated (planted answers),
    the train task's run opened as the train stage would; gather not run yet."""
    hf_cache = tmp_path / "hf"
    manifest = hf_cache / "babelsum-manifests" / f"{study_name}.json"
    manifest.parent.mkdir(parents=True)
    item = {"name": "models.tiny", "repo_id": HUB_MODEL, "revision": None, "sha": HUB_SHA}
    manifest.write_text(json.dumps({"items": [item]}))
    image = tmp_path / "babelsum.sif"
    image.write_bytes(IMAGE_BYTES)
    config = validate_config(
        {
            "study": study_name,
            "languages": ["en"],
            "hf_cache": str(hf_cache),
            "models": {"tiny": {"path": HUB_MODEL, "family": "qwen2", "dtype": "float32"}},
            "train": {"languages": ["en"], "methods": [{"model": "tiny", "method": "full"}]},
            "evaluate": {"test_sets": ["novel"], "bootstrap_samples": 200, "max_new_tokens": 12},
            "container": {"image": str(image), "probe": False},
            "tracking": {
                "uri": tracking_server.uri,
                "max_table_rows": 4,
                "register_models": True,
            },
        }
    )
    folder, plan = create_sweep(config, tmp_path / "sweep", "local", str(tmp_path / "c.yaml"))
    assert start_sweep_run(folder.root, config)

    split = folder.task_dir("split") / "output.tmp-test"
    write_split(split, ["en"])
    folder.publish_output("split", split)
    mark(folder, "split", "done")
    model = folder.task_dir(TRAIN) / "output.tmp-test"
    (model / "model").mkdir(parents=True)
    (model / "model" / "config.json").write_text('{"model_type": "qwen2"}')
    (model / "model" / "model.safetensors").write_bytes(b"\0" * 1000)
    (model / "train_summary.json").write_text('{"precision": "fp32"}')
    folder.publish_output(TRAIN, model)
    mark(folder, TRAIN, "done")
    open_task_tracker(folder.root, config, plan.by_key()[TRAIN], attempt=1).close()

    monkeypatch.setattr("babelsum.stages.evaluate.loaded_model", lambda ctx, chosen: (None, None))
    answers = {
        BASE: {t: "A city with a river." for t in TOPICS},
        TUNED: {t: good(t) for t in TOPICS} | {"Graz": "", "Brno": None},
    }
    for key in (BASE, TUNED):
        monkeypatch.setattr("babelsum.stages.evaluate.predict", planted_predict(answers[key]))
        run_task(folder.root, "evaluate", plan.by_key()[key].index)
    return folder, config, plan


def run_of(client, experiment_id: str, key: str):
    (run,) = client.search_runs([experiment_id], f"tags.task_key = '{key}'")
    return run


def test_runs_carry_intervals_tables_differences_report_versions_and_registry(
    tracking_server, study_name, evaluated_sweep, dirty_checkout, tmp_path, monkeypatch
):
    folder, config, plan = evaluated_sweep
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_server.uri)  # load_table searches there
    run_task(folder.root, "gather", plan.by_key()["gather"].index)

    client = tracking_server.client()
    experiment = client.get_experiment_by_name(study_name).experiment_id
    tuned = run_of(client, experiment, TUNED)
    scores = json.loads((folder.output_dir(TUNED) / "scores.json").read_text())

    # the evaluate run: its intervals and health, as in scores.json
    metrics = tuned.data.metrics
    for name in ("rouge1", "rouge2", "rougeL", "rougeLsum"):
        for end in ("", "_low", "_high"):
            assert metrics[f"{name}{end}"] == pytest.approx(scores["rouge"][f"{name}{end}"])
    assert metrics["rougeL_low"] < metrics["rougeL"] < metrics["rougeL_high"]
    assert (metrics["n"], metrics["failures"], metrics["empty"]) == (6, 1, 1)
    assert metrics["empty_share"] == pytest.approx(1 / 6)
    assert metrics["max_new_tokens_share"] == pytest.approx(1 / 6)

    # its predictions as a table MLflow lists and loads (capped at tracking.max_table_rows)
    assert json.loads(tuned.data.tags["mlflow.loggedArtifacts"]) == [
        {"path": "predictions.json", "type": "table"}
    ]
    assert tuned.data.tags["predictions_table"] == (
        "4 of 6 predictions (the first 4: tracking.max_table_rows)"
    )
    table = client.load_table(experiment, "predictions.json", run_ids=[tuned.info.run_id])
    assert list(table.columns) == [
        "article_id", "language", "reference", "prediction", "status",
        "rouge1", "rouge2", "rougeL", "rougeLsum",
    ]  # fmt: skip
    predictions = [
        json.loads(line) for line in open(folder.output_dir(TUNED) / "predictions.jsonl")
    ]
    assert table["article_id"].tolist() == [p["article_id"] for p in predictions[:4]]
    assert table["prediction"].tolist()[0] == good("Lyon")
    assert table["rougeL"].tolist()[0] == pytest.approx(predictions[0]["rouge"]["rougeL"])
    base = run_of(client, experiment, BASE)
    both = client.load_table(
        experiment, "predictions.json", run_ids=[base.info.run_id, tuned.info.run_id]
    )
    assert len(both) == 8  # the compare view lines up both runs' tables

    # the difference from base, computed by gather, on the evaluate run
    cells = {
        c["key"]: c for c in json.loads((folder.output_dir("gather") / "cells.json").read_text())
    }
    for name in ("rouge1", "rougeL"):
        test = cells[TUNED]["difference"][name]
        assert metrics[f"{name}_delta"] == pytest.approx(test["delta"])
        assert metrics[f"{name}_delta_low"] == pytest.approx(test["low"])
        assert metrics[f"{name}_delta_high"] == pytest.approx(test["high"])
        assert metrics[f"{name}_delta_p"] == pytest.approx(test["p_value"])
        assert metrics[f"{name}_delta_p_adjusted"] == pytest.approx(test["p_adjusted"])
    assert metrics["rougeL_delta"] > 0
    assert "rougeL_delta" not in base.data.metrics  # the base has no difference from itself

    # the sweep's run: the report, heatmaps and tables, and the diff of the dirty checkout
    parent = folder.meta()["mlflow_parent_run_id"]
    artifacts = {a.path for a in client.list_artifacts(parent)}
    assert {
        "config.yaml", "report.md", "cells.csv", "comparisons.csv", "overview.json",
        "heatmaps", "git-diff.patch",
    } <= artifacts  # fmt: skip
    assert client.list_artifacts(parent, "heatmaps")
    downloaded = Path(client.download_artifacts(parent, "", str(tmp_path / "parent")))
    assert (downloaded / "report.md").read_text() == (
        folder.output_dir("gather") / "report.md"
    ).read_text()
    assert "+LEARNING_RATE = 3e-4" in (downloaded / "git-diff.patch").read_text()

    # what reproduces a run, as tags of every run (versions: of each task's environment)
    head = git(dirty_checkout, "rev-parse", "HEAD").strip()
    sweep_tags = client.get_run(parent).data.tags
    for run in (base, tuned, client.get_run(parent)):
        tags = run.data.tags
        assert tags["git_commit"] == f"{head}-dirty"
        assert tags["git_checkout"] == str(dirty_checkout)
        assert tags["container_sha256"] == hashlib.sha256(IMAGE_BYTES).hexdigest()
        assert tags["model.tiny.revision"] == HUB_SHA
        assert tags["version.babelsum"] == metadata.version("babelsum")
    for package in ("torch", "transformers", "peft", "trl", "deepspeed", "bitsandbytes"):
        assert tuned.data.tags[f"version.{package}"] == metadata.version(package)
    assert "version.torch" not in sweep_tags  # the login node's packages are not the tasks'

    # the trained model in the registry: a version pointing at the train output
    train = run_of(client, experiment, TRAIN)
    (version,) = client.search_model_versions(f"name = '{study_name}-tiny-full-en'")
    assert version.run_id == train.info.run_id
    assert version.source == f"runs:/{train.info.run_id}/model"
    weights = folder.output_dir(TRAIN) / "model"
    assert version.tags["weights_path"] == str(weights.resolve())
    pointer = Path(client.download_artifacts(train.info.run_id, "model", str(tmp_path / "m")))
    assert json.loads((pointer / "weights.json").read_text())["path"] == str(weights.resolve())
    assert (pointer / "config.json").is_file() and not (pointer / "model.safetensors").exists()

    # `launch sync` sends none of it twice: no second table's rows, no second version
    assert sync_sweep(*load_sweep(folder.root))["records_pushed"] == 0
    again = client.load_table(experiment, "predictions.json", run_ids=[tuned.info.run_id])
    assert len(again) == 4
    assert len(client.search_model_versions(f"name = '{study_name}-tiny-full-en'")) == 1
    assert len(client.get_metric_history(tuned.info.run_id, "rougeL_delta")) == 1


def test_gather_during_an_outage_reaches_mlflow_through_launch_sync_once(
    tracking_server, study_name, evaluated_sweep
):
    folder, config, plan = evaluated_sweep
    tracking_server.stop()
    run_task(folder.root, "gather", plan.by_key()["gather"].index)  # finishes all the same
    tracking_server.start()
    first, second = sync_sweep(*load_sweep(folder.root)), sync_sweep(*load_sweep(folder.root))
    assert first["records_pushed"] > 0 and first["rejected"] == 0
    assert second["records_pushed"] == 0

    client = tracking_server.client()
    experiment = client.get_experiment_by_name(study_name).experiment_id
    tuned = run_of(client, experiment, TUNED)
    assert tuned.data.metrics["rougeL_delta"] > 0
    assert len(client.get_metric_history(tuned.info.run_id, "rougeL_delta_p_adjusted")) == 1
    parent = folder.meta()["mlflow_parent_run_id"]
    assert {"report.md", "cells.csv", "comparisons.csv", "overview.json", "heatmaps"} <= {
        a.path for a in client.list_artifacts(parent)
    }
    assert len(client.search_model_versions(f"name = '{study_name}-tiny-full-en'")) == 1
