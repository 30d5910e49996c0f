"""A real single-node SLURM cluster (slurm/local-cluster) for the tests that submit jobs.

The session starts it once (installing Debian's slurm and munge packages when missing) and
stops it at the end, unless it was already running before the session. Starting takes about
a second once the packages are there. Tests that need other cluster settings (a small
MaxArraySize) restart it for their duration with `slurm_cluster.settings(...)`.

It needs root. Without root, or when the packages cannot be installed, the tests that use it
are skipped with the reason, unless BABELSUM_REQUIRE_SLURM=1 turns that into a failure (CI).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "slurm" / "local-cluster"

# slurm/local-cluster's settings, by the names tests use
SETTINGS = {
    "max_array_size": "BABELSUM_SLURM_MAX_ARRAY_SIZE",
    "cpus": "BABELSUM_SLURM_CPUS",
    "cred_expire": "BABELSUM_SLURM_CRED_EXPIRE",
}


@dataclass(frozen=True)
class SlurmCluster:
    state_dir: Path
    partition: str = "local"

    @property
    def conf(self) -> Path:
        return self.state_dir / "slurm.conf"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "log"

    def env(self) -> dict[str, str]:
        """This process's environment with SLURM_CONF pointing at the cluster."""
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    @contextmanager
    def settings(self, **values: int) -> Iterator[SlurmCluster]:
        """Restart the cluster with other settings (e.g. max_array_size=4), then restore it.

        A restart drops queued jobs, so use it only in tests that wait for their own jobs.
        """
        unknown = set(values) - set(SETTINGS)
        if unknown:
            raise ValueError(
                f"unknown cluster settings {sorted(unknown)}; known: {sorted(SETTINGS)}"
            )
        env = {SETTINGS[name]: str(value) for name, value in values.items()}
        run_script("start", extra_env=env)
        try:
            yield self
        finally:
            run_script("start")


def run_script(command: str, extra_env: dict[str, str] | None = None) -> str:
    env = {**os.environ, **(extra_env or {})}
    done = subprocess.run(
        [str(SCRIPT), command], capture_output=True, text=True, env=env, timeout=900
    )
    if done.returncode == 3:  # the script's exit status for "cannot install the packages"
        skip_or_fail(done.stderr.strip().splitlines()[-1])
    if done.returncode != 0:
        pytest.fail(f"slurm/local-cluster {command} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def skip_or_fail(reason: str) -> None:
    if os.environ.get("BABELSUM_REQUIRE_SLURM") == "1":
        pytest.fail(f"BABELSUM_REQUIRE_SLURM=1 but no SLURM cluster: {reason}")
    pytest.skip(reason)


def was_running() -> bool:
    status = subprocess.run([str(SCRIPT), "status"], capture_output=True, text=True, timeout=60)
    return status.returncode == 0
