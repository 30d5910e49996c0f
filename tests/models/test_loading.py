"""Loading each tiny architecture through the code that loads real checkpoints, 4-bit and not."""

import json
import logging
import shutil

import pytest
import torch

from babelsum.config import ModelSpec
from babelsum.errors import TargetModuleError
from babelsum.models.loading import (
    ModelLoadError,
    check_target_modules,
    detect_family,
    load_model,
    load_tokenizer,
)
from babelsum.models.tiny import FAMILIES

pytestmark = pytest.mark.usefixtures("one_torch_thread")

MODEL_CLASS = {
    "qwen2": "Qwen2ForCausalLM",
    "phi3": "Phi3ForCausalLM",
    "gemma3": "Gemma3ForCausalLM",
    "mbart": "MBartForConditionalGeneration",
    "phi": "PhiForCausalLM",
    "mistral": "MistralForCausalLM",
    "gemma3-vision": "Gemma3ForConditionalGeneration",  # as gemma-3-4b-it loads
}
TOKENIZER_CLASS = {
    "qwen2": "Qwen2Tokenizer",
    "phi3": "TokenizersBackend",  # transformers 5 loads Phi3 tokenizer.json as is, like the hub's
    "gemma3": "GemmaTokenizer",
    "mbart": "MBart50Tokenizer",
    "phi": "CodeGenTokenizer",
    "mistral": "TokenizersBackend",  # as for the hub's Mistral checkpoints
    "gemma3-vision": "GemmaTokenizer",
}
FAMILY = {"gemma3-vision": "gemma3"}  # tiny name -> the family a config names


@pytest.mark.parametrize("family", FAMILIES)
def test_tiny_model_loads_like_a_real_one(tiny_models, family):
    spec = ModelSpec(path=str(tiny_models[family]))  # family left out: read from config.json
    assert detect_family(spec) == FAMILY.get(family, family)
    tokenizer = load_tokenizer(spec)
    model = load_model(spec)
    assert type(model).__name__ == MODEL_CLASS[family]
    assert type(tokenizer).__name__ == TOKENIZER_CLASS[family]
    assert 50_000 < model.num_parameters() < 1_000_000
    assert not model.training
    assert model.config._attn_implementation == "sdpa"
    assert tokenizer.pad_token is not None
    # decoder-only models generate from left-padded batches; mBART's encoder pads right
    assert tokenizer.padding_side == ("right" if family == "mbart" else "left")
    text = "Die Stadt liegt am Fluss."
    if family != "mbart":  # byte-level (or byte fallback) vocabularies have no unknown token
        text += " 東京は日本の首都である。"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids) == text
    with torch.no_grad():
        if family == "mbart":
            batch = tokenizer([text], return_tensors="pt")
            logits = model(**batch, decoder_input_ids=torch.tensor([[2]])).logits
        else:
            logits = model(input_ids=torch.tensor([ids])).logits
    assert logits.shape[-1] == len(tokenizer)


@pytest.mark.parametrize("family", FAMILIES)
def test_nf4_double_quantized_load(tiny_models, family):
    spec = ModelSpec(path=str(tiny_models[family]))
    model = load_model(spec, quantize_4bit=True, compute_dtype=torch.float32)
    quantized = [m for m in model.modules() if type(m).__name__ == "Linear4bit"]
    assert quantized, "no layer was quantized"
    assert quantized[0].weight.quant_type == "nf4"
    assert quantized[0].weight.quant_state.nested  # double quantization
    qc = model.config.quantization_config
    assert qc.bnb_4bit_use_double_quant and qc.bnb_4bit_quant_type == "nf4"


def test_4bit_without_bitsandbytes_says_what_to_do(tiny_models, monkeypatch):
    """bitsandbytes is installed here; the package lookup stands in for a machine without it."""
    import babelsum.models.loading as loading

    real = loading.find_spec
    monkeypatch.setattr(loading, "find_spec", lambda n: None if n == "bitsandbytes" else real(n))
    with pytest.raises(ModelLoadError, match="4-bit loading needs bitsandbytes"):
        load_model(ModelSpec(path=str(tiny_models["qwen2"]), load_in_4bit=True))


def test_spec_load_in_4bit_quantizes_inference_not_training(tiny_models):
    spec = ModelSpec(path=str(tiny_models["qwen2"]), load_in_4bit=True)
    assert _has_4bit(load_model(spec))
    trained = load_model(spec, for_training=True)
    assert not _has_4bit(trained)
    assert trained.training and trained.config.use_cache is False


def _has_4bit(model) -> bool:
    return any(type(m).__name__ == "Linear4bit" for m in model.modules())


def test_chat_templates_in_each_family_style(tiny_models):
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
    expected_end = {
        "qwen2": "<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n",
        "phi3": "<|user|>U<|end|><|assistant|>",
        "gemma3": "<start_of_turn>user\nS\n\nU<end_of_turn>\n<start_of_turn>model\n",
        "gemma3-vision": "<start_of_turn>user\nS\n\nU<end_of_turn>\n<start_of_turn>model\n",
        "mistral": "[SYSTEM_PROMPT]S[/SYSTEM_PROMPT][INST]U[/INST]",
    }
    for family, end in expected_end.items():
        tokenizer = load_tokenizer(ModelSpec(path=str(tiny_models[family])))
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        assert text.endswith(end)
        # turn markers are single special tokens, never split
        first = tokenizer(text, add_special_tokens=False)["input_ids"][0]
        assert first in tokenizer.all_special_ids


def test_mbart_language_codes_are_special_tokens(tiny_models):
    tokenizer = load_tokenizer(ModelSpec(path=str(tiny_models["mbart"]), chat=False))
    for code in ("en_XX", "fr_XX", "de_DE", "ja_XX"):
        assert tokenizer.lang_code_to_id[code] == tokenizer.convert_tokens_to_ids(code)
        assert code in tokenizer.all_special_tokens
    tokenizer.src_lang = "fr_XX"
    ids = tokenizer("Bonjour")["input_ids"]
    assert ids[0] == tokenizer.lang_code_to_id["fr_XX"] and ids[-1] == tokenizer.eos_token_id


def test_phi2_is_a_base_model_without_pad_token_like_the_real_one(tiny_models, caplog):
    """Phi-2 has no chat template and no pad token: loading pads with its end token, and its
    modules are the ones the XSum study's two LoRA target sets name."""
    from babelsum.models.lora_targets import linear_module_names

    folder = tiny_models["phi"]
    saved = json.loads((folder / "tokenizer_config.json").read_text())
    assert saved.get("pad_token") is None and saved.get("chat_template") is None
    with caplog.at_level(logging.WARNING):
        tokenizer = load_tokenizer(ModelSpec(path=str(folder), chat=False))
    assert tokenizer.pad_token == tokenizer.eos_token == "<|endoftext|>"
    model = load_model(ModelSpec(path=str(folder)))
    names = set(linear_module_names(model))
    assert {"q_proj", "k_proj", "v_proj", "dense", "fc1", "fc2"} <= names


def test_gemma3_vision_keeps_lora_off_the_vision_tower(tiny_models):
    from babelsum.config import TrainMethod
    from babelsum.training.lora import add_lora

    model = load_model(ModelSpec(path=str(tiny_models["gemma3-vision"])), for_training=True)
    method = TrainMethod(model="g", method="lora", target_modules="all-linear")
    peft_model = add_lora(model, method, quantized=False, where="train.methods[0]")
    adapted = {n for n, _ in peft_model.named_parameters() if "lora_" in n}
    assert adapted and all("language_model" in n for n in adapted)


def test_phi3_pad_token_is_its_end_token_like_phi4_mini(tiny_models):
    tokenizer = load_tokenizer(ModelSpec(path=str(tiny_models["phi3"])))
    assert tokenizer.pad_token == tokenizer.eos_token == "<|endoftext|>"


def test_missing_pad_token_is_supplied(tiny_models, tmp_path, caplog):
    folder = tmp_path / "nopad"
    shutil.copytree(tiny_models["phi3"], folder)
    config_file = folder / "tokenizer_config.json"
    config = json.loads(config_file.read_text())
    config.pop("pad_token")
    config_file.write_text(json.dumps(config))
    with caplog.at_level(logging.WARNING):
        tokenizer = load_tokenizer(ModelSpec(path=str(folder)))
    assert tokenizer.pad_token == "<|endoftext|>"  # its unk token is its end token too
    assert "no pad token" in caplog.text


def test_unknown_hub_model_offline_names_the_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match=r"not in the cache at .*launch prefetch"):
        load_model(ModelSpec(path="nobody/no-such-model", family="qwen2"))


def test_unknown_hub_model_online(monkeypatch):
    """The Hub cannot be reached from here: its download function answers 404 in its place."""
    from types import SimpleNamespace

    import huggingface_hub
    from huggingface_hub.errors import RepositoryNotFoundError

    def not_found(repo_id, filename, **kwargs):
        response = SimpleNamespace(headers={}, request=None)
        raise RepositoryNotFoundError(f"404 {repo_id}", response=response)

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", not_found)
    with pytest.raises(ModelLoadError, match="nobody/no-such-model does not exist on the Hugging"):
        load_tokenizer(ModelSpec(path="nobody/no-such-model", family="qwen2"))


def test_missing_local_folder_is_named(tmp_path):
    with pytest.raises(ModelLoadError, match="no model folder at /nowhere/model"):
        load_tokenizer(ModelSpec(path="/nowhere/model"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="has no config.json"):
        load_model(ModelSpec(path=str(tmp_path / "empty")))


def test_unknown_model_type_asks_for_family(tiny_models, tmp_path):
    folder = tmp_path / "odd"
    shutil.copytree(tiny_models["qwen2"], folder)
    config = json.loads((folder / "config.json").read_text())
    config["model_type"] = "gpt2"
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match="set `family`"):
        detect_family(ModelSpec(path=str(folder)))


def test_flash_attention_without_gpu_falls_back_to_sdpa(tiny_models, caplog):
    spec = ModelSpec(path=str(tiny_models["qwen2"]), attn_implementation="flash_attention_2")
    with caplog.at_level(logging.WARNING):
        model = load_model(spec)
    assert model.config._attn_implementation == "sdpa"
    assert "flash_attention_2 needs" in caplog.text


def test_target_modules_of_the_original_study_are_rejected(tiny_models):
    model = load_model(ModelSpec(path=str(tiny_models["phi3"])))
    with pytest.raises(TargetModuleError) as err:
        check_target_modules(model, ["Wqkv", "out_proj", "qkv_proj"])
    message = str(err.value)
    assert "Wqkv, out_proj match no linear layer of Phi3ForCausalLM" in message
    assert "down_proj, gate_up_proj, o_proj, qkv_proj" in message
    names = ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"]
    assert check_target_modules(model, names) == names
    assert check_target_modules(model, "all-linear") == sorted(names)  # lm_head left out


def test_target_modules_checked_on_a_4bit_model(tiny_models):
    model = load_model(ModelSpec(path=str(tiny_models["qwen2"])), quantize_4bit=True)
    assert "q_proj" in check_target_modules(model, "all-linear")
    with pytest.raises(TargetModuleError):
        check_target_modules(model, ["query_key_value"])


def test_adapter_folder_loads_base_then_adapter(tiny_models, tmp_path):
    from peft import LoraConfig, get_peft_model

    base_spec = ModelSpec(path=str(tiny_models["qwen2"]))
    base = load_model(base_spec, for_training=True)
    lora = get_peft_model(base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
    with torch.no_grad():
        for name, param in lora.named_parameters():
            if "lora_B" in name:
                param.fill_(0.05)  # a trained adapter changes the output
    lora.save_pretrained(tmp_path / "adapter")
    load_tokenizer(base_spec).save_pretrained(tmp_path / "adapter")

    spec = ModelSpec(path=str(tmp_path / "adapter"))
    assert detect_family(spec) == "qwen2"
    merged = load_model(spec)
    assert type(merged).__name__ == "Qwen2ForCausalLM"  # merged for fast generation
    ids = torch.tensor([[5, 6, 7]])
    with torch.no_grad():
        plain = load_model(base_spec)(input_ids=ids).logits
        adapted = merged(input_ids=ids).logits
    assert not torch.allclose(plain, adapted)
    assert type(load_model(spec, quantize_4bit=True)).__name__.startswith("PeftModel")
