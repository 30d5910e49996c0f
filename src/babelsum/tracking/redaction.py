"""Secrets never reach MLflow: tokens and passwords are masked before anything is journaled.

What counts as a secret, whatever its length:
- a value whose name names one, case-insensitively: `*PASSWORD*`, `*PASSWD*`, `*PASS`
  (`PGPASS`, `DB_PASS`), `*SECRET*`, `*TOKEN*` (not `max_new_tokens`, `tokenizer` or a
  tokenizer's `pad_token`), `*_KEY` (not `task_key`), `*CREDENTIAL*`, `*AUTHORIZATION*`;
  the value is replaced whole, in a mapping (params, tags, the config) and in text
  (`PGPASSWORD=...`, `"api_key": "..."`, `--password ...`);
- a password in a URL (`postgresql://u:p@h/db`, `redis://:p@h`, `https://user:pw@host`);
- a `Bearer ...` token; token-shaped values (`hf_...`, `ghp_...`, `sk-...`, `xoxb-...`, `AKIA...`);
- the value of any environment variable (or config entry) whose name names a secret, wherever
  it appears: as a substring from 6 characters on, as a whole word from 3 (shorter values,
  `1` or `yes`, would mask unrelated text; they are still masked under their own names).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

MASK = "***"

# Substrings that make a name a secret's name (matched on the lowercased name).
_SECRET_PARTS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "credential",
    "authorization",
    "apikey",
    "accesskey",
    "privatekey",
)
# `token` not followed by a letter (HF_TOKEN, token_file; not tokens, tokenizer); a name ending
# in `pass` (PGPASS, DB_PASS) or in `_key`/`-key`/`.key` (API_KEY, AWS_SECRET_ACCESS_KEY).
_SECRET_SHAPES = re.compile(r"token(?![a-z])|pass$|[_.-]key$|^key$")
# Special tokens of a tokenizer are text, not credentials.
_TOKENIZER_KEY = re.compile(
    r"(?:^|[^a-z0-9])(?:pad|eos|bos|unk|sep|cls|mask|decoder_start|forced_bos|forced_eos)_token(?:_id)?$"
)
_NOT_SECRETS = {"task_key"}  # the task's key (train/qwen/full/fr), a tag on every run

_TOKEN_VALUES = [
    # Hugging Face: hf_ and 20 letters or digits, or fewer with a digit or a capital among
    # them (not hf_cache, hf_transfer)
    re.compile(r"\bhf_(?:[A-Za-z0-9]{20,}|(?=[a-z]*[A-Z0-9])[A-Za-z0-9]{6,})\b"),
    re.compile(r"gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}"),  # GitHub
    re.compile(r"sk-[A-Za-z0-9_-]{20,}"),  # OpenAI-style API keys
    re.compile(r"xox[abpr]-[A-Za-z0-9-]{10,}"),  # Slack
    re.compile(r"AKIA[0-9A-Z]{16}"),  # AWS access key ids
]
_BEARER = re.compile(r"\b(Bearer|BEARER|bearer)(\s+)[A-Za-z0-9\-._~+/]+=*")
_AUTHORIZATION_LINE = re.compile(r"(?i)(\bauthorization\b[\"']?\s*[:=]\s*)[^\n]+")
# scheme://user:password@host (user may be empty: redis://:password@host)
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@", re.IGNORECASE)
# NAME=value, NAME: value, "NAME": "value" (the value quoted, or up to a separator)
_NAMED_VALUE = re.compile(
    r"""(?<![A-Za-z0-9_])([A-Za-z_][A-Za-z0-9_.-]*)(["']?\s*[:=]\s*)"""
    r"""("[^"\n]*"|'[^'\n]*'|[^\s"',;&}\]]+)"""
)
# --password value, --hf-token value
_FLAG_VALUE = re.compile(r"(--[A-Za-z0-9-]+)(\s+)(?!-)(\S+)")
_MIN_SUBSTRING_SECRET = 6  # masked wherever it appears
_MIN_WORD_SECRET = 3  # masked as a whole word only
_HARMLESS = {"true", "false", "yes", "no", "none", "null", "on", "off"}


def is_secret_key(key: str) -> bool:
    """Whether `key` (a variable, param, tag or config name) names a secret."""
    name = str(key).lower()
    if name in _NOT_SECRETS or _TOKENIZER_KEY.search(name):
        return False
    return any(part in name for part in _SECRET_PARTS) or bool(_SECRET_SHAPES.search(name))


class Redactor:
    """Masks secrets in values and text; knows the environment's secret values (read once)."""

    def __init__(self, environ: Mapping[str, str] | None = None):
        env = os.environ if environ is None else environ
        self.secrets: list[str] = []
        self._words: list[re.Pattern[str]] = []
        self.learn(env)

    def learn(self, data: Mapping[str, Any]) -> None:
        """Remember the values under secret keys of `data` (nested), to mask them anywhere."""
        found = set(self.secrets)
        words = {p.pattern for p in self._words}
        stack = [data]
        while stack:
            for key, value in stack.pop().items():
                if isinstance(value, Mapping):
                    stack.append(value)
                elif is_secret_key(str(key)) and isinstance(value, str):
                    value = value.strip()
                    if len(value) >= _MIN_SUBSTRING_SECRET:
                        found.add(value)
                    elif len(value) >= _MIN_WORD_SECRET and value.lower() not in _HARMLESS:
                        words.add(rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])")
        self.secrets = sorted(found, key=len, reverse=True)  # longest first: no partial masks
        self._words = [re.compile(w) for w in sorted(words, key=len, reverse=True)]

    def text(self, text: str) -> str:
        for value in self.secrets:
            if value in text:
                text = text.replace(value, MASK)
        for word in self._words:
            text = word.sub(MASK, text)
        for pattern in _TOKEN_VALUES:
            text = pattern.sub(MASK, text)
        text = _AUTHORIZATION_LINE.sub(rf"\g<1>{MASK}", text)
        text = _BEARER.sub(rf"\g<1>\g<2>{MASK}", text)
        text = _URL_PASSWORD.sub(rf"\g<1>{MASK}@", text)
        text = _NAMED_VALUE.sub(_mask_named, text)
        return _FLAG_VALUE.sub(_mask_named, text)

    def value(self, key: str, value: Any) -> Any:
        """The value to record under `key`: masked whole when the key names a secret."""
        if is_secret_key(key) and value not in (None, "", False):
            return MASK
        if isinstance(value, str):
            return self.text(value)
        return value

    def mapping(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """A nested mapping (a config, a dict of params) with every secret masked, names
        included (a name may hold an environment secret's value)."""
        return {self.text(str(k)): self._nested(str(k), v) for k, v in data.items()}

    def _nested(self, key: str, value: Any) -> Any:
        if isinstance(value, Mapping):
            return MASK if is_secret_key(key) and value else self.mapping(value)
        if isinstance(value, list | tuple):
            return [self._nested(key, v) for v in value]
        return self.value(key, value)


def _mask_named(match: re.Match[str]) -> str:
    name, between, value = match.groups()
    if not is_secret_key(name.lstrip("-")) or value.strip("\"'") in ("", MASK):
        return match.group(0)
    quote = value[0] if value[:1] in ("'", '"') else ""
    return f"{name}{between}{quote}{MASK}{quote}"
