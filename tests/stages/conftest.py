"""Fixtures of the stage tests: sweep folders ready for train, evaluate and judge tasks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from babelsum.config import validate_config
from babelsum.state import SweepFolder, TaskStatus
from babelsum.sweep import create_sweep
from tests.stages.planted import EVALUATE, mark, write_split
from tests.stages.train_sweeps import train_config


@pytest.fixture
def train_sweep(tmp_path, tiny_models, split_output):
    """make(methods, processes=1, **sections) -> a sweep folder whose split task is done."""

    def make(methods: list[dict], processes: int = 1, **sections) -> Path:
        config = validate_config(train_config(tiny_models, methods, processes, **sections))
        folder, plan = create_sweep(config, tmp_path / "sweep", "local", str(tmp_path / "c.yaml"))
        staged = folder.task_dir("split") / "output.tmp-test"
        shutil.copytree(split_output, staged)
        folder.publish_output("split", staged)
        split = plan.stage("split").tasks[0]
        folder.write_status(TaskStatus(split.key, split.stage, split.index, state="done"))
        return folder.root

    return make


@pytest.fixture
def eval_sweep(tmp_path, tiny_models):
    """make(config_overrides) -> SweepFolder whose split task is done, on the tiny models."""

    def make(sweep: str = "sweep", **overrides) -> SweepFolder:
        data = {
            "study": "evaluate-test",
            "languages": ["en", "fr"],
            "models": {
                family: {"path": str(tiny_models[family]), "family": family}
                for family in ("qwen2", "mbart")
            },
            "train": {"languages": ["en"], "methods": [{"model": "qwen2", "method": "full"}]},
            "evaluate": EVALUATE,
            "tracking": {"enabled": False},
        } | overrides
        config = validate_config(data)
        folder, _ = create_sweep(config, tmp_path / sweep, "local", str(tmp_path / "c.yaml"))
        staged = folder.task_dir("split") / "output.tmp-test"
        write_split(staged, ["en", "fr"])
        folder.publish_output("split", staged)
        mark(folder, "split", "done")
        return folder

    return make
