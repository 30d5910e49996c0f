"""The evaluate stage end to end on the tiny models, through the real runner.

The split task's output is written by the fixture (a small parallel test corpus); the trained
models are the tiny base model copied as a "full" fine-tune and a LoRA adapter saved by peft,
which is what the train stage writes.
"""

import importlib.util
import json

import pytest

from babelsum.runner import run_task
from babelsum.state import SweepFolder
from tests.stages.planted import EVALUATE, TOPICS, mark

pytestmark = pytest.mark.usefixtures("one_torch_thread")

FIELDS = {"article_id", "language", "reference", "prediction", "status", "reason"}


def index_of(folder: SweepFolder, key: str) -> int:
    plan = json.loads(folder.plan_path.read_text())
    tasks = [t for s in plan["stages"] for t in s["tasks"]]
    return next(t["index"] for t in tasks if t["key"] == key)


def evaluate(folder: SweepFolder, key: str):
    summary = run_task(folder.root, "evaluate", index_of(folder, key))
    out = folder.output_dir(key)
    predictions = [json.loads(line) for line in (out / "predictions.jsonl").open()]
    return summary, predictions, json.loads((out / "scores.json").read_text())


def test_base_model_cell_accounts_for_every_example(eval_sweep, tiny_models):
    folder = eval_sweep()
    summary, predictions, scores = evaluate(folder, "evaluate/qwen2/base/fr/novel")
    assert len(predictions) == len(TOPICS) == scores["n"] == summary["n"]
    for p in predictions:
        assert FIELDS <= set(p)
        assert p["language"] == "fr" and p["summary_language"] == "fr"
        assert p["status"] in ("ok", "empty", "failed")
        assert (p["prediction"] is not None) == (p["status"] == "ok")
        assert p["status"] == "ok" or p["reason"]
        assert p["new_tokens"] <= 12
        # generation health: cut off at max_new_tokens, and lengths in the model's tokens
        assert p["max_new_tokens_reached"] == (p["new_tokens"] == 12)
        assert p["reference_tokens"] > 0 and p["input_budget"] == 256
    assert scores["ok"] + scores["failures"] + scores["empty"] == scores["n"]
    reached = sum(p["max_new_tokens_reached"] for p in predictions)
    assert scores["max_new_tokens_reached"] == reached
    assert scores["max_new_tokens_share"] == reached / scores["n"]
    assert scores["empty_share"] == scores["empty"] / scores["n"]
    assert scores["input_budget"] == 256 and scores["max_new_tokens"] == 12
    assert 0 <= scores["rouge"]["rougeL"] <= 1
    assert scores["rouge"]["method"]["tokenizer"].startswith("unicode words")
    assert scores["model_path"] == str(tiny_models["qwen2"])


def test_generation_failures_and_empty_outputs_are_recorded(eval_sweep, monkeypatch):
    """The model's `generate` is the test double: it raises for the article about Graz (a real
    out-of-memory error cannot be provoked on demand) and answers nothing for Porto."""
    from transformers import Qwen2ForCausalLM

    folder = eval_sweep()
    original = Qwen2ForCausalLM.generate
    tokenizers = {}

    def generate(self, input_ids=None, attention_mask=None, generation_config=None, **kw):
        from babelsum.models.loading import load_tokenizer

        spec = folder_config(folder).models["qwen2"]
        tokenizer = tokenizers.setdefault("t", load_tokenizer(spec))
        texts = tokenizer.batch_decode(input_ids)
        if any("Graz" in t for t in texts):
            raise RuntimeError("CUDA out of memory (planted)")
        out = original(
            self,
            input_ids=input_ids,
            attention_mask=attention_mask,
            generation_config=generation_config,
            **kw,
        )
        for row, text in enumerate(texts):
            if "Porto" in text:
                out[row, input_ids.shape[1] :] = tokenizer.eos_token_id
        return out

    monkeypatch.setattr(Qwen2ForCausalLM, "generate", generate)
    _, predictions, scores = evaluate(folder, "evaluate/qwen2/base/en/novel")
    by_topic = {p["article_id"]: p for p in predictions}
    graz, porto = by_topic["topic-graz"], by_topic["topic-porto"]
    assert graz["status"] == "failed" and graz["prediction"] is None
    assert "CUDA out of memory (planted)" in graz["reason"]
    assert graz["rouge"] is None
    assert porto["status"] == "empty" and porto["prediction"] is None
    assert porto["rouge"]["rouge1"] == 0.0
    others = [p for p in predictions if p["article_id"] not in ("topic-graz", "topic-porto")]
    assert all(p["status"] == "ok" for p in others)
    assert (scores["failures"], scores["empty"], scores["n"]) == (1, 1, len(TOPICS))
    assert scores["failure_reasons"] == {graz["reason"]: 1}


def folder_config(folder: SweepFolder):
    from babelsum.sweep import load_sweep

    return load_sweep(folder.root)[1]


def plant_trained(folder: SweepFolder, key: str, model_dir_maker):
    out = folder.output_dir(key)
    model_dir_maker(out / "model")
    (out / "train_summary.json").write_text(json.dumps({"steps": 1}))
    mark(folder, key, "done")


def test_trained_full_model_and_lora_adapter_are_evaluated(eval_sweep, tiny_models):
    import shutil

    from peft import LoraConfig, get_peft_model

    from babelsum.config import ModelSpec
    from babelsum.models.loading import load_model, load_tokenizer

    folder = eval_sweep(
        train={
            "languages": ["en"],
            "methods": [
                {"model": "qwen2", "method": "full"},
                {"model": "qwen2", "method": "lora"},
            ],
        }
    )
    plant_trained(folder, "train/qwen2/full/en", lambda d: shutil.copytree(tiny_models["qwen2"], d))

    def save_adapter(target):
        spec = ModelSpec(path=str(tiny_models["qwen2"]), family="qwen2")
        model = get_peft_model(
            load_model(spec), LoraConfig(r=4, target_modules=["q_proj", "v_proj"])
        )
        model.save_pretrained(str(target))
        load_tokenizer(spec).save_pretrained(str(target))

    plant_trained(folder, "train/qwen2/lora/en", save_adapter)
    for method in ("full", "lora"):
        key = f"evaluate/qwen2/{method}-en/fr/novel"
        summary, predictions, scores = evaluate(folder, key)
        assert scores["n"] == len(TOPICS) and scores["method"] == method
        assert scores["model_path"].endswith(f"train/qwen2/{method}/en/output/model")
        assert summary["failures"] == 0


def test_a_finished_cell_is_not_generated_again(eval_sweep, monkeypatch):
    folder = eval_sweep()
    key = "evaluate/qwen2/base/en/novel"
    _, first, _ = evaluate(folder, key)

    def no_loading(*args, **kwargs):
        raise AssertionError("the journal holds every prediction; nothing should load")

    monkeypatch.setattr("babelsum.models.loading.load_model", no_loading)
    _, again, _ = evaluate(folder, key)
    assert again == first


def test_seq2seq_base_model_is_evaluated_in_the_target_language(eval_sweep):
    folder = eval_sweep(
        train={"languages": ["en"], "methods": [{"model": "mbart", "method": "seq2seq"}]},
        evaluate={
            "test_sets": ["novel"],
            "max_new_tokens": 8,
            "max_input_tokens": 128,
            "max_examples": 3,
            "bootstrap_samples": 50,
        },
    )
    _, predictions, scores = evaluate(folder, "evaluate/mbart/base/fr/novel")
    assert scores["n"] == 3  # max_examples
    assert all(p["status"] in ("ok", "empty") for p in predictions)


def test_the_input_budget_is_the_models_own_limit_when_lower(eval_sweep):
    """mBART reads 1,024 tokens whatever evaluate.max_input_tokens says; the cell records it
    (the report's setup table shows it)."""
    folder = eval_sweep(
        train={"languages": ["en"], "methods": [{"model": "mbart", "method": "seq2seq"}]},
        evaluate=EVALUATE | {"max_input_tokens": 4096, "max_examples": 1},
    )
    _, predictions, scores = evaluate(folder, "evaluate/mbart/base/en/novel")
    assert scores["input_budget"] == predictions[0]["input_budget"] == 1024
    assert scores["max_input_tokens"] == 4096


def test_no_test_article_in_the_language_is_a_clear_failure(eval_sweep):
    from babelsum.runner import TaskFailed

    folder = eval_sweep(languages=["en", "fr", "de"], evaluate={"languages": ["de"]})
    key = "evaluate/qwen2/base/de/novel"
    with pytest.raises(TaskFailed):
        run_task(folder.root, "evaluate", index_of(folder, key))
    reason = folder.read_status(key).reason
    assert reason.startswith("the test_novel split has no article in 'de'")


def test_a_packed_job_loads_the_model_once_and_scores_as_the_cells_one_by_one(eval_sweep):
    """The base model's cells run as one job (its pack); the same cells run one job each in
    another sweep (`evaluate.cells_per_task: 1`, today's shape before packing) give the same
    scores, and only the first cell of the pack pays for loading the model."""
    from babelsum.runner import run_tasks

    packed = eval_sweep()
    plan = packed.read_plan()
    cells = [t for t in plan.stage("evaluate").tasks if t.pack == "evaluate/qwen2/base"]
    assert [t.params["eval_lang"] for t in cells] == ["en", "fr"]
    run_tasks(packed.root, "evaluate", [t.index for t in cells])

    unpacked = eval_sweep(evaluate={**EVALUATE, "cells_per_task": 1}, sweep="one-by-one")
    singles = unpacked.read_plan().stage("evaluate").tasks
    assert len({t.pack for t in singles}) == len(singles)  # a pack of one cell each
    for cell in cells:
        run_task(unpacked.root, "evaluate", cell.index)
        mine = json.loads((packed.output_dir(cell.key) / "scores.json").read_text())
        theirs = json.loads((unpacked.output_dir(cell.key) / "scores.json").read_text())
        assert mine["rouge"] == theirs["rouge"] and mine["n"] == theirs["n"]
    first, second = (packed.read_status(t.key).timing for t in cells)
    assert first["model_load"] > 0 and "model_load" not in second
    assert second["startup"] < first["startup"]  # no process start, no imports the second time


@pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="vLLM is not installed")
def test_the_vllm_backend_gives_the_hf_backends_greedy_cells(eval_sweep):
    hf = eval_sweep()
    vllm = eval_sweep(evaluate={**EVALUATE, "backend": "vllm"}, sweep="vllm")
    key = "evaluate/qwen2/base/fr/novel"
    mine, theirs = (evaluate(f, key)[1] for f in (hf, vllm))
    assert [p["prediction"] for p in mine] == [p["prediction"] for p in theirs]


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vLLM is installed")
def test_the_vllm_backend_says_how_to_install_it(eval_sweep):
    from babelsum.runner import TaskFailed

    folder = eval_sweep(evaluate={**EVALUATE, "backend": "vllm"})
    with pytest.raises(TaskFailed, match=r"pip install babelsum\[vllm\]"):
        run_task(folder.root, "evaluate", index_of(folder, "evaluate/qwen2/base/fr/novel"))
