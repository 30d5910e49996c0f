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
    for name in ("validation", "test_novel"):  # stratified: each language the same count
        counts = {lang: sum(r["language"] == lang for r in s[name]) for lang in LANGS}
        assert len(set(counts.values())) == 1, (name, counts)
    assert sum(len(rows) for rows in s.values()) == 160
    assert all(r["summary"] for rows in s.values() for r in rows)
    report = json.loads((split_output / "split_report.json").read_text())
    # trained on en only: one cell per other language, none on the diagonal
    assert report["same_topic_cells"] == {"en>fr": 4, "en>de": 4, "en>ja": 4}
    assert report["examples"]["test_same_topic"] == {"de": 4, "fr": 4, "ja": 4}
    assert "| en>fr | 4 |" in (split_output / "split_report.md").read_text()
    assert "text_whitespace_tokens" in report["lengths"]["train"]["ja"]
    assert "| test_novel | 6 |" in (split_output / "split_report.md").read_text()


def test_same_seed_same_splits_other_seed_other_splits(tmp_path):
    records = synthetic_articles(20, 0, LANGS)
    sizes = {"validation_topics": 2, "test_novel_topics": 3, "test_same_topic_per_pair": 2}
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
    with pytest.raises(StageError, match="the same-topic cell en>fr needs 4 'fr' articles"):
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
            "test_same_topic_per_pair": 2,
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


# ---------------------------------------------------------------- same-topic cells

STUDY = SMALL_SYNTHETIC | {
    "train": {"languages": ["en", "fr"]},
    "evaluate": {"languages": ["en", "fr", "de"]},
    "split": {"validation_topics": 4, "test_novel_topics": 6, "test_same_topic_per_pair": 5},
}


def check_definition(splits: Splits, cells: list[tuple[str, str]]) -> None:
    """For X>Y: Y-language articles whose topic is in X's train split, in no train split."""
    train = pairs(splits.train)
    held = pairs(splits.test_same_topic)
    for x, y in cells:
        topics = splits.same_topic_cells[f"{x}>{y}"]
        assert topics, (x, y)
        for t in topics:
            assert (t, x) in train and (t, y) not in train and (t, y) in held, (x, y, t)


def split_with(data: dict, records: list[dict]) -> Splits:
    from babelsum.config import validate_config
    from babelsum.data.splits import split_by_topic

    config = validate_config(data)
    return split_by_topic(records, config.split, config.languages, config.same_topic_pairs)


def test_each_same_topic_cell_holds_topics_its_training_language_was_trained_on():
    splits = split_with(STUDY, synthetic_articles(60, 0, LANGS))
    cells = [("en", "fr"), ("en", "de"), ("fr", "en"), ("fr", "de")]
    assert sorted(splits.same_topic_cells) == sorted(f"{x}>{y}" for x, y in cells)  # no X>X
    assert all(len(t) == 5 for t in splits.same_topic_cells.values())
    check_definition(splits, cells)


def test_a_cap_on_training_keeps_the_topics_of_same_topic_articles():
    data = STUDY | {"split": STUDY["split"] | {"max_train_per_language": 12}}
    splits = split_with(data, synthetic_articles(60, 0, LANGS))
    counts = {lang: sum(r["language"] == lang for r in splits.train) for lang in LANGS}
    assert max(counts.values()) == 12, counts
    check_definition(splits, [("en", "fr"), ("en", "de"), ("fr", "en"), ("fr", "de")])

    too_small = STUDY | {"split": STUDY["split"] | {"max_train_per_language": 3}}
    with pytest.raises(StageError, match=r"max_train_per_language is 3, but \d+ 'en' training"):
        split_with(too_small, synthetic_articles(60, 0, LANGS))


def test_sizes_per_pair_and_a_pair_that_cannot_be_filled():
    data = STUDY | {"split": STUDY["split"] | {"test_same_topic_sizes": {"fr>de": 9}}}
    splits = split_with(data, synthetic_articles(60, 0, LANGS))
    assert len(splits.same_topic_cells["fr>de"]) == 9 and len(splits.same_topic_cells["en>de"]) == 5
    # German exists for only 10 topics: the cell cannot hold 30
    records = synthetic_articles(60, 0, LANGS)
    german = sorted({r["article_id"] for r in records})[:10]
    records = [r for r in records if r["language"] != "de" or r["article_id"] in german]
    greedy = STUDY | {"split": STUDY["split"] | {"test_same_topic_sizes": {"en>de": 30}}}
    with pytest.raises(StageError, match=r"the same-topic cell en>de needs 30 'de' articles"):
        split_with(greedy, records)


def test_topic_shares_split_80_10_10():
    data = STUDY | {
        "split": STUDY["split"] | {"validation_topics": "10%", "test_novel_topics": "10%"}
    }
    splits = split_with(data, synthetic_articles(60, 0, LANGS))
    assert len({r["article_id"] for r in splits.validation}) == 6
    assert len({r["article_id"] for r in splits.test_novel}) == 6


def test_the_leak_guard_checks_each_cell_an_evaluation_reads():
    from babelsum.data.leak_guard import same_topic_violations

    splits = split_with(STUDY, synthetic_articles(60, 0, LANGS))
    cells = [("en", "fr"), ("en", "de"), ("fr", "en"), ("fr", "de")]
    assert same_topic_violations(splits, cells) == []
    # planted: an en>fr article whose topic the en model never saw (it is a novel topic)
    novel_topic = splits.test_novel[0]["article_id"]
    splits.same_topic_cells["en>fr"].append(novel_topic)
    found = same_topic_violations(splits, cells)
    assert f"same-topic cell en>fr: topic {novel_topic} is not in 'en' training data" in found
    assert same_topic_violations(splits, [("de", "fr")]) == [
        "same-topic cell de>fr: no article, but an evaluation reads it"
    ]


def test_a_planted_violation_fails_the_split_stage(tmp_path, monkeypatch):
    from babelsum.data import splits as splits_module

    real = splits_module.split_by_topic

    def planted(*args, **kwargs):
        splits = real(*args, **kwargs)
        # a topic whose French article is a training article: not a held-out one
        trained_in_french = next(r for r in splits.train if r["language"] == "fr")
        splits.same_topic_cells["en>fr"].append(trained_in_french["article_id"])
        return splits

    monkeypatch.setattr(splits_module, "split_by_topic", planted)
    with pytest.raises(StageError, match=r"leak guard: \d+ same-topic problems: same-topic cell"):
        run_split(tmp_path, synthetic_articles(40, 0, LANGS))


def test_official_splits_are_kept_and_still_guarded(tmp_path):
    records = synthetic_articles(40, 0, ["en"])
    topics = sorted({r["article_id"] for r in records})
    official = {
        t: "test" if i < 5 else "validation" if i < 9 else "train" for i, t in enumerate(topics)
    }
    records = [r | {"source_split": official[r["article_id"]]} for r in records]
    data = SMALL_SYNTHETIC | {
        "languages": ["en"],
        "split": {"use_official": True, "test_same_topic_per_pair": 0},
        "evaluate": {"test_sets": ["novel"]},
    }
    out = run_split(tmp_path / "a", records, data)
    assert {r["article_id"] for r in load_split(out, "test_novel")} == set(topics[:5])
    assert len(load_split(out, "train")) == 31 and len(load_split(out, "validation")) == 4
    # an official test article that is also a train article is a leak, official or not
    leaked = records + [records[-1] | {"source_split": "test"}]
    with pytest.raises(StageError, match=r"leak guard: 1 test examples leak into training"):
        run_split(tmp_path / "b", leaked, data)
    with pytest.raises(StageError, match=r"comes from split 'extra'; known: train"):
        run_split(tmp_path / "c", records + [records[0] | {"source_split": "extra"}], data)


def test_same_topic_sets_need_a_cell_and_a_size():
    from babelsum.config import validate_config
    from babelsum.errors import ConfigError

    one_language = SMALL_SYNTHETIC | {"evaluate": {"languages": ["en"]}}
    with pytest.raises(ConfigError, match="same_topic needs an evaluation language other than"):
        validate_config(one_language)
    empty = SMALL_SYNTHETIC | {"split": {"test_same_topic_per_pair": 0}}
    with pytest.raises(ConfigError, match="0 leaves every same-topic cell empty"):
        validate_config(empty)
    renamed = SMALL_SYNTHETIC | {"split": {"test_same_topic_per_language": 4}}
    with pytest.raises(ConfigError, match="is now test_same_topic_per_pair"):
        validate_config(renamed)
