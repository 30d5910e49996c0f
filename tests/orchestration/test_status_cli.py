"""What a researcher reads in the terminal: `launch status` (table, --json, --watch), `launch list`,
`latest`, `--version`, shell completion, `launch ui`'s command line, and output piped into head.

The sweeps are real (the local executor running the test-only stages of fake_stages.py) or
created by babelsum itself with planted status files and journals.
"""

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from babelsum.cli import main
from babelsum.config import validate_config
from babelsum.progress import stage_progress
from babelsum.state import State, SweepFolder, TaskStatus
from babelsum.status_view import plain_status, rich_status, sweep_status
from babelsum.sweep import create_sweep, read_statuses, task_views
from babelsum.tracking import Tracker
from tests.orchestration.fake_sweep import REPO, fake_sweep_config, run_fake_sweep

FAILING = "train/tiny/full/fr"


@pytest.fixture(scope="module")
def failed_sweep(tmp_path_factory) -> Path:
    """A finished local sweep whose task FAILING failed (its evaluations are blocked)."""
    root = tmp_path_factory.mktemp("failed")
    # --no-preflight: preflight is not what is tested here
    assert run_fake_sweep(root, "--no-preflight", env={"TEST_FAIL_KEYS": FAILING}) == 1
    return root / "sweep"


def new_sweep(path: Path, created: float | None = None) -> SweepFolder:
    """A sweep folder written by babelsum, no task run yet."""
    config = validate_config(fake_sweep_config())
    folder, _ = create_sweep(config, path, "local", "config.yaml")
    if created is not None:
        folder.update_meta(created=created)
    return folder


def plant(folder: SweepFolder, key: str, state: str, **fields) -> None:
    stage = key.split("/", 1)[0]
    folder.write_status(TaskStatus(key, stage, 0, state=State(state), **fields))


def row(out: str, stage: str) -> list[str]:
    return next(line.split() for line in out.splitlines() if line.startswith(f"{stage} "))


# ------------------------------------------------------------------ launch status


def test_status_table_shows_counts_and_each_failure_with_its_cause_and_log(failed_sweep, capsys):
    capsys.readouterr()
    assert main(["status", str(failed_sweep)]) == 1  # a task failed
    out = capsys.readouterr().out
    header = next(line.split() for line in out.splitlines() if line.startswith("stage"))
    assert (
        header == "stage tasks done running pending failed blocked lost elapsed remaining".split()
    )
    # train: 2 tasks, 1 done, 1 failed; evaluate: 4 done, the failed model's 2 blocked
    assert row(out, "train")[:8] == ["train", "2", "1", "0", "0", "1", "0", "0"]
    assert row(out, "evaluate")[:8] == ["evaluate", "6", "4", "0", "0", "0", "2", "0"]
    assert row(out, "train")[9] == "-"  # nothing left to run
    assert f"{FAILING}: [error] planted failure in {FAILING}" in out
    log = SweepFolder(failed_sweep).log_path(FAILING)
    assert f"log: {log}" in out and log.is_file()
    assert "\x1b[" not in out  # not a terminal: no colour codes


def test_status_json_carries_causes_log_paths_and_stage_progress(failed_sweep, capsys):
    capsys.readouterr()
    assert main(["status", str(failed_sweep), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    tasks = {t["key"]: t for t in data["tasks"]}
    assert tasks[FAILING]["state"] == "failed" and tasks[FAILING]["cause"] == "error"
    assert tasks[FAILING]["reason"] == f"planted failure in {FAILING}"
    assert Path(tasks[FAILING]["log"]).is_file()
    assert tasks[FAILING]["started"] <= tasks[FAILING]["ended"]
    stages = {s["stage"]: s for s in data["stages"]}
    assert stages["train"]["counts"] == {"done": 1, "failed": 1}
    assert stages["train"]["remaining_s"] == 0.0 and stages["train"]["elapsed_s"] >= 0
    assert data["study"] == "orchestration-test" and data["training"] == []


def test_rich_table_on_a_terminal_has_colour_and_the_same_numbers(failed_sweep):
    from rich.console import Console

    from babelsum import api
    from babelsum.sweep import open_sweep

    folder, plan = open_sweep(failed_sweep)
    status = sweep_status(folder, plan, api.views(folder, plan))
    console = Console(file=io.StringIO(), force_terminal=True, width=100, color_system="standard")
    console.print(rich_status(status))
    out = console.file.getvalue()
    assert "\x1b[" in out  # coloured
    plain = Console(file=io.StringIO(), width=100, color_system=None)
    plain.print(rich_status(status))
    text = plain.file.getvalue()
    assert row(text, "train")[:8] == ["train", "2", "1", "·", "·", "1", "·", "·"]
    assert "planted failure" in text and "error" in text


def test_remaining_time_comes_from_done_tasks_and_is_unknown_before(tmp_path):
    folder = new_sweep(tmp_path / "sweep")
    plan = folder.read_plan()
    plant(folder, "train/tiny/full/en", "done", started=1000.0, ended=1100.0, attempts=1)
    plant(folder, "train/tiny/full/fr", "running", started=1050.0, attempts=1)
    plant(folder, "evaluate/tiny/base/en/novel", "running", started=1070.0, attempts=1)
    statuses = read_statuses(folder, plan)
    views = task_views(plan, statuses, {})  # no executor recorded: nothing is looked up
    stages = {s.stage: s for s in stage_progress(plan, views, now=1080.0)}
    # one done train task took 100 s; the running one started 30 s ago: about 70 s left
    assert stages["train"].remaining_s == pytest.approx(70.0)
    assert stages["train"].elapsed_s == pytest.approx(80.0)
    assert stages["evaluate"].remaining_s is None  # no evaluation done yet
    out = plain_status(sweep_status(folder, plan, views, now=1080.0))
    assert row(out, "train")[-2:] == ["1m20s", "~1m10s"]
    assert row(out, "evaluate")[-1] == "?"


def test_a_running_training_task_shows_its_latest_step(tmp_path, capsys):
    folder = new_sweep(tmp_path / "sweep")
    key = "train/tiny/full/en"
    plant(folder, key, "running", started=1000.0, attempts=1)
    # what the train stage and its TrainingMetrics callback journal
    tracker = Tracker(folder.journal_path(key))
    tracker.start(1)
    tracker.log_params({"model_path": "unused", "max_steps": 500, "method": "full"})
    for step, loss in ((10, 3.25), (20, 2.5)):
        tracker.log_metrics({"loss": loss, "epoch": step / 50, "learning_rate": 1e-4}, step=step)
    tracker.log_metrics({"val_rougeL": 0.1}, step=20)
    tracker.close()
    capsys.readouterr()
    assert main(["status", str(folder.root)]) == 0
    out = capsys.readouterr().out
    assert f"{key}: step 20/500 (epoch 0.40, loss 2.5), logged " in out
    assert main(["status", str(folder.root), "--json"]) == 0
    training = json.loads(capsys.readouterr().out)["training"]
    assert [(t["key"], t["step"], t["max_steps"]) for t in training] == [(key, 20, 500)]


@pytest.mark.timeout(120)
def test_watch_of_a_finished_sweep_returns_at_once(failed_sweep, capsys):
    capsys.readouterr()
    # an hour between refreshes: returning at all means it did not wait for one
    assert main(["status", str(failed_sweep), "--watch", "3600"]) == 1
    out = capsys.readouterr().out
    assert [line.split()[:2] for line in out.splitlines()].count(["stage", "tasks"]) == 1
    assert "planted failure" in out


def test_watch_rejects_a_sweep_folder_in_place_of_seconds(failed_sweep, capsys):
    assert main(["status", "--watch", str(failed_sweep)]) == 2
    assert "is not a number of seconds (the sweep folder comes first" in capsys.readouterr().err


# ------------------------------------------------------------------ launch list, latest


@pytest.fixture
def sweeps_root(tmp_path) -> Path:
    """sweeps/: an older sweep with a failed task, a newer one not started, a damaged one,
    and a folder that is not a sweep."""
    root = tmp_path / "sweeps"
    old = new_sweep(root / "study-old", created=1_000_000.0)
    plant(old, "prepare", "failed", reason="boom", attempts=1)
    new_sweep(root / "study-new", created=2_000_000.0)
    damaged = new_sweep(root / "study-damaged", created=3_000_000.0)
    damaged.meta_path.write_text("{not json")
    (root / "notes").mkdir()
    (root / "notes" / "todo.txt").write_text("not a sweep")
    return root


def test_list_shows_sweeps_newest_first_with_their_state_and_a_damaged_one(sweeps_root, capsys):
    assert main(["list", str(sweeps_root)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == "sweep study age executor done running failed state".split()
    rows = {line.split()[0]: line.split() for line in lines[1:] if line and ":" not in line}
    assert set(rows) == {"study-damaged", "study-new", "study-old"}  # notes/ is skipped
    assert rows["study-new"][1] == "orchestration-test" and rows["study-new"][3] == "local"
    assert rows["study-new"][4:] == ["0/13", "0", "0", "pending"]
    assert rows["study-old"][4:] == ["0/13", "0", "1", "failed"]
    assert rows["study-damaged"][-1] == "damaged"
    newest_first = [line.split()[0] for line in lines[1:4]]
    assert newest_first.index("study-new") < newest_first.index("study-old")
    assert "study-damaged: damaged: " in out and "sweep.json" in out
    assert "Traceback" not in out


def test_latest_is_the_newest_readable_sweep(sweeps_root, monkeypatch, capsys):
    monkeypatch.setenv("BABELSUM_SWEEPS", str(sweeps_root))
    assert main(["status", "latest", "--json"]) == 0
    captured = capsys.readouterr()
    newest = (sweeps_root / "study-new").resolve()
    assert json.loads(captured.out)["sweep"] == str(newest)
    assert f"latest: {newest}" in captured.err  # says which one it picked
    assert main(["resubmit", "latest", "--dry-run"]) == 0
    assert "resubmitting 13 task(s)" in capsys.readouterr().out


def test_latest_defaults_to_sweeps_in_the_working_folder(sweeps_root, monkeypatch, capsys):
    monkeypatch.delenv("BABELSUM_SWEEPS", raising=False)
    monkeypatch.chdir(sweeps_root.parent)
    assert main(["list"]) == 0
    assert "study-new" in capsys.readouterr().out
    assert main(["status", "latest"]) == 0
    assert "study-new" in capsys.readouterr().err


def test_latest_without_sweeps_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BABELSUM_SWEEPS", str(tmp_path / "none"))
    assert main(["status", "latest"]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("error: `latest` means the newest sweep under") and "BABELSUM_SWEEPS" in err
    )


# ------------------------------------------------------------------ --version, completion, ui


def test_version_names_babelsum_python_and_the_ml_stack_without_importing_it():
    code = (
        "import sys\nfrom babelsum.cli import main\n"
        "assert main(['--version']) == 0\n"
        "print('torch imported' if 'torch' in sys.modules else 'torch not imported')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    from importlib.metadata import version

    first = out.splitlines()[0]
    assert first.startswith(f"babelsum {version('babelsum')} (python {sys.version.split()[0]}")
    assert f"torch {version('torch')}" in first and "transformers " in first
    assert out.splitlines()[1] == "torch not imported"


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_completion_script_knows_the_commands(shell, capsys):
    assert main(["completion", shell]) == 0
    script = capsys.readouterr().out
    for command in ("sweep", "status", "resubmit", "list", "logs", "ui", "completion"):
        assert command in script
    assert "--watch" in script and "--executor" in script
    if shell == "zsh":
        assert script.startswith("#compdef launch")
        if shutil.which("zsh"):
            subprocess.run(["zsh", "-n"], input=script, text=True, check=True)  # it parses
        return
    assert script.rstrip().endswith("-F _shtab_launch launch")
    for line, expected in (("launch st", "status"), ("launch status --wa", "--watch")):
        words = line.split()
        complete = (
            f"COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; COMP_LINE='{line}'; "
            f"COMP_POINT={len(line)}; _shtab_launch launch {words[-1]} {words[-2]}; "
            'echo "${COMPREPLY[@]}"'
        )
        out = subprocess.run(
            ["bash", "-c", f"{script}\n{complete}"], capture_output=True, text=True, check=True
        ).stdout
        assert out.split() == [expected]


def test_help_has_an_example_per_command(capsys):
    for command in ("sweep", "status", "list", "resubmit", "logs", "ui", "completion"):
        assert main([command, "--help"]) == 0
        out = capsys.readouterr().out
        assert "examples:\n  launch " + command in out


def test_ui_passes_port_and_host_to_the_mlflow_command(tmp_path, capsys):
    folder = new_sweep(tmp_path / "sweep")
    (folder.root / "mlflow.db").touch()  # the sweep's local store (the UI is not started)
    args = ["ui", str(folder.root), "--port", "5123", "--host", "0.0.0.0", "--dry-run"]
    assert main(args) == 0
    captured = capsys.readouterr()
    command = captured.out.removeprefix("would run: ").split()
    assert command[command.index("--port") + 1] == "5123"
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert f"sqlite:///{folder.root / 'mlflow.db'}" in command
    assert "the MLflow UI has no login" in captured.err
    assert main(["ui", str(folder.root), "--dry-run"]) == 0
    command = capsys.readouterr().out.split()
    assert command[command.index("--host") + 1] == "127.0.0.1"
    assert command[command.index("--port") + 1] == "5000"


# ------------------------------------------------------------------ piped into head


@pytest.mark.parametrize("command", ["status --json", "logs"])
def test_output_piped_into_head_ends_without_a_traceback(tmp_path, command):
    """Enough output to fill the pipe after head has gone: every later write fails (EPIPE)."""
    folder = new_sweep(tmp_path / "sweep")
    key = "prepare"
    log = folder.log_path(key)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("".join(f"line {i} of a long log\n" for i in range(100_000)))
    long_error = "Traceback (most recent call last):\nValueError: " + "x" * 50_000
    for task in folder.read_plan().tasks():
        folder.write_status(
            TaskStatus(
                task.key, task.stage, task.index, state=State.FAILED, error=long_error, log=str(log)
            )
        )
    args = f"{command} {folder.root}" + (f" {key}" if command == "logs" else "")
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}:{os.environ.get('PYTHONPATH', '')}"}
    result = subprocess.run(
        ["bash", "-c", f"{sys.executable} -m babelsum.cli {args} | head -1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.stdout.count("\n") == 1
    assert "Traceback" not in result.stderr and "BrokenPipeError" not in result.stderr
    assert result.stderr == ""
