"""Journal lines of the wrong shape, replayed by `launch sync` into a real MLflow store (SQLite):
each is rejected, counted in the report and in the task's mlflow_sync.json with its reason,
and the line after it still reaches MLflow. No line stops the sync or sticks it (a second
sync sends nothing and rejects nothing again).

The store is the one the sweep's config names (tracking.uri), shared by the rows so that
MLflow creates its tables once; each row syncs its own copy of the sweep.
"""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from babelsum.cli import main
from tests.bad_input.conftest import assert_nothing_written, rows

TASK = "train/tiny/full/en"

# (id, the line as written, what the rejection says)
LINES = [
    ("torn", '{"id": "x.1", "kind": "metr', "not JSON"),
    ("nul-bytes", b"\x00\x00", "not JSON"),
    ("nested-too-deep", "[" * 100_000 + "]" * 100_000, "not JSON"),
    ("5000-digits", '{"id": "x.2", "kind": "metrics", "time": ' + "9" * 5000 + "}", "not JSON"),
    ("a-list", "[1, 2, 3]", "not a record"),
    ("a-number", "42", "not a record"),
    ("null", "null", "not a record"),
    ("no-id", '{"kind": "metrics", "time": 1, "metrics": {"a": 1}}', "no string id"),
    ("id-a-number", '{"id": 7, "kind": "metrics", "time": 1, "metrics": {"a": 1}}', "no string id"),
    ("kind-a-list", '{"id": "x.3", "kind": ["metrics"], "time": 1}', "unknown kind"),
    ("kind-a-command", '{"id": "x.4", "kind": "rm -rf", "time": 1}', "unknown kind"),
    ("time-a-word", '{"id": "x.5", "kind": "metrics", "time": "noon", "metrics": {"a": 1}}', "no numeric time"),
    ("time-a-boolean", '{"id": "x.6", "kind": "metrics", "time": true, "metrics": {"a": 1}}', "no numeric time"),
    ("end-time-nan", '{"id": "x.7", "kind": "end", "time": NaN, "state": "FINISHED"}', "a time that is not a date"),
    ("end-time-infinite", '{"id": "x.8", "kind": "end", "time": 1e400, "state": "FINISHED"}', "a time that is not a date"),
    ("end-time-negative-huge", '{"id": "x.9", "kind": "end", "time": -1e20, "state": "FAILED"}', "a time that is not a date"),
    ("metrics-time-huge", '{"id": "x.10", "kind": "metrics", "time": 1e300, "metrics": {"a": 1}}', "a time that is not a date"),
    ("metrics-a-list", '{"id": "x.11", "kind": "metrics", "time": 1, "metrics": [1, 2]}', "not a mapping"),
    ("metric-a-word", '{"id": "x.12", "kind": "metrics", "time": 1, "metrics": {"a": "high"}}', "not a number"),
    ("metric-a-boolean", '{"id": "x.13", "kind": "metrics", "time": 1, "metrics": {"a": true}}', "not a number"),
    ("step-a-word", '{"id": "x.14", "kind": "metrics", "time": 1, "metrics": {"a": 1}, "step": "2"}', "a step that is not an integer"),
    ("step-beyond-64-bits", '{"id": "x.15", "kind": "metrics", "time": 1, "metrics": {"a": 1}, "step": 1180591620717411303424}', "64-bit"),
    ("params-a-word", '{"id": "x.16", "kind": "params", "time": 1, "params": "lr=1"}', "not a mapping"),
    ("tags-null", '{"id": "x.17", "kind": "tags", "time": 1, "tags": null}', "not a mapping"),
    ("end-without-state", '{"id": "x.18", "kind": "end", "time": 1}', "end state"),
    ("end-state-unknown", '{"id": "x.19", "kind": "end", "time": 1, "state": "DELETED"}', "end state"),
    ("artifact-absolute", '{"id": "x.20", "kind": "artifact", "time": 1, "file": "/etc/passwd"}', "not a relative path"),
    ("artifact-climbs-out", '{"id": "x.21", "kind": "artifact", "time": 1, "file": "../../sweep.json"}', "outside the task folder"),
    ("artifact-a-number", '{"id": "x.22", "kind": "artifact", "time": 1, "file": 5}', "not a relative path"),
    ("artifact-gone", '{"id": "x.23", "kind": "artifact", "time": 1, "file": "nothere.txt"}', "is gone from the task folder"),
    ("artifact-other-run", '{"id": "x.24", "kind": "artifact", "time": 1, "file": "log.txt", "run": "theirs"}', "artifact run"),
    ("register-bad-name", '{"id": "x.25", "kind": "register", "time": 1, "name": "a b/c", "artifact_path": "m"}', "registered model name"),
]  # fmt: skip


@pytest.fixture(scope="module")
def synced_sweep(done_sweep, tmp_path_factory):
    """The done sweep, tracked into a SQLite store beside it, every journal synced."""
    root = tmp_path_factory.mktemp("synced")
    sweep = root / "sweep"
    shutil.copytree(done_sweep, sweep)
    config = yaml.safe_load((sweep / "config.yaml").read_text())
    config["tracking"] |= {"enabled": True, "uri": f"sqlite:///{root}/mlflow.db"}
    (sweep / "config.yaml").write_text(yaml.safe_dump(config))
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        patch.setenv("HOME", str(root))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        assert main(["sync", str(sweep)]) == 0
    return sweep


def sync_state(sweep) -> dict:
    (state,) = json.loads((sweep / "tasks" / TASK / "mlflow_sync.json").read_text())[
        "stores"
    ].values()
    return state


@pytest.mark.parametrize("line, problem", rows(LINES))
def test_sync_rejects_a_line_of_the_wrong_shape_counts_it_and_goes_on(
    sandbox, launch, caplog, synced_sweep, line, problem
):
    sweep = sandbox.sweep
    shutil.copytree(synced_sweep, sweep)
    journal = sweep / "tasks" / TASK / "journal.jsonl"
    with open(journal, "ab") as f:
        f.write(line if isinstance(line, bytes) else line.encode())
        f.write(b'\n{"id": "z.1", "kind": "params", "time": 1, "params": {"after": "yes"}}\n')
    before = sandbox.listing()

    result = launch("sync", sweep)
    assert "Traceback" not in result.out + result.err, result.err
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert (report["rejected"], report["records_pushed"]) == (1, 2), report
    state = sync_state(sweep)
    (rejected,) = state["rejected"]
    assert problem in rejected["error"], rejected
    assert state["offset"] == journal.stat().st_size, "the sync stopped at the bad line"
    warned = [r.getMessage() for r in caplog.records if "refused a record" in r.getMessage()]
    assert len(warned) == 1 and TASK in warned[0] and "\n" not in warned[0], warned

    from mlflow import MlflowClient

    client = MlflowClient(yaml.safe_load((sweep / "config.yaml").read_text())["tracking"]["uri"])
    assert client.get_run(state["run_id"]).data.params["after"] == "yes"

    again = launch("sync", sweep)
    assert again.code == 0 and json.loads(again.out)["records_pushed"] == 0
    assert len(sync_state(sweep)["rejected"]) == 1, "a line was rejected twice"
    assert_nothing_written(before, sandbox.listing())
