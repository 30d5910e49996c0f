"""LoRA targets on a tiny Phi3 (Phi-4-mini's architecture: qkv_proj, o_proj, gate_up_proj,
down_proj): strict by default, and the original study's names under suffix matching."""

import logging

import pytest

from babelsum.config import ModelSpec, TrainMethod
from babelsum.errors import StageError
from babelsum.models.loading import load_model
from babelsum.training.lora import add_lora

pytestmark = pytest.mark.usefixtures("one_torch_thread")

STUDY_TARGETS = ["Wqkv", "out_proj", "up_proj", "down_proj"]  # what the study named


def phi3(tiny_models):
    return load_model(ModelSpec(path=str(tiny_models["phi3"]), family="phi3"), for_training=True)


def lora(**changes) -> TrainMethod:
    return TrainMethod(**({"model": "phi", "method": "lora"} | changes))


def adapted(model) -> set[str]:
    """Short names of the layers that carry a LoRA adapter."""
    return {name.rsplit(".", 2)[-2] for name, _ in model.named_modules() if name.endswith("lora_A")}


def test_suffix_matching_keeps_down_proj_and_warns_which_names_matched_nothing(tiny_models, caplog):
    method = lora(target_modules=STUDY_TARGETS, target_modules_match="suffix")
    with caplog.at_level(logging.WARNING, logger="babelsum.training.lora"):
        model = add_lora(phi3(tiny_models), method, quantized=False, where="train.methods[1]")
    assert adapted(model) == {"down_proj"}  # what PEFT trained in the study
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.startswith("train.methods[1].target_modules: LoRA target_modules matched by ")
    assert "matched by suffix in Phi3ForCausalLM: down_proj;" in warning
    assert (
        "matched nothing (left out, as PEFT leaves them out): Wqkv, out_proj, up_proj;" in warning
    )
    assert "its linear layers are: down_proj, gate_up_proj, o_proj, qkv_proj" in warning


def test_strict_matching_is_the_default_and_rejects_the_study_targets(tiny_models):
    assert lora().target_modules_match == "strict"
    with pytest.raises(StageError) as err:
        add_lora(phi3(tiny_models), lora(target_modules=STUDY_TARGETS), quantized=False, where="m")
    assert str(err.value).startswith(
        "m.target_modules: LoRA target_modules Wqkv, out_proj, up_proj"
    )


def test_suffix_matching_with_no_match_at_all_is_still_an_error(tiny_models, caplog):
    method = lora(target_modules=["Wqkv", "out_proj"], target_modules_match="suffix")
    with pytest.raises(StageError, match=r"match no linear layer of Phi3ForCausalLM \(none"):
        add_lora(phi3(tiny_models), method, quantized=False, where="m")


def test_target_modules_match_belongs_to_lora_methods():
    with pytest.raises(ValueError, match="target_modules_match only apply to methods qlora"):
        TrainMethod(model="m", method="full", target_modules_match="suffix")
