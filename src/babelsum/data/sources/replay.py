"""A recorded stand-in for the network: answers MediaWiki API calls from stored JSON files.

A recording is a folder of `*.json` files, each one answer or a list of answers:
`{"host": "fr.wikipedia.org", "params": {"action": "query", ...}, "response": {...}}`.
A call is answered by the recorded answer on its host whose `params` are all in the call,
the most specific one winning; a call with no answer fails naming the host and parameters,
so a gap in the recording never passes silently. It plugs into mwclient as its `pool`.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlparse

from babelsum.errors import SourceError

_IGNORED = {"format", "maxlag", "continue", "formatversion", "errorformat"}


class _Answer:
    status_code = 200

    def __init__(self, payload: dict):
        self.text = json.dumps(payload, ensure_ascii=False)
        self.headers: dict[str, str] = {}

    def raise_for_status(self) -> None:
        return None


class ReplaySession:
    """Quacks like the `requests.Session` mwclient uses: `request()` and `headers`."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise SourceError(f"data.wikipedia.recording: no such folder {self.folder.absolute()}")
        self.headers: dict[str, str] = {}
        self.answers = []
        for path in sorted(self.folder.rglob("*.json")):
            try:
                answers = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                raise SourceError(f"recorded answer {path} is not JSON: {exc}") from None
            self.answers += answers if isinstance(answers, list) else [answers]

    def request(self, method: str, url: str, params=None, data=None, **_) -> _Answer:
        host = urlparse(url).netloc
        call = {k: str(v) for k, v in (data or params or {}).items() if k not in _IGNORED}
        matches = [
            a
            for a in self.answers
            if a["host"] == host and all(call.get(k) == str(v) for k, v in a["params"].items())
        ]
        if not matches:
            shown = ", ".join(f"{k}={v}" for k, v in sorted(call.items()))
            raise SourceError(f"the recording {self.folder} has no answer for {host}: {shown}")
        return _Answer(max(matches, key=lambda a: len(a["params"]))["response"])
