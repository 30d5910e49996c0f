"""The sweep engine on a real single-node SLURM cluster (slurm/local-cluster), test-only stages."""

import json
import subprocess
import time
from pathlib import Path

import pytest

from babelsum.cli import main
from babelsum.state import SweepFolder
from tests.orchestration.fake_sweep import PROCESSES_OF_TWO_GROUPS, TWO_RESOURCE_GROUPS

pytestmark = pytest.mark.usefixtures("slurm_cluster")


def statuses(sweep: Path, capsys) -> dict:
    capsys.readouterr()
    # exit code 1 when something failed: the tests look at the states themselves
    assert main(["status", str(sweep), "--json"]) in (0, 1)
    return {t["key"]: t for t in json.loads(capsys.readouterr().out)["tasks"]}


def wait_until(predicate, timeout: float = 240, poll: float = 1.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError("timed out waiting")


def outputs(sweep: Path) -> dict[str, str]:
    """Every task's output files, to compare sweeps run on different backends."""
    root = sweep / "tasks"
    return {
        str(p.relative_to(root)): p.read_text()
        for p in sorted(root.rglob("output/*"))
        if p.is_file()
    }


def test_same_results_on_local_and_slurm_with_split_arrays(fake_config_file, tmp_path, capsys):
    # MaxArraySize 4 on our side: the 6 teacher shards go out as two arrays (indices 0-3, 0-1)
    config = fake_config_file(
        engine_overrides={"max_array_size": 4}, teacher={"backend": "lead", "shards": 6}
    )
    local, slurm = tmp_path / "local", tmp_path / "slurm"
    assert main(["sweep", str(config), "--sweep-dir", str(local), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["sweep", str(config), "--sweep-dir", str(slurm), "--executor", "slurm"]) == 0
    out = capsys.readouterr().out
    teacher_line = next(line for line in out.splitlines() if line.strip().startswith("teacher"))
    assert teacher_line.count(",") == 1, teacher_line  # two array jobs
    wait_until(lambda: all(t["state"] == "done" for t in statuses(slurm, capsys).values()))
    assert outputs(local) == outputs(slurm)
    tasks = statuses(slurm, capsys)
    assert all(t["job_id"] for t in tasks.values())


def test_a_train_method_with_its_own_resources_gets_an_array_of_its_own(
    fake_config_file, tmp_path, capsys
):
    config = fake_config_file(train={"languages": ["en", "fr"], "methods": TWO_RESOURCE_GROUPS})
    sweep = tmp_path / "sweep"
    assert main(["sweep", str(config), "--sweep-dir", str(sweep), "--executor", "slurm"]) == 0
    out = capsys.readouterr().out
    train_line = next(line for line in out.splitlines() if line.strip().startswith("train"))
    assert train_line.count(",") == 1, train_line  # two array jobs
    wait_until(lambda: all(t["state"] == "done" for t in statuses(sweep, capsys).values()))
    train = {k: t for k, t in statuses(sweep, capsys).items() if k.startswith("train/")}
    assert {k: t["summary"]["processes"] for k, t in train.items()} == PROCESSES_OF_TWO_GROUPS
    arrays = {k: t["array_job_id"] for k, t in train.items()}
    assert arrays["train/tiny/full/en"] == arrays["train/tiny/full/fr"]
    assert arrays["train/tiny/full/en"] != arrays["train/tiny/lora/en"]


def test_failed_task_on_slurm_blocks_dependents_then_resubmit(
    fake_config_file, tmp_path, capsys, monkeypatch
):
    sweep = tmp_path / "sweep"
    monkeypatch.setenv("TEST_FAIL_KEYS", "teacher/shard-0001")
    assert (
        main(["sweep", str(fake_config_file()), "--sweep-dir", str(sweep), "--executor", "slurm"])
        == 0
    )
    settled = ("done", "failed", "blocked", "lost")
    wait_until(lambda: all(t["state"] in settled for t in statuses(sweep, capsys).values()))
    tasks = statuses(sweep, capsys)
    assert tasks["teacher/shard-0001"]["state"] == "failed"
    assert tasks["teacher/shard-0000"]["state"] == "done"
    assert tasks["split"]["state"] == "blocked" and "teacher/shard-0001" in tasks["split"]["reason"]
    assert tasks["gather"]["state"] == "done"  # afterany: the sweep does not stall

    monkeypatch.delenv("TEST_FAIL_KEYS")
    capsys.readouterr()
    assert main(["resubmit", str(sweep)]) == 0
    wait_until(lambda: all(t["state"] == "done" for t in statuses(sweep, capsys).values()))
    tasks = statuses(sweep, capsys)
    assert tasks["teacher/shard-0000"]["attempts"] == 1
    assert tasks["teacher/shard-0001"]["attempts"] == 2


def test_cancelled_job_is_reported_lost_and_resubmitted(
    fake_config_file, tmp_path, capsys, monkeypatch
):
    sweep = tmp_path / "sweep"
    monkeypatch.setenv("TEST_SLEEP_KEYS", "prepare")
    assert (
        main(["sweep", str(fake_config_file()), "--sweep-dir", str(sweep), "--executor", "slurm"])
        == 0
    )
    status = wait_until(
        lambda: (s := SweepFolder(sweep).read_status("prepare")) and s.state == "running" and s
    )
    # scancel kills the job without giving it a chance to record anything, like the OOM killer
    subprocess.run(["scancel", "--signal=KILL", status.job_id.split("_")[0]], check=True)
    subprocess.run(["scancel", *[j for j in _all_job_ids(sweep)]], check=False)
    wait_until(lambda: statuses(sweep, capsys)["prepare"]["state"] == "lost")

    monkeypatch.delenv("TEST_SLEEP_KEYS")
    capsys.readouterr()
    assert main(["resubmit", str(sweep)]) == 0
    wait_until(lambda: all(t["state"] == "done" for t in statuses(sweep, capsys).values()))


def _all_job_ids(sweep: Path) -> list[str]:
    folder = SweepFolder(sweep)
    ids = []
    for path in (folder.root / "tasks").rglob("status.json"):
        job = json.loads(path.read_text()).get("array_job_id")
        if job:
            ids.append(job)
    return sorted(set(ids))


@pytest.mark.slow
def test_checkpointable_task_times_out_requeues_and_resumes(
    fake_config_file, tmp_path, capsys, monkeypatch
):
    """A train task with a 1-minute limit counts to 50, one step a second, keeping its step in
    its work folder. SLURM signals it 30 s before the limit, submitit requeues it, and the
    second run continues from the saved step instead of starting over."""
    sweep = tmp_path / "sweep"
    monkeypatch.setenv("TEST_STEPS", "50")
    config = fake_config_file(
        engine_overrides={
            "signal_delay_s": 30,
            "max_timeouts": 10,
            "stage_impl": {"train": "tests.orchestration.fake_stages:resumable"},
        },
        train={"languages": ["en"], "methods": [{"model": "tiny", "method": "full"}]},
        resources={"train": {"time": "00:01:00"}},
        evaluate={"test_sets": ["novel"], "languages": ["en"], "base_models": False},
    )
    assert main(["sweep", str(config), "--sweep-dir", str(sweep), "--executor", "slurm"]) == 0
    key = "train/tiny/full/en"
    wait_until(
        lambda: statuses(sweep, capsys)[key]["state"] in ("done", "failed", "lost"),
        timeout=600,
        poll=5,
    )
    task = statuses(sweep, capsys)[key]
    assert task["state"] == "done", task
    assert task["attempts"] >= 2
    starts = (SweepFolder(sweep).work_dir(key) / "starts.txt").read_text().split()
    # resumed, not restarted: each run starts where the last one stopped (SLURM may signal a
    # run before it made a step: its timer ticks every 30 s, so a start may repeat a count)
    counts = [int(s) for s in starts]
    assert counts[0] == 0 and counts == sorted(counts) and counts[-1] > 0
    assert task["summary"]["steps"] == 50


def test_each_job_waits_only_for_what_it_reads(fake_config_file, tmp_path, capsys, monkeypatch):
    """One slow and one fast training task: the fast model's evaluation (and the base model's)
    finishes before the slow training ends; gather waits for everything."""
    monkeypatch.setenv("TEST_SLOW_KEYS", "train/tiny/full/en")
    monkeypatch.setenv("TEST_SLOW_SECONDS", "45")
    sweep = tmp_path / "sweep"
    config = fake_config_file()
    assert main(["sweep", str(config), "--sweep-dir", str(sweep), "--executor", "slurm"]) == 0
    wait_until(lambda: all(t["state"] == "done" for t in statuses(sweep, capsys).values()), 400)
    folder = SweepFolder(sweep)
    ended = {k: folder.read_status(k).ended for k in statuses(sweep, capsys)}
    slow = ended["train/tiny/full/en"]
    assert ended["evaluate/tiny/full-fr/en/novel"] < slow
    assert ended["evaluate/tiny/base/fr/novel"] < slow
    assert ended["evaluate/tiny/full-en/en/novel"] > slow
    assert ended["gather"] == max(ended.values())


@pytest.mark.slow
def test_out_of_memory_and_time_limit_are_named_and_resubmit_raises_them(
    fake_config_file, tmp_path, capsys, monkeypatch
):
    """Planted: a training task that uses more memory than it asked for (SLURM kills it: the
    local cluster polls memory, as cgroups would), and one that runs past its time limit.
    status names each cause; resubmit doubles the time, triples the memory, and both finish."""
    monkeypatch.setenv("TEST_HOG_KEYS", "train/tiny/full/en")
    monkeypatch.setenv("TEST_HOG_MB", "200")
    monkeypatch.setenv("TEST_SLOW_KEYS", "train/tiny/full/fr")
    monkeypatch.setenv("TEST_SLOW_SECONDS", "75")
    config = fake_config_file(
        engine_overrides={"max_timeouts": 0, "signal_delay_s": 20, "retry": {"memory_factor": 3}},
        resources={"train": {"mem": "150M", "time": "00:01:00"}},
    )
    sweep = tmp_path / "sweep"
    assert main(["sweep", str(config), "--sweep-dir", str(sweep), "--executor", "slurm"]) == 0
    settled = ("done", "failed", "blocked", "lost")
    wait_until(lambda: all(t["state"] in settled for t in statuses(sweep, capsys).values()), 400)
    tasks = statuses(sweep, capsys)
    assert tasks["train/tiny/full/en"]["cause"] == "out_of_memory", tasks["train/tiny/full/en"]
    assert tasks["train/tiny/full/fr"]["cause"] == "time_limit", tasks["train/tiny/full/fr"]

    monkeypatch.setenv("TEST_SLOW_SECONDS", "40")  # the retry must show the new limit works
    capsys.readouterr()
    assert main(["resubmit", str(sweep)]) == 0
    out = capsys.readouterr().out
    assert "train/tiny/full/en: memory 150M -> 450M (out_of_memory)" in out
    assert "train/tiny/full/fr: time 00:01:00 -> 00:02:00 (time limit)" in out
    wait_until(lambda: all(t["state"] in settled for t in statuses(sweep, capsys).values()), 400)
    tasks = statuses(sweep, capsys)
    assert {t["state"] for t in tasks.values()} == {"done"}, {
        k: (t["state"], t["reason"]) for k, t in tasks.items() if t["state"] != "done"
    }
