"""Journal lines of the wrong shape (valid JSON, not a record) against a real MLflow server:
`launch sync` rejects each one, counts it and goes on; a task's live pusher never sticks."""

from __future__ import annotations

import json

import pytest

from babelsum import cli
from babelsum.sweep import load_sweep
from babelsum.tracking import open_task_tracker, start_sweep_run, sync_sweep
from babelsum.tracking.journal import Journal, read_entries, record_problem
from tests.tracking.test_server import TRAIN_FR, experiment_id, make_sweep, steps_of

# (line, what read_entries says about it)
BAD_LINES = [
    ("[1, 2, 3]", "not a record"),
    ("42", "not a record"),
    ('"metrics"', "not a record"),
    ("null", "not a record"),
    ('{"kind": "metrics"}', "no string id"),
    ('{"id": 7, "kind": "metrics", "time": 1, "metrics": {"a": 1}}', "no string id"),
    ('{"id": "x.1", "kind": ["metrics"], "time": 1}', "unknown kind"),
    ('{"id": "x.2", "kind": "rm -rf", "time": 1}', "unknown kind"),
    ('{"id": "x.3", "kind": "metrics", "time": "noon", "metrics": {"a": 1}}', "no numeric time"),
    ('{"id": "x.4", "kind": "metrics", "time": 1, "metrics": [1, 2]}', "not a mapping"),
    ('{"id": "x.5", "kind": "metrics", "time": 1, "metrics": {"a": "high"}}', "not a number"),
    ('{"id": "x.6", "kind": "metrics", "time": 1, "metrics": {"a": 1}, "step": "2"}', "step"),
    ('{"id": "x.7", "kind": "params", "time": 1, "params": "lr=1"}', "not a mapping"),
    ('{"id": "x.8", "kind": "tags", "time": 1, "tags": null}', "not a mapping"),
    ('{"id": "x.9", "kind": "end", "time": 1}', "end state"),
    ('{"id": "x.10", "kind": "end", "time": 1, "state": "DELETED"}', "end state"),
    ('{"id": "x.11", "kind": "artifact", "time": 1, "file": "/etc/passwd"}', "relative path"),
    ('{"id": "x.12", "kind": "artifact", "time": 1, "file": "../../sweep.json"}', "outside"),
    ('{"id": "x.13", "kind": "artifact", "time": 1, "file": 5}', "relative path"),
    ('{"id": "x.14", "kind": "metrics", "time": true, "metrics": {"a": 1}}', "no numeric time"),
    ("{torn", "not JSON"),
    ("9" * 5000, "not JSON"),  # an integer too long for Python to read
]


@pytest.mark.parametrize("line, problem", BAD_LINES)
def test_each_wrong_shape_is_named(tmp_path, line, problem):
    path = tmp_path / "journal.jsonl"
    path.write_text(line + "\n")
    (entry,) = read_entries(path)
    assert entry.record is None and problem in entry.problem


def test_a_record_of_the_right_shape_passes():
    record = {"id": "a.0", "kind": "metrics", "time": 1.5, "metrics": {"loss": 0.5}, "step": 3}
    assert record_problem(record) is None


def plant(journal_path, lines: list[str]) -> None:
    with open(journal_path, "a", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))


def test_sync_rejects_bad_lines_counts_them_and_sends_the_rest(
    tracking_server, study_name, tmp_path, capsys
):
    folder, config, plan = make_sweep(tmp_path, study_name, tracking_server.uri)
    start_sweep_run(folder.root, config)
    task = plan.by_key()[TRAIN_FR]
    journal = folder.journal_path(task.key)
    Journal(journal).append("metrics", metrics={"loss": 1.0}, step=1)
    plant(journal, [line for line, _ in BAD_LINES])
    later = Journal(journal)
    later.append("metrics", metrics={"loss": 0.5}, step=2)
    later.append("params", params={"after_the_bad_lines": "yes"})

    capsys.readouterr()
    assert cli.main(["sync", str(folder.root)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["rejected"] == len(BAD_LINES)
    assert report["records_pushed"] == 3 + len(BAD_LINES)  # every line dealt with, once

    client = tracking_server.client()
    (stores,) = json.loads((folder.task_dir(task.key) / "mlflow_sync.json").read_text()).values()
    (sync,) = stores.values()
    run = client.get_run(sync["run_id"])
    assert steps_of(client, run.info.run_id, "loss") == [1, 2]
    assert run.data.params["after_the_bad_lines"] == "yes"
    assert client.list_artifacts(run.info.run_id) == []  # /etc/passwd was not uploaded
    assert sync_sweep(*load_sweep(folder.root))["records_pushed"] == 0  # nothing twice


def test_a_live_pusher_goes_on_past_bad_lines(tracking_server, study_name, tmp_path):
    folder, config, plan = make_sweep(tmp_path, study_name, tracking_server.uri)
    task = plan.by_key()[TRAIN_FR]
    tracker = open_task_tracker(folder.root, config, task, attempt=1)
    tracker.log_metrics({"loss": 1.0}, step=1)
    tracker.flush()
    plant(folder.journal_path(task.key), [line for line, _ in BAD_LINES])
    for step in (2, 3):
        tracker.log_metrics({"loss": 1.0 / step}, step=step)
        tracker.flush()
    assert tracker._pusher.retry_at == 0.0, "the pusher took a bad line for an outage"
    tracker.close()

    client = tracking_server.client()
    (run,) = client.search_runs([experiment_id(tracking_server, study_name)], "tags.kind = 'task'")
    assert steps_of(client, run.info.run_id, "loss") == [1, 2, 3]
    assert run.info.status == "FINISHED"
