"""A damaged sweep folder: torn or invalid status.json, plan.json, sweep.json, config.yaml, a
file where a folder should be, a folder where a file should be, missing files.

A damaged status file makes only its task `unknown` (`launch status` exits 1 and names the
file; `launch resubmit --dry-run` lists the task); damage to a file the whole sweep needs is
one error line naming it (exit 2). Either way: no traceback, nothing written outside the
sweep folder, and every task output folder that was there is still there.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.bad_input.conftest import (
    assert_nothing_written,
    assert_refused,
    copy_sweep,
    done_outputs,
    rows,
)

TRAIN_EN = "tasks/train/tiny/full/en"
STATUS = f"{TRAIN_EN}/status.json"


def put(path: str, content: bytes | str | None):
    """A damage: `path` (inside the sweep) replaced by bytes, a folder ("DIR"), or nothing."""

    def damage(sweep: Path) -> None:
        target = sweep / path
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
        if content == "DIR":
            (target / "x").mkdir(parents=True)
        elif content is not None:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content if isinstance(content, bytes) else content.encode())

    return damage


def edit_plan(change):
    def damage(sweep: Path) -> None:
        plan = json.loads((sweep / "plan.json").read_text())
        change(plan)
        (sweep / "plan.json").write_text(json.dumps(plan))

    return damage


def status_of(**fields) -> str:
    return json.dumps({"key": "train/tiny/full/en", "stage": "train", "index": 0} | fields)


def both(*damages):
    def damage(sweep: Path) -> None:
        for d in damages:
            d(sweep)

    return damage


def escaping_key(plan: dict) -> None:
    plan["stages"][0]["tasks"][0]["key"] = "../../escaped"


def repeated_key(plan: dict) -> None:
    train = next(s for s in plan["stages"] if s["name"] == "train")
    train["tasks"][1]["key"] = train["tasks"][0]["key"]


DEEP = b"[" * 100_000 + b"]" * 100_000

# A status file that cannot be read: its task only is unknown, named in `launch status`.
UNKNOWN_TASK = [
    ("status-torn", put(STATUS, b'{"key": "train/tiny/fu'), STATUS),
    ("status-empty", put(STATUS, b""), STATUS),
    ("status-a-folder", put(STATUS, "DIR"), STATUS),
    ("status-a-list", put(STATUS, b'["not", "a", "status"]'), STATUS),
    ("status-unknown-state", put(STATUS, status_of(state="finished")), STATUS),
    ("status-of-another-task", put(STATUS, json.dumps({"key": "prepare", "stage": "prepare", "index": 0, "state": "done"})), "it is the status of 'prepare'"),
    ("status-not-utf8", put(STATUS, b"\xff\xfe{}"), STATUS),
    ("status-nested-too-deep", put(STATUS, DEEP), STATUS),
    ("status-nan-times", put(STATUS, b'{"key": "train/tiny/full/en", "stage": "train", "index": 0, "state": "done", "started": NaN, "ended": Infinity}'), "started: nan is not a time"),
    ("status-time-beyond-year-5000", put(STATUS, status_of(state="done", started=1e300)), "is not a time"),
    ("status-5000-digits", put(STATUS, b'{"key": "train/tiny/full/en", "attempts": ' + b"9" * 5000 + b"}"), STATUS),
    ("status-wrong-types", put(STATUS, status_of(state="done", attempts="many")), "attempts: 'many' is not int"),
    ("status-state-never-written", put(STATUS, status_of(state="unknown")), "is never written"),
    ("tasks-a-file", put("tasks", b"not a folder"), "status.json"),
    ("task-folder-a-file", put(TRAIN_EN, b"not a folder"), STATUS),
    ("done-output-gone", put(f"{TRAIN_EN}/output", None), f"{TRAIN_EN}/output: its output folder is gone"),
]  # fmt: skip

# Damage that `status`, `resubmit` and `cancel` (or `report`) refuse in one line naming it.
REFUSED = [
    ("plan-torn", put("plan.json", b'{"stages": [{"name": "prepare", "tasks": [{"key"'), ["status", "resubmit", "cancel"], "plan.json: damaged"),
    ("plan-empty", put("plan.json", b""), ["status", "resubmit", "cancel"], "plan.json: damaged"),
    ("plan-a-folder", put("plan.json", "DIR"), ["status", "resubmit", "cancel"], "plan.json: damaged"),
    ("plan-missing", put("plan.json", None), ["status", "resubmit", "cancel"], "plan.json is missing"),
    ("plan-not-utf8", put("plan.json", b"\xff\xfe not text"), ["status", "resubmit"], "plan.json: damaged"),
    ("plan-nested-too-deep", put("plan.json", DEEP), ["status", "resubmit", "cancel"], "plan.json: damaged"),
    ("plan-wrong-shape", put("plan.json", b'{"stages": 7}'), ["status", "resubmit", "cancel"], "plan.json: damaged"),
    ("plan-key-climbs-out", edit_plan(escaping_key), ["status", "resubmit", "cancel"], "'../../escaped' is not a safe path"),
    ("plan-key-twice", edit_plan(repeated_key), ["status", "resubmit"], "appears twice"),
    ("sweep-json-torn", put("sweep.json", b'{"id'), ["status", "resubmit", "cancel"], "sweep.json: damaged"),
    ("sweep-json-a-list", put("sweep.json", b"[1, 2]"), ["status", "resubmit", "cancel"], "sweep.json: damaged"),
    ("sweep-json-missing", put("sweep.json", None), ["status", "resubmit", "cancel"], "is not a sweep folder (no sweep.json)"),
    ("sweep-json-a-folder", put("sweep.json", "DIR"), ["status", "resubmit"], "is not a sweep folder (no sweep.json)"),
    ("config-torn", put("config.yaml", b"study: [unclosed"), ["resubmit", "report", "sync"], "config.yaml: damaged"),
    ("config-missing", put("config.yaml", None), ["resubmit", "report"], "config.yaml is missing"),
    ("config-a-folder", put("config.yaml", "DIR"), ["resubmit", "report"], "config.yaml: damaged"),
    ("config-a-list", put("config.yaml", b"- a list\n- not a config\n"), ["resubmit", "report"], "config.yaml: damaged"),
    ("config-nul", put("config.yaml", b"study: a\x00b\n"), ["resubmit"], "config.yaml: damaged"),
    ("tasks-a-file", put("tasks", b"not a folder"), ["resubmit"], "tasks"),
    ("stage-folder-a-file", put("tasks/train", b"not a folder"), ["resubmit"], "tasks/train"),
    ("task-folder-a-file", put(TRAIN_EN, b"not a folder"), ["resubmit"], TRAIN_EN),
    ("status-folder-on-rerun", put(STATUS, "DIR"), ["resubmit"], STATUS),
    ("log-a-folder", both(put(STATUS, b"{torn"), put(f"{TRAIN_EN}/log.txt", "DIR")), ["resubmit"], f"{TRAIN_EN}/log.txt"),
    ("lock-a-folder", put(".submit.lock", "DIR"), ["resubmit"], ".submit.lock"),
    ("cancel-marker-a-folder", put("cancel.json", "DIR"), ["cancel"], "cancel.json"),
    ("gather-cells-torn", put("tasks/gather/output/cells.json", b'[{"model": "ti'), ["report"], "cells.json"),
    ("gather-cells-wrong-shape", put("tasks/gather/output/cells.json", b'{"present": [], "missing": []}'), ["report"], "cells.json"),
]  # fmt: skip


def outputs_under(sweep: Path) -> set[str]:
    return {str(p.relative_to(sweep)) for p in sweep.glob("tasks/**/output") if p.is_dir()}


@pytest.mark.parametrize("damage, culprit", rows(UNKNOWN_TASK))
def test_a_damaged_status_file_makes_only_its_task_unknown(
    sandbox, launch, done_sweep, damage, culprit
):
    sweep = copy_sweep(done_sweep, sandbox)
    damage(sweep)
    outputs = outputs_under(sweep)
    before = sandbox.listing()

    result = launch("status", sweep)
    assert "Traceback" not in result.out + result.err and not result.err, result.err
    assert result.code == 1, result.out
    named = [line for line in result.out.splitlines() if "[unknown]" in line]
    assert named and all(culprit in line for line in named), result.out

    result = launch("resubmit", sweep, "--dry-run")
    assert result.code == 0 and "Traceback" not in result.out + result.err, result.err
    assert "train/tiny/full/en  (unknown)" in result.out

    result = launch("status", sweep, "--json")
    tasks = json.loads(result.out)["tasks"]
    assert {t["state"] for t in tasks if "/full/en" not in t["key"]} <= {"done", "unknown"}
    assert_nothing_written(before, sandbox.listing())
    assert outputs_under(sweep) == outputs, "a task output folder was lost"


@pytest.mark.parametrize("damage, commands, culprit", rows(REFUSED))
def test_damage_the_sweep_needs_is_one_line_naming_it(
    sandbox, launch, done_sweep, damage, commands, culprit
):
    sweep = copy_sweep(done_sweep, sandbox)
    damage(sweep)
    outputs = outputs_under(sweep)
    before = sandbox.listing()
    for command in commands:
        result = launch(command, sweep, *(["--quiet"] if command == "resubmit" else []))
        assert_refused(result, culprit, lines=None if culprit == "config.yaml: damaged" else 1)
    assert_nothing_written(before, sandbox.listing())
    assert outputs_under(sweep) == outputs, "a task output folder was lost"


def test_a_torn_status_file_is_rerun_and_no_done_output_is_lost(sandbox, launch, done_sweep):
    sweep = copy_sweep(done_sweep, sandbox)
    put(STATUS, b'{"key": "tr')(sweep)
    outputs = outputs_under(sweep)
    done = done_outputs(sweep)
    before = sandbox.listing()
    result = launch("resubmit", sweep, "--quiet")
    assert result.code == 0 and "Traceback" not in result.out + result.err, result.err
    assert "resubmitting 4 task(s): train 1, evaluate 2, gather 1" in result.out
    assert_nothing_written(before, sandbox.listing())
    assert outputs_under(sweep) >= outputs
    assert done_outputs(sweep) == done | {f"{TRAIN_EN}/output"}
