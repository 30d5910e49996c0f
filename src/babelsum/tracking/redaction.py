"""Secrets never reach MLflow: tokens and passwords are masked before anything is journaled.

Three rules, applied to params, tags, the logged config and text artifacts:
- a value whose key names a secret (`HF_TOKEN`, `db_password`, `api_key`) is replaced whole;
- a value that looks like a token (`hf_...`, `ghp_...`, `sk-...`, a password in a URL) is masked;
- the value of any environment variable (or config entry) whose name names a secret is masked
  wherever it appears.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

MASK = "***"

_SECRET_WORDS = r"token|password|passwd|passphrase|secret|api[_-]?key|access[_-]?key|private[_-]?key|credentials?"
# A secret word standing alone between separators: HF_TOKEN, api-key, db.password; not
# max_new_tokens (a count) nor tokenizer.
_SECRET_KEY = re.compile(rf"(?:^|[^a-z0-9])(?:{_SECRET_WORDS})(?:$|[^a-z0-9])", re.IGNORECASE)
# Special tokens of a tokenizer are text, not credentials.
_TOKENIZER_KEY = re.compile(
    r"(?:^|[^a-z0-9])(?:pad|eos|bos|unk|sep|cls|mask|decoder_start|forced_bos|forced_eos)_token(?:_id)?$",
    re.IGNORECASE,
)
_TOKEN_VALUES = [
    re.compile(r"hf_[A-Za-z0-9]{20,}"),  # Hugging Face
    re.compile(r"gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}"),  # GitHub
    re.compile(r"sk-[A-Za-z0-9_-]{20,}"),  # OpenAI-style API keys
    re.compile(r"xox[abpr]-[A-Za-z0-9-]{10,}"),  # Slack
    re.compile(r"AKIA[0-9A-Z]{16}"),  # AWS access key ids
]
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)[^@\s/]+@", re.IGNORECASE)
_MIN_ENV_SECRET = 6  # shorter values ("1", "yes") would mask unrelated text


def is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(key)) and not _TOKENIZER_KEY.search(key)


class Redactor:
    """Masks secrets in values and text; knows the environment's secret values (read once)."""

    def __init__(self, environ: Mapping[str, str] | None = None):
        env = os.environ if environ is None else environ
        self.secrets: list[str] = []
        self.learn(env)

    def learn(self, data: Mapping[str, Any]) -> None:
        """Remember the values under secret keys of `data` (nested), to mask them anywhere."""
        found = set(self.secrets)
        stack = [data]
        while stack:
            for key, value in stack.pop().items():
                if isinstance(value, Mapping):
                    stack.append(value)
                elif is_secret_key(str(key)) and isinstance(value, str):
                    if len(value) >= _MIN_ENV_SECRET:
                        found.add(value)
        self.secrets = sorted(found, key=len, reverse=True)  # longest first: no partial masks

    def text(self, text: str) -> str:
        for value in self.secrets:
            if value in text:
                text = text.replace(value, MASK)
        for pattern in _TOKEN_VALUES:
            text = pattern.sub(MASK, text)
        return _URL_PASSWORD.sub(rf"\g<1>{MASK}@", text)

    def value(self, key: str, value: Any) -> Any:
        """The value to record under `key`: masked whole when the key names a secret."""
        if is_secret_key(key) and value not in (None, "", False):
            return MASK
        if isinstance(value, str):
            return self.text(value)
        return value

    def mapping(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """A nested mapping (a config, a dict of params) with every secret masked."""
        return {str(k): self._nested(str(k), v) for k, v in data.items()}

    def _nested(self, key: str, value: Any) -> Any:
        if isinstance(value, Mapping):
            return MASK if is_secret_key(key) and value else self.mapping(value)
        if isinstance(value, list | tuple):
            return [self._nested(key, v) for v in value]
        return self.value(key, value)
