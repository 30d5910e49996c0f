"""Topic-aware splits: train, validation, test_novel and test_same_topic.

A topic is an `article_id`: the same article in every language it exists in.
- validation and test_novel take whole topics, so a novel topic is never seen in training in
  any language;
- test_same_topic holds out (topic, language) pairs of training topics: the other-language
  versions of those topics stay in train, the held-out pair is removed from it;
- train is every remaining (topic, language) pair, capped per language if configured.
Topics are drawn in a seeded order, always for the language that has the fewest examples so
far, so every split is stratified by language. The same records and seed give the same splits.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from babelsum.config import SplitConfig
from babelsum.errors import SplitError, StageError

if TYPE_CHECKING:
    import datasets

SPLITS = ("train", "validation", "test_novel", "test_same_topic")
TEST_SPLITS = {"novel": "test_novel", "same_topic": "test_same_topic"}  # test set -> split


@dataclass
class Splits:
    train: list[dict]
    validation: list[dict]
    test_novel: list[dict]
    test_same_topic: list[dict]

    def by_name(self) -> dict[str, list[dict]]:
        return {name: getattr(self, name) for name in SPLITS}


def split_by_topic(records: list[dict], config: SplitConfig, languages: list[str]) -> Splits:
    topics: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for record in records:
        topics[record["article_id"]][record["language"]].append(record)
    order = sorted(topics)
    random.Random(config.seed).shuffle(order)

    wanted = config.validation_topics + config.test_novel_topics
    if wanted >= len(order):
        raise SplitError(
            f"split: {len(order)} topics, but validation_topics ({config.validation_topics}) + "
            f"test_novel_topics ({config.test_novel_topics}) leave none for training; lower them"
        )
    novel = _pick_topics(order, config.test_novel_topics, topics, languages)
    taken = set(novel)
    validation = _pick_topics(
        [t for t in order if t not in taken], config.validation_topics, topics, languages
    )
    taken |= set(validation)
    training = [t for t in order if t not in taken]

    held = _hold_out_same_topic(training, topics, languages, config)
    train_pairs = [
        (t, lang)
        for t in training
        for lang in _ordered(topics[t], languages)
        if lang not in held[t]
    ]
    train_pairs = _cap_per_language(train_pairs, config)

    def rows(pairs) -> list[dict]:
        return [r for t, lang in pairs for r in topics[t][lang]]

    def whole(chosen: list[str]) -> list[dict]:
        return rows((t, lang) for t in chosen for lang in _ordered(topics[t], languages))

    same_topic = [(t, lang) for t in training for lang in _ordered(held[t], languages)]
    return Splits(
        train=rows(train_pairs),
        validation=whole(validation),
        test_novel=whole(novel),
        test_same_topic=rows(same_topic),
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


def _hold_out_same_topic(
    training: list[str], topics: dict, languages: list[str], config: SplitConfig
) -> dict[str, set[str]]:
    """topic -> languages held out of train for test_same_topic.

    A pair is held out only if its topic keeps another language in train: that is what makes
    it the same topic as something trained on.
    """
    held: dict[str, set[str]] = defaultdict(set)
    need = config.test_same_topic_per_language
    if need == 0:
        return held
    for lang in languages:
        order = list(training)
        random.Random(f"{config.seed}/same_topic/{lang}").shuffle(order)
        candidates = [t for t in order if lang in topics[t] and set(topics[t]) - held[t] - {lang}]
        if len(candidates) < need:
            raise SplitError(
                f"split.test_same_topic_per_language is {need}, but only {len(candidates)} "
                f"training topics in {lang!r} also exist in another language; lower it "
                "(0 for data with one language per topic)"
            )
        for t in candidates[:need]:
            held[t].add(lang)
    return held


def _cap_per_language(pairs: list[tuple[str, str]], config: SplitConfig) -> list[tuple[str, str]]:
    cap = config.max_train_per_language
    if cap is None:
        return pairs
    by_lang: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for pair in pairs:
        by_lang[pair[1]].append(pair)
    kept: set[tuple[str, str]] = set()
    for lang, lang_pairs in by_lang.items():
        sample = list(lang_pairs)
        random.Random(f"{config.seed}/cap/{lang}").shuffle(sample)
        kept.update(sample[:cap])
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
    split_dir: Path, test_set: str, eval_lang: str, max_examples: int | None = None
) -> list[dict]:
    """The test articles in `eval_lang`, in the split's order; StageError when there are none."""
    name = TEST_SPLITS[test_set]
    records = [r for r in load_split(split_dir, name) if r["language"] == eval_lang]
    if max_examples is not None:
        records = records[:max_examples]
    if not records:
        raise StageError(
            f"the {name} split has no article in {eval_lang!r}; check the split settings "
            "(split.test_novel_topics, split.test_same_topic_per_language) and the data"
        )
    return records
