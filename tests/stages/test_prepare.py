"""The prepare stage: source -> cleaning -> dataset, quarantine.jsonl and counts."""

import json
from pathlib import Path

import datasets
import pytest

from babelsum.data.schema import FIELDS
from babelsum.errors import StageError
from babelsum.files import read_jsonl
from babelsum.stages import prepare
from tests.contexts import SMALL_SYNTHETIC, make_context

REPLAY = Path(__file__).parents[1] / "data" / "wikipedia_replay"
TEXT = {
    "en": "The harbour was rebuilt after the storm, and the fishing fleet returned within a "
    "year. New quays were added for ferries, and the old warehouses became a market hall.",
    "fr": "Le port a été reconstruit après la tempête, et la flotte de pêche est revenue en "
    "moins d'un an. De nouveaux quais ont été ajoutés pour les ferries et les entrepôts.",
}


def config_with(data: dict, languages=("en", "fr")) -> dict:
    return SMALL_SYNTHETIC | {"languages": list(languages), "data": data}


def test_synthetic_prepare(tmp_path):
    ctx = make_context(tmp_path, SMALL_SYNTHETIC, "prepare")
    summary = prepare.run(ctx)
    dataset = datasets.load_from_disk(str(ctx.output_dir / "dataset"))
    assert tuple(dataset.column_names) == FIELDS and len(dataset) == 160
    assert summary["kept"] == 160 and summary["quarantined"] == 0
    counts = json.loads((ctx.output_dir / "counts.json").read_text())
    assert counts["kept"] == {"de": 40, "en": 40, "fr": 40, "ja": 40}
    logged = [json.loads(line) for line in ctx.tracker.journal.read_text().splitlines()]
    assert any(e["kind"] == "metrics" and e["metrics"]["kept/ja"] == 40 for e in logged)


def test_bad_records_are_quarantined_with_reasons_and_counted(tmp_path, capsys):
    rows = [
        {
            "article_id": "p1",
            "language": "en",
            "text": TEXT["en"],
            "summary": "The harbour was rebuilt.",
        },
        {
            "article_id": "p1",
            "language": "fr",
            "text": TEXT["fr"],
            "summary": "Le port a été reconstruit.",
        },
        {"article_id": "p2", "language": "en", "text": TEXT["en"]},  # same text as p1
        {"article_id": "p3", "language": "en", "text": "Too short."},
        {"article_id": "p4", "language": "fr", "text": TEXT["en"] + " More."},  # wrong language
        {"article_id": "p5", "language": "zz", "text": TEXT["en"]},
        {"article_id": "p6", "language": "en"},
    ]
    path = tmp_path / "in.jsonl"
    lines = [json.dumps(r).encode() for r in rows] + [
        b'{"article_id": "p7", "language": "en", "text": "\xfe"}',
        b"{oops",
    ]
    path.write_bytes(b"\n".join(lines))
    data = {"source": "files", "files": {"paths": [str(path)]}, "cleaning": {"min_chars": 100}}
    ctx = make_context(tmp_path, config_with(data), "prepare")
    prepare.run(ctx)

    quarantined = read_jsonl(ctx.output_dir / "quarantine.jsonl")
    assert [(q["article_id"], q["reason"]) for q in quarantined] == [
        ("p2", "duplicate_text"),
        ("p3", "too_short"),
        ("p4", "wrong_language"),
        ("p5", "unknown_language"),
        ("p6", "missing_field"),
        ("p7", "invalid_utf8"),
        (None, "malformed_json"),
    ]
    assert len(datasets.load_from_disk(str(ctx.output_dir / "dataset"))) == 2
    counts = json.loads((ctx.output_dir / "counts.json").read_text())
    assert counts["quarantined"]["too_short"] == {"en": 1}
    assert counts["read"] == 9
    printed = capsys.readouterr().out
    assert "2 articles kept, 7 quarantined" in printed and "quarantined: wrong_language" in printed


def test_wikipedia_prepare_from_the_replay(tmp_path):
    """The Wikipedia source runs on a recorded replay of the API, standing in for the network."""
    data = {
        "source": "wikipedia",
        "wikipedia": {"recording": str(REPLAY)},
        "cleaning": {"min_chars": 100},
    }
    config = config_with(data) | {"hf_cache": str(tmp_path / "hub")}  # no snapshot there
    ctx = make_context(tmp_path, config, "prepare")
    prepare.run(ctx)
    dataset = datasets.load_from_disk(str(ctx.output_dir / "dataset"))
    found = sorted(zip(dataset["article_id"], dataset["language"], strict=True))
    assert found == [  # each topic in both languages, through the language links
        ("Q11982", "en"), ("Q11982", "fr"), ("Q1268", "en"), ("Q1268", "fr"),
        ("Q90", "en"), ("Q90", "fr"),
    ]  # fmt: skip
    (stub,) = read_jsonl(ctx.output_dir / "quarantine.jsonl")
    assert stub["reason"] == "too_short" and stub["article_id"] == "en:Tiny"


def test_stage_errors_are_one_line(tmp_path):
    data = {"source": "files", "files": {"paths": [str(tmp_path / "nope.jsonl")]}}
    with pytest.raises(StageError, match="no such file .*nope.jsonl"):
        prepare.run(make_context(tmp_path / "a", config_with(data), "prepare"))

    path = tmp_path / "en-only.jsonl"
    path.write_text(json.dumps({"article_id": "x", "language": "en", "text": TEXT["en"]}))
    data = {"source": "files", "files": {"paths": [str(path)]}, "cleaning": {"min_chars": 10}}
    with pytest.raises(StageError, match="no article left in fr after cleaning"):
        prepare.run(make_context(tmp_path / "b", config_with(data), "prepare"))

    data = {"source": "synthetic", "synthetic": {"topics": 3}}
    with pytest.raises(StageError, match="data.synthetic: the synthetic corpus has no it text"):
        prepare.run(make_context(tmp_path / "c", config_with(data, ("en", "it")), "prepare"))
