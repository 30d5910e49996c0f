"""Offline Wikipedia: `launch prefetch` writes a snapshot; offline prepare reads only that.

Wikipedia itself is out of reach: the recorded replay in tests/data/wikipedia_replay/ (hand-made
MediaWiki API answers for a few topics in en, fr, de and ja) stands in for it, through
`data.wikipedia.recording`. The prepare task then runs in this process with the network
blocked (every socket connect raises), so a call it tried to make would fail the test.
"""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import datasets
import pytest
import yaml

from babelsum import api, runner
from babelsum.cli import main as launch
from babelsum.config import validate_config
from babelsum.data.sources import wikipedia_snapshot
from babelsum.data.sources.wikipedia import read_sweep_wikipedia
from babelsum.data.split_report import report_markdown, split_report
from babelsum.errors import SourceError
from babelsum.state import SweepFolder

REPLAY = Path(__file__).parent / "wikipedia_replay"
LANGS = ["en", "fr", "de", "ja"]


def study(tmp_path: Path, recording: Path | None, **wikipedia) -> dict:
    return {
        "study": "wiki-offline",
        "languages": LANGS,
        "offline": True,
        "hf_cache": str(tmp_path / "hub"),
        "data": {
            "source": "wikipedia",
            "wikipedia": {"recording": str(recording) if recording else None, **wikipedia},
            "cleaning": {"min_chars": 100},
        },
        "models": {"tiny": {"path": "tiny:qwen2"}},
        "train": {"languages": ["en"], "methods": [{"model": "tiny", "method": "full"}]},
        "tracking": {"enabled": False},
    }


def write_config(folder: Path, data: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "study.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def no_network(monkeypatch):
    """Every connection this process tries raises."""

    def refuse(*args, **kwargs):
        raise OSError("the network is blocked in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_prefetch_then_offline_prepare_reads_the_snapshot_without_network(
    tmp_path, capsys, request
):
    recording = tmp_path / "recording"  # a copy, deleted before prepare runs
    shutil.copytree(REPLAY, recording)
    config_file = write_config(tmp_path / "configs", study(tmp_path, recording))

    assert launch(["prefetch", str(config_file)]) == 0
    printed = capsys.readouterr().out
    folder = wikipedia_snapshot.snapshot_dir(validate_config(study(tmp_path, recording)))
    assert folder.parent == tmp_path / "hub" / "babelsum-wikipedia"
    assert f"wikipedia snapshot: {folder}" in printed and "en 3+2, fr 2+1" in printed

    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["languages"] == LANGS
    assert manifest["articles"]["ja"] == {"listed": 1, "linked": 2}
    assert manifest["topics_by_languages"] == {"2": 1, "3": 1, "4": 2}
    assert manifest["endpoints"]["fr"] == f"recording {recording}"
    assert manifest["babelsum_version"] and manifest["finished"].endswith("Z")
    topics = json.loads((folder / "topics.json").read_text())
    assert topics["Q1268"] == {"fr": "Frédéric Chopin", "de": "Frédéric Chopin",
                               "en": "Frédéric Chopin"}  # fmt: skip
    (paris_de,) = [
        json.loads(line)
        for line in (folder / "articles" / "de.jsonl").read_text().splitlines()
        if json.loads(line)["title"] == "Paris"
    ]
    assert paris_de["quality"] == "none" and paris_de["wikidata_item"] == "Q90"
    assert paris_de["revision_id"] and paris_de["retrieved"] and "{{Infobox" in paris_de["wikitext"]

    # ---- a compute node: no recording, no network; preflight passes, prepare reads the snapshot
    shutil.rmtree(recording)
    request.getfixturevalue("no_network")
    with pytest.raises(OSError, match="blocked"):
        socket.create_connection(("en.wikipedia.org", 443))
    sweep = tmp_path / "sweep"
    api.create(config_file, executor="local", sweep_dir=sweep)
    runner.run_task(sweep, "prepare", 0)
    assert "reading the Wikipedia snapshot" in capsys.readouterr().out
    dataset = datasets.load_from_disk(str(SweepFolder(sweep).output_dir("prepare") / "dataset"))
    found = {lang: set() for lang in LANGS}
    for item, lang in zip(dataset["article_id"], dataset["language"], strict=True):
        found[lang].add(item)
    assert found == {
        "en": {"Q90", "Q11982", "Q1268", "Q39231"},  # en:Tiny is too short: quarantined
        "fr": {"Q90", "Q1268", "Q11982"},
        "de": {"Q1268", "Q11982", "Q90"},
        "ja": {"Q39231", "Q90", "Q11982"},
    }
    assert not any("\\u" in text or "{{" in text for text in dataset["text"])


def test_offline_without_a_snapshot_is_one_line_from_preflight_and_from_the_prepare_task(
    tmp_path, capsys
):
    config_file = write_config(tmp_path / "configs", study(tmp_path, REPLAY, snapshot="wiki"))
    expected = tmp_path / "configs" / "wiki"  # relative to the config file's folder

    assert launch(["sweep", str(config_file), "--sweep-dir", str(tmp_path / "a"), "--quiet"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: preflight: data.wikipedia: no Wikipedia snapshot at ")
    assert str(expected) in line and "run `launch prefetch CONFIG`" in line
    assert not (tmp_path / "a").exists()

    sweep = tmp_path / "b"
    api.create(config_file, executor="local", sweep_dir=sweep, preflight=False)
    assert runner.main([str(sweep), "prepare", "0", "attempt-1"]) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == (
        f"babelsum: task failed: data.wikipedia: no Wikipedia snapshot at {expected} "
        f"(offline: true reads only that); run `launch prefetch {config_file}` on a node with "
        "internet"
    )
    status = SweepFolder(sweep).read_status("prepare")
    assert status.state == "failed" and str(expected) in status.reason


def test_without_offline_an_existing_snapshot_is_read_and_the_log_says_so(tmp_path, capsys):
    config = validate_config(study(tmp_path, REPLAY) | {"offline": False})

    def by_language(records):  # the snapshot keeps one file per language
        return sorted(records, key=lambda r: (r["language"], r["article_id"]))

    live = list(read_sweep_wikipedia(config))  # no snapshot yet: the API (its stand-in)
    assert "reading the articles from the API" in capsys.readouterr().out
    wikipedia_snapshot.write_snapshot(config, wikipedia_snapshot.snapshot_dir(config))
    assert by_language(read_sweep_wikipedia(config)) == by_language(live)
    assert "offline is false, but a snapshot is read" in capsys.readouterr().out

    # a snapshot named in the config may have been collected with other settings: a notice
    named = study(tmp_path, REPLAY, snapshot=str(tmp_path / "named"))
    wikipedia_snapshot.write_snapshot(validate_config(named), tmp_path / "named")
    named["data"]["wikipedia"]["limit_per_language"] = 7
    list(read_sweep_wikipedia(validate_config(named)))
    assert "limit_per_language: snapshot 500, config 7" in capsys.readouterr().out
    named["languages"] = [*LANGS, "es"]
    with pytest.raises(SourceError, match="has no articles in es"):
        list(read_sweep_wikipedia(validate_config(named)))


def test_a_failed_prefetch_leaves_the_previous_snapshot_whole(tmp_path):
    folder = tmp_path / "snapshot"
    good = study(tmp_path, REPLAY, snapshot=str(folder))
    first = wikipedia_snapshot.write_snapshot(validate_config(good), folder)
    gap = good | {"languages": [*LANGS, "it"]}
    gap["data"]["wikipedia"]["categories"] = {"it": ["Categoria:Voci in vetrina"]}
    with pytest.raises(SourceError, match="no answer for it.wikipedia.org"):
        wikipedia_snapshot.write_snapshot(validate_config(gap), folder)
    assert json.loads((folder / "manifest.json").read_text()) == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snapshot"]  # no temporary folder


def test_the_split_report_counts_topics_by_their_languages():
    def rows(*pairs):
        return [
            {"article_id": t, "language": lang, "text": "x", "summary": "y"} for t, lang in pairs
        ]

    splits = {
        "train": rows(("Q1", "en"), ("Q1", "fr"), ("Q2", "en"), ("Q3", "ja")),
        "test_same_topic": rows(("Q1", "de"), ("Q1", "ja"), ("Q3", "de")),  # Q1: 4 languages
        "test_novel": rows(("Q4", "fr"), ("Q4", "en"), ("Q4", "de")),
    }
    report = split_report(splits, 0, {})
    assert report["topic_languages"] == {"1": 1, "2": 1, "3": 1, "4": 1}
    assert "| topics | 1 | 1 | 1 | 1 |" in report_markdown(report)
