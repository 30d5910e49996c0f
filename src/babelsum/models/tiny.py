"""Tiny random models of the study's architectures, with tokenizers trained here.

Nothing can be downloaded in the tests or the demo, so they use these: the real model classes
(Qwen2, Phi3, MBart, Gemma3, Phi, Mistral, and Gemma 3's multimodal class with a tiny vision
tower, as gemma-3-4b-it loads), the real tokenizer classes with the real families' special
tokens and chat templates, a few hundred thousand parameters. They are saved with `save_pretrained` and
load through `babelsum.models.loading`, the very code that loads the real checkpoints.

Tokenizers follow their family: byte-level BPE for Qwen2, Phi3 and Phi-2, BPE with byte
fallback for Gemma and Mistral, and for mBART a SentencePiece-style unigram model with the 52 language codes, since
`MBart50Tokenizer` rebuilds a unigram backend from the saved vocabulary.
The weights are random, so what they generate is noise; they exist to exercise every code path.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path

# `tiny:NAME` in a config; gemma3-vision is the Gemma 3 family as its 4B/12B/27B checkpoints
# load: Gemma3ForConditionalGeneration (vision tower and all), used on text
FAMILIES = ("qwen2", "phi3", "mbart", "gemma3", "phi", "mistral", "gemma3-vision")
# Bump when a recipe below changes or one is added: caches of built models are keyed on it.
TINY_VERSION = "3"

VOCAB_SIZE = 1200
HIDDEN = 64
# Wider than the usual 0.02: with tied embeddings, a smaller random init only ever repeats the
# prompt's last token, and the tests want varied (if meaningless) text.
INIT_STD = 0.1
LAYERS = 2
# the size of every tiny decoder-only model (Qwen2, Phi3, Gemma3 name these alike)
DECODER_SHAPE = {
    "hidden_size": HIDDEN,
    "initializer_range": INIT_STD,
    "intermediate_size": 2 * HIDDEN,
    "num_hidden_layers": LAYERS,
    "num_attention_heads": 4,
}

# Chat templates in each family's own style, trimmed of tool calling.
QWEN2_CHAT_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. "
    "You are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if not (message['role'] == 'system' and loop.first) %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
PHI3_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>' + message['content'] + '<|end|>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% else %}{{ eos_token }}{% endif %}"
)
GEMMA3_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{%- if messages[0]['role'] == 'system' -%}"
    "{%- set first_user_prefix = messages[0]['content'] + '\\n\\n' -%}"
    "{%- set loop_messages = messages[1:] -%}"
    "{%- else -%}"
    "{%- set first_user_prefix = '' -%}"
    "{%- set loop_messages = messages -%}"
    "{%- endif -%}"
    "{%- for message in loop_messages -%}"
    "{%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}"
    "{{ '<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else '') }}"
    "{{ message['content'] | trim }}{{ '<end_of_turn>\\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\\n' }}{%- endif -%}"
)


def build_tiny_model(family: str, out_dir: Path, texts: Iterable[str]) -> Path:
    """Build a tiny `family` model with a tokenizer trained on `texts`; save it under out_dir/family.

    Returns the model folder, loadable with `AutoTokenizer` and `AutoModelForCausalLM` (or
    `AutoModelForSeq2SeqLM` for mbart) like a downloaded checkpoint.
    """
    if family not in _RECIPES:
        raise ValueError(f"no tiny recipe for family {family!r}; families: {', '.join(FAMILIES)}")
    texts = [t for t in texts if t and t.strip()]
    if not texts:
        raise ValueError("build_tiny_model needs some text to train its tokenizer on")
    tokenizer, model = _RECIPES[family](texts)
    folder = Path(out_dir) / family
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(folder)
    _save_quietly(model, folder)
    return folder


def _save_quietly(model, folder: Path) -> None:
    """save_pretrained without its progress bar: a tiny model is built where a user runs
    `launch` (preflight), whose terminal shows one line per problem and nothing else."""
    from transformers.utils import logging as hf_logging

    shown = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        model.save_pretrained(folder)
    finally:
        if shown:
            hf_logging.enable_progress_bar()


def tokenizer_corpus(
    topics: int = 60, languages: Iterable[str] = ("en", "fr", "de", "ja")
) -> list[str]:
    """Titles and texts of the synthetic corpus: what the tiny tokenizers learn from."""
    from babelsum.data.synthetic import synthetic_articles

    articles = synthetic_articles(topics=topics, seed=0, languages=list(languages))
    return [a["title"] + "\n" + a["text"] for a in articles]


def build_tiny_models(
    out_dir: Path, texts: Iterable[str], families: Iterable[str] = FAMILIES
) -> dict[str, Path]:
    """Build every tiny family under out_dir (the demo's models); family -> model folder."""
    texts = list(texts)
    return {family: build_tiny_model(family, out_dir, texts) for family in families}


# ---------------------------------------------------------------- tokenizers


def _train(texts: list[str], model, trainer, *, normalizer=None, pre_tokenizer=None) -> dict:
    """Train a `tokenizers` model; return its JSON model section (vocab, and merges for BPE)."""
    from tokenizers import Tokenizer

    tok = Tokenizer(model)
    if normalizer is not None:
        tok.normalizer = normalizer
    if pre_tokenizer is not None:
        tok.pre_tokenizer = pre_tokenizer
    tok.train_from_iterator(texts, trainer=trainer)
    return json.loads(tok.to_str())["model"]


def _byte_level_bpe(texts: list[str], specials: list[str], pre_tokenizer) -> tuple[dict, list]:
    from tokenizers import models, normalizers, pre_tokenizers, trainers

    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    section = _train(
        texts, models.BPE(), trainer, normalizer=normalizers.NFC(), pre_tokenizer=pre_tokenizer
    )
    return section["vocab"], _merges(section)


def _merges(section: dict) -> list[tuple[str, str]]:
    """BPE merges as pairs (tokenizers writes them as pairs or as "a b" strings)."""
    return [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in section["merges"]]


# ---------------------------------------------------------------- recipes


def _seeded() -> None:
    import torch

    torch.manual_seed(0)


def _qwen2(texts: list[str]):
    from tokenizers import Regex, pre_tokenizers
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM, Qwen2Tokenizer
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    pre = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    vocab, merges = _byte_level_bpe(texts, specials, pre)
    tokenizer = Qwen2Tokenizer(
        vocab=vocab,
        merges=merges,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        extra_special_tokens=["<|im_start|>", "<|im_end|>"],
        model_max_length=32768,
    )
    tokenizer.chat_template = QWEN2_CHAT_TEMPLATE
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in specials}
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        **DECODER_SHAPE,
        num_key_value_heads=2,
        max_position_embeddings=32768,
        tie_word_embeddings=True,
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<|endoftext|>"],
    )
    _seeded()
    model = Qwen2ForCausalLM(config)
    # Qwen2.5-Instruct ships a sampling generation config; ours does too, so that the
    # explicit greedy settings of `generate` are exercised.
    model.generation_config = GenerationConfig(
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=[ids["<|im_end|>"], ids["<|endoftext|>"]],
        pad_token_id=ids["<|endoftext|>"],
        do_sample=True,
        temperature=0.7,
        top_p=0.8,
        top_k=20,
        repetition_penalty=1.05,
    )
    return tokenizer, model


def _phi3(texts: list[str]):
    from tokenizers import pre_tokenizers
    from transformers import GenerationConfig, GPT2Tokenizer, Phi3Config, Phi3ForCausalLM

    specials = ["<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"]
    vocab, merges = _byte_level_bpe(
        texts, specials, pre_tokenizers.ByteLevel(add_prefix_space=False)
    )
    # Phi-4-mini: bos, eos, pad and unk are all <|endoftext|>; a turn ends with <|end|>.
    tokenizer = GPT2Tokenizer(
        vocab=vocab,
        merges=merges,
        pad_token="<|endoftext|>",
        extra_special_tokens=specials[1:],
        model_max_length=131072,
    )
    tokenizer.chat_template = PHI3_CHAT_TEMPLATE
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in specials}
    config = Phi3Config(
        vocab_size=len(tokenizer),
        **DECODER_SHAPE,
        num_key_value_heads=2,
        max_position_embeddings=131072,
        original_max_position_embeddings=4096,
        partial_rotary_factor=0.75,
        tie_word_embeddings=True,
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|endoftext|>"],
        pad_token_id=ids["<|endoftext|>"],
    )
    _seeded()
    model = Phi3ForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=[ids["<|end|>"], ids["<|endoftext|>"]],
        pad_token_id=ids["<|endoftext|>"],
    )
    return tokenizer, model


def _byte_fallback_bpe(
    texts: list[str], specials: list[str], prepend_scheme: str
) -> tuple[dict, list]:
    """SentencePiece-style BPE (Gemma, Llama, Mistral): spaces as "▁", unseen characters as
    <0xNN> byte tokens."""
    from tokenizers import models, pre_tokenizers, trainers

    byte_tokens = [f"<0x{b:02X}>" for b in range(256)]
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE + 256,
        special_tokens=specials + byte_tokens,
        limit_alphabet=300,
        show_progress=False,
    )
    unk = "<unk>"
    section = _train(
        texts,
        models.BPE(unk_token=unk, byte_fallback=True),
        trainer,
        pre_tokenizer=pre_tokenizers.Metaspace(replacement="▁", prepend_scheme=prepend_scheme),
    )
    return section["vocab"], _merges(section)


GEMMA_NAMED = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>"]
GEMMA_TURNS = ["<start_of_turn>", "<end_of_turn>"]
GEMMA_IMAGE = ["<start_of_image>", "<end_of_image>", "<image_soft_token>"]


def _gemma_tokenizer(texts: list[str], extra: list[str]):
    from transformers import GemmaTokenizer

    # Gemma's BPE falls back to bytes for unseen characters, and marks spaces with "▁".
    vocab, merges = _byte_fallback_bpe(texts, GEMMA_NAMED + GEMMA_TURNS + extra, "never")
    tokenizer = GemmaTokenizer(
        vocab=vocab,
        merges=merges,
        extra_special_tokens=GEMMA_TURNS + extra,
        model_max_length=131072,
    )
    tokenizer.chat_template = GEMMA3_CHAT_TEMPLATE
    return tokenizer


def _gemma3_text_config(tokenizer, ids: dict[str, int]):
    from transformers import Gemma3TextConfig

    return Gemma3TextConfig(
        vocab_size=len(tokenizer),
        **DECODER_SHAPE,
        num_key_value_heads=1,
        # k_proj and v_proj then have 32 outputs: bitsandbytes' CPU inference kernel for 4-bit
        # weights needs a multiple of 32 (real models have one), which head_dim 16 would miss
        head_dim=32,
        query_pre_attn_scalar=32,
        sliding_window=128,
        layer_types=["sliding_attention", "full_attention"],
        max_position_embeddings=32768,
        pad_token_id=ids["<pad>"],
        eos_token_id=ids["<eos>"],
        bos_token_id=ids["<bos>"],
    )


def _gemma_generation_config(ids: dict[str, int]):
    from transformers import GenerationConfig

    return GenerationConfig(
        bos_token_id=ids["<bos>"],
        eos_token_id=[ids["<eos>"], ids["<end_of_turn>"]],
        pad_token_id=ids["<pad>"],
        do_sample=True,
        top_k=64,
        top_p=0.95,
    )


def _gemma3(texts: list[str]):
    from transformers import Gemma3ForCausalLM

    tokenizer = _gemma_tokenizer(texts, [])
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in GEMMA_NAMED + GEMMA_TURNS}
    _seeded()
    model = Gemma3ForCausalLM(_gemma3_text_config(tokenizer, ids))
    model.generation_config = _gemma_generation_config(ids)
    return tokenizer, model


def _gemma3_vision(texts: list[str]):
    """Gemma 3 as gemma-3-4b-it is saved: model_type gemma3, Gemma3ForConditionalGeneration
    with a (tiny) SigLIP vision tower and projector beside the language model."""
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration, SiglipVisionConfig

    tokenizer = _gemma_tokenizer(texts, GEMMA_IMAGE)
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in GEMMA_NAMED + GEMMA_TURNS + GEMMA_IMAGE}
    vision = SiglipVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=32,
        patch_size=8,  # 4 x 4 patches, pooled to mm_tokens_per_image = 2 x 2
        vision_use_head=False,
    )
    config = Gemma3Config(
        text_config=_gemma3_text_config(tokenizer, ids),
        vision_config=vision,
        mm_tokens_per_image=4,
        boi_token_index=ids["<start_of_image>"],
        eoi_token_index=ids["<end_of_image>"],
        image_token_index=ids["<image_soft_token>"],
        pad_token_id=ids["<pad>"],
        eos_token_id=ids["<eos>"],
        bos_token_id=ids["<bos>"],
    )
    _seeded()
    model = Gemma3ForConditionalGeneration(config)
    model.generation_config = _gemma_generation_config(ids)
    return tokenizer, model


def _phi(texts: list[str]):
    """Phi-2: a base model (no chat template), CodeGen's byte-level BPE whose one special
    token, <|endoftext|>, is bos, eos and unk, and no pad token; attention output `dense`,
    MLP `fc1`/`fc2` (the XSum study's LoRA targets)."""
    from tokenizers import pre_tokenizers
    from transformers import CodeGenTokenizer, GenerationConfig, PhiConfig, PhiForCausalLM

    vocab, merges = _byte_level_bpe(
        texts, ["<|endoftext|>"], pre_tokenizers.ByteLevel(add_prefix_space=False)
    )
    tokenizer = CodeGenTokenizer(vocab=vocab, merges=merges, model_max_length=2048)
    end = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    config = PhiConfig(
        vocab_size=len(tokenizer),
        **DECODER_SHAPE,
        num_key_value_heads=4,
        max_position_embeddings=2048,
        partial_rotary_factor=0.4,
        bos_token_id=end,
        eos_token_id=end,
    )
    _seeded()
    model = PhiForCausalLM(config)
    model.generation_config = GenerationConfig(bos_token_id=end, eos_token_id=end)
    return tokenizer, model


MISTRAL_CHAT_TEMPLATE = (  # Mistral-Small-24B-Instruct-2501's, trimmed of tool calling
    "{{- bos_token }}"
    "{%- for message in messages %}"
    "{%- if message['role'] == 'system' %}"
    "{{- '[SYSTEM_PROMPT]' + message['content'] + '[/SYSTEM_PROMPT]' }}"
    "{%- elif message['role'] == 'user' %}"
    "{{- '[INST]' + message['content'] + '[/INST]' }}"
    "{%- else %}"
    "{{- message['content'] + eos_token }}"
    "{%- endif %}"
    "{%- endfor %}"
)


def _mistral(texts: list[str]):
    from transformers import GenerationConfig, LlamaTokenizer, MistralConfig, MistralForCausalLM

    named = ["<unk>", "<s>", "</s>", "<pad>"]
    turns = ["[INST]", "[/INST]", "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]"]
    vocab, merges = _byte_fallback_bpe(texts, named + turns, "first")
    tokenizer = LlamaTokenizer(
        vocab=vocab,
        merges=merges,
        pad_token="<pad>",
        extra_special_tokens=turns,
        add_bos_token=True,
        model_max_length=32768,
    )
    tokenizer.chat_template = MISTRAL_CHAT_TEMPLATE
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in named}
    config = MistralConfig(
        vocab_size=len(tokenizer),
        **DECODER_SHAPE,
        num_key_value_heads=2,
        head_dim=HIDDEN // 4,
        max_position_embeddings=32768,
        sliding_window=None,
        bos_token_id=ids["<s>"],
        eos_token_id=ids["</s>"],
        pad_token_id=ids["<pad>"],
    )
    _seeded()
    model = MistralForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=ids["<s>"], eos_token_id=ids["</s>"], pad_token_id=ids["<pad>"]
    )
    return tokenizer, model


def _mbart(texts: list[str]):
    from tokenizers import models, pre_tokenizers, trainers
    from transformers import (
        GenerationConfig,
        MBart50Tokenizer,
        MBartConfig,
        MBartForConditionalGeneration,
    )
    from transformers.models.mbart50.tokenization_mbart50 import FAIRSEQ_LANGUAGE_CODES

    # mBART-50 is a SentencePiece unigram model in fairseq order: <s> <pad> </s> <unk>, the
    # pieces, the 52 language codes, <mask>. MBart50Tokenizer keeps a vocabulary in that order.
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    trainer = trainers.UnigramTrainer(
        vocab_size=VOCAB_SIZE, special_tokens=specials, unk_token="<unk>", show_progress=False
    )
    section = _train(
        texts,
        models.Unigram(),
        trainer,
        pre_tokenizer=pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always"),
    )
    pieces = [(p, s) for p, s in section["vocab"] if p not in specials]
    vocab = [(t, 0.0) for t in specials] + pieces
    vocab += [(code, 0.0) for code in FAIRSEQ_LANGUAGE_CODES] + [("<mask>", 0.0)]
    tokenizer = MBart50Tokenizer(vocab=vocab, model_max_length=1024)
    config = MBartConfig(
        vocab_size=len(tokenizer),
        d_model=HIDDEN,
        init_std=INIT_STD,
        encoder_layers=LAYERS,
        decoder_layers=LAYERS,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=2 * HIDDEN,
        decoder_ffn_dim=2 * HIDDEN,
        max_position_embeddings=1024,
        scale_embedding=True,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        decoder_start_token_id=2,
        forced_eos_token_id=2,
    )
    _seeded()
    model = MBartForConditionalGeneration(config)
    model.generation_config = GenerationConfig(
        bos_token_id=0,
        eos_token_id=2,
        pad_token_id=1,
        decoder_start_token_id=2,
        forced_eos_token_id=2,
        num_beams=5,
        max_length=200,
    )
    return tokenizer, model


_RECIPES: dict[str, Callable[[list[str]], tuple]] = {
    "qwen2": _qwen2,
    "phi3": _phi3,
    "mbart": _mbart,
    "gemma3": _gemma3,
    "phi": _phi,
    "mistral": _mistral,
    "gemma3-vision": _gemma3_vision,
}
