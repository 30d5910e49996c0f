"""Shared pytest setup. Each area keeps its fixtures in tests/fixtures_<area>.py."""

import os

# Tests never reach the Hugging Face Hub: everything they load is built locally.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

pytest_plugins = [
    "tests." + name[:-3]
    for name in sorted(os.listdir(os.path.dirname(__file__)))
    if name.startswith("fixtures_") and name.endswith(".py")
]
