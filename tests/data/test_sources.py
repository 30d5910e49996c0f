"""Sources: local files, Hugging Face datasets (local copies only) and Wikipedia (a replay)."""

import json
from pathlib import Path

import pytest

from babelsum.config import FilesSource, HFSource, WikipediaSource
from babelsum.data.quarantine import Rejected
from babelsum.data.sources.files import read_files
from babelsum.data.sources.hf import read_hf
from babelsum.data.sources.wikipedia import read_wikipedia
from babelsum.data.sources.wikipedia_api import Collection, collect_pages
from babelsum.errors import SourceError

REPLAY = Path(__file__).parent / "wikipedia_replay"
LANGS = ["en", "fr", "de", "ja"]
# Markup, files, tables and trailing sections of the recorded articles that must be gone.
MARKUP_LEFTOVERS = "{{ [[ <ref thumb vignette Reflist wikitable Catégorie Category 1901".split()
MARKUP_LEFTOVERS += ["External links", "Official website", "Notes et références"]
ROWS = [
    {"id": "a1", "body": "First article text.", "abstract": "First summary.", "lang": "en"},
    {"id": "a2", "body": "Zweiter Artikel.", "abstract": None, "lang": "de"},
]


# ---------------------------------------------------------------- files


def test_jsonl_with_column_mapping_and_unreadable_lines(tmp_path):
    path = tmp_path / "articles.jsonl"
    lines = [json.dumps(r).encode() for r in ROWS] + [b"{not json", b'{"id": "a3", "body": "\xff"}']
    path.write_bytes(b"\n".join(lines) + b"\n")
    config = FilesSource(
        paths=[str(path)],
        columns={"article_id": "id", "text": "body", "summary": "abstract", "language": "lang"},
    )
    out = list(read_files(config))
    assert out[0]["text"] == "First article text." and out[0]["summary_source"] == "gold"
    assert out[0]["summary_language"] == "en" and out[0]["source"] == "files"
    assert out[1]["summary"] is None and out[1]["summary_source"] is None
    assert isinstance(out[2], Rejected) and out[2].reason == "malformed_json"
    assert f"{path}:3" in out[2].detail
    assert out[3]["text"] == b"\xff".decode("utf-8", "surrogateescape")  # cleaning quarantines it


def test_a_jsonl_field_the_first_record_lacks_is_still_read(tmp_path):
    path = tmp_path / "articles.jsonl"
    rows = [
        {"article_id": "a1", "language": "en", "text": "First."},
        {"article_id": "a2", "language": "en", "text": "Second.", "summary": "Its summary."},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = list(read_files(FilesSource(paths=[str(path)])))
    assert [r["summary"] for r in out] == [None, "Its summary."]


def test_csv_and_parquet_with_a_fixed_language(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "a.csv").write_text("text,summary\nSome text,Its summary\n", encoding="utf-8")
    pq.write_table(pa.Table.from_pylist([{"text": "More text"}]), tmp_path / "b.parquet")
    config = FilesSource(
        paths=[str(tmp_path / "*.csv"), str(tmp_path / "b.parquet")], language="fr"
    )
    out = list(read_files(config))
    assert [(r["article_id"], r["language"], r["text"]) for r in out] == [
        ("a-1", "fr", "Some text"),
        ("b-1", "fr", "More text"),
    ]


def test_files_errors_name_the_file_and_column(tmp_path):
    with pytest.raises(SourceError, match="no such file .*missing.jsonl"):
        list(read_files(FilesSource(paths=[str(tmp_path / "missing.jsonl")])))
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n")
    with pytest.raises(SourceError, match=r"a.jsonl: no column 'content'; columns there: id, body"):
        list(read_files(FilesSource(paths=[str(path)], columns={"text": "content"})))
    with pytest.raises(SourceError, match="no language column"):
        list(read_files(FilesSource(paths=[str(path)], columns={"text": "body"})))
    with pytest.raises(SourceError, match="format of .*a.txt"):
        (tmp_path / "a.txt").write_text("x")
        list(read_files(FilesSource(paths=[str(tmp_path / "a.txt")])))


# ---------------------------------------------------------------- Hugging Face


def test_hf_xsum_preset_from_a_local_folder(tmp_path):
    for split, n in (("train", 2), ("test", 1)):
        rows = [{"id": f"{split}{i}", "document": f"Doc {i}", "summary": "Sum"} for i in range(n)]
        (tmp_path / f"{split}.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    out = list(read_hf(HFSource(name=str(tmp_path), preset="xsum", splits=["train", "test"])))
    assert [r["article_id"] for r in out] == ["train0", "train1", "test0"]
    assert {(r["language"], r["summary_language"], r["source"]) for r in out} == {
        ("en", "en", "hf")
    }


def test_hf_slds_preset_reads_decision_and_headnote_languages(tmp_path):
    import datasets

    rows = {
        "sample_id": [1],
        "decision_id": ["d-77"],
        "decision": ["Le recours est rejeté."],
        "decision_language": ["fr"],
        "headnote": ["Die Beschwerde wird abgewiesen."],
        "headnote_language": ["de"],
        "url": ["https://example.org/d-77"],
    }
    datasets.Dataset.from_dict(rows).save_to_disk(str(tmp_path / "slds"))
    (record,) = read_hf(HFSource(name=str(tmp_path / "slds"), preset="slds"))
    assert record["article_id"] == "d-77"
    assert (record["language"], record["summary_language"]) == ("fr", "de")
    assert record["text"].startswith("Le recours") and record["summary"].startswith("Die")


def test_hf_dataset_not_available_offline_is_one_clear_error():
    """HF_HUB_OFFLINE=1 (tests/conftest.py): the Hub cannot be reached, as on a compute node."""
    with pytest.raises(SourceError) as err:
        list(read_hf(HFSource(name="babelsum-tests/never-cached", preset="xsum")))
    message = str(err.value)
    assert "babelsum-tests/never-cached" in message and "\n" not in message
    assert "HF_HUB_CACHE" in message


def test_hf_unknown_column(tmp_path):
    (tmp_path / "train.jsonl").write_text(json.dumps({"id": "1", "text": "x"}))
    with pytest.raises(SourceError, match="no column 'document'"):
        list(read_hf(HFSource(name=str(tmp_path), preset="xsum")))


# ---------------------------------------------------------------- Wikipedia


def test_wikipedia_from_a_recorded_replay():
    """A replay of hand-written API answers stands in for the network (tests/data/...)."""
    config = WikipediaSource(recording=str(REPLAY))
    records = list(read_wikipedia(config, ["en", "fr"]))
    assert [(r["article_id"], r["language"]) for r in records] == [
        ("Q90", "en"),
        ("Q11982", "en"),  # from the continued answer
        ("en:Tiny", "en"),  # no Wikidata item: a topic of its own
        ("Q90", "fr"),
        ("Q1268", "fr"),
        ("Q1268", "en"),  # the French good article's English version, through its language link
        ("Q11982", "fr"),  # and the other way round
    ]
    paris_en, paris_fr = records[0], records[3]
    assert paris_en["url"] == "https://en.wikipedia.org/wiki/Paris"
    assert paris_en["text"].startswith("Paris is the capital and largest city of France.")
    assert paris_fr["text"].startswith("Paris est la capitale de la France")
    assert records[6]["text"].startswith("La photosynthèse est le processus")
    for r in records:
        for leftover in MARKUP_LEFTOVERS:
            assert leftover not in r["text"], (r["title"], leftover)
        assert r["summary"] is None and r["source"] == "wikipedia"


def test_wikipedia_topics_aligned_through_language_links():
    """The replay (a stand-in for Wikipedia) describes four topics; some miss some languages."""
    found = Collection()
    pages = list(collect_pages(WikipediaSource(recording=str(REPLAY)), LANGS, found))
    assert found.topics == {
        "Q90": {"en": "Paris", "fr": "Paris", "de": "Paris", "ja": "パリ"},
        "Q11982": {"en": "Photosynthesis", "de": "Photosynthese", "fr": "Photosynthèse",
                   "ja": "光合成"},  # ja from the continued langlinks answer
        "Q1268": {"fr": "Frédéric Chopin", "de": "Frédéric Chopin", "en": "Frédéric Chopin"},
        "Q39231": {"ja": "富士山", "en": "Mount Fuji"},
    }  # fmt: skip
    assert found.counts == {
        "en": {"listed": 3, "linked": 2},
        "fr": {"listed": 2, "linked": 1},
        "de": {"listed": 2, "linked": 1},
        "ja": {"listed": 1, "linked": 2},
    }
    assert found.namespaces["de"] == ["Datei", "Kategorie"]
    shown = [(p["language"], p["wikidata_item"], p["quality"]) for p in pages]
    assert shown == [
        ("en", "Q90", "featured"), ("en", "Q11982", "featured"), ("en", None, "featured"),
        ("fr", "Q90", "featured"), ("fr", "Q1268", "good"),
        ("de", "Q1268", "featured"), ("de", "Q11982", "good"),
        ("ja", "Q39231", "good"),
        # linked: the topics in most languages first, whatever order the API answers in
        ("en", "Q1268", "none"), ("en", "Q39231", "none"),  # Mount Fuji's content came later
        ("fr", "Q11982", "none"), ("de", "Q90", "none"),
        ("ja", "Q90", "none"), ("ja", "Q11982", "none"),
    ]  # fmt: skip
    fuji = pages[9]
    assert fuji["title"] == "Mount Fuji" and "stratovolcano" in fuji["wikitext"]
    assert fuji["category"] is None and pages[0]["category"] == "Category:Featured articles"
    for page in pages:
        assert isinstance(page["revision_id"], int) and page["revision_timestamp"]
        assert page["retrieved"].endswith("Z") and page["url"].startswith("https://")


def test_wikipedia_linked_articles_capped_or_not_followed():
    capped = WikipediaSource(recording=str(REPLAY), linked_limit_per_language=1)
    found = Collection()
    linked = [
        (p["language"], p["title"])
        for p in collect_pages(capped, LANGS, found)
        if p["quality"] == "none"
    ]
    assert linked == [("en", "Frédéric Chopin"), ("fr", "Photosynthèse"), ("de", "Paris"),
                      ("ja", "パリ")]  # fmt: skip
    assert found.topics["Q39231"] == {"ja": "富士山", "en": "Mount Fuji"}  # there, over the cap
    alone = WikipediaSource(recording=str(REPLAY), follow_langlinks=False)
    assert {p["quality"] for p in collect_pages(alone, LANGS, Collection())} == {"featured", "good"}


def test_wikipedia_limit_and_a_gap_in_the_recording():
    config = WikipediaSource(recording=str(REPLAY), limit_per_language=1)
    assert [r["title"] for r in read_wikipedia(config, ["en"])] == ["Paris"]
    config = WikipediaSource(recording=str(REPLAY), categories={"it": ["Categoria:Voci"]})
    with pytest.raises(SourceError, match="no answer for it.wikipedia.org"):
        list(read_wikipedia(config, ["it"]))
    with pytest.raises(SourceError, match="no default good/featured categories for 'es'"):
        list(read_wikipedia(config, ["es"]))
