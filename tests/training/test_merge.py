"""`launch merge`: the merged model answers exactly like base model + adapter."""

import pytest
import torch

from babelsum.cli import main
from babelsum.config import ModelSpec
from babelsum.errors import MergeError
from babelsum.models.generate import generate
from babelsum.models.loading import load_model, load_tokenizer
from babelsum.models.prompts import render_generation_prompt
from babelsum.training.merge import merge_adapter

ARTICLES = [
    ("The council of the river city opened a new market hall.", "Market hall"),
    ("Winter came early to the harbour; the museum closed for a week.", "Winter"),
    ("A new bridge links the station to the forest.", "Bridge"),
]


@pytest.fixture
def lora_adapter(tiny_models, tmp_path):
    """A LoRA adapter saved the way the train stage saves one, with non-zero weights (a fresh
    adapter is the identity, which would make any merge look right)."""
    from peft import LoraConfig, get_peft_model

    spec = ModelSpec(path=str(tiny_models["qwen2"]), family="qwen2")
    model = load_model(spec, for_training=True)
    config = LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False)
    torch.manual_seed(1)
    peft_model = get_peft_model(model, config)
    folder = tmp_path / "adapter"
    peft_model.save_pretrained(folder)
    load_tokenizer(spec).save_pretrained(folder)
    return folder


def greedy(spec: ModelSpec, model) -> list[str | None]:
    tokenizer = load_tokenizer(spec)
    prompts = [
        render_generation_prompt(tokenizer, spec, text, title, "en", "en")
        for text, title in ARTICLES
    ]
    return [
        g.text for g in generate(model, tokenizer, spec, prompts, batch_size=2, max_new_tokens=24)
    ]


def test_merged_model_generates_what_base_plus_adapter_generates(lora_adapter, tmp_path, capsys):
    assert main(["merge", str(lora_adapter), str(tmp_path / "merged")]) == 0
    assert "merged model:" in capsys.readouterr().out
    assert not (tmp_path / "merged" / "adapter_config.json").exists()

    from peft import PeftModel

    base = load_model(ModelSpec(path=_base_path(lora_adapter), family="qwen2"))
    with_adapter = PeftModel.from_pretrained(base, lora_adapter).eval()  # not merged
    merged_spec = ModelSpec(path=str(tmp_path / "merged"), family="qwen2")
    merged = load_model(merged_spec)
    expected = greedy(merged_spec, with_adapter)
    assert any(expected) and greedy(merged_spec, merged) == expected
    plain_base = load_model(ModelSpec(path=_base_path(lora_adapter), family="qwen2"))
    assert greedy(merged_spec, plain_base) != expected  # the adapter does change the answers


def _base_path(adapter_dir) -> str:
    import json

    return json.loads((adapter_dir / "adapter_config.json").read_text())["base_model_name_or_path"]


def test_merge_refuses_a_folder_without_adapter(tiny_models, tmp_path):
    with pytest.raises(MergeError, match="has no adapter_config.json"):
        merge_adapter(tiny_models["qwen2"], tmp_path / "out")
