"""Fixtures shared across the test folders: tiny models, a split output, a fake sweep config.

Each folder's own fixtures live in its conftest.py; helpers in the modules beside them.
"""

import os

# Tests never reach the Hugging Face Hub: everything they load is built locally. Set before
# anything imports huggingface_hub, which reads these once.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import yaml  # noqa: E402

from tests.contexts import SMALL_SYNTHETIC, run_prepare_and_split  # noqa: E402
from tests.orchestration.fake_sweep import REPO, fake_sweep_config  # noqa: E402
from tests.tiny_models import build_cached_tiny_models  # noqa: E402


@pytest.fixture
def fake_config_file(tmp_path, monkeypatch):
    """Write the fake config; make `tests.` importable in the task processes."""
    monkeypatch.setenv("PYTHONPATH", f"{REPO}:{REPO / 'src'}:{os.environ.get('PYTHONPATH', '')}")

    def write(engine_overrides: dict | None = None, **changes) -> Path:
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(fake_sweep_config(engine_overrides, **changes)))
        return path

    return write


@pytest.fixture(scope="session")
def split_output(tmp_path_factory) -> Path:
    """Split output folder of 40 synthetic topics in en, fr, de, ja (read-only: copy to edit)."""
    return run_prepare_and_split(tmp_path_factory.mktemp("split_output"), SMALL_SYNTHETIC)


@pytest.fixture(scope="session")
def tiny_models() -> dict[str, Path]:
    """family ('qwen2', 'phi3', 'mbart', 'gemma3') -> folder of a tiny saved model."""
    return build_cached_tiny_models()


@pytest.fixture
def one_torch_thread():
    """Run torch on one thread: tiny models gain nothing from two, and on a shared 2-core
    machine two threads spin-wait on each other (generation measured 100x slower)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
