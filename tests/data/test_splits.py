"""The split stage: topic-aware splits, determinism, teacher merge, and the leak guard."""

import json
from pathlib import Path

import pytest

from babelsum.data.leak_guard import find_leaks
from babelsum.data.schema import to_dataset
from babelsum.data.splits import SPLITS, Splits, load_split
from babelsum.data.synthetic import synthetic_articles
from babelsum.errors import StageError
from babelsum.files import read_jsonl
from babelsum.stages import split
from tests.contexts import SMALL_SYNTHETIC, make_context

LANGS = SMALL_SYNTHETIC["languages"]


def prepared(tmp_path: Path, records: list[dict]) -> Path:
    """A prepare output folder holding `records`, as the prepare stage would leave it."""
    folder = tmp_path / "prepared"
    to_dataset(records).save_to_disk(str(folder / "dataset"))
    return folder


def run_split(tmp_path: Path, records: list[dict], data: dict = SMALL_SYNTHETIC, **upstream):
    ctx = make_context(
        tmp_path / "sweep", data, "split", {"prepare": prepared(tmp_path, records), **upstream}
    )
    split.run(ctx)
    return ctx.output_dir


def pairs(rows) -> set[tuple[str, str]]:
    return {(r["article_id"], r["language"]) for r in rows}


def test_splits_by_topic(split_output):
    s = {name: load_split(split_output, name).to_list() for name in SPLITS}
    train_topics = {r["article_id"] for r in s["train"]}
    novel_topics = {r["article_id"] for r in s["test_novel"]}
    validation_topics = {r["article_id"] for r in s["validation"]}
    assert not novel_topics & train_topics and not novel_topics & validation_topics
    assert len(novel_topics) == 6 and len(validation_topics) == 4
    # same-topic examples: held out of train, but their topic is trained on in another language
    assert not pairs(s["test_same_topic"]) & pairs(s["train"])
    assert {r["article_id"] for r in s["test_same_topic"]} <= train_topics
    for name in SPLITS:  # stratified: the parallel corpus gives each language the same count
        counts = {lang: sum(r["language"] == lang for r in s[name]) for lang in LANGS}
        assert len(set(counts.values())) == 1, (name, counts)
    assert sum(len(rows) for rows in s.values()) == 160
    assert all(r["summary"] for rows in s.values() for r in rows)
    report = json.loads((split_output / "split_report.json").read_text())
    assert report["examples"]["test_same_topic"] == dict.fromkeys(sorted(LANGS), 4)
    assert "text_whitespace_tokens" in report["lengths"]["train"]["ja"]
    assert "| test_novel | 6 |" in (split_output / "split_report.md").read_text()


def test_same_seed_same_splits_other_seed_other_splits(tmp_path):
    records = synthetic_articles(20, 0, LANGS)
    sizes = {"validation_topics": 2, "test_novel_topics": 3, "test_same_topic_per_language": 2}
    data = SMALL_SYNTHETIC | {"split": sizes | {"seed": 5}}
    first = run_split(tmp_path / "a", records, data)
    again = run_split(tmp_path / "b", records, data)
    other = run_split(tmp_path / "c", records, data | {"split": data["split"] | {"seed": 6}})
    for name in SPLITS:
        assert load_split(first, name).to_list() == load_split(again, name).to_list()
    assert (
        load_split(first, "test_novel")["article_id"]
        != load_split(other, "test_novel")["article_id"]
    )


def test_max_train_per_language(tmp_path):
    data = SMALL_SYNTHETIC | {"split": SMALL_SYNTHETIC["split"] | {"max_train_per_language": 5}}
    out = run_split(tmp_path, synthetic_articles(40, 0, LANGS), data)
    assert len(load_split(out, "train")) == 20


def test_planted_leak_fails_the_stage(tmp_path):
    """The same article under a second id (a duplicate Wikidata item, say) crosses splits."""
    records = synthetic_articles(40, 0, LANGS)
    copies = [
        r | {"article_id": "copy-" + r["article_id"]} for r in records if r["language"] == "en"
    ]
    with pytest.raises(StageError, match=r"leak guard: \d+ test examples leak into training"):
        run_split(tmp_path, records + copies)


def test_leak_guard_finds_pair_and_topic_leaks():
    row = {"article_id": "Q1", "language": "en", "text": "one", "summary": "s"}
    clean = Splits(
        train=[row],
        validation=[],
        test_novel=[row | {"article_id": "Q2", "text": "two"}],
        test_same_topic=[row | {"language": "fr", "text": "un"}],
    )
    assert find_leaks(clean) == []
    leaky = Splits(
        train=clean.train + [row | {"article_id": "Q2", "language": "de", "text": "zwei"}],
        validation=[],
        test_novel=clean.test_novel,
        test_same_topic=clean.test_same_topic + [row | {"text": "one again"}],
    )
    assert find_leaks(leaky) == [
        "test_same_topic: Q1 (en) is also in train",
        "test_novel: topic Q2 is in train (in de)",
    ]


def test_sizes_larger_than_the_data(tmp_path):
    records = synthetic_articles(8, 0, LANGS)
    with pytest.raises(StageError, match=r"8 topics, but validation_topics \(4\) \+ test_novel"):
        sizes = {"validation_topics": 4, "test_novel_topics": 6}
        run_split(tmp_path / "a", records, SMALL_SYNTHETIC | {"split": sizes})
    one_language = synthetic_articles(20, 0, ["en"])
    with pytest.raises(StageError, match="test_same_topic_per_language is 4, but only 0"):
        run_split(tmp_path / "b", one_language)


def test_teacher_summaries_are_merged_and_failures_quarantined(tmp_path):
    no_summary = {"summary": None, "summary_language": None, "summary_source": None}
    records = [r | no_summary for r in synthetic_articles(20, 0, LANGS)]
    shards = {}
    for shard in range(2):
        folder = tmp_path / f"shard-{shard}"
        folder.mkdir()
        answers = []
        for row in range(shard, len(records), 2):
            r = records[row]
            failed = row == 3
            answer = {"article_id": r["article_id"], "language": r["language"], "variant": 0}
            answer |= {"summary_language": r["language"], "status": "ok", "reason": None}
            if failed:
                answer |= {"status": "failed", "reason": "wrong_language: reads as en"}
            answers.append(answer | {"summary": None if failed else f"Summary of {r['title']}."})
        (folder / "summaries.jsonl").write_text("".join(json.dumps(a) + "\n" for a in answers))
        shards[f"teacher/shard-{shard:04d}"] = folder
    data = SMALL_SYNTHETIC | {
        "teacher": {"backend": "lead", "shards": 2},
        "split": {
            "validation_topics": 2,
            "test_novel_topics": 3,
            "test_same_topic_per_language": 2,
        },
    }
    out = run_split(tmp_path, records, data, **shards)
    rows = [r for name in SPLITS for r in load_split(out, name)]
    assert len(rows) == 79 and {r["summary_source"] for r in rows} == {"teacher"}
    (failed,) = read_jsonl(out / "quarantine.jsonl")
    assert failed["reason"] == "teacher_failed"
    assert failed["detail"] == "wrong_language: reads as en"
    assert (failed["article_id"], failed["language"]) == (records[3]["article_id"], "ja")


def test_no_summary_and_no_teacher(tmp_path):
    records = [r | {"summary": None} for r in synthetic_articles(20, 0, LANGS)]
    with pytest.raises(StageError, match=r"no article has a summary \(no_summary\)"):
        run_split(tmp_path, records)


def test_load_split_names():
    with pytest.raises(ValueError, match="unknown split 'test'"):
        load_split(Path("."), "test")
