"""The journal, secret masking and the tracker's own bookkeeping (no MLflow involved)."""

from __future__ import annotations

import json
import logging

from babelsum.tracking import Tracker, flatten
from babelsum.tracking.journal import Journal, read_entries
from babelsum.tracking.redaction import MASK, Redactor, is_secret_key


def test_journal_ids_are_unique_and_a_torn_line_stays_apart(tmp_path):
    path = tmp_path / "journal.jsonl"
    first = Journal(path)
    a = first.append("metrics", metrics={"loss": 1.0}, step=1)
    with open(path, "a") as f:
        f.write('{"kind": "metr')  # the process was killed mid-write
    second = Journal(path)
    b = second.append("metrics", metrics={"loss": 0.5}, step=2)

    entries = read_entries(path)
    assert [e.record["id"] if e.record else None for e in entries] == [a["id"], None, b["id"]]
    assert a["id"] != b["id"]
    assert entries[1].line.startswith('{"kind": "metr')
    assert entries[-1].end == path.stat().st_size


def test_reading_resumes_at_an_offset_and_skips_an_unfinished_line(tmp_path):
    path = tmp_path / "journal.jsonl"
    journal = Journal(path)
    for step in range(3):
        journal.append("metrics", metrics={"loss": step}, step=step)
    middle = read_entries(path)[0].end
    with open(path, "a") as f:
        f.write('{"kind": "tags"')  # still being written: no newline yet
    rest = read_entries(path, middle)
    assert [e.record["step"] for e in rest] == [1, 2]


def test_secret_keys_are_told_from_token_counts():
    for key in ("HF_TOKEN", "hub.token", "db_password", "api-key", "AWS_SECRET_ACCESS_KEY"):
        assert is_secret_key(key), key
    for key in ("max_new_tokens", "tokenizer", "pad_token", "eos_token_id", "tokens_per_second"):
        assert not is_secret_key(key), key


def test_redactor_masks_secret_keys_token_values_env_values_and_url_passwords():
    redactor = Redactor({"MY_SERVICE_PASSWORD": "correct-horse", "HOME": "/home/me"})
    token = "hf_" + "x" * 34
    masked = redactor.mapping(
        {
            "container": {"env": {"HF_TOKEN": "anything", "OMP_NUM_THREADS": "4"}},
            "note": f"login with {token} then correct-horse",
            "uri": "postgresql://mlflow:s3cr3t@db:5432/mlflow",
            "max_new_tokens": 256,
            "home": "/home/me",
        }
    )
    assert masked["container"]["env"] == {"HF_TOKEN": MASK, "OMP_NUM_THREADS": "4"}
    assert masked["note"] == f"login with {MASK} then {MASK}"
    assert masked["uri"] == f"postgresql://mlflow:{MASK}@db:5432/mlflow"
    assert masked["max_new_tokens"] == 256 and masked["home"] == "/home/me"


def test_redactor_learns_secrets_written_in_a_config():
    redactor = Redactor({})
    redactor.learn({"container": {"env": {"WANDB_API_KEY": "abcdef123456"}}})
    assert redactor.text("key=abcdef123456") == f"key={MASK}"


def test_flatten_uses_dot_keys():
    assert flatten(
        {"train": {"lr": 0.1, "languages": ["en", "fr"], "methods": [{"name": "full"}]}, "x": None}
    ) == {
        "train.lr": 0.1,
        "train.languages": "en,fr",
        "train.methods.0.name": "full",
        "x": None,
    }


def test_tracker_without_mlflow_journals_everything_and_keeps_masked_artifact_copies(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("HF_TOKEN", "hf_" + "k" * 34)
    journal = tmp_path / "task" / "journal.jsonl"
    tracker = Tracker(journal)
    tracker.log_params({"model": {"path": "Qwen/Qwen2.5-0.5B"}, "hub_token": "hf_" + "k" * 34})
    tracker.set_tags({"stage": "train"})
    tracker.log_metrics({"loss": 0.5}, step=3)
    report = tmp_path / "output.tmp-1" / "report.md"
    report.parent.mkdir()
    report.write_text("used hf_" + "k" * 34 + "\n")
    tracker.log_artifact(report, "reports")
    report.unlink()  # the runner renames the temporary output folder away
    tracker.close()

    records = [e.record for e in read_entries(journal)]
    assert [r["kind"] for r in records] == ["params", "tags", "metrics", "artifact", "end"]
    assert records[0]["params"] == {"model.path": "Qwen/Qwen2.5-0.5B", "hub_token": MASK}
    assert records[2]["metrics"] == {"loss": 0.5} and records[2]["step"] == 3
    copy = journal.parent / records[3]["file"]
    assert copy == journal.parent / "artifacts" / "reports" / "report.md"
    assert copy.read_text() == f"used {MASK}\n"
    assert "k" * 34 not in journal.read_text()


def test_a_metric_that_is_not_a_number_is_left_out_with_one_warning(tmp_path, caplog):
    tracker = Tracker(tmp_path / "journal.jsonl")
    with caplog.at_level(logging.WARNING, logger="babelsum.tracking"):
        tracker.log_metrics({"rouge1": None, "rouge2": 0.3})
        tracker.log_metrics({"rouge1": None})
    lines = (tmp_path / "journal.jsonl").read_text().splitlines()
    assert [json.loads(line)["metrics"] for line in lines] == [{"rouge2": 0.3}]
    assert len([r for r in caplog.records if "rouge1" in r.getMessage()]) == 1
