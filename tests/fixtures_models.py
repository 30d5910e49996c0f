"""Tiny models of the study's architectures, built once and cached for the whole suite.

The build (tokenizers trained on the synthetic corpus, random weights) takes a few seconds; it
is cached under the repo's `.cache/` in a folder keyed by `TINY_VERSION` and a hash of the
corpus, so the suite and parallel pytest processes share one build.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".cache"


def tokenizer_corpus() -> list[str]:
    """The synthetic corpus the tiny tokenizers learn from."""
    try:
        from babelsum.models.tiny import tokenizer_corpus

        return tokenizer_corpus()
    except ImportError:  # TEMPORARY until the data issue lands babelsum.data.synthetic
        return _stand_in_corpus()


def _stand_in_corpus() -> list[str]:
    from babel import Locale

    sentences = {
        "en": "{c} is a country. Its capital has many people. The economy depends on trade.",
        "fr": "{c} est un pays. Sa capitale compte de nombreux habitants. L'économie repose sur le commerce.",
        "de": "{c} ist ein Land. Die Hauptstadt hat viele Einwohner. Die Wirtschaft beruht auf Handel.",
        "ja": "{c}は国である。首都には多くの人が住んでいる。経済は貿易に支えられている。",
    }
    return [
        text.format(c=name)
        for lang, text in sentences.items()
        for name in list(Locale.parse(lang).territories.values())[:150]
    ]


def build_cached_tiny_models() -> dict[str, Path]:
    from babelsum.models.tiny import FAMILIES, TINY_VERSION, build_tiny_models

    texts = tokenizer_corpus()
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:10]
    final = CACHE / f"tiny-models-v{TINY_VERSION}-{digest}"
    if not all((final / f / "config.json").is_file() for f in FAMILIES):
        CACHE.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="tiny-models-", dir=CACHE))
        build_tiny_models(staging, texts)
        try:  # atomic: of concurrent builds of one key, one wins whole, the others are dropped
            os.rename(staging, final)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
    return {family: final / family for family in FAMILIES}


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
