"""The sweeps under a folder (`launch list`), and which one `latest` means.

`latest` is the newest sweep under `sweeps/` (where `launch sweep` puts them), or under
$BABELSUM_SWEEPS when that is set. A folder without sweep.json is not a sweep and is skipped;
a sweep whose files cannot be read is listed as damaged, with what is wrong.

No ML imports: this runs on the login node.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from babelsum import backends
from babelsum.errors import SweepError
from babelsum.state import State, SweepFolder
from babelsum.sweep import SWEEPS_ENV, TaskView, read_statuses, sweeps_root, task_views

LATEST = "latest"


@dataclass
class SweepSummary:
    path: Path
    state: str  # running, done, failed, blocked, stopped, pending, damaged
    study: str | None = None
    created: float | None = None
    executor: str | None = None
    tasks: int = 0
    counts: Counter = field(default_factory=Counter)  # State -> number of tasks
    problem: str | None = None  # what is damaged


def list_sweeps(root: str | Path | None = None) -> list[SweepSummary]:
    """Every sweep directly under `root` (default: sweeps/ or $BABELSUM_SWEEPS), newest first."""
    root = Path(root) if root is not None else sweeps_root()
    if not root.is_dir():
        raise SweepError(f"{root} is not a folder (sweeps are listed from a folder of sweeps)")
    try:
        paths = sorted(root.iterdir())
    except OSError as exc:
        raise SweepError(f"{root}: cannot list it ({exc.strerror})") from None
    found = [summarize(p) for p in paths if _holds_sweep(p)]
    return sorted(found, key=lambda s: s.created or 0.0, reverse=True)


def _holds_sweep(path: Path) -> bool:
    """Whether `path` has a sweep.json; one we may not look into is listed, as damaged."""
    try:
        return (path / "sweep.json").is_file()
    except OSError:
        return True


def summarize(path: Path) -> SweepSummary:
    folder = SweepFolder(path)
    try:
        meta = folder.meta()
        plan = folder.read_plan()
        statuses = read_statuses(folder, plan)
    except (SweepError, OSError, ValueError, KeyError, TypeError) as exc:
        # SweepError names the damaged file; the others are read errors state.py lets through
        text = str(exc) if isinstance(exc, SweepError) else f"{type(exc).__name__}: {exc}"
        return SweepSummary(
            folder.root,
            "damaged",
            created=_mtime(folder.meta_path),
            problem=(text.splitlines() or [""])[0][:300],
        )
    views = task_views(plan, statuses, backends.lost_tasks(statuses))
    counts = Counter(v.state for v in views)
    created = meta.get("created")
    return SweepSummary(
        folder.root,
        sweep_state(views),
        study=meta.get("study"),
        created=float(created) if isinstance(created, (int, float)) else _mtime(folder.meta_path),
        executor=meta.get("executor"),
        tasks=len(views),
        counts=counts,
    )


def sweep_state(views: list[TaskView]) -> str:
    """One word for a sweep, from its tasks' states."""
    counts = Counter(v.state for v in views)
    queued = any(v.state == State.PENDING and v.status.job_id for v in views)
    if views and counts[State.DONE] == len(views):
        return "done"
    if counts[State.RUNNING] or queued:
        return "running"
    if counts[State.FAILED] or counts[State.LOST] or counts[State.UNKNOWN]:
        return "failed"
    if counts[State.BLOCKED]:
        return "blocked"
    launched = any(v.status.attempts or v.status.reused_from for v in views)
    return "stopped" if launched else "pending"  # stopped: `launch resubmit` goes on


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def latest_sweep(root: str | Path | None = None) -> Path:
    """The newest sweep under `root` (default: sweeps/ or $BABELSUM_SWEEPS) whose sweep.json
    can be read."""
    root = Path(root) if root is not None else sweeps_root()
    if not root.is_dir():
        raise SweepError(
            f"`{LATEST}` means the newest sweep under {root}, which is not a folder: "
            f"give the sweep folder, or set {SWEEPS_ENV} to the folder of your sweeps"
        )
    newest: tuple[float, Path] | None = None
    for path in root.iterdir():
        try:
            created = float(SweepFolder(path).meta()["created"])
        except (SweepError, OSError, ValueError, KeyError, TypeError):  # not a sweep, or damaged
            continue
        if newest is None or created > newest[0]:
            newest = (created, path)
    if newest is None:
        raise SweepError(f"`{LATEST}`: no sweep under {root} (`launch list {root}` shows why)")
    return SweepFolder(newest[1]).root


def resolve(sweep_dir: str | Path) -> tuple[Path, bool]:
    """`sweep_dir` as given, or the newest sweep when it is `latest` (and no folder of that
    name is a sweep); True when `latest` was resolved."""
    if str(sweep_dir) != LATEST or SweepFolder(sweep_dir).exists():
        return Path(sweep_dir), False
    return latest_sweep(), True
