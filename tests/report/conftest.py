"""Fixtures of the report tests: sweeps whose evaluation outputs are planted."""

from __future__ import annotations

import pytest

from babelsum.config import validate_config
from babelsum.state import SweepFolder
from babelsum.sweep import create_sweep


@pytest.fixture
def planted_sweep(tmp_path):
    """make(config_overrides) -> (SweepFolder, plan) of a sweep with no task run yet."""

    def make(**overrides) -> tuple[SweepFolder, object]:
        data = {
            "study": "gather-test",
            "languages": ["en", "fr"],
            "models": {"tiny": {"path": str(tmp_path / "no-model"), "family": "qwen2"}},
            "train": {"languages": ["en", "fr"], "methods": [{"model": "tiny", "method": "full"}]},
            "evaluate": {"test_sets": ["novel"], "bootstrap_samples": 200},
            "tracking": {"enabled": False},
        } | overrides
        config = validate_config(data)
        return create_sweep(config, tmp_path / "sweep", "local", str(tmp_path / "c.yaml"))

    return make
