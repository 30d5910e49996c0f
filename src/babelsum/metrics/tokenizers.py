"""Word tokenizers for ROUGE, one per kind of language, each an object with `tokenize(text)`.

rouge-score's own tokenizer keeps only [a-z0-9]: Japanese becomes nothing and "élève" becomes
"ve". So:

- English: rouge-score's own tokenizer with its Porter stemmer, so English numbers equal
  rouge-score's and compare with published ones.
- Japanese: MeCab morphemes (fugashi with the unidic-lite dictionary, offline).
- Other languages babelsum knows in Latin or Cyrillic script (fr, de, it, es, pt, nl, ru):
  runs of letters, digits and combining marks, lower-cased, accents kept, each word longer
  than 3 characters Snowball-stemmed (as rouge-score stems English) unless stemming is off.
- Anything else (zh, unknown codes): the Unicode fallback below, with a warning.

Every tokenizer NFKC-normalises first (English aside, to stay exactly rouge-score), so an
"é" typed as e + combining accent matches a precomposed one and full-width digits match ASCII.
Tokens without a letter or digit (punctuation, symbols) are dropped, as rouge-score does.
"""

from __future__ import annotations

import functools
import logging
import unicodedata
from collections.abc import Callable

import regex

from babelsum.lang.codes import LANGUAGES

log = logging.getLogger(__name__)

WORD = regex.compile(r"[\p{L}\p{N}\p{M}]+")
# Scripts written without spaces between words: the fallback counts each character a word.
UNSPACED_CHAR = regex.compile(
    r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}]"
)
HAS_WORD_CHAR = regex.compile(r"[\p{L}\p{N}]")
STEM_MIN_CHARS = 4  # rouge-score stems only words longer than 3 characters
LINE_CACHE = 8192  # ROUGE-Lsum tokenizes each sentence again; the cache makes that free

FALLBACK_DESCRIPTION = (
    "unicode fallback: NFKC, lower-cased runs of letters/digits/marks, characters of "
    "unspaced scripts (Han, kana, Thai, ...) one by one, no stemming"
)


class LineTokenizer:
    """Tokenizes text line by line, remembering recent lines.

    Text reaches ROUGE one sentence per line; rouge-score tokenizes the whole text for
    ROUGE-1/2/L and each sentence again for ROUGE-Lsum, so the second pass hits the cache.
    """

    description = ""

    def __init__(self) -> None:
        self._line = functools.lru_cache(maxsize=LINE_CACHE)(self._tokenize_line)

    def tokenize(self, text: str) -> list[str]:
        tokens: list[str] = []
        for line in text.split("\n"):
            tokens.extend(self._line(line))
        return tokens

    def _tokenize_line(self, line: str) -> tuple[str, ...]:
        raise NotImplementedError


class EnglishTokenizer(LineTokenizer):
    """rouge-score's DefaultTokenizer: [a-z0-9] words, Porter-stemmed when longer than 3."""

    def __init__(self, stem: bool = True) -> None:
        super().__init__()
        from rouge_score.tokenizers import DefaultTokenizer

        self._default = DefaultTokenizer(use_stemmer=stem)
        self.description = "rouge-score default" + (" + Porter stemmer" if stem else "")

    def _tokenize_line(self, line: str) -> tuple[str, ...]:
        return tuple(self._default.tokenize(line))


class WordTokenizer(LineTokenizer):
    """Lower-cased Unicode words, accents kept, optionally Snowball-stemmed."""

    def __init__(self, snowball: str | None = None) -> None:
        super().__init__()
        self._stem: Callable[[str], str] | None = None
        self.description = "unicode words, accents kept"
        if snowball:
            from nltk.stem.snowball import SnowballStemmer

            self._stem = SnowballStemmer(snowball).stem
            self.description += f" + Snowball {snowball} stemmer"

    def _tokenize_line(self, line: str) -> tuple[str, ...]:
        words = WORD.findall(unicodedata.normalize("NFKC", line).lower())
        if self._stem is None:
            return tuple(words)
        stem = self._stem
        return tuple(stem(w) if len(w) >= STEM_MIN_CHARS else w for w in words)


class JapaneseTokenizer(LineTokenizer):
    """MeCab morphemes with the UniDic (lite) dictionary, punctuation dropped."""

    description = "MeCab (fugashi + unidic-lite) morphemes"

    def __init__(self) -> None:
        super().__init__()
        import fugashi

        self._tagger = fugashi.Tagger("-O wakati")

    def _tokenize_line(self, line: str) -> tuple[str, ...]:
        text = unicodedata.normalize("NFKC", line).lower()
        return tuple(t for t in self._tagger.parse(text).split() if HAS_WORD_CHAR.search(t))


class FallbackTokenizer(LineTokenizer):
    """For languages without a dedicated tokenizer: Unicode words, unspaced scripts by character."""

    description = FALLBACK_DESCRIPTION

    def _tokenize_line(self, line: str) -> tuple[str, ...]:
        text = unicodedata.normalize("NFKC", line).lower()
        tokens: list[str] = []
        for word in WORD.findall(text):
            if UNSPACED_CHAR.search(word) is None:
                tokens.append(word)
                continue
            # "東京tower" -> 東, 京, tower: unspaced characters alone, other runs whole
            start = 0
            for char in UNSPACED_CHAR.finditer(word):
                if char.start() > start:
                    tokens.append(word[start : char.start()])
                tokens.append(char.group())
                start = char.end()
            if start < len(word):
                tokens.append(word[start:])
        return tuple(t for t in tokens if HAS_WORD_CHAR.search(t))


def has_dedicated_tokenizer(lang: str) -> bool:
    known = LANGUAGES.get(lang)
    return lang in ("en", "ja") or (known is not None and known.script in ("latin", "cyrillic"))


@functools.cache
def tokenizer_for(lang: str, stem: bool = True) -> LineTokenizer:
    """The ROUGE tokenizer of `lang`; an unsupported language gets the fallback and a warning."""
    if lang == "en":
        return EnglishTokenizer(stem)
    if lang == "ja":
        return JapaneseTokenizer()
    if has_dedicated_tokenizer(lang):
        return WordTokenizer(LANGUAGES[lang].snowball if stem else None)
    log.warning(
        "ROUGE has no tokenizer for language %r; using the %s. Scores in %r are comparable "
        "among themselves, not with published ones",
        lang,
        FALLBACK_DESCRIPTION,
        lang,
    )
    return FallbackTokenizer()
