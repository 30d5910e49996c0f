"""A small sweep config whose stages are the test-only functions in fake_stages.py."""

import os
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]

FAKE = "tests.orchestration.fake_stages"
# full fine-tuning over 2 processes (its own resources), LoRA in the stage's 1 process
TWO_RESOURCE_GROUPS = [
    {"model": "tiny", "method": "full", "resources": {"tasks_per_node": 2}},
    {"model": "tiny", "method": "lora"},
]
PROCESSES_OF_TWO_GROUPS = {
    "train/tiny/full/en": 2,
    "train/tiny/full/fr": 2,
    "train/tiny/lora/en": 1,
    "train/tiny/lora/fr": 1,
}


def fake_sweep_config(engine_overrides: dict | None = None, **changes) -> dict:
    config = {
        "study": "orchestration-test",
        "languages": ["en", "fr"],
        "teacher": {"backend": "lead", "shards": 2},
        "models": {"tiny": {"path": "unused"}},
        "train": {"languages": ["en", "fr"], "methods": [{"model": "tiny", "method": "full"}]},
        "evaluate": {"test_sets": ["novel"]},
        "tracking": {"enabled": False},
        "engine": {
            "local_parallel_tasks": 2,
            "stage_impl": {
                stage: f"{FAKE}:run"
                for stage in ("prepare", "teacher", "split", "train", "evaluate")
            }
            | {"gather": f"{FAKE}:gather"},
        },
    }
    config.update(changes)
    engine = config["engine"]
    for key, value in (engine_overrides or {}).items():
        engine[key] = engine.get(key, {}) | value if isinstance(value, dict) else value
    return config


def run_fake_sweep(root: Path, *options: str, env: dict[str, str] | None = None) -> int:
    """`launch sweep` of the fake config, written to ROOT/config.yaml, into ROOT/sweep, run
    from ROOT with `env` set (the task processes import `tests.`); its exit code."""
    from babelsum.cli import main

    config = root / "config.yaml"
    config.write_text(yaml.safe_dump(fake_sweep_config()))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", f"{REPO}:{REPO / 'src'}:{os.environ.get('PYTHONPATH', '')}")
        for name, value in (env or {}).items():
            patch.setenv(name, value)
        patch.chdir(root)
        return main(["sweep", str(config), "--sweep-dir", str(root / "sweep"), "--quiet", *options])
