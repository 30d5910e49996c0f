"""Greedy batched generation on tiny models: same answers as one at a time, failures per example."""

import pytest
import torch

from babelsum.config import ModelSpec
from babelsum.models.generate import Generation, decoding_config, generate
from babelsum.models.loading import load_model, load_tokenizer
from babelsum.models.prompts import render_generation_prompt

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ARTICLES = [
    "La ville de Lyon se trouve au bord du Rhône.",
    "Die Stadt liegt am Fluss und hat viele Einwohner. Ihre Wirtschaft beruht auf Handel, "
    "Tourismus und einigen Fabriken, die seit dem Mittelalter bestehen.",
    "東京は日本の首都である。",
    "The city of Lyon lies on the river Rhône and has about half a million inhabitants. "
    "Its economy depends on trade.",
    "Oslo.",
]


def _load(tiny_models, family):
    spec = ModelSpec(path=str(tiny_models[family]))
    return spec, load_tokenizer(spec), load_model(spec)


def _prompts(tokenizer, spec, lang="fr"):
    return [render_generation_prompt(tokenizer, spec, a, "Titre", lang, lang) for a in ARTICLES]


@pytest.mark.parametrize("family", ["qwen2", "gemma3", "mbart"])
def test_batched_equals_one_at_a_time(tiny_models, family):
    spec, tokenizer, model = _load(tiny_models, family)
    prompts = _prompts(tokenizer, spec)
    batched = generate(
        model, tokenizer, spec, prompts, batch_size=3, max_new_tokens=12, target_lang="fr"
    )
    single = [
        generate(model, tokenizer, spec, [p], batch_size=1, max_new_tokens=12, target_lang="fr")[0]
        for p in prompts
    ]
    assert batched == single
    assert all(g.status in ("ok", "empty") and 0 < g.new_tokens <= 12 for g in batched)


def test_greedy_despite_a_sampling_generation_config(tiny_models):
    """The tiny Qwen2 ships Qwen2.5-Instruct's sampling config: greedy must override it."""
    spec, tokenizer, model = _load(tiny_models, "qwen2")
    assert model.generation_config.do_sample and model.generation_config.repetition_penalty > 1
    config = decoding_config(model, tokenizer, 12)
    assert config.do_sample is False and config.num_beams == 1
    assert config.repetition_penalty == 1.0 and config.temperature == 1.0
    assert config.eos_token_id == model.generation_config.eos_token_id

    prompt = _prompts(tokenizer, spec)[3]
    torch.manual_seed(1)
    first = generate(model, tokenizer, spec, [prompt], batch_size=1, max_new_tokens=12)
    torch.manual_seed(2)
    second = generate(model, tokenizer, spec, [prompt], batch_size=1, max_new_tokens=12)
    assert first == second
    # the argmax continuation, step by step, is what generate returned
    ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        for _ in range(first[0].new_tokens):
            next_id = model(input_ids=ids).logits[0, -1].argmax()
            ids = torch.cat([ids, next_id.view(1, 1)], dim=1)
    n_prompt = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    expected = tokenizer.decode(ids[0, n_prompt:], skip_special_tokens=True).strip()
    assert first[0].text == (expected or None)
    assert model.generation_config.do_sample  # the model's own config is left as it was


def test_mbart_answers_start_with_the_target_language_code(tiny_models):
    spec, tokenizer, model = _load(tiny_models, "mbart")
    config = decoding_config(
        model, tokenizer, 5, forced_bos_token_id=tokenizer.lang_code_to_id["de_DE"]
    )
    tokenizer.src_lang = "fr_XX"
    batch = tokenizer(["La ville de Lyon."], return_tensors="pt")
    output = model.generate(**batch, generation_config=config)
    assert output[0, 1].item() == tokenizer.lang_code_to_id["de_DE"]
    with pytest.raises(ValueError, match="needs target_lang"):
        generate(model, tokenizer, spec, ["x"], batch_size=1, max_new_tokens=3)


def test_a_failing_example_fails_alone(tiny_models):
    """mBART has 1,024 positions: a longer prompt fails, its batch neighbours do not."""
    spec, tokenizer, model = _load(tiny_models, "mbart")
    prompts = _prompts(tokenizer, spec)
    too_long = " ".join(["Lyon"] * 3000)
    prompts.insert(2, too_long)
    results = generate(
        model, tokenizer, spec, prompts, batch_size=4, max_new_tokens=6, target_lang="fr"
    )
    assert len(results) == len(prompts)
    assert results[2].status == "failed" and results[2].text is None
    assert results[2].reason.startswith("IndexError")
    assert all(r.status != "failed" for i, r in enumerate(results) if i != 2)
    alone = generate(
        model, tokenizer, spec, prompts[:2], batch_size=4, max_new_tokens=6, target_lang="fr"
    )
    assert alone == results[:2]


def test_order_is_restored_and_empty_input(tiny_models):
    spec, tokenizer, model = _load(tiny_models, "phi3")
    prompts = _prompts(tokenizer, spec)
    forward = generate(model, tokenizer, spec, prompts, batch_size=2, max_new_tokens=8)
    backward = generate(model, tokenizer, spec, prompts[::-1], batch_size=2, max_new_tokens=8)
    assert forward == backward[::-1]
    assert generate(model, tokenizer, spec, [], batch_size=2, max_new_tokens=8) == []


def test_generation_from_a_4bit_model(tiny_models):
    spec = ModelSpec(path=str(tiny_models["qwen2"]), load_in_4bit=True)
    tokenizer, model = load_tokenizer(spec), load_model(spec)
    results = generate(
        model, tokenizer, spec, _prompts(tokenizer, spec), batch_size=5, max_new_tokens=4
    )
    assert all(isinstance(r, Generation) and r.status in ("ok", "empty") for r in results)


def test_token_budget_batches_hold_many_short_prompts_and_few_long_ones():
    from babelsum.models.generate import batches

    lengths = [100, 10, 10, 10, 60, 10, 10, 10]
    # fixed size: 3 rows each, longest first
    assert batches(lengths, 3, 20) == [[0, 4, 1], [2, 3, 5], [6, 7]]
    # budget 200 tokens: (100+20) alone, (60+20) x 2 rows, then (10+20) x 6 rows
    assert batches(lengths, 3, 20, max_batch_tokens=200) == [[0], [4, 1], [2, 3, 5, 6, 7]]
    # a prompt longer than the budget still runs, alone
    assert batches([500, 5], 8, 10, max_batch_tokens=100) == [[0], [1]]
    assert sorted(i for b in batches(lengths, 3, 20, 200) for i in b) == list(range(8))


@pytest.mark.parametrize("family", ["qwen2", "mbart"])
def test_token_budget_batching_gives_the_same_greedy_answers(tiny_models, family):
    spec, tokenizer, model = _load(tiny_models, family)
    prompts = _prompts(tokenizer, spec)
    fixed = generate(
        model, tokenizer, spec, prompts, batch_size=2, max_new_tokens=12, target_lang="fr"
    )
    budget = generate(
        model,
        tokenizer,
        spec,
        prompts,
        batch_size=2,
        max_new_tokens=12,
        target_lang="fr",
        max_batch_tokens=400,
    )
    assert budget == fixed


# ---------------------------------------------------------------- decoding per model


BEAMS = {"num_beams": 4, "length_penalty": 1.5, "no_repeat_ngram_size": 3}


@pytest.mark.parametrize("family", ["phi3", "mbart"])
def test_beam_search_equals_transformers_own_generate(tiny_models, family):
    """`models.X.decoding` with 4 beams: what transformers' generate gives with the same
    settings passed to it directly (phi3 ships no sampling config to merge in; mBART ships 5
    beams of its own, which the stated 4 replace)."""
    spec = ModelSpec(path=str(tiny_models[family]), decoding=BEAMS)
    tokenizer, model = load_tokenizer(spec), load_model(spec)
    prompts = _prompts(tokenizer, spec, "de")
    ours = generate(
        model, tokenizer, spec, prompts, batch_size=1, max_new_tokens=12, target_lang="de"
    )
    extra = {}
    if family == "mbart":
        tokenizer.src_lang = "de_DE"
        extra["forced_bos_token_id"] = tokenizer.lang_code_to_id["de_DE"]
    for prompt, got in zip(prompts, ours, strict=True):
        ids = tokenizer(prompt, add_special_tokens=family == "mbart", return_tensors="pt")
        with torch.no_grad():
            out = model.generate(
                **ids, do_sample=False, max_new_tokens=12, pad_token_id=tokenizer.pad_token_id,
                **BEAMS, **extra,
            )  # fmt: skip
        new = out[0, 1:] if family == "mbart" else out[0, ids["input_ids"].shape[1] :]
        expected = tokenizer.decode(new, skip_special_tokens=True).strip()
        assert got.text == (expected or None)
    greedy_spec = spec.model_copy(update={"decoding": None})
    greedy = generate(
        model, tokenizer, greedy_spec, prompts, batch_size=1, max_new_tokens=12, target_lang="de"
    )
    assert [g.text for g in greedy] != [g.text for g in ours]  # the beams did change answers


def test_decoding_config_states_the_beams_and_never_samples(tiny_models):
    from babelsum.config.schema import Decoding

    spec, tokenizer, model = _load(tiny_models, "qwen2")  # ships a sampling config
    config = decoding_config(model, tokenizer, 12, Decoding(**BEAMS))
    assert (config.num_beams, config.length_penalty, config.no_repeat_ngram_size) == (4, 1.5, 3)
    assert config.do_sample is False and config.repetition_penalty == 1.0


def test_token_budget_counts_every_beam():
    from babelsum.models.generate import batches

    lengths = [10] * 8
    # (10 + 20) tokens x 4 beams = 120 per row: a budget of 240 holds 2 rows, not 8
    assert batches(lengths, 8, 20, max_batch_tokens=240, beams=4) == [
        [0, 1],
        [2, 3],
        [4, 5],
        [6, 7],
    ]
    assert batches(lengths, 8, 20, max_batch_tokens=240) == [list(range(8))]


def test_length_penalty_without_beams_is_a_config_error():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="length_penalty applies to beam search only"):
        ModelSpec(path="x", decoding={"length_penalty": 2.0})


def test_vllm_refuses_a_decoding_it_cannot_do():
    """vLLM's engine decodes greedily here; a model asking for beams is refused (the teacher's
    backend vllm; evaluation names the config field itself)."""
    from babelsum.errors import StageError
    from babelsum.models.vllm_engine import VllmModel

    spec = ModelSpec(path="tiny:qwen2", decoding={"num_beams": 4})
    with pytest.raises(StageError, match=r"teacher.backend vllm decodes greedily only"):
        VllmModel(spec, 512, "teacher.backend")
