"""The sweep folder holds: no path escapes it, writers never collide (one lock), `launch
cancel` kills only what the sweep owns, an edited config is noticed, damage is reported.

Local sweeps run the test-only stages of fake_stages.py; the race of two resubmits runs on
the real local SLURM cluster (slurm/local-cluster).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from babelsum import api, runner
from babelsum.cli import main
from babelsum.config import validate_config
from babelsum.errors import SweepError
from babelsum.state import Cause, State, SweepFolder, TaskStatus
from babelsum.sweep import PlanChange, create_sweep
from tests.orchestration.fake_sweep import REPO, fake_sweep_config, run_fake_sweep
from tests.orchestration.test_local import start_sweep_with_a_sleeper, status_json

TRAIN_EN, TRAIN_FR = "train/tiny/full/en", "train/tiny/full/fr"


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    """The error `launch` printed: one line, no traceback."""
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def snapshot(sweep: Path) -> dict[str, bytes]:
    """Every status file and the plan and config, byte for byte."""
    files = [*sweep.glob("tasks/**/status.json"), sweep / "plan.json", sweep / "config.yaml"]
    return {str(p.relative_to(sweep)): p.read_bytes() for p in files}


def settled_snapshot(sweep: Path, timeout_s: float = 60.0) -> dict[str, bytes]:
    """The sweep's files once two looks a second apart agree (a task that has just recorded
    `running` still creates its work folder and temporary output)."""
    deadline = time.time() + timeout_s
    last = snapshot(sweep)
    while time.time() < deadline:
        time.sleep(1.0)
        now = snapshot(sweep)
        if now == last:
            return now
        last = now
    raise AssertionError(f"{sweep} kept changing for {timeout_s} s")


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture(scope="module")
def done_sweep(tmp_path_factory) -> Path:
    """A finished local sweep of the fake config (read-only: tests copy it)."""
    root = tmp_path_factory.mktemp("done")
    assert run_fake_sweep(root) == 0
    return root / "sweep"


@pytest.fixture
def sweep_copy(done_sweep, tmp_path) -> Path:
    copy = tmp_path / "sweep"
    shutil.copytree(done_sweep, copy, symlinks=True)
    return copy


# ------------------------------------------------------------------ paths


@pytest.mark.parametrize(
    "key",
    ["../escape", "/etc/passwd", "train/../prepare", "a//b", ".", "", "a/./b", "tasks/x\n", "x\0y"],
)
def test_a_task_key_that_would_leave_or_alias_its_folder_is_refused(tmp_path, key):
    folder = SweepFolder(tmp_path / "sweep")
    before = files_under(tmp_path)
    with pytest.raises(SweepError, match="not a safe path"):
        folder.task_dir(key)
    with pytest.raises(SweepError):
        folder.write_status(TaskStatus(key, "train", 0))
    assert files_under(tmp_path) == before


def test_a_plan_with_an_escaping_key_is_refused_before_anything_is_written(
    sweep_copy, tmp_path, capsys
):
    plan = json.loads((sweep_copy / "plan.json").read_text())
    plan["stages"][0]["tasks"][0]["key"] = "../../escaped"
    (sweep_copy / "plan.json").write_text(json.dumps(plan))
    before = files_under(tmp_path)
    for command in ("status", "resubmit", "cancel"):
        code, _, err = run_cli(capsys, command, sweep_copy)
        assert code == 2
        line = one_error_line(err)
        assert "plan.json" in line and "'../../escaped' is not a safe path" in line
    assert files_under(tmp_path) == before
    assert not (tmp_path / "escaped").exists()


def test_sweep_folder_paths_outside_the_root_are_refused(tmp_path):
    folder = SweepFolder(tmp_path / "sweep")
    assert folder.inside(folder.root / "tasks" / "a") == folder.root / "tasks" / "a"
    with pytest.raises(SweepError, match="outside the sweep folder"):
        folder.inside(folder.root / ".." / "elsewhere")


# ------------------------------------------------------------------ damage


def test_a_torn_status_file_makes_only_its_task_unknown_and_resubmit_reruns_it(sweep_copy, capsys):
    folder = SweepFolder(sweep_copy)
    torn = folder.status_path(TRAIN_EN)
    torn.write_bytes(torn.read_bytes()[:40])  # a write cut short
    folder.status_path(TRAIN_FR).write_text('["not", "a", "status"]')
    folder.status_path("prepare").write_text(json.dumps({"key": "prepare", "attempts": "many"}))

    code, out, err = run_cli(capsys, "status", sweep_copy, "--json")
    assert code == 1 and not err
    tasks = {t["key"]: t for t in json.loads(out)["tasks"]}
    for key in (TRAIN_EN, TRAIN_FR, "prepare"):
        assert tasks[key]["state"] == "unknown", tasks[key]
        assert str(folder.status_path(key)) in tasks[key]["reason"]
    assert "attempts" in tasks["prepare"]["reason"]
    assert {t["state"] for k, t in tasks.items() if k not in (TRAIN_EN, TRAIN_FR, "prepare")} == {
        "done"
    }
    code, out, err = run_cli(capsys, "status", sweep_copy)
    assert code == 1 and "Traceback" not in err

    code, out, err = run_cli(capsys, "resubmit", sweep_copy, "--quiet")
    assert code == 0, err
    tasks = status_json(sweep_copy, capsys)
    assert {t["state"] for t in tasks.values()} == {"done"}
    # the outputs of the reruns' first runs are kept, not deleted
    kept = list(folder.task_dir(TRAIN_EN).glob("output.replaced-*"))
    assert len(kept) == 1 and (kept[0] / "value.txt").read_text() == TRAIN_EN


@pytest.mark.parametrize(
    "name, damage",
    [
        ("plan.json", b'{"stages": [{"name": "prepare", "tasks": [{"key"'),
        ("plan.json", b'{"stages": 7}'),
        ("plan.json", b"\xff\xfe not text"),
        ("sweep.json", b"[1, 2]"),
        ("sweep.json", b"{torn"),
        ("config.yaml", b"study: [unclosed"),
        ("config.yaml", b"- a list\n- not a config\n"),
    ],
)
def test_a_damaged_sweep_file_gives_one_line_naming_it(sweep_copy, capsys, name, damage):
    (sweep_copy / name).write_bytes(damage)
    statuses = snapshot_statuses(sweep_copy)
    commands = ["resubmit"] + (["status", "cancel"] if name != "config.yaml" else [])
    for command in commands:
        code, _, err = run_cli(capsys, command, sweep_copy)
        assert code == 2, (command, err)
        assert name in one_error_line(err)
    assert snapshot_statuses(sweep_copy) == statuses


def snapshot_statuses(sweep: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sweep.glob("tasks/**/status.json")}


# ------------------------------------------------------------------ durability


def test_outputs_are_fsynced_before_the_rename_and_the_folder_after(tmp_path, monkeypatch):
    folder = SweepFolder(tmp_path / "sweep")
    tmp = folder.task_dir("split") / "output.tmp-1"
    (tmp / "nested").mkdir(parents=True)
    (tmp / "a.txt").write_text("a")
    (tmp / "nested" / "b.txt").write_text("b")
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", str(src)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    folder.publish_output("split", tmp)

    rename = events.index(("replace", str(tmp)))
    synced_before = {path for kind, path in events[:rename] if kind == "fsync"}
    assert {str(tmp / "a.txt"), str(tmp / "nested" / "b.txt"), str(tmp / "nested")} <= (
        synced_before
    )
    assert ("fsync", str(folder.task_dir("split"))) in events[rename:]
    assert (folder.output_dir("split") / "nested" / "b.txt").read_text() == "b"


def vanishing_stage(ctx) -> dict:
    """Removes its own output folder: publishing it then fails (as on a full disk)."""
    shutil.rmtree(ctx.output_dir)
    return {}


def test_a_failure_to_publish_outputs_is_recorded_with_its_reason(tmp_path):
    data = fake_sweep_config(
        engine_overrides={"stage_impl": {"prepare": f"{__name__}:vanishing_stage"}}
    )
    folder, _ = create_sweep(validate_config(data), tmp_path / "sweep", "local", "test")
    with pytest.raises(runner.TaskFailed, match="could not publish its outputs"):
        runner.run_task(folder.root, "prepare", 0)
    status = folder.read_status("prepare")
    assert (status.state, status.cause) == (State.FAILED, Cause.ERROR)
    assert "could not publish its outputs" in status.reason and "No such file" in status.reason


# ------------------------------------------------------------------ the lock


def test_a_resubmit_during_a_running_local_sweep_is_refused_and_cancel_stops_the_sweep(
    fake_config_file, tmp_path, capsys
):
    sweep = tmp_path / "sweep"
    proc = start_sweep_with_a_sleeper(fake_config_file(), sweep, "prepare")
    try:
        before = settled_snapshot(sweep)  # the task has set itself up and sleeps
        code, _, err = run_cli(capsys, "resubmit", sweep, "--quiet")
        assert code == 2
        line = one_error_line(err)
        assert "is busy: `launch sweep` (local) holds its lock" in line
        assert f"pid {proc.pid} on {socket.gethostname()}" in line
        assert snapshot(sweep) == before

        code, out, err = run_cli(capsys, "cancel", sweep)
        assert code == 0, err
        assert "cancelled 1 task(s)" in out
        proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1

    tasks = status_json(sweep, capsys)
    assert (tasks["prepare"]["state"], tasks["prepare"]["cause"]) == ("failed", "cancelled")
    skipped = {k: t for k, t in tasks.items() if k != "prepare"}
    assert {(t["state"], t["cause"], t["attempts"]) for t in skipped.values()} == {
        ("failed", "cancelled", 0)
    }
    assert all("before it started" in t["reason"] for t in skipped.values())

    code, _, err = run_cli(capsys, "resubmit", sweep, "--quiet")
    assert code == 0, err
    assert {t["state"] for t in status_json(sweep, capsys).values()} == {"done"}


def test_a_resubmit_while_another_holds_the_lock_changes_nothing(sweep_copy, capsys):
    folder = SweepFolder(sweep_copy)
    folder.status_path(TRAIN_EN).unlink()  # something to resubmit
    before = snapshot(sweep_copy)
    with folder.lock("submit", wait=False, purpose="`launch resubmit`"):
        code, _, err = run_cli(capsys, "resubmit", sweep_copy)
    assert code == 2
    assert f"`launch resubmit` holds its lock (pid {os.getpid()}" in one_error_line(err)
    assert snapshot(sweep_copy) == before


# ------------------------------------------------------------------ cancel


def runner_lookalike(sweep: Path, stage: str, index: int) -> subprocess.Popen:
    """A process whose command line reads like a task's (`-m babelsum.runner SWEEP STAGE I`)."""
    return subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(300)", "-m", "babelsum.runner"]
        + [str(sweep), stage, str(index), "local-test"]
    )


def test_cancel_signals_only_a_pid_that_is_still_the_tasks_on_this_host(tmp_path, capsys):
    folder, plan = create_sweep(
        validate_config(fake_sweep_config()), tmp_path / "sweep", "local", "test"
    )
    train = plan.stage("train").tasks
    task, other_host, recycled, stranger = (
        train[0],
        train[1],
        plan.stage("prepare").tasks[0],
        plan.stage("split").tasks[0],
    )
    procs = {
        task.key: runner_lookalike(folder.root, task.stage, task.index),
        other_host.key: runner_lookalike(folder.root, other_host.stage, other_host.index),
        recycled.key: runner_lookalike(folder.root, recycled.stage, recycled.index),
        stranger.key: subprocess.Popen(["sleep", "300"]),  # not a task process at all
    }
    try:
        time.sleep(0.5)  # the lookalikes' command lines are in place
        here = socket.gethostname()
        for t, host, started in (
            (task, here, time.time()),
            (other_host, "another-node", time.time()),
            (recycled, here, time.time() - 3600),  # the task ran long before this process
            (stranger, here, time.time()),
        ):
            folder.write_status(
                TaskStatus(
                    t.key,
                    t.stage,
                    t.index,
                    state=State.RUNNING,
                    executor="local",
                    host=host,
                    pid=procs[t.key].pid,
                    started=started,
                )
            )
        tasks = status_json(folder.root, capsys)
        assert tasks[recycled.key]["state"] == "lost"  # its pid belongs to another process
        assert tasks[stranger.key]["state"] == "lost"

        code, out, _ = run_cli(capsys, "cancel", folder.root)
        assert code == 1  # one task could not be stopped from here
        assert f"{other_host.key}: not stopped, it runs on another-node" in out
        assert procs[task.key].wait(timeout=30) == -signal.SIGTERM
        for key in (other_host.key, recycled.key, stranger.key):
            assert procs[key].poll() is None, f"{key}'s pid was signalled"
        assert folder.read_status(task.key).cause == Cause.CANCELLED
        assert folder.read_status(other_host.key).state == State.RUNNING
        assert folder.cancel_requested()
    finally:
        for proc in procs.values():
            proc.kill()
            proc.wait()


# ------------------------------------------------------------------ config edited after submit


def test_a_config_edited_after_submit_is_refused_then_taken_with_the_flag(
    fake_config_file, tmp_path, capsys
):
    config = fake_config_file()
    sweep = tmp_path / "sweep"
    code, _, err = run_cli(
        capsys, "sweep", config, "evaluate.max_new_tokens=99", "--sweep-dir", sweep, "--quiet"
    )
    assert code == 0, err
    assert run_cli(capsys, "resubmit", sweep, "--quiet")[1].startswith("every task is done")

    edited = yaml.safe_load(config.read_text())
    edited["train"]["methods"][0]["learning_rate"] = 0.5
    edited["evaluate"]["test_sets"] = ["novel", "same_topic"]
    config.write_text(yaml.safe_dump(edited))
    before = snapshot(sweep)
    code, _, err = run_cli(capsys, "resubmit", sweep, "--quiet")
    assert code == 2 and "Traceback" not in err
    lines = err.splitlines()
    assert "was edited after this sweep was submitted: 3 task(s) changed" in lines[0]
    assert "error:   changed: gather" in lines  # it reads the test sets
    assert f"error:   changed: {TRAIN_EN}" in lines and f"error:   changed: {TRAIN_FR}" in lines
    assert any(line.startswith("error:   new:     evaluate/") for line in lines)
    assert "--accept-config-change" in lines[-1]
    assert snapshot(sweep) == before
    # --dry-run says the same, and with the flag, what would rerun; it changes nothing
    code, _, dry_err = run_cli(capsys, "resubmit", sweep, "--dry-run")
    assert code == 2 and dry_err.splitlines() == lines
    code, out, err = run_cli(capsys, "resubmit", sweep, "--dry-run", "--accept-config-change")
    assert code == 0, err
    listed = out.splitlines()
    assert listed[0].startswith("would take the edited config")
    assert f"  {TRAIN_EN}  (done)" in listed and "  gather  (done)" in listed
    assert not any(line.startswith("  prepare ") for line in listed)
    assert snapshot(sweep) == before

    attempts = {k: t["attempts"] for k, t in status_json(sweep, capsys).items()}
    code, out, err = run_cli(capsys, "resubmit", sweep, "--quiet", "--accept-config-change")
    assert code == 0, err
    assert "taking the edited config" in out
    tasks = status_json(sweep, capsys)
    assert {t["state"] for t in tasks.values()} == {"done"}
    assert tasks[TRAIN_EN]["attempts"] == 1  # a new task: its count starts again
    rerun = {k for k, t in tasks.items() if k in attempts and t["attempts"] != attempts[k]}
    assert "prepare" not in rerun and "split" not in rerun
    assert any(k.endswith("/same_topic") for k in tasks)
    folder = SweepFolder(sweep)
    kept = list(folder.task_dir(TRAIN_EN).glob("output.replaced-*"))
    assert len(kept) == 1 and (kept[0] / "value.txt").read_text() == TRAIN_EN
    resolved = yaml.safe_load(folder.config_path.read_text())
    assert resolved["train"]["methods"][0]["learning_rate"] == 0.5
    assert resolved["evaluate"]["max_new_tokens"] == 99  # the override still applies


def test_an_upgrade_that_changes_defaults_is_not_an_edit_and_every_file_is_read_again(
    fake_config_file, tmp_path, capsys
):
    config = fake_config_file()
    profile = tmp_path / "profile.yaml"
    profile.write_text("evaluate: {max_new_tokens: 77}\n")
    sweep = tmp_path / "sweep"
    code, _, err = run_cli(capsys, "sweep", config, profile, "--sweep-dir", sweep, "--quiet")
    assert code == 0, err
    # what an older babelsum resolved: another default in the stored config, same authored one
    folder = SweepFolder(sweep)
    resolved = yaml.safe_load(folder.config_path.read_text())
    resolved["evaluate"]["relative_floor"] = 0.01
    resolved["evaluate"]["max_new_tokens"] = 77
    folder.config_path.write_text(yaml.safe_dump(resolved))
    assert run_cli(capsys, "resubmit", sweep, "--quiet")[1].startswith("every task is done")
    # an edit in the second file is an edit
    profile.write_text("evaluate: {max_new_tokens: 55}\n")
    code, _, err = run_cli(capsys, "resubmit", sweep, "--quiet")
    assert code == 2 and "was edited after this sweep was submitted" in err
    assert str(profile) in err.splitlines()[0]


def test_a_file_the_config_names_edited_after_submit_is_an_edit(fake_config_file, tmp_path, capsys):
    """A DeepSpeed JSON or a prompt set of one's own shapes what tasks write, like the
    config: editing one after submission is refused (naming the field and the tasks), then
    taken with the flag; the sweep then compares with the new version."""
    deepspeed = tmp_path / "zero.json"
    deepspeed.write_text(json.dumps({"zero_optimization": {"stage": 2}}))
    prompts = tmp_path / "my-prompts"
    shutil.copytree(REPO / "src/babelsum/models/prompts/sets/default", prompts)
    config = fake_config_file(
        train={
            "languages": ["en", "fr"],
            "methods": [{"model": "tiny", "method": "full", "deepspeed": str(deepspeed)}],
        },
        prompts={"student": "my-prompts"},  # relative: from the config's folder
    )
    sweep = tmp_path / "sweep"
    code, _, err = run_cli(capsys, "sweep", config, "--sweep-dir", sweep, "--quiet")
    assert code == 0, err
    assert run_cli(capsys, "resubmit", sweep, "--quiet")[1].startswith("every task is done")

    deepspeed.write_text(json.dumps({"zero_optimization": {"stage": 3}}))
    before = snapshot(sweep)
    code, _, err = run_cli(capsys, "resubmit", sweep, "--quiet")
    assert code == 2 and "Traceback" not in err
    lines = err.splitlines()
    assert lines[0].startswith("error: the file train.methods[0].deepspeed names was edited after")
    assert f"error:   changed: {TRAIN_EN}" in lines and f"error:   changed: {TRAIN_FR}" in lines
    assert not any("changed: evaluate/tiny/base" in line for line in lines)
    assert snapshot(sweep) == before

    code, out, err = run_cli(capsys, "resubmit", sweep, "--quiet", "--accept-config-change")
    assert code == 0, err
    assert run_cli(capsys, "resubmit", sweep, "--quiet")[1].startswith("every task is done")

    template = next(p for p in sorted(prompts.rglob("*")) if p.is_file())
    template.write_text(template.read_text() + "\n")
    code, _, err = run_cli(capsys, "resubmit", sweep, "--quiet")
    assert code == 2 and "the file prompts.student names was edited after" in err
    assert "changed: evaluate/tiny/base/en/novel" in err  # the student prompts evaluate too
    # a job that starts after the edit (it waited in the queue) refuses to run on it
    plan = SweepFolder(sweep).read_plan()
    base = next(t for t in plan.stage("evaluate").tasks if t.key == "evaluate/tiny/base/en/novel")
    with pytest.raises(runner.TaskFailed, match="prompts.student names was edited after"):
        runner.run_task(sweep, "evaluate", base.index)
    assert "--accept-config-change" in SweepFolder(sweep).read_status(base.key).reason
    code, _, err = run_cli(capsys, "resubmit", sweep, "--quiet", "--accept-config-change")
    assert code == 0, err
    assert {t["state"] for t in status_json(sweep, capsys).values()} == {"done"}


def test_a_long_list_of_changed_tasks_is_cut_at_twenty_with_a_count():
    change = PlanChange([f"train/m/full/l{i}" for i in range(25)], ["new/x"], ["gone/y"])
    lines = change.lines()
    assert len(lines) == 21 and lines[-1] == "  ... and 7 more"


# ------------------------------------------------------------------ two resubmits on SLURM


def test_two_resubmits_at_once_on_slurm_queue_each_task_once(
    slurm_cluster, fake_config_file, tmp_path, capsys, monkeypatch
):
    sweep = tmp_path / "sweep"
    monkeypatch.setenv("TEST_FAIL_KEYS", "teacher/shard-0001")
    config = fake_config_file()
    code, _, err = run_cli(capsys, "sweep", config, "--sweep-dir", sweep, "--executor", "slurm")
    assert code == 0, err
    settled = ("done", "failed", "blocked", "lost")
    wait_until(lambda: all(t["state"] in settled for t in status_json(sweep, capsys).values()))
    monkeypatch.delenv("TEST_FAIL_KEYS")
    before = status_json(sweep, capsys)
    rerun = {v.task.key for v in api.to_rerun(sweep)[0]}
    assert "teacher/shard-0001" in rerun and "split" in rerun

    resubmits = [
        subprocess.Popen(
            [sys.executable, "-m", "babelsum.cli", "resubmit", str(sweep)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = [(p.wait(timeout=300), *p.communicate()) for p in resubmits]
    # one resubmits; the others find it holding the lock, or its tasks queued (or, if they
    # came that late, nothing left to do)
    assert len([out for _, out, _ in results if "resubmitting" in out]) == 1, results
    for code, out, err in results:
        assert "Traceback" not in err
        if "resubmitting" not in out:
            refused = code == 2 and ("is busy" in err or "still queued or running" in err)
            assert refused or (code == 0 and "nothing to resubmit" in out), (code, out, err)

    wait_until(lambda: all(t["state"] == "done" for t in status_json(sweep, capsys).values()))
    after = status_json(sweep, capsys)
    for key, task in after.items():
        assert task["attempts"] == before[key]["attempts"] + (key in rerun), key
    # submitit's job folders (JOBID, JOBID_INDEX): the teacher was submitted twice, as an
    # array of 2 shards, then shard 1 alone once more
    folders = [p.name for p in (sweep / "jobs" / "teacher").iterdir() if p.is_dir()]
    assert len({name.split("_")[0] for name in folders}) == 2, folders


def wait_until(predicate, timeout: float = 300, poll: float = 1.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(poll)
    raise AssertionError("timed out waiting")
