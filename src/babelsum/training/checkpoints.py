"""Which checkpoint a restarted training task resumes from.

The Trainer writes `checkpoint-<step>/` folders into the task's work folder, which survives
attempts. A task killed while saving leaves a folder without `trainer_state.json` (the
Trainer writes it last) or with the Trainer's incomplete-checkpoint marker: such a folder is
skipped, and the one before it is used.

Checkpoints only fit the settings that made them (another learning rate, DeepSpeed stage or
number of processes cannot continue them), so the folder records those settings; when a
resubmitted task comes with other settings, the old checkpoints are moved aside, not resumed.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
INCOMPLETE_MARKER = "checkpoint-is-incomplete.txt"


def is_complete(checkpoint: Path) -> bool:
    return (checkpoint / "trainer_state.json").is_file() and not (
        checkpoint / INCOMPLETE_MARKER
    ).exists()


def latest_checkpoint(folder: Path) -> Path | None:
    """The complete checkpoint with the highest step in `folder`, or None."""
    if not folder.is_dir():
        return None
    steps = [
        (int(m.group(1)), path)
        for path in folder.iterdir()
        if path.is_dir() and (m := _CHECKPOINT.match(path.name)) and is_complete(path)
    ]
    return max(steps)[1] if steps else None


def checkpoint_step(checkpoint: Path) -> int:
    match = _CHECKPOINT.match(checkpoint.name)
    return int(match.group(1)) if match else 0


SETTINGS_FILE = "settings.json"


def resumable_checkpoint(folder: Path, settings: dict) -> tuple[Path | None, str | None]:
    """The latest complete checkpoint made with `settings`, and a note when older checkpoints
    made with other settings were moved aside. Call it in one process at a time."""
    folder.mkdir(parents=True, exist_ok=True)
    recorded = folder / SETTINGS_FILE
    note = None
    if recorded.is_file() and json.loads(recorded.read_text()) != settings:
        stale = folder.with_name(f"{folder.name}.other-settings-{int(time.time())}")
        folder.rename(stale)
        folder.mkdir()
        note = f"checkpoints made with other settings moved to {stale.name}; training restarts"
    recorded.write_text(json.dumps(settings, indent=1, sort_keys=True))
    return latest_checkpoint(folder), note
