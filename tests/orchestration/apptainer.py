"""A stand-in `apptainer` on PATH (tests/apptainer_standin.py): Apptainer cannot be installed
on the test machines, so this records its arguments and runs the inner command on the host.

The PATH change reaches the tasks too: local task processes inherit it, and sbatch exports the
submitting environment to SLURM jobs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

STANDIN = Path(__file__).with_name("apptainer_standin.py")


@dataclass(frozen=True)
class ApptainerStandIn:
    bin_dir: Path
    log: Path

    @property
    def executable(self) -> Path:
        return self.bin_dir / "apptainer"

    def calls(self) -> list[dict]:
        """One dict per call: argv, command (exec/build), binds, env, rest (image and command)."""
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]
