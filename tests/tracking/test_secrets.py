"""A whole sweep against a real `mlflow server`, with secrets planted in the config, the
environment and a stage's log text: none reaches MLflow (params, tags, metric names,
artifacts) nor the task journals nor a failed task's status, in any of the shapes redaction.py knows."""

from __future__ import annotations

from pathlib import Path

import yaml

from babelsum import cli
from tests.tracking.test_server import experiment_id, tracking_config

# name -> value in the environment of `launch` and its tasks
ENVIRONMENT = {
    "PGPASSWORD": "pgpw7",  # short: masked as a whole word
    "SHORT_PASS": "k9z",
    "SERVICE_SECRET": "svc-secret-4471",
    "GITLAB_TOKEN": "glpat-ab12cd34",
    "STRIPE_KEY": "stk-81f0",
    "AWS_CREDENTIALS": "awscred-555",
    "HF_TOKEN": "hf_Xy7Qz9Lm2",
    "DATABASE_URL": "postgresql://dbuser:dbpw55@db.example.org/x",
    "MYSQL_URL": "mysql://root:mypw66@db.example.org/x",
    "REDIS_URL": "redis://:redpw88@cache.example.org:6379/0",
    "MONGO_URL": "mongodb+srv://mu:mongopw9@cl.example.net/db",
    "GIT_REMOTE": "https://gituser:gitpw44@git.example.org/x.git",
    "AUTH_HEADER": "Bearer bearertok77",
}
# what must never be seen: the secret part of each
SECRETS = [
    *(v for k, v in ENVIRONMENT.items() if not k.endswith(("_URL", "_REMOTE", "_HEADER"))),
    "dbpw55",
    "mypw66",
    "redpw88",
    "mongopw9",
    "gitpw44",
    "bearertok77",
    # from the config
    "cfgpw1",
    "cfgtok-22",
    "cfgkey-33",
    "modelpw5",
    "uripw6",
]
FAILING = "evaluate/tiny/base/en/novel"


def test_planted_secrets_reach_neither_mlflow_nor_the_journals(
    tracking_server, study_name, tmp_path, monkeypatch, fake_config_file
):
    fake_config_file()  # PYTHONPATH for the task processes
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TEST_LEAK_NAMES", " ".join(ENVIRONMENT))
    monkeypatch.setenv("TEST_LEAK_FAIL_KEY", FAILING)
    host = tracking_server.uri.removeprefix("http://")
    config = tracking_config(
        study_name,
        f"http://mluser:uripw6@{host}",
        container={
            "image": "/images/babelsum.sif",
            "env": {
                "DB_PASSWORD": "cfgpw1",
                "API_TOKEN": "cfgtok-22",
                "WANDB_API_KEY": "cfgkey-33",
            },
        },
        models={"tiny": {"path": "https://modeluser:modelpw5@models.example.org/tiny"}},
    )
    stages = ("prepare", "teacher", "split", "train", "evaluate")
    config["engine"]["stage_impl"] = {s: "tests.tracking.fake_stages:leaky" for s in stages} | {
        "gather": "tests.tracking.fake_stages:gather"
    }
    path = tmp_path / "leaky.yaml"
    path.write_text(yaml.safe_dump(config))
    sweep = tmp_path / "sweep"
    args = ["sweep", str(path), "--sweep-dir", str(sweep), "--quiet", "--no-preflight"]
    assert cli.main(args) == 1  # the planted failure
    log = (sweep / "tasks" / "prepare" / "log.txt").read_text()
    assert "pgpw7" in log, "the stage did not print its secrets: nothing was tested"

    client = tracking_server.client()
    runs = client.search_runs([experiment_id(tracking_server, study_name)], max_results=1000)
    assert len(runs) == 1 + 13  # the sweep's run and one per task
    seen: list[str] = []
    for run in runs:
        seen += [f"{k}={v}" for k, v in {**run.data.params, **run.data.tags}.items()]
        seen += list(run.data.metrics)
        downloaded = Path(client.download_artifacts(run.info.run_id, "", str(tmp_path / "dl")))
        seen += [p.read_text(errors="replace") for p in downloaded.rglob("*") if p.is_file()]
    mlflow_text = "\n".join(seen)
    # the leaks arrived, masked: the test looked where they were
    assert "env.PGPASSWORD=***" in mlflow_text
    assert "latency ___" in mlflow_text  # a metric's name: `***` as MLflow takes it
    assert "container.env.DB_PASSWORD=***" in mlflow_text
    assert "DB_PASSWORD: '***'" in mlflow_text  # the parent run's config.yaml
    assert "failure_reason=RuntimeError: cannot reach redis://:***@" in mlflow_text
    assert "connecting with ***" in mlflow_text  # the artifacts

    journals = "\n".join(
        p.read_text(errors="replace")
        for p in (sweep / "tasks").rglob("*")
        if p.is_file() and (p.name == "journal.jsonl" or "artifacts" in p.parts)
    )
    # the failed task's status, which `launch status` shows: reason and traceback masked
    failed = (sweep / "tasks" / FAILING / "status.json").read_text()
    assert "cannot reach redis://:***@" in failed
    for secret in SECRETS:
        assert secret not in mlflow_text, f"{secret} reached MLflow"
        assert secret not in journals, f"{secret} is in a journal"
        assert secret not in failed, f"{secret} is in the failed task's status"
