"""Topic-aware splits: train, validation, test_novel and test_same_topic.

A topic is an `article_id`: the same article in every language it exists in.
- validation and test_novel take whole topics, so a novel topic is never seen in training in
  any language;
- test_same_topic is made of cells, one per (training language X, evaluation language Y),
  X != Y: Y-language articles whose topic is in X's training data and which are themselves in
  no training data. A model trained on X is evaluated on the X>Y cell; the base model on every
  article of Y (the union of the cells), and compared with a trained model on the articles
  they share. There is no X>X cell: that article would be the training article itself;
- train is every remaining (topic, language) pair, capped per language if configured (a cap
  never drops the training article that makes a same-topic article "same topic").
Topics are drawn in a seeded order, always for the language that has the fewest examples so
far, so every split is stratified by language. The same records and seed give the same splits.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from babelsum.config import SplitConfig
from babelsum.errors import SplitError, StageError

if TYPE_CHECKING:
    import datasets

SPLITS = ("train", "validation", "test_novel", "test_same_topic")
TEST_SPLITS = {"novel": "test_novel", "same_topic": "test_same_topic"}  # test set -> split
SAME_TOPIC_CELLS = "same_topic_cells.json"  # in the split output: "X>Y" -> topics, in order

Pair = tuple[str, str]  # (topic, language), or (training language, evaluation language)


@dataclass
class Splits:
    train: list[dict]
    validation: list[dict]
    test_novel: list[dict]
    test_same_topic: list[dict]
    # "X>Y" -> the topics of the Y-language articles of that same-topic cell, in split order
    same_topic_cells: dict[str, list[str]] = field(default_factory=dict)

    def by_name(self) -> dict[str, list[dict]]:
        return {name: getattr(self, name) for name in SPLITS}


def cell_name(train_lang: str, eval_lang: str) -> str:
    return f"{train_lang}>{eval_lang}"


def split_by_topic(
    records: list[dict],
    config: SplitConfig,
    languages: list[str],
    same_topic_pairs: list[Pair] = (),
) -> Splits:
    """Split `records` by topic; `same_topic_pairs` are the (training language, evaluation
    language) cells to hold out, `config.same_topic_size(x, y)` articles each."""
    topics: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for record in records:
        topics[record["article_id"]][record["language"]].append(record)
    order = sorted(topics)
    random.Random(config.seed).shuffle(order)

    n_novel = config.topics("test_novel_topics", len(order))
    n_validation = config.topics("validation_topics", len(order))
    if n_novel + n_validation >= len(order):
        raise SplitError(
            f"split: {len(order)} topics, but validation_topics ({config.validation_topics}) + "
            f"test_novel_topics ({config.test_novel_topics}) leave none for training; lower them"
        )
    novel = _pick_topics(order, n_novel, topics, languages)
    taken = set(novel)
    validation = _pick_topics([t for t in order if t not in taken], n_validation, topics, languages)
    taken |= set(validation)
    training = [t for t in order if t not in taken]

    held, anchors, cells = _same_topic_cells(training, topics, same_topic_pairs, config)
    train_pairs = [
        (t, lang)
        for t in training
        for lang in _ordered(topics[t], languages)
        if (t, lang) not in held
    ]
    train_pairs = _cap_per_language(train_pairs, anchors, config)

    def rows(pairs) -> list[dict]:
        return [r for t, lang in pairs for r in topics[t][lang]]

    def whole(chosen: list[str]) -> list[dict]:
        return rows((t, lang) for t in chosen for lang in _ordered(topics[t], languages))

    same_topic = [(t, lang) for t in training for lang in _ordered(topics[t], languages)]
    return Splits(
        train=rows(train_pairs),
        validation=whole(validation),
        test_novel=whole(novel),
        test_same_topic=rows(p for p in same_topic if p in held),
        same_topic_cells={cell_name(x, y): chosen for (x, y), chosen in cells.items()},
    )


# the names sources give their splits -> ours
OFFICIAL = {
    "train": "train",
    "validation": "validation",
    "valid": "validation",
    "dev": "validation",
    "test": "test_novel",
}


def official_splits(records: list[dict], config: SplitConfig, languages: list[str]) -> Splits:
    """The source's own train/validation/test splits (`split.use_official`), so that scores
    compare with published ones; the cap still applies to train, and the leak guard runs
    after this as after any split."""
    by_split: dict[str, list[dict]] = defaultdict(list)
    for record in records:
        ours = OFFICIAL.get(record.get("source_split") or "")
        if ours is None:
            raise SplitError(
                f"split.use_official: article {record['article_id']} ({record['language']}) "
                f"comes from split {record.get('source_split')!r}; known: {', '.join(OFFICIAL)} "
                "(set data.hf.splits to the source's train, validation and test splits)"
            )
        by_split[ours].append(record)
    if not by_split["train"] or not by_split["test_novel"]:
        raise SplitError(
            "split.use_official needs the source's train and test splits; data.hf.splits "
            f"gave {', '.join(sorted({r.get('source_split') or '?' for r in records}))}"
        )
    train_pairs = [(r["article_id"], r["language"]) for r in by_split["train"]]
    kept = set(_cap_per_language(train_pairs, set(), config))
    return Splits(
        train=[r for r in by_split["train"] if (r["article_id"], r["language"]) in kept],
        validation=by_split["validation"],
        test_novel=by_split["test_novel"],
        test_same_topic=[],
    )


def _ordered(langs, languages: list[str]) -> list[str]:
    """Languages in the study's order, then any others alphabetically."""
    rank = {lang: i for i, lang in enumerate(languages)}
    return sorted(langs, key=lambda lang: (rank.get(lang, len(rank)), lang))


def _pick_topics(order: list[str], count: int, topics: dict, languages: list[str]) -> list[str]:
    """`count` topics from `order`, each for the language with the fewest examples so far."""
    queues = {lang: iter([t for t in order if lang in topics[t]]) for lang in languages}
    per_language = dict.fromkeys(languages, 0)
    chosen: list[str] = []
    taken: set[str] = set()
    while len(chosen) < count and per_language:
        neediest = min(per_language, key=per_language.__getitem__)
        pick = next((t for t in queues[neediest] if t not in taken), None)
        if pick is None:  # no topic left in that language: stop asking for it
            del per_language[neediest]
            continue
        taken.add(pick)
        chosen.append(pick)
        for lang in topics[pick]:
            if lang in per_language:
                per_language[lang] += len(topics[pick][lang])
    return chosen


def _same_topic_cells(
    training: list[str], topics: dict, pairs: list[Pair], config: SplitConfig
) -> tuple[set[Pair], set[Pair], dict[Pair, list[str]]]:
    """The same-topic cells: (held, anchors, cells).

    held: (topic, Y) pairs taken out of train; anchors: (topic, X) pairs that must stay in
    train, because a cell X>Y counts on them; cells: (X, Y) -> topics. Articles already held
    out, then topics already kept, are preferred: fewer articles leave training (or are pinned
    in it under a cap), and cells share their articles where the data allows, which makes
    them easier to compare.
    """
    held: set[Pair] = set()
    anchors: set[Pair] = set()
    cells: dict[Pair, list[str]] = {}
    for train_lang, eval_lang in pairs:
        need = config.same_topic_size(train_lang, eval_lang)
        if need == 0:
            continue
        order = list(training)
        random.Random(f"{config.seed}/same_topic/{train_lang}>{eval_lang}").shuffle(order)
        free = [
            t
            for t in order
            if train_lang in topics[t]
            and eval_lang in topics[t]
            and (t, train_lang) not in held
            and (t, eval_lang) not in anchors
        ]
        # reuse first: an article already held out, then a topic already kept in training
        free.sort(key=lambda t: ((t, eval_lang) not in held, (t, train_lang) not in anchors))
        chosen = free[:need]
        if len(chosen) < need:
            raise SplitError(
                f"split: the same-topic cell {cell_name(train_lang, eval_lang)} needs {need} "
                f"{eval_lang!r} articles whose topic is in {train_lang!r} training data, but only "
                f"{len(free)} exist; lower split.test_same_topic_per_pair (or "
                f"split.test_same_topic_sizes['{cell_name(train_lang, eval_lang)}']) or add data"
            )
        rank = {t: i for i, t in enumerate(training)}
        cells[(train_lang, eval_lang)] = sorted(chosen, key=rank.__getitem__)
        held |= {(t, eval_lang) for t in chosen}
        anchors |= {(t, train_lang) for t in chosen}
    return held, anchors, cells


def _cap_per_language(pairs: list[Pair], anchors: set[Pair], config: SplitConfig) -> list[Pair]:
    """At most `max_train_per_language` pairs per language, the same-topic anchors first."""
    cap = config.max_train_per_language
    if cap is None:
        return pairs
    by_lang: dict[str, list[Pair]] = defaultdict(list)
    for pair in pairs:
        by_lang[pair[1]].append(pair)
    kept: set[Pair] = set()
    for lang, lang_pairs in by_lang.items():
        needed = [p for p in lang_pairs if p in anchors]
        if len(needed) > cap:
            raise SplitError(
                f"split.max_train_per_language is {cap}, but {len(needed)} {lang!r} training "
                "articles are the topics of same-topic test articles; raise the cap or lower "
                "split.test_same_topic_per_pair"
            )
        others = [p for p in lang_pairs if p not in anchors]
        random.Random(f"{config.seed}/cap/{lang}").shuffle(others)
        kept.update(needed + others[: cap - len(needed)])
    return [p for p in pairs if p in kept]


def load_split(split_output_dir: Path, name: str) -> datasets.Dataset:
    """One split written by the split stage: train, validation, test_novel or test_same_topic."""
    import datasets

    if name not in SPLITS:
        raise ValueError(f"unknown split {name!r}; splits: {', '.join(SPLITS)}")
    path = Path(split_output_dir) / name
    if not path.is_dir():
        raise FileNotFoundError(
            f"no split {name!r} in {split_output_dir} (is the split task done?)"
        )
    return datasets.load_from_disk(str(path))


def test_articles(
    split_dir: Path,
    test_set: str,
    eval_lang: str,
    max_examples: int | None = None,
    train_lang: str | None = None,
) -> list[dict]:
    """The test articles of one evaluation cell, in the split's order; StageError when there
    are none.

    novel: every article in `eval_lang`. same_topic: the `train_lang`>`eval_lang` cell; for
    a base model (train_lang None) the union of every cell in `eval_lang`, so that each
    trained model's cell is among the base model's articles. `max_examples` cuts each cell,
    never the union, for the same reason.
    """
    name = TEST_SPLITS[test_set]
    records = [r for r in load_split(split_dir, name) if r["language"] == eval_lang]
    if test_set == "same_topic":
        cells = same_topic_cells(split_dir)
        if train_lang is not None:
            wanted = [cells.get(cell_name(train_lang, eval_lang), [])]
        else:
            wanted = [topics for pair, topics in cells.items() if pair.endswith(f">{eval_lang}")]
        keep = {t for topics in wanted for t in topics[:max_examples]}
        records = [r for r in records if r["article_id"] in keep]
    elif max_examples is not None:
        records = records[:max_examples]
    if not records:
        cell = f"{name} {train_lang}>{eval_lang}" if train_lang else f"{name} split"
        raise StageError(
            f"the {cell} has no article in {eval_lang!r}; check the split settings "
            "(split.test_novel_topics, split.test_same_topic_per_pair) and the data"
        )
    return records


def same_topic_cells(split_dir: Path) -> dict[str, list[str]]:
    """ "X>Y" -> the topics of that same-topic cell, as the split stage wrote them."""
    path = Path(split_dir) / SAME_TOPIC_CELLS
    if not path.is_file():
        raise StageError(f"no {SAME_TOPIC_CELLS} in {split_dir} (written by the split stage)")
    return json.loads(path.read_text(encoding="utf-8"))
