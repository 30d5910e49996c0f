"""The languages babelsum knows: names, scripts and model-specific codes.

Pure data, no imports: config validation, prompts, ROUGE and mBART all read it.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    code: str  # ISO 639-1
    english_name: str
    native_name: str
    mbart_code: str  # mBART-50 language token
    script: str  # "latin", "cjk", "cyrillic", ...
    snowball: str | None  # NLTK Snowball stemmer name, if one exists


LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in [
        Language("en", "English", "English", "en_XX", "latin", "english"),
        Language("fr", "French", "français", "fr_XX", "latin", "french"),
        Language("de", "German", "Deutsch", "de_DE", "latin", "german"),
        Language("ja", "Japanese", "日本語", "ja_XX", "cjk", None),
        Language("it", "Italian", "italiano", "it_IT", "latin", "italian"),
        Language("es", "Spanish", "español", "es_XX", "latin", "spanish"),
        Language("pt", "Portuguese", "português", "pt_XX", "latin", "portuguese"),
        Language("nl", "Dutch", "Nederlands", "nl_XX", "latin", "dutch"),
        Language("ru", "Russian", "русский", "ru_RU", "cyrillic", "russian"),
        Language("zh", "Chinese", "中文", "zh_CN", "cjk", None),
    ]
}


def language(code: str) -> Language:
    """The Language for an ISO code; a KeyError names the codes that are known."""
    try:
        return LANGUAGES[code]
    except KeyError:
        known = ", ".join(sorted(LANGUAGES))
        raise KeyError(f"unknown language code {code!r}; known codes: {known}") from None
