"""Fixtures of the config tests: config files written into a folder of their own."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

# A small valid study; a model name with dots, as real ones have (qwen2.5-0.5b).
STUDY = """\
study: t
languages: [en, fr]
models:
  qwen2.5-0.5b: {path: tiny:qwen2, family: qwen2}
train:
  languages: [en]
  methods:
    - {model: qwen2.5-0.5b, method: qlora}
"""


@pytest.fixture
def write(tmp_path, monkeypatch):
    """write("name.yaml", text) -> its path; the test runs in that folder, which holds
    nothing else (so that a test can check nothing was written)."""
    monkeypatch.chdir(tmp_path)

    def write(name: str, text: str = STUDY) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return path

    return write


@pytest.fixture
def launch(capsys):
    """launch(*argv) -> (exit code, stdout, stderr) of `launch` run in this process."""
    from babelsum.cli import main

    def run(*argv: object) -> tuple[int, str, str]:
        code = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def error_lines(err: str) -> list[str]:
    """The `error:` lines of stderr; asserts there is nothing else (no traceback, no usage)."""
    lines = err.strip().splitlines()
    assert lines and all(line.startswith("error: ") for line in lines), err
    return lines
