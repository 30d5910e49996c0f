"""Evaluate what was trained (issue 12 §5) and decode as configured: each cell records the
weights it evaluated (full, nf4, nf4+adapter, merged), their dtype and its decoding."""

import json

import pytest
import torch

from babelsum.runner import TaskFailed, run_task
from tests.stages.planted import EVALUATE, mark
from tests.stages.test_evaluate import evaluate, index_of

pytestmark = pytest.mark.usefixtures("one_torch_thread")

QLORA = {"languages": ["en"], "methods": [{"model": "qwen2", "method": "qlora"}]}
FULL = {"languages": ["en"], "methods": [{"model": "qwen2", "method": "full"}]}
KEY = "evaluate/qwen2/{}/fr/novel"


def plant(folder, key: str, make_model, precision: str) -> None:
    """A train task's output: its model folder and the summary evaluation reads."""
    out = folder.output_dir(key)
    make_model(out / "model")
    (out / "train_summary.json").write_text(json.dumps({"steps": 1, "precision": precision}))
    mark(folder, key, "done")


def adapter(tiny_models):
    def save(target):
        from peft import LoraConfig, get_peft_model

        from babelsum.config import ModelSpec
        from babelsum.models.loading import load_model, load_tokenizer

        spec = ModelSpec(path=str(tiny_models["qwen2"]))
        model = load_model(spec, for_training=True)
        config = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
        get_peft_model(model, config).save_pretrained(str(target))
        load_tokenizer(spec).save_pretrained(str(target))

    return save


@pytest.fixture
def loaded(monkeypatch):
    """The models the evaluate stage loads (a spy around the real loader)."""
    from babelsum.models import loading

    models = []
    real = loading.load_model

    def spy(*args, **kwargs):
        models.append(real(*args, **kwargs))
        return models[-1]

    monkeypatch.setattr(loading, "load_model", spy)
    return models


def is_4bit(model) -> bool:
    return any(type(m).__name__ == "Linear4bit" for m in model.modules())


def test_a_qlora_model_is_evaluated_on_its_nf4_base_with_the_adapter(
    eval_sweep, tiny_models, loaded
):
    folder = eval_sweep(train=QLORA)
    plant(folder, "train/qwen2/qlora/en", adapter(tiny_models), "fp32")
    loaded.clear()  # planting loaded the base model too
    _, _, scores = evaluate(folder, KEY.format("qlora-en"))
    assert (scores["weights"], scores["dtype"]) == ("nf4+adapter", "float32")
    (model,) = loaded
    assert is_4bit(model) and hasattr(model, "peft_config")  # the adapter is kept apart


def test_merge_adapters_evaluates_the_adapter_merged_into_the_base(eval_sweep, tiny_models, loaded):
    folder = eval_sweep(train=QLORA, evaluate={**EVALUATE, "merge_adapters": True})
    plant(folder, "train/qwen2/qlora/en", adapter(tiny_models), "bf16")
    loaded.clear()
    _, _, scores = evaluate(folder, KEY.format("qlora-en"))
    # merged into the base loaded in the training precision
    assert (scores["weights"], scores["dtype"]) == ("merged", "bfloat16")
    (model,) = loaded
    assert not is_4bit(model) and not hasattr(model, "peft_config")
    assert model.dtype == torch.bfloat16


def test_a_full_fine_tune_is_evaluated_in_the_dtype_of_its_base(eval_sweep, tiny_models, loaded):
    """Saved in bf16 (its training precision), evaluated as the base model is: float32."""
    from transformers import AutoModelForCausalLM

    def save_bf16(target):
        model = AutoModelForCausalLM.from_pretrained(tiny_models["qwen2"], dtype=torch.bfloat16)
        model.save_pretrained(target)
        from transformers import AutoTokenizer

        AutoTokenizer.from_pretrained(tiny_models["qwen2"]).save_pretrained(target)

    folder = eval_sweep(train=FULL)
    plant(folder, "train/qwen2/full/en", save_bf16, "bf16")
    _, _, trained = evaluate(folder, KEY.format("full-en"))
    _, _, base = evaluate(folder, KEY.format("base"))
    assert (trained["weights"], trained["dtype"]) == ("full", "float32")
    assert (base["weights"], base["dtype"]) == ("full", "float32")
    assert [m.dtype for m in loaded] == [torch.float32, torch.float32]


def test_each_cell_records_its_decoding(eval_sweep, tiny_models):
    beams = {"num_beams": 3, "length_penalty": 1.0, "no_repeat_ngram_size": 2}
    models = {
        "qwen2": {"path": str(tiny_models["qwen2"]), "decoding": beams},
        "mbart": {"path": str(tiny_models["mbart"]), "family": "mbart"},
    }
    folder = eval_sweep(
        models=models,
        train={
            "languages": ["en"],
            "methods": [
                {"model": "qwen2", "method": "full"},
                {"model": "mbart", "method": "seq2seq"},
            ],
        },
    )
    _, predictions, scores = evaluate(folder, KEY.format("base"))
    assert scores["decoding"] == beams
    assert all(p["status"] in ("ok", "empty") for p in predictions)
    _, _, greedy = evaluate(folder, "evaluate/mbart/base/fr/novel")
    # mBART-50 ships 5 beams; without `decoding` it is greedy
    assert greedy["decoding"] == {"num_beams": 1, "length_penalty": 1.0, "no_repeat_ngram_size": 0}


def test_beam_search_with_the_vllm_backend_is_refused(eval_sweep, tiny_models):
    models = {"qwen2": {"path": str(tiny_models["qwen2"]), "decoding": {"num_beams": 4}}}
    folder = eval_sweep(models=models, evaluate={**EVALUATE, "backend": "vllm"})
    key = KEY.format("base")
    with pytest.raises(TaskFailed):
        run_task(folder.root, "evaluate", index_of(folder, key))
    assert folder.read_status(key).reason.startswith(
        "models.qwen2.decoding: evaluate.backend vllm decodes greedily only"
    )
