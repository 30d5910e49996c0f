"""Cleaning: normalise what can be normalised, quarantine what cannot be used, with a reason.

Normalising: Unicode NFC, line breaks and runs of spaces, zero-width characters, and markup
left over from HTML or wikitext (tags, references, templates, link brackets, bold quotes;
`strip_markup: false` keeps it, to feed raw wikitext as the original study did).
Quarantine reasons: wrong_type, missing_field, invalid_utf8, unknown_language, language_not_in_study,
empty, too_short, too_long, summary_too_short, duplicate_id, duplicate_text, wrong_language,
wrong_summary_language.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from collections.abc import Iterable

from babelsum.config import CleaningConfig
from babelsum.data.quarantine import Rejected
from babelsum.data.schema import FIELDS, REQUIRED
from babelsum.lang.codes import LANGUAGES

_TEXT_FIELDS = ("title", "text", "summary")

_MARKUP = [
    (re.compile(r"<!--.*?-->", re.S), ""),
    (re.compile(r"<ref[^>/]*/>|<ref[^>]*>.*?</ref>", re.S | re.I), ""),
    (re.compile(r"\{\|.*?\|\}", re.S), ""),  # wiki tables
    (re.compile(r"\{\{[^{}]*\}\}"), ""),  # templates, innermost first (repeated below)
    (re.compile(r"\[\[[^\[\]|:]+:[^\[\]]*\]\]"), ""),  # [[File:...]], [[Category:...]]
    (re.compile(r"\[\[(?:[^\[\]|]*\|)?([^\[\]]*)\]\]"), r"\1"),  # [[target|label]] -> label
    (re.compile(r"\[https?://\S+\s+([^\]]+)\]"), r"\1"),  # [http://x label] -> label
    (re.compile(r"\[https?://\S+\]"), ""),
    (re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>"), ""),  # HTML tags, text kept
    (re.compile(r"'{2,}"), ""),  # wiki bold and italics
    (re.compile(r"^=+\s*(.*?)\s*=+\s*$", re.M), r"\1"),  # wiki headings
]
_ZERO_WIDTH = str.maketrans("", "", "\u200b\u2060\ufeff\u00ad")
_SPACES = re.compile(r"[ \t\f\v\u2000-\u200a]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def strip_markup(text: str) -> str:
    text = html.unescape(text)
    for pattern, replacement in _MARKUP:
        previous = None
        while previous != text:  # nested templates unwrap one level per pass
            previous, text = text, pattern.sub(replacement, text)
    return text


def normalize_text(text: str, remove_markup: bool = True) -> str:
    """NFC, no residual markup (unless `remove_markup` is False), single spaces, at most one
    blank line between paragraphs."""
    text = unicodedata.normalize("NFC", text).translate(_ZERO_WIDTH)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if remove_markup:
        text = strip_markup(text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _is_valid_utf8(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: bytes that were not UTF-8 when read
        return False
    return True


def _text_key(text: str) -> str:
    return hashlib.sha1(" ".join(text.casefold().split()).encode()).hexdigest()


def _other_language(text: str, declared: str, min_confidence: float) -> str | None:
    """What `text` reads as, if confidently not `declared`. Short texts need more certainty."""
    from babelsum.lang.detect import detect_language

    sample = text[:3000]
    if len(sample) < 40:
        return None
    code, probability = detect_language(sample)
    needed = min_confidence if len(sample) >= 300 else max(min_confidence, 0.99)
    if code != declared and probability >= needed:
        return f"reads as {code} (p={probability:.2f}), declared {declared}"
    return None


class Cleaner:
    """Checks records one by one, remembering what it has seen to find duplicates."""

    def __init__(self, config: CleaningConfig, languages: Iterable[str]):
        self.config = config
        self.languages = set(languages)
        self.seen_ids: set[tuple[str, str]] = set()
        self.seen_texts: dict[str, str] = {}

    def clean(self, record: dict) -> dict | Rejected:
        """The normalised record, or why it is quarantined."""
        for name in FIELDS:  # every canonical field is text (schema.features)
            value = record.get(name)
            if value is not None and not isinstance(value, str):
                shown = repr(value)[:60]
                detail = f"{name} is {type(value).__name__} {shown}, not text"
                return Rejected("wrong_type", detail, record)
        for name in REQUIRED:
            if not isinstance(record.get(name), str) or not record[name].strip():
                return Rejected("missing_field", f"no {name}", record)
        for name in (*_TEXT_FIELDS, "article_id"):
            value = record.get(name)
            if isinstance(value, str) and not _is_valid_utf8(value):
                return Rejected("invalid_utf8", f"{name} is not valid UTF-8", record)
        for name in ("language", "summary_language"):
            code = record.get(name)
            if code is not None and code not in LANGUAGES:
                return Rejected("unknown_language", f"{name} {code!r} is not a known code", record)
        if record["language"] not in self.languages:
            detail = f"{record['language']} is not among the study's languages"
            return Rejected("language_not_in_study", detail, record)

        record = dict(record)
        for name in _TEXT_FIELDS:
            if isinstance(record.get(name), str):
                record[name] = normalize_text(record[name], self.config.strip_markup)
        if record.get("summary") == "":
            record["summary"] = None
        return self._check(record)

    def _check(self, record: dict) -> dict | Rejected:
        c, text, lang = self.config, record["text"], record["language"]
        if not text:
            return Rejected("empty", "no text left after cleaning", record)
        if len(text) < c.min_chars:
            return Rejected(
                "too_short", f"{len(text)} characters < min_chars {c.min_chars}", record
            )
        if len(text) > c.max_chars:
            return Rejected("too_long", f"{len(text)} characters > max_chars {c.max_chars}", record)
        summary = record.get("summary")
        if summary is not None and len(summary) < c.min_summary_chars:
            detail = f"summary of {len(summary)} characters < min_summary_chars"
            return Rejected("summary_too_short", detail, record)
        if c.dedupe:
            key = (record["article_id"], lang)
            if key in self.seen_ids:
                return Rejected("duplicate_id", f"{key[0]} already seen in {lang}", record)
            text_key = _text_key(text)
            if text_key in self.seen_texts:
                detail = f"same text as {self.seen_texts[text_key]}"
                return Rejected("duplicate_text", detail, record)
        if c.check_language:
            if reads_as := _other_language(text, lang, c.min_language_confidence):
                return Rejected("wrong_language", reads_as, record)
            if summary and (
                reads_as := _other_language(
                    summary, record["summary_language"], c.min_language_confidence
                )
            ):
                return Rejected("wrong_summary_language", reads_as, record)
        if c.dedupe:
            self.seen_ids.add((record["article_id"], lang))
            self.seen_texts[_text_key(text)] = f"{record['article_id']} ({lang})"
        return record
