"""Strip what instruct models wrap around a summary, as the original study saw it happen.

The artefacts, in the order they are removed:
- `markup`: Markdown bold and heading marks (`**Summary:**`, `## Résumé`).
- `preamble`: a label or lead-in before the summary ("Summary:", "Here is a summary of the
  article:", "Voici un résumé :", "Hier ist eine Zusammenfassung:", "以下は要約です。").
- `second summary`: a second version after the first ("Alternative summary:", a repeated
  label, a translation heading, a `---` rule); everything from there on goes.
- `other language`: a paragraph in another language than the summary's (a translation
  appended without a heading).
- `meta comment`: sentences about the summary ("This summary covers...", "Ce résumé...").
- `offer of help`: "Let me know if...", "N'hésitez pas...", "お気軽に..." and all after it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from babelsum.lang.detect import detect_language
from babelsum.lang.sentences import join_sentences, split_sentences

_LABEL = (
    r"(?:(?:short|brief|concise|final|alternative|another|second|english|french|german|japanese)\s+)?"
    r"(?:summary|résumé|resume|zusammenfassung|要約|まとめ|概要)"
    r"(?:\s+(?:courte?|court|alternatif|alternative|en\s+\w+|auf\s+\w+|in\s+\w+|\d+))?"
    r"|(?:kurze|alternative|zweite)\s+zusammenfassung"
    r"|(?:autre|second|deuxième)\s+résumé"
)
# A line that only labels what follows: "Summary:", "**Résumé :**", "## Zusammenfassung".
LABEL_LINE = re.compile(rf"^\s*(?:{_LABEL})\s*(?:\(.*?\))?\s*[:：]?\s*$", re.IGNORECASE)
LABEL_PREFIX = re.compile(rf"^\s*(?:{_LABEL})\s*[:：]\s*", re.IGNORECASE)
LEAD_IN = re.compile(
    r"^\s*(?:here\s+is|here's|below\s+is|voici|ci-dessous|hier\s+ist|nachfolgend|im\s+folgenden)"
    r"[^\n:：]{0,80}[:：]\s*"
    r"|^\s*以下(?:は|が)[^\n。]{0,40}(?:要約|まとめ)(?:です|になります)?[。：:]\s*",
    re.IGNORECASE,
)
SECOND_START = re.compile(
    r"^\s*(?:-{3,}|\*{3,}|_{3,}|={3,}"
    r"|(?:english\s+|french\s+|german\s+|japanese\s+)?translation\b.*"
    r"|traduction\b.*|übersetzung\b.*|翻訳.*|英訳.*"
    r"|(?:version|variante)\s*\d+\s*[:：]?.*)$",
    re.IGNORECASE,
)
META = re.compile(
    r"^(?:this|the\s+(?:above|preceding))\s+summary\b|^in\s+this\s+summary\b"
    r"|^(?:ce|le)\s+résumé\s+(?:ci-dessus\s+)?(?:couvre|présente|résume|reprend|met|donne|aborde|se)"
    r"|^(?:diese|die\s+obige)\s+zusammenfassung\b"
    r"|^(?:この|上記の)要約は",
    re.IGNORECASE,
)
OFFER = re.compile(
    r"let\s+me\s+know|feel\s+free|i\s+hope\s+(?:this|that)|hope\s+this\s+helps"
    r"|if\s+you\s+(?:have|need|want|would\s+like)\b.*\b(?:question|help|more|detail|further)"
    r"|would\s+you\s+like|happy\s+to\s+help|glad\s+to\s+help|anything\s+else"
    r"|n'hésitez\s+pas|j'espère\s+que|si\s+vous\s+(?:avez|souhaitez|voulez|désirez)\b"
    r"|voulez-vous|souhaitez-vous|je\s+reste\s+à\s+votre"
    r"|lassen\s+sie\s+(?:mich|es\s+mich)\s+wissen|ich\s+hoffe|wenn\s+sie\s+(?:weitere|noch|mehr)"
    r"|möchten\s+sie|zögern\s+sie\s+nicht|gerne\s+(?:helfe|stehe)"
    r"|お気軽に|何かあれば|ご質問|お知らせください|他に.{0,10}(?:あれば|ありましたら)|お役に立て",
    re.IGNORECASE,
)
MARKUP = re.compile(r"\*\*|__|^#{1,6}\s*", re.MULTILINE)
MIN_CHARS_TO_JUDGE_LANGUAGE = 40


@dataclass(frozen=True)
class Cleaned:
    text: str
    removed: tuple[str, ...]  # the artefacts found, by name


def clean_summary(text: str, lang: str) -> Cleaned:
    """`text` without the artefacts listed in this module's docstring; `lang` is the language
    the summary should be in."""
    removed: list[str] = []

    def note(name: str, before: str, after: str) -> str:
        if after.strip() != before.strip() and name not in removed:
            removed.append(name)
        return after

    text = note("markup", text, MARKUP.sub("", text))
    text = note("preamble", text, _drop_preamble(text))
    text = note("second summary", text, _cut_second_summary(text))
    text = note("other language", text, _drop_other_language(text, lang))
    text = note("meta comment", text, _drop_sentences(text, lang, META, rest=False))
    text = note("offer of help", text, _drop_sentences(text, lang, OFFER, rest=True))
    # A character cut by max_new_tokens decodes as U+FFFD at the very end.
    text = re.sub(r"\n{3,}", "\n\n", text).strip().rstrip("\ufffd")
    text = text.strip().strip('"“”«»「」').strip()
    return Cleaned(text, tuple(removed))


def _drop_preamble(text: str) -> str:
    lines = text.strip().splitlines()
    while lines and (not lines[0].strip() or LABEL_LINE.match(lines[0])):
        lines.pop(0)
    text = "\n".join(lines)
    text = LEAD_IN.sub("", text, count=1)
    return LABEL_PREFIX.sub("", text, count=1)


def _cut_second_summary(text: str) -> str:
    lines = text.splitlines()
    seen_content = False
    for i, line in enumerate(lines):
        is_start = SECOND_START.match(line) or LABEL_LINE.match(line) or LABEL_PREFIX.match(line)
        if seen_content and line.strip() and is_start:
            return "\n".join(lines[:i])
        seen_content = seen_content or bool(line.strip())
    return text


def _drop_other_language(text: str, lang: str) -> str:
    """Keep the first paragraph, and the later ones that read as `lang`."""
    paragraphs = [p for p in text.splitlines() if p.strip()]
    kept = paragraphs[:1] + [
        p
        for p in paragraphs[1:]
        if len(p.strip()) < MIN_CHARS_TO_JUDGE_LANGUAGE or detect_language(p)[0] == lang
    ]
    return "\n".join(kept) if len(kept) < len(paragraphs) else text


def _drop_sentences(text: str, lang: str, pattern: re.Pattern, *, rest: bool) -> str:
    """Drop the sentences that match `pattern` (and, with `rest`, all that follow one)."""
    paragraphs = []
    for paragraph in text.split("\n"):
        sentences = split_sentences(paragraph, lang)
        kept = []
        for sentence in sentences:
            if pattern.search(sentence):
                if rest:
                    paragraphs.append(join_sentences(kept, lang))
                    return "\n".join(paragraphs)
                continue
            kept.append(sentence)
        paragraphs.append(join_sentences(kept, lang) if len(kept) < len(sentences) else paragraph)
    return "\n".join(paragraphs)
