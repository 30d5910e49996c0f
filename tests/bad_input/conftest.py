"""The harness of the bad-input tables: every case runs in a sandbox (cwd and HOME in a tmp
folder), and each row checks the same promises:

- a non-zero exit (or a counted quarantine, for data records and journal lines);
- the error is one `error:` line per problem, and one of them names the culprit;
- no traceback, on stdout or stderr;
- nothing written outside the sweep folder: the sandbox and the repository's working tree
  (`git status --porcelain`) list the same before and after;
- no done output lost (sweep-damage rows: every done task's output folder is still there).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from babelsum.cli import main
from tests.orchestration.fake_sweep import REPO, run_fake_sweep

SWEEP = "sweep"  # the sweep folder inside a sandbox: the one place a command may write
CACHE = "cache"  # $BABELSUM_CACHE, $XDG_CACHE_HOME: known caches, not counted as writes


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.startswith("error: ")]


@dataclass
class Sandbox:
    """A tmp folder that is cwd and HOME; `listing()` is what a command must leave alone."""

    root: Path
    excluded: set[str] = field(default_factory=lambda: {SWEEP, CACHE})

    @property
    def sweep(self) -> Path:
        return self.root / SWEEP

    def write(self, name: str, content: str | bytes) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    def listing(self) -> dict[str, tuple]:
        """Every path under the sandbox (outside the excluded folders) with its size and
        mtime, and the repository's `git status`."""
        seen: dict[str, tuple] = {}
        for dirpath, dirnames, filenames in os.walk(self.root):
            here = Path(dirpath)
            if here == self.root:
                dirnames[:] = [d for d in dirnames if d not in self.excluded]
            for name in [*dirnames, *filenames]:
                path = here / name
                try:
                    info = path.lstat()
                except OSError:
                    continue
                size = info.st_size if path.is_file() else 0
                seen[str(path.relative_to(self.root))] = (size, info.st_mtime_ns)
        seen["<git status of the repository>"] = (git_status(),)
        return seen


def git_status() -> str:
    """The repository's `git status`, less the Python and Markdown files: babelsum writes
    neither, while the engineers working in this tree edit them as these tests run."""
    lines = subprocess.run(
        ["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    return "\n".join(line for line in lines if not line.endswith((".py", ".md")))


@pytest.fixture
def sandbox(tmp_path, monkeypatch) -> Sandbox:
    root = tmp_path / "sandbox"
    root.mkdir()
    (root / "home").mkdir()
    monkeypatch.chdir(root)
    monkeypatch.setenv("HOME", str(root / "home"))
    monkeypatch.setenv("BABELSUM_CACHE", str(root / CACHE / "babelsum"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(root / CACHE))
    monkeypatch.setenv("BABELSUM_SWEEPS", str(root / "sweeps"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    # the task processes of a local sweep import the fake stages from tests/
    monkeypatch.setenv("PYTHONPATH", f"{REPO}:{REPO / 'src'}:{os.environ.get('PYTHONPATH', '')}")
    return Sandbox(root)


@pytest.fixture
def launch(capsys) -> Callable[..., Result]:
    """launch(*argv) -> Result of `launch` run in this process."""

    def run(*argv: object) -> Result:
        capsys.readouterr()
        code = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


def assert_refused(result: Result, *culprits: str, lines: int | None = 1) -> None:
    """Non-zero exit; stderr is `error:` lines only (`lines` of them, when given), one naming
    every culprit; no traceback anywhere."""
    shown = f"exit {result.code}\nstdout: {result.out}\nstderr: {result.err}"
    assert "Traceback" not in result.out + result.err, shown
    assert result.code != 0, shown
    stderr = [line for line in result.err.splitlines() if line.strip()]
    stderr = [line for line in stderr if not line.startswith("latest: ")]
    assert stderr and all(line.startswith("error: ") for line in stderr), shown
    if lines is not None:
        assert len(stderr) == lines, shown
    assert any(all(c in line for c in culprits) for line in stderr), shown


def assert_nothing_written(before: dict, after: dict) -> None:
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert not changed, f"written outside the sweep folder: {sorted(changed)}"


def done_outputs(sweep: Path) -> set[str]:
    """The output folders of the tasks whose status file says done."""
    outputs = set()
    for status in sweep.glob("tasks/**/status.json"):
        try:
            done = json.loads(status.read_text()).get("state") == "done"
        except (OSError, ValueError, AttributeError, RecursionError):  # damage is an input here
            continue
        if done and (status.parent / "output").is_dir():
            outputs.add(str((status.parent / "output").relative_to(sweep)))
    return outputs


@pytest.fixture(scope="module")
def done_sweep(tmp_path_factory) -> Path:
    """A finished local sweep of the fake stages (read-only: cases copy it)."""
    root = tmp_path_factory.mktemp("done")
    assert run_fake_sweep(root) == 0
    return root / SWEEP


def copy_sweep(done: Path, sandbox: Sandbox) -> Path:
    shutil.copytree(done, sandbox.sweep, symlinks=True)
    return sandbox.sweep


def rows(table: Iterable[tuple]) -> list:
    """pytest params with the first item of each row as its id."""
    return [pytest.param(*row[1:], id=row[0]) for row in table]
