"""The same promises at the process level: `launch` as a program (`.venv/bin/launch`, or
`python -m babelsum.cli`) exits non-zero with one `error:` line and no traceback.

The permission rows run `launch` as the unprivileged user `nobody` (root reads anything):
a config or sweep folder it may not read or write is one line, not a traceback. They need
root and `setpriv`; elsewhere they are skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from tests.bad_input.conftest import (
    CACHE,
    Result,
    Sandbox,
    assert_nothing_written,
    assert_refused,
)
from tests.bad_input.test_configs import BOMB, STUDY
from tests.bad_input.test_sweep_damage import DEEP, STATUS
from tests.orchestration.fake_sweep import REPO

LAUNCH = Path(sys.executable).with_name("launch")
AS_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


@pytest.fixture
def shared_sandbox():
    """A sandbox `nobody` can enter (tmp_path's parents are private to root)."""
    root = Path(tempfile.mkdtemp(prefix="babelsum-bad-input-", dir="/tmp"))
    root.chmod(0o777)
    (root / "home").mkdir(mode=0o777)
    yield Sandbox(root)
    shutil.rmtree(root, ignore_errors=True)


def run(sandbox: Sandbox, *argv, user: list[str] = (), module: bool = False) -> Result:
    program = [sys.executable, "-m", "babelsum.cli"] if module or user else [str(LAUNCH)]
    env = os.environ | {
        "HOME": str(sandbox.root / "home"),
        "BABELSUM_CACHE": str(sandbox.root / CACHE / "babelsum"),
        "XDG_CACHE_HOME": str(sandbox.root / CACHE),
        "BABELSUM_SWEEPS": str(sandbox.root / "sweeps"),
        "PYTHONPATH": f"{REPO}:{REPO / 'src'}",
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    done = subprocess.run(
        [*user, *program, *map(str, argv)],
        cwd=sandbox.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def a_sweep(done_sweep: Path, sandbox: Sandbox, mode: int) -> Path:
    """A copy of the done sweep whose folders have `mode` (files: readable by all)."""
    sweep = sandbox.sweep
    shutil.copytree(done_sweep, sweep, symlinks=True)
    for path in [sweep, *sweep.rglob("*")]:
        path.chmod(mode if path.is_dir() else 0o644)
    return sweep


def torn_plan(sweep: Path) -> None:
    (sweep / "plan.json").write_bytes(DEEP)


def nan_status(sweep: Path) -> None:
    (sweep / STATUS).write_text(
        '{"key": "train/tiny/full/en", "stage": "train", "index": 0, "started": NaN}'
    )


# (id, files, sweep damage (None: no sweep), argv, culprits, exit code)
PROCESSES = [
    ("config-5000-digits", {"s.yaml": STUDY + "seed: " + "9" * 5000 + "\n"}, None, ["config", "s.yaml"], ["s.yaml", "5000 digits"], 2),
    ("sweep-alias-bomb", {"s.yaml": BOMB}, None, ["sweep", "s.yaml", "--no-preflight"], ["s.yaml", "aliases"], 2),
    ("sweep-jobs-negative", {"s.yaml": STUDY}, None, ["sweep", "s.yaml", "--jobs", "-1"], ["--jobs", "-1"], 2),
    ("status-a-file", {"file.txt": "x"}, None, ["status", "file.txt"], ["file.txt is not a sweep folder"], 2),
    ("resubmit-plan-nested-too-deep", {}, torn_plan, ["resubmit", "sweep"], ["plan.json: damaged"], 2),
    ("score-lengths-differ", {"a.txt": "x\ny\n", "b.txt": "x\n"}, None, ["score", "--lang", "en", "--pred", "a.txt", "--ref", "b.txt"], ["a.txt has 2"], 2),
]  # fmt: skip


@pytest.mark.parametrize(
    "files, damage, argv, culprits, code",
    [pytest.param(*row[1:], id=row[0]) for row in PROCESSES],
)
def test_launch_as_a_program_exits_non_zero_in_one_line(
    sandbox, done_sweep, files, damage, argv, culprits, code
):
    for name, text in files.items():
        sandbox.write(name, text)
    if damage is not None:
        damage(a_sweep(done_sweep, sandbox, 0o700))
    before = sandbox.listing()
    result = run(sandbox, *argv)
    assert result.code == code
    assert_refused(result, *culprits)
    assert_nothing_written(before, sandbox.listing())


def test_a_damaged_status_file_as_a_program_is_named_not_fatal(sandbox, done_sweep):
    nan_status(a_sweep(done_sweep, sandbox, 0o700))
    result = run(sandbox, "status", "sweep", module=True)
    assert result.code == 1 and not result.err, result.err
    assert f"{STATUS}: damaged status file (started: nan is not a time)" in result.out


# ------------------------------------------------------------------ permissions

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root and setpriv"
)


def unreadable(path: Path) -> None:
    path.chmod(0)


# (id, files {name: text}, sweep folder mode (None: no sweep), argv, culprits)
PERMISSIONS = [
    ("config-not-readable", {"s.yaml": STUDY}, None, ["config", "s.yaml"], ["s.yaml", "cannot read it: Permission denied"]),
    ("status-of-a-private-sweep", {}, 0o700, ["status", "sweep"], ["sweep: cannot read it (Permission denied)"]),
    ("resubmit-a-read-only-sweep", {}, 0o755, ["resubmit", "sweep"], [".submit.lock: Permission denied"]),
    ("cancel-a-read-only-sweep", {}, 0o755, ["cancel", "sweep"], ["Permission denied", "cannot be written"]),
    ("sweep-dir-in-a-private-folder", {"s.yaml": STUDY, "private/.keep": ""}, None, ["sweep", "s.yaml", "--sweep-dir", "private/new"], ["--sweep-dir", "Permission denied"]),
    ("sweep-dir-not-writable", {"s.yaml": STUDY, "locked/.keep": ""}, None, ["sweep", "s.yaml", "--sweep-dir", "locked/new", "--no-preflight"], ["cannot create the sweep folder", "Permission denied"]),
]  # fmt: skip


@needs_root
@pytest.mark.parametrize(
    "files, mode, argv, culprits", [pytest.param(*row[1:], id=row[0]) for row in PERMISSIONS]
)
def test_what_this_user_may_not_read_or_write_is_one_line(
    shared_sandbox, done_sweep, files, mode, argv, culprits
):
    sandbox = shared_sandbox
    for name, text in files.items():
        sandbox.write(name, text)
    if "s.yaml" in files and argv[0] == "config":
        unreadable(sandbox.root / "s.yaml")
    else:
        (sandbox.root / "s.yaml").exists() and (sandbox.root / "s.yaml").chmod(0o644)
    if "private/.keep" in files:
        (sandbox.root / "private").chmod(0o700)
    if "locked/.keep" in files:
        (sandbox.root / "locked").chmod(0o755)
    if mode is not None:
        a_sweep(done_sweep, sandbox, mode)
    before = sandbox.listing()
    result = run(sandbox, *argv, user=AS_NOBODY)
    assert_refused(result, *culprits)
    assert_nothing_written(before, sandbox.listing())


@needs_root
def test_a_data_file_the_task_may_not_read_fails_its_task_with_one_line(shared_sandbox):
    """The real prepare stage, run as `nobody` by the runner (what every job runs): the task
    fails with a reason naming the file, no traceback recorded or printed."""
    from babelsum.config import validate_config
    from babelsum.sweep import create_sweep

    sandbox = shared_sandbox
    data = sandbox.write("articles.jsonl", '{"article_id": "a", "language": "en"}\n')
    data.chmod(0o600)  # root's
    config = yaml.safe_load(STUDY) | {"data": {"source": "files", "files": {"paths": [str(data)]}}}
    del config["engine"]["stage_impl"]["prepare"]
    create_sweep(validate_config(config), sandbox.sweep, "local", "s.yaml")
    for path in [sandbox.sweep, *sandbox.sweep.rglob("*")]:
        path.chmod(0o777)
    before = sandbox.listing()
    argv = ["-m", "babelsum.runner", sandbox.sweep, "prepare", "0", "test-1"]
    done = subprocess.run(
        [*AS_NOBODY, sys.executable, *map(str, argv)],
        cwd=sandbox.root,
        env=os.environ | {"HOME": str(sandbox.root / "home"), "PYTHONPATH": f"{REPO}/src"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1 and "Traceback" not in done.stdout + done.stderr, done.stderr
    reason = f"data.files: cannot read {data} (Permission denied)"
    assert done.stderr.strip().splitlines()[-1] == f"babelsum: task failed: {reason}"
    status = json.loads((sandbox.sweep / "tasks/prepare/status.json").read_text())
    assert (status["state"], status["reason"], status["error"]) == ("failed", reason, None)
    assert_nothing_written(before, sandbox.listing())
    assert stat.S_IMODE(data.stat().st_mode) == 0o600
