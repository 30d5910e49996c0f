"""The leak guard: no test example may have been trained on, under its id or under another.

Checked after splitting, before anything is written:
- no (topic, language) of validation, test_novel or test_same_topic is in train;
- no test_novel topic is in train or validation in any language;
- no evaluated text is also a train text (the same article under two ids);
- every same-topic cell an evaluation will read holds what its name promises: for X>Y,
  Y-language articles whose topic is in X's training data and which are in no training data.
"""

from __future__ import annotations

import hashlib

from babelsum.data.splits import Splits, cell_name


def _text_key(text: str) -> str:
    return hashlib.sha1(" ".join(text.casefold().split()).encode()).hexdigest()


def find_leaks(splits: Splits) -> list[str]:
    """One line per leaked example; empty when the splits are clean."""
    train_pairs = {(r["article_id"], r["language"]) for r in splits.train}
    train_topics: dict[str, set[str]] = {}
    for r in splits.train:
        train_topics.setdefault(r["article_id"], set()).add(r["language"])
    train_texts = {_text_key(r["text"]): r for r in splits.train}
    validation_topics = {r["article_id"] for r in splits.validation}

    leaks = []
    for name in ("validation", "test_novel", "test_same_topic"):
        for r in getattr(splits, name):
            pair = (r["article_id"], r["language"])
            if pair in train_pairs:
                leaks.append(f"{name}: {pair[0]} ({pair[1]}) is also in train")
            elif (twin := train_texts.get(_text_key(r["text"]))) is not None:
                leaks.append(
                    f"{name}: {pair[0]} ({pair[1]}) has the same text as train article "
                    f"{twin['article_id']} ({twin['language']})"
                )
    for r in splits.test_novel:
        topic = r["article_id"]
        if topic in train_topics and (topic, r["language"]) not in train_pairs:
            langs = ", ".join(sorted(train_topics[topic]))
            leaks.append(f"test_novel: topic {topic} is in train (in {langs})")
        if topic in validation_topics:
            leaks.append(f"test_novel: topic {topic} is also in validation")
    return leaks


def same_topic_violations(splits: Splits, cells: list[tuple[str, str]]) -> list[str]:
    """One line per article of the same-topic cells `cells` ((training language, evaluation
    language), the cells evaluation tasks will read) that breaks the definition; a cell that
    is missing or empty is a violation too."""
    train_pairs = {(r["article_id"], r["language"]) for r in splits.train}
    held = {(r["article_id"], r["language"]) for r in splits.test_same_topic}
    problems = []
    for train_lang, eval_lang in cells:
        name = cell_name(train_lang, eval_lang)
        topics = splits.same_topic_cells.get(name)
        if train_lang == eval_lang:
            problems.append(f"same-topic cell {name}: a cell on the diagonal cannot exist")
        elif not topics:
            problems.append(f"same-topic cell {name}: no article, but an evaluation reads it")
        for topic in topics or []:
            if (topic, train_lang) not in train_pairs:
                problems.append(
                    f"same-topic cell {name}: topic {topic} is not in {train_lang!r} training data"
                )
            if (topic, eval_lang) in train_pairs:
                problems.append(f"same-topic cell {name}: {topic} ({eval_lang}) is in train")
            if (topic, eval_lang) not in held:
                problems.append(
                    f"same-topic cell {name}: {topic} ({eval_lang}) is not in test_same_topic"
                )
    return problems
