"""The sweep engine on the local executor, with the test-only stages of fake_stages.py."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from babelsum.cli import main
from babelsum.state import SweepFolder
from tests.orchestration.fake_sweep import PROCESSES_OF_TWO_GROUPS, TWO_RESOURCE_GROUPS

EVAL_FR = [
    "evaluate/tiny/full-fr/en/novel",
    "evaluate/tiny/full-fr/fr/novel",
]


def status_json(sweep: Path, capsys) -> dict:
    capsys.readouterr()
    # exit code 1 when something failed: the tests look at the states themselves
    assert main(["status", str(sweep), "--json"]) in (0, 1)
    data = json.loads(capsys.readouterr().out)
    return {t["key"]: t for t in data["tasks"]}


def test_dry_run_prints_plan_and_creates_nothing(fake_config_file, tmp_path, capsys):
    sweep = tmp_path / "sweep"
    assert main(["sweep", str(fake_config_file()), "--sweep-dir", str(sweep), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert (
        "teacher: 2 task(s)" in out and "evaluate: 6 task(s)" in out and "gather: 1 task(s)" in out
    )
    assert not sweep.exists()


def test_sweep_runs_every_stage(fake_config_file, tmp_path, capsys):
    sweep = tmp_path / "sweep"
    assert main(["sweep", str(fake_config_file()), "--sweep-dir", str(sweep), "--quiet"]) == 0
    tasks = status_json(sweep, capsys)
    assert len(tasks) == 13 and {t["state"] for t in tasks.values()} == {"done"}
    cells = json.loads((SweepFolder(sweep).output_dir("gather") / "cells.json").read_text())
    assert len(cells["present"]) == 6 and cells["missing"] == []
    assert oct(sweep.stat().st_mode & 0o777) == "0o700"  # submitit pickles are code


def test_a_train_method_with_its_own_resources_runs_with_them(fake_config_file, tmp_path, capsys):
    train = {"languages": ["en", "fr"], "methods": TWO_RESOURCE_GROUPS}
    config = fake_config_file(train=train)
    sweep = tmp_path / "sweep"
    assert main(["sweep", str(config), "--sweep-dir", str(sweep), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "train: 2 task(s), 2 process(es) each" in out
    assert "train: 2 task(s), 1 process(es) each" in out
    assert main(["sweep", str(config), "--sweep-dir", str(sweep), "--quiet"]) == 0
    tasks = status_json(sweep, capsys)
    processes = {k: t["summary"]["processes"] for k, t in tasks.items() if k.startswith("train/")}
    assert processes == PROCESSES_OF_TWO_GROUPS


def test_failed_task_blocks_dependents_and_resubmit_reruns_exactly_them(
    fake_config_file, tmp_path, capsys, monkeypatch
):
    sweep = tmp_path / "sweep"
    monkeypatch.setenv("TEST_FAIL_KEYS", "train/tiny/full/fr")
    assert main(["sweep", str(fake_config_file()), "--sweep-dir", str(sweep), "--quiet"]) == 1

    tasks = status_json(sweep, capsys)
    assert tasks["train/tiny/full/fr"]["state"] == "failed"
    assert tasks["train/tiny/full/fr"]["reason"] == "planted failure in train/tiny/full/fr"
    for key in EVAL_FR:
        assert tasks[key]["state"] == "blocked"
        assert "train/tiny/full/fr" in tasks[key]["reason"]
    assert tasks["gather"]["state"] == "done"
    cells = json.loads((SweepFolder(sweep).output_dir("gather") / "cells.json").read_text())
    assert cells["missing"] == sorted(EVAL_FR)

    capsys.readouterr()
    assert main(["resubmit", str(sweep), "--dry-run"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]]
    assert sorted(listed) == sorted(["train/tiny/full/fr", *EVAL_FR, "gather"])

    monkeypatch.delenv("TEST_FAIL_KEYS")
    attempts_before = {k: t["attempts"] for k, t in tasks.items()}
    assert main(["resubmit", str(sweep), "--quiet"]) == 0
    tasks = status_json(sweep, capsys)
    assert {t["state"] for t in tasks.values()} == {"done"}
    rerun = {k for k, t in tasks.items() if t["attempts"] != attempts_before[k]}
    assert rerun == {"train/tiny/full/fr", *EVAL_FR, "gather"}
    cells = json.loads((SweepFolder(sweep).output_dir("gather") / "cells.json").read_text())
    assert cells["missing"] == [] and len(cells["present"]) == 6


def test_crash_is_recorded_with_traceback_tail(fake_config_file, tmp_path, capsys, monkeypatch):
    sweep = tmp_path / "sweep"
    monkeypatch.setenv("TEST_CRASH_KEYS", "split")
    assert main(["sweep", str(fake_config_file()), "--sweep-dir", str(sweep), "--quiet"]) == 1
    status = SweepFolder(sweep).read_status("split")
    assert status.state == "failed" and status.reason == "RuntimeError: planted crash"
    assert "fake_stages.py" in status.error
    tasks = status_json(sweep, capsys)
    assert all(
        t["state"] == "blocked" for k, t in tasks.items() if k.startswith(("train/", "evaluate/"))
    )


def start_sweep_with_a_sleeper(config: Path, sweep: Path, key: str) -> subprocess.Popen:
    """`launch sweep` in a child process, with task `key` sleeping; returns once `key` runs."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "babelsum.cli", "sweep", str(config), "--sweep-dir", str(sweep)]
        + ["--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "TEST_SLEEP_KEYS": key},
    )
    folder = SweepFolder(sweep)
    deadline = time.time() + 180
    while time.time() < deadline:
        status = folder.read_status(key)
        if status is not None and status.state == "running" and status.pid:
            return proc
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"{key} never ran")


def test_a_killed_task_is_recorded_as_killed_and_resubmitted(fake_config_file, tmp_path, capsys):
    sweep, key = tmp_path / "sweep", "train/tiny/full/en"
    proc = start_sweep_with_a_sleeper(fake_config_file(), sweep, key)
    os.kill(SweepFolder(sweep).read_status(key).pid, signal.SIGKILL)  # as the OOM killer would
    proc.communicate(timeout=300)
    assert proc.returncode == 1

    tasks = status_json(sweep, capsys)
    assert (tasks[key]["state"], tasks[key]["cause"]) == ("failed", "killed")
    assert "killed by SIGKILL" in tasks[key]["reason"]
    assert main(["status", str(sweep)]) == 1
    out = capsys.readouterr().out
    assert f"{key}: [killed] killed by SIGKILL" in out and "log: " in out

    assert main(["resubmit", str(sweep), "--quiet"]) == 0
    tasks = status_json(sweep, capsys)
    assert {t["state"] for t in tasks.values()} == {"done"}
    assert tasks[key]["attempts"] == 2


def test_a_task_whose_launch_died_too_is_lost_and_resubmitted(fake_config_file, tmp_path, capsys):
    """The launcher is killed first (a closed laptop), then the task: nobody saw it end."""
    sweep, key = tmp_path / "sweep", "train/tiny/full/en"
    proc = start_sweep_with_a_sleeper(fake_config_file(), sweep, key)
    proc.kill()
    proc.communicate(timeout=60)
    os.kill(SweepFolder(sweep).read_status(key).pid, signal.SIGKILL)
    time.sleep(0.5)

    tasks = status_json(sweep, capsys)
    assert (tasks[key]["state"], tasks[key]["cause"]) == ("lost", "unknown")
    assert main(["status", str(sweep)]) == 1
    assert f"{key}: [unknown] its process disappeared" in capsys.readouterr().out

    assert main(["resubmit", str(sweep), "--quiet"]) == 0
    tasks = status_json(sweep, capsys)
    assert {t["state"] for t in tasks.values()} == {"done"}


def test_a_killed_pack_resumes_without_redoing_its_finished_cells(
    fake_config_file, tmp_path, capsys
):
    """The base model's two evaluation cells run as one job; it is killed (SIGKILL) while
    the second cell runs. The first cell stays done; resubmitting reruns only the second."""
    sweep = tmp_path / "sweep"
    first, second = "evaluate/tiny/base/en/novel", "evaluate/tiny/base/fr/novel"
    proc = start_sweep_with_a_sleeper(fake_config_file(), sweep, second)
    folder = SweepFolder(sweep)
    pid = folder.read_status(second).pid
    assert folder.read_status(first).pid == pid  # one process ran both cells
    os.kill(pid, signal.SIGKILL)
    proc.communicate(timeout=300)

    tasks = status_json(sweep, capsys)
    assert (tasks[first]["state"], tasks[second]["state"]) == ("done", "failed")
    assert tasks[second]["cause"] == "killed"
    assert main(["resubmit", str(sweep), "--quiet"]) == 0
    tasks = status_json(sweep, capsys)
    assert {t["state"] for t in tasks.values()} == {"done"}
    assert (tasks[first]["attempts"], tasks[second]["attempts"]) == (1, 2)


def test_launch_logs_prints_a_tasks_log(fake_config_file, tmp_path, capsys, monkeypatch):
    sweep = tmp_path / "sweep"
    config = fake_config_file()
    monkeypatch.setenv("TEST_FAIL_KEYS", "train/tiny/full/fr")
    assert main(["sweep", str(config), "--sweep-dir", str(sweep), "--quiet"]) == 1
    capsys.readouterr()
    assert main(["logs", str(sweep), "train/tiny/full/fr", "--tail", "3"]) == 0
    out = capsys.readouterr().out
    assert "planted failure in train/tiny/full/fr" in out and len(out.splitlines()) <= 3
    assert main(["logs", str(sweep), "train/tiny/full/xx"]) == 2
    assert "no task 'train/tiny/full/xx'" in capsys.readouterr().err


def test_a_sweep_that_changes_only_evaluation_reruns_only_evaluation_and_gather(
    fake_config_file, tmp_path, capsys
):
    config = fake_config_file()
    first, second = tmp_path / "first", tmp_path / "second"
    assert main(["sweep", str(config), "--sweep-dir", str(first), "--quiet"]) == 0
    args = ["sweep", str(config), "evaluate.max_new_tokens=99", "--sweep-dir", str(second)]
    assert main([*args, "--dry-run", "--reuse-from", str(first)]) == 0
    assert (
        "would be reused from done tasks with the same identity: prepare 1, teacher 2, split 1, train 2"
        in capsys.readouterr().out
    )
    assert main([*args, "--quiet", "--reuse-from", str(first)]) == 0
    tasks = status_json(second, capsys)
    ran = {k.split("/")[0] for k, t in tasks.items() if t["attempts"] > 0}
    reused = {k.split("/")[0] for k, t in tasks.items() if t["reused_from"]}
    assert ran == {"evaluate", "gather"} and reused == {"prepare", "teacher", "split", "train"}
    assert {t["state"] for t in tasks.values()} == {"done"}
    value = SweepFolder(second).output_dir("train/tiny/full/en") / "value.txt"
    assert value.read_text() == "train/tiny/full/en"  # the first sweep's output, linked


def test_a_shared_cache_dir_serves_later_sweeps(fake_config_file, tmp_path, capsys):
    cache = tmp_path / "cache"
    config = fake_config_file(engine_overrides={"cache_dir": str(cache)})
    assert main(["sweep", str(config), "--sweep-dir", str(tmp_path / "a"), "--quiet"]) == 0
    assert (cache / "train").is_dir()
    assert main(["sweep", str(config), "--sweep-dir", str(tmp_path / "b"), "--quiet"]) == 0
    assert "every task was reused; nothing to run" in capsys.readouterr().out
    tasks = status_json(tmp_path / "b", capsys)
    assert all(t["reused_from"] and t["attempts"] == 0 for t in tasks.values())


def test_concurrent_task_processes_share_the_cores_out(monkeypatch):
    """Two tasks side by side on 2 cores get a thread each, not a thread per core each (4
    threads spinning against each other made training 9x slower); a user's own setting wins."""
    from babelsum.backends.local import threads_for

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert threads_for(2, {})["OMP_NUM_THREADS"] == "1"
    assert threads_for(1, {})["OMP_NUM_THREADS"] == "2"
    assert threads_for(4, {})["MKL_NUM_THREADS"] == "1"  # never 0
    assert threads_for(2, {"OMP_NUM_THREADS": "8"}) == {}
