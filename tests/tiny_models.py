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

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".cache"


def tokenizer_corpus() -> list[str]:
    """The synthetic corpus the tiny tokenizers learn from."""
    from babelsum.models.tiny import tokenizer_corpus

    return tokenizer_corpus()


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
