"""Is a cleaned summary fit to keep? Its language and its length.

Length is counted in words; Japanese and Chinese have no spaces between words, so there a
word counts as two characters (about what a CJK word averages).
"""

from __future__ import annotations

import re

from babelsum.lang.codes import LANGUAGES
from babelsum.lang.detect import detect_language

CJK_CHARS_PER_WORD = 2


def summary_length(text: str, lang: str) -> int:
    """The length of `text` in words (for CJK languages, in characters / 2)."""
    if lang in LANGUAGES and LANGUAGES[lang].script == "cjk":
        return len(re.sub(r"\s", "", text)) // CJK_CHARS_PER_WORD
    return len(text.split())


def check_summary(
    text: str, lang: str, *, min_words: int, max_words: int, check_language: bool = True
) -> str | None:
    """None when the summary is fit to keep, else the reason it is not, in one line."""
    if not text.strip():
        return "empty after cleaning"
    if "\ufffd" in text:
        return "garbled: the text holds undecodable bytes (U+FFFD)"
    length = summary_length(text, lang)
    if length < min_words:
        return f"too short: {length} words (min_words {min_words})"
    if length > max_words:
        return f"too long: {length} words (max_words {max_words})"
    if check_language:
        detected, probability = detect_language(text)
        if detected != lang:
            return f"wrong language: reads as {detected} (p={probability:.2f}), expected {lang}"
    return None
