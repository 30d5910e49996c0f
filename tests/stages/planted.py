"""Sweep folders for evaluation, judge and gather tests.

`planted_sweep` writes the outputs an evaluation or judge task would write (through the
stage's own scoring code) and the status files the runner would write, so gather can be
tested on any mix of finished, failed and blocked cells without running a model.
`eval_sweep` is a sweep whose split task is done (a small parallel test corpus), ready for
real evaluate and judge tasks on the tiny models.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from babelsum.state import SweepFolder, TaskStatus

ARTICLES = {
    "en": "The city of {t} lies on a large river. It has about half a million inhabitants. "
    "Its economy depends on trade and tourism. The old town is a world heritage site.",
    "fr": "La ville de {t} se trouve au bord d'un grand fleuve. Elle compte environ un "
    "demi-million d'habitants. Son économie repose sur le commerce et le tourisme.",
    "de": "Die Stadt {t} liegt an einem großen Fluss. Sie hat etwa eine halbe Million "
    "Einwohner. Ihre Wirtschaft beruht auf Handel und Tourismus.",
    "ja": "{t}は大きな川のほとりにある都市である。人口は約50万人である。経済は貿易と観光業に"
    "支えられている。",
}
SUMMARIES = {
    "en": "{t} is a river city of half a million people living from trade and tourism.",
    "fr": "{t} est une ville fluviale d'un demi-million d'habitants vivant du commerce.",
    "de": "{t} ist eine Flussstadt mit einer halben Million Einwohnern.",
    "ja": "{t}は人口約50万人の川沿いの都市である。",
}
TOPICS = ["Lyon", "Graz", "Porto", "Turku", "Brno", "Gent"]


# quick evaluation settings for the tiny models
EVALUATE = {
    "test_sets": ["novel"],
    "max_new_tokens": 12,
    "max_input_tokens": 256,
    "batch_size": 4,
    "bootstrap_samples": 100,
}


def test_rows(langs: list[str], topics: list[str] = TOPICS) -> list[dict]:
    return [
        {
            "article_id": f"topic-{topic.lower()}",
            "language": lang,
            "title": topic,
            "text": ARTICLES[lang].format(t=topic),
            "summary": SUMMARIES[lang].format(t=topic),
            "summary_language": lang,
            "summary_source": "gold",
            "url": "",
            "source": "test",
        }
        for topic in topics
        for lang in langs
    ]


def write_split(folder: Path, langs: list[str]) -> Path:
    """A split output: the four splits saved to disk, tests holding `test_rows(langs)`."""
    import datasets

    rows = test_rows(langs)
    for name in ("train", "validation", "test_novel", "test_same_topic"):
        datasets.Dataset.from_list(rows).save_to_disk(str(folder / name))
    # every topic in every same-topic cell (the planted splits are not a real split)
    topics = [f"topic-{t.lower()}" for t in TOPICS]
    cells = {f"{x}>{y}": topics for x in langs for y in langs if x != y}
    (folder / "same_topic_cells.json").write_text(json.dumps(cells))
    return folder


def mark(folder: SweepFolder, key: str, state: str, reason: str | None = None, index: int = 0):
    stage = key.split("/", 1)[0]
    folder.write_status(TaskStatus(key, stage, index, state=state, reason=reason))


def plant_evaluation(
    folder: SweepFolder,
    key: str,
    outputs: dict[tuple[str, str], str | None],
    hit_limit: tuple[str, ...] = (),
):
    """A finished evaluate task: `outputs` maps (topic, lang) to a prediction (None = failed,
    "" = empty); the generations of the topics in `hit_limit` used all of max_new_tokens."""
    from babelsum.files import write_jsonl
    from babelsum.metrics.predictions import cell_scores, check_and_score

    predictions = []
    for (topic, lang), text in outputs.items():
        record = {
            "article_id": f"topic-{topic.lower()}",
            "language": lang,
            "summary_language": lang,
            "reference": SUMMARIES[lang].format(t=topic),
            "prediction": text,
            "status": "failed" if text is None else "ok" if text else "empty",
            "reason": "RuntimeError: CUDA out of memory" if text is None else None,
            "new_tokens": 32 if topic in hit_limit else 10,
            "max_new_tokens_reached": topic in hit_limit,
            "article_cut": False,
        }
        if not text:
            record["prediction"] = None
        predictions.append(check_and_score(record))
    out = folder.output_dir(key)
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(out / "predictions.jsonl", predictions)
    lang = next(iter(outputs))[1]
    scores = cell_scores(predictions, lang, bootstrap_samples=200, seed=0)
    (out / "scores.json").write_text(json.dumps(scores))
    mark(folder, key, "done")


def plant_judge(folder: SweepFolder, key: str, scores: dict):
    out = folder.output_dir(key)
    out.mkdir(parents=True, exist_ok=True)
    (out / "scores.json").write_text(json.dumps(scores))
    mark(folder, key, "done")


def copy_model(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target
