"""The teacher stage end to end: shards, resume, the lead, hf and vllm backends."""

import importlib.util
import json

import datasets
import pytest

from babelsum.config import validate_config
from babelsum.errors import StageError
from babelsum.plan import make_plan
from babelsum.stages import StageContext
from babelsum.stages import teacher as teacher_stage
from babelsum.state import SweepFolder
from babelsum.tracking import Tracker

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TEXTS = {
    "en": "The city of {t} lies on a large river. It has about half a million inhabitants. "
    "Its economy depends on trade and tourism. The old town is a world heritage site.",
    "fr": "La ville de {t} se trouve au bord d'un grand fleuve. Elle compte environ un "
    "demi-million d'habitants. Son économie repose sur le commerce et le tourisme. "
    "La vieille ville est classée au patrimoine mondial.",
    "de": "Die Stadt {t} liegt an einem großen Fluss. Sie hat etwa eine halbe Million "
    "Einwohner. Ihre Wirtschaft beruht auf Handel und Tourismus. Die Altstadt ist "
    "Weltkulturerbe.",
    "ja": "{t}は大きな川のほとりにある都市である。人口は約50万人である。経済は貿易と観光業に"
    "支えられている。旧市街は世界遺産に登録されている。",
}
TOPICS = ["Lyon", "Graz", "Porto"]
FIELDS = {"article_id", "language", "summary", "summary_language", "variant", "status", "reason"}


def _sweep(
    tmp_path, teacher: dict, models: dict | None = None, **more
) -> tuple[SweepFolder, object]:
    """A sweep folder whose prepare task is done: 12 articles, 3 topics in 4 languages."""
    config = validate_config(
        {
            "study": "teacher-test",
            "languages": list(TEXTS),
            "teacher": teacher,
            "models": models or {},
            "train": {"languages": ["en"], "methods": []},
            "tracking": {"enabled": False},
        }
        | more
    )
    folder = SweepFolder(tmp_path / "sweep")
    rows = [
        {
            "article_id": f"topic-{i}",
            "language": lang,
            "title": topic,
            "text": text.format(t=topic),
            "summary": None,
            "summary_language": None,
            "summary_source": None,
            "url": "",
            "source": "test",
        }
        for i, topic in enumerate(TOPICS)
        for lang, text in TEXTS.items()
    ]
    datasets.Dataset.from_list(rows).save_to_disk(str(folder.output_dir("prepare") / "dataset"))
    return folder, config


def _run(folder: SweepFolder, config, shard: int, tmp_path) -> tuple[dict, list[dict], Tracker]:
    plan = make_plan(config)
    task = plan.stage("teacher").tasks[shard]
    output = tmp_path / f"out-{shard}"
    output.mkdir(exist_ok=True)
    tracker = Tracker(folder.journal_path(task.key))
    ctx = StageContext(folder, plan, config, task, output, folder.work_dir(task.key), tracker)
    summary = teacher_stage.run(ctx)
    records = [json.loads(line) for line in (output / "summaries.jsonl").read_text().splitlines()]
    return summary, records, tracker


def _metrics(tracker: Tracker) -> dict:
    lines = [json.loads(x) for x in tracker.journal.read_text().splitlines()]
    return {k: v for x in lines if x["kind"] == "metrics" for k, v in x["metrics"].items()}


def test_lead_teacher_over_two_shards(tmp_path):
    folder, config = _sweep(tmp_path, {"backend": "lead", "shards": 2, "lead_sentences": 2})
    every = []
    for shard in (0, 1):
        summary, records, tracker = _run(folder, config, shard, tmp_path)
        assert len(records) == 6 and summary["articles"] == 6
        assert all(set(r) == FIELDS for r in records)
        every += records
    assert len({(r["article_id"], r["language"]) for r in every}) == 12
    by_key = {(r["article_id"], r["language"]): r for r in every}
    assert all(r["status"] == "ok" and r["reason"] is None for r in every)
    assert by_key[("topic-0", "fr")]["summary"] == (
        "La ville de Lyon se trouve au bord d'un grand fleuve. "
        "Elle compte environ un demi-million d'habitants."
    )
    assert by_key[("topic-1", "ja")]["summary"] == (
        "Grazは大きな川のほとりにある都市である。人口は約50万人である。"
    )
    assert by_key[("topic-1", "ja")]["summary_language"] == "ja"
    metrics = _metrics(tracker)  # shard 1 holds rows 1, 3, 5...: French and Japanese
    assert metrics["kept"] == 6 and metrics["failed"] == 0
    assert metrics["kept/fr"] == metrics["kept/ja"] == 3 and "kept/en" not in metrics


def test_lead_failures_carry_their_reason(tmp_path):
    folder, config = _sweep(tmp_path, {"backend": "lead", "lead_sentences": 1, "min_words": 12})
    summary, records, tracker = _run(folder, config, 0, tmp_path)
    assert summary["failed"] == 12 and summary["kept"] == 0
    assert all(r["status"] == "failed" and r["summary"] is None for r in records)
    assert records[0]["reason"].startswith("too short:")
    assert _metrics(tracker)["failed/fr"] == 3


def test_an_interrupted_shard_resumes_where_it_stopped(tmp_path, monkeypatch):
    from babelsum.teacher.backends import LeadBackend

    folder, config = _sweep(tmp_path, {"backend": "lead", "batch_size": 1})  # 4 per chunk
    journal = folder.work_dir("teacher/shard-0000") / teacher_stage.JOURNAL
    real = LeadBackend.summarize
    seen: list[int] = []

    def killed_in_second_chunk(self, articles, variants):
        if seen:
            with open(journal, "a") as f:
                f.write('{"row": 4, "article_')  # a line torn by the kill
            raise KeyboardInterrupt
        seen.extend(a.row for a in articles)
        return real(self, articles, variants)

    monkeypatch.setattr(LeadBackend, "summarize", killed_in_second_chunk)
    with pytest.raises(KeyboardInterrupt):
        _run(folder, config, 0, tmp_path)
    assert seen == [0, 1, 2, 3]

    def counting(self, articles, variants):
        seen.extend(a.row for a in articles)
        return real(self, articles, variants)

    seen.clear()
    monkeypatch.setattr(LeadBackend, "summarize", counting)
    summary, records, _ = _run(folder, config, 0, tmp_path)
    assert seen == list(range(4, 12))  # only what the first attempt did not finish
    assert len(records) == 12 and summary["kept"] == 12
    assert [r["article_id"] for r in records] == [f"topic-{i // 4}" for i in range(12)]


def test_hf_teacher_with_a_tiny_model(tmp_path, tiny_models):
    """Random weights write noise: most answers fail the checks, are asked once more with the
    next prompt variant, and are recorded with both reasons."""
    models = {"tiny": {"path": str(tiny_models["qwen2"]), "family": "qwen2"}}
    teacher = {"backend": "hf", "model": "tiny", "batch_size": 4, "max_new_tokens": 8}
    folder, config = _sweep(tmp_path, {**teacher, "rotate_every": 2}, models)
    summary, records, tracker = _run(folder, config, 0, tmp_path)
    assert all(set(r) == FIELDS for r in records)
    failed = [i for i, r in enumerate(records) if r["status"] == "failed"]
    assert len(failed) >= 6 and summary["failed"] == len(failed)
    assert summary["retried"] >= len(failed)
    for i, record in enumerate(records):
        first = (i // 2) % 3  # rotation: rows 0-1 take variant 0, rows 2-3 variant 1, ...
        if record["status"] == "failed":
            assert "; retry: " in record["reason"] and record["summary"] is None
            assert record["variant"] == (first + 1) % 3  # the retry took the next wording
        else:
            assert record["variant"] in (first, (first + 1) % 3) and record["summary"]
    assert _metrics(tracker)["failed"] == len(failed)

    folder, config = _sweep(
        tmp_path / "lenient", {**teacher, "min_words": 0, "check_language": False}, models
    )
    summary, records, _ = _run(folder, config, 0, tmp_path / "lenient")
    ok = [r for r in records if r["status"] == "ok"]
    assert len(ok) >= 6 and all(r["summary"] and r["reason"] is None for r in ok)


@pytest.mark.parametrize("choice", ["prompts", "prompt_dir"])
def test_the_teacher_reads_the_prompt_set_the_config_chooses(
    tmp_path, tiny_models, monkeypatch, choice
):
    """`prompts.teacher: paper` (or the older `teacher.prompt_dir`, here a folder of one's
    own): what the model is asked is the set's; generation is replaced by a recorder."""
    from babelsum.models.generate import Generation

    asked: list[str] = []

    def recorder(model, tokenizer, spec, prompts, **kwargs):
        asked.extend(prompts)
        return [Generation("Une ville au bord d'un grand fleuve.", "ok", None, 8) for _ in prompts]

    monkeypatch.setattr("babelsum.models.generate.generate", recorder)
    models = {"tiny": {"path": str(tiny_models["qwen2"]), "family": "qwen2"}}
    teacher = {"backend": "hf", "model": "tiny", "min_words": 0, "check_language": False}
    if choice == "prompts":
        folder, config = _sweep(tmp_path, teacher, models, prompts={"teacher": "paper"})
    else:
        (tmp_path / "mine").mkdir()
        (tmp_path / "mine" / "system.jinja").write_text("")
        (tmp_path / "mine" / "user.jinja").write_text("Sum up: {{ article }}")
        teacher["prompt_dir"] = str(tmp_path / "mine")
        folder, config = _sweep(tmp_path, teacher, models)
    _, records, tracker = _run(folder, config, 0, tmp_path)
    assert len(asked) == 12 and all(r["status"] == "ok" for r in records)
    if choice == "prompts":
        assert any("Tu es un assistant qui résume des articles de Wikipédia" in p for p in asked)
        assert any("Wikipedia-Artikel" in p for p in asked)
    else:
        assert all("Sum up: " in p for p in asked)
        assert all(r["variant"] == 0 for r in records)  # one wording: nothing to rotate


def test_hf_teacher_with_a_missing_model(tmp_path):
    models = {"gone": {"path": str(tmp_path / "no-model"), "family": "qwen2"}}
    folder, config = _sweep(tmp_path, {"backend": "hf", "model": "gone"}, models)
    with pytest.raises(StageError, match="no model folder at"):
        _run(folder, config, 0, tmp_path)


@pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="vLLM is not installed")
def test_vllm_teacher_with_a_tiny_model(tmp_path, tiny_models):
    models = {"tiny": {"path": str(tiny_models["qwen2"]), "family": "qwen2"}}
    teacher = {"backend": "vllm", "model": "tiny", "max_new_tokens": 8, "min_words": 0}
    folder, config = _sweep(tmp_path, {**teacher, "check_language": False}, models)
    summary, records, _ = _run(folder, config, 0, tmp_path)
    assert summary["articles"] == 12 and all(set(r) == FIELDS for r in records)


def test_vllm_backend_says_how_to_install_it(tmp_path, tiny_models):
    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vLLM is installed")
    models = {"tiny": {"path": str(tiny_models["qwen2"]), "family": "qwen2"}}
    folder, config = _sweep(tmp_path, {"backend": "vllm", "model": "tiny"}, models)
    with pytest.raises(StageError, match=r"pip install babelsum\[vllm\]"):
        _run(folder, config, 0, tmp_path)
