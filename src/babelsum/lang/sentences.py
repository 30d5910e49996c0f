"""Sentence splitting that knows the study's scripts, without downloaded models.

Japanese and Chinese end sentences with 。！？ and no space; Latin and Cyrillic scripts end
them with . ! ? followed by a space and a capital, except after abbreviations and initials.
Used by the Lead-k teacher and anywhere text is split into sentences (ROUGE-Lsum).
"""

from __future__ import annotations

import re

from babelsum.lang.codes import LANGUAGES

CJK_END = re.compile(r"(?<=[。！？!?])\s*")
# A candidate end: . ! ? or …, maybe closing quotes or brackets (French puts a space
# before »), spaces, then maybe an opening quote or bracket, and a capital or a digit.
SPACED_END = re.compile(r"(?<=[.!?…])((?:\s?[\"'»”’)\]])*)\s+(?=[«\"“‘(\[]?[A-ZÀ-ÖØ-ÞА-ЯЁ0-9])")
# Words that end with a full stop inside a sentence (lowercase, without the final stop).
ABBREVIATIONS = {
    "en": set("mr mrs ms dr prof st jr sr vs etc e.g i.e fig approx u.s inc ltd co".split()),
    "fr": set("m mm mme mlle dr pr st ste etc cf env av apr j.-c p n°".split()),
    "de": set("dr prof hr fr st nr bzw ca vgl usw z.b u.a d.h evtl chr jh s".split()),
}


def split_sentences(text: str, lang: str) -> list[str]:
    """The sentences of `text`, in order, stripped; line breaks always end a sentence."""
    sentences: list[str] = []
    cjk = LANGUAGES[lang].script == "cjk" if lang in LANGUAGES else False
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        pieces = CJK_END.split(line) if cjk else _split_spaced(line, lang)
        sentences.extend(p.strip() for p in pieces if p.strip())
    return sentences


def join_sentences(sentences: list[str], lang: str) -> str:
    """Sentences back into running text: no spaces between them in Japanese and Chinese."""
    cjk = lang in LANGUAGES and LANGUAGES[lang].script == "cjk"
    return ("" if cjk else " ").join(sentences)


def _split_spaced(line: str, lang: str) -> list[str]:
    abbreviations = ABBREVIATIONS.get(lang, set()) | ABBREVIATIONS["en"]
    pieces, start = [], 0
    for match in SPACED_END.finditer(line):
        end = match.start(1)  # just after the punctuation, closing quotes kept with it
        before = line[start:end].rstrip()
        word = before.rsplit(None, 1)[-1] if before.split() else ""
        stem = word.rstrip(".").lower()
        if before.endswith(".") and (stem in abbreviations or _is_initial(stem)):
            continue
        pieces.append(line[start : match.end(1)])
        start = match.end()
    pieces.append(line[start:])
    return pieces


def _is_initial(stem: str) -> bool:
    """'J' of 'J. R. R. Tolkien': one letter before a full stop is an initial, not an end."""
    return len(stem) == 1 and stem.isalpha()
