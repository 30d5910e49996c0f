"""Fixtures of the orchestration tests: a real local SLURM cluster, a stand-in `apptainer`."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.orchestration.apptainer import STANDIN, ApptainerStandIn
from tests.orchestration.slurm_cluster import SlurmCluster, run_script, skip_or_fail, was_running


@pytest.fixture
def apptainer_standin(tmp_path, monkeypatch) -> ApptainerStandIn:
    bin_dir = tmp_path / "standin-bin"
    bin_dir.mkdir()
    script = bin_dir / "apptainer"
    body = STANDIN.read_text().split("\n", 1)[1]
    script.write_text(f"#!{sys.executable}\n{body}")
    script.chmod(0o755)
    log = tmp_path / "apptainer-calls.jsonl"
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("APPTAINER_STANDIN_LOG", str(log))
    return ApptainerStandIn(bin_dir, log)


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[SlurmCluster]:
    if os.geteuid() != 0:
        skip_or_fail(
            "a local SLURM cluster needs root (slurm/local-cluster starts munged and slurmd)"
        )
    if not shutil.which("slurmctld") and not shutil.which("apt-get"):
        skip_or_fail("SLURM is not installed and there is no apt-get to install it")
    state_dir = Path(os.environ.get("BABELSUM_SLURM_DIR", "/tmp/babelsum-slurm"))
    already_running = was_running()
    run_script("start")
    with pytest.MonkeyPatch.context() as patch:
        # squeue, sbatch and submitit's srun find the cluster even where /etc/slurm is not ours
        patch.setenv("SLURM_CONF", str(state_dir / "slurm.conf"))
        yield SlurmCluster(state_dir=state_dir)
    if not already_running:
        run_script("stop")
