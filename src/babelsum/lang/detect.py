"""Which language a text is written in (py3langid, offline), among the languages babelsum knows.

Restricting the candidates to babelsum's languages keeps short texts (a summary of a few
sentences) from being read as some language no study uses.
"""

from __future__ import annotations

import functools

from babelsum.lang.codes import LANGUAGES


@functools.cache
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(sorted(LANGUAGES))
    return identifier


def detect_language(text: str) -> tuple[str, float]:
    """The most likely language code of `text` and its probability (0 to 1)."""
    code, probability = _identifier().classify(text)
    return code, float(probability)
