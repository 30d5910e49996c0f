"""Batched generation: what the teacher, evaluation, the judge and the ROUGE check all call.

Prompts are sorted by length so a batch pads little (and the longest batch runs first, so an
out-of-memory error shows at once), padded on the left for decoder-only models, and decoded
as the model's `decoding` says (greedy unless set; beam search with `num_beams`), every other
setting of the model's own generation config neutralised (Qwen2.5-Instruct ships temperature
0.7 and a repetition penalty of 1.05, mBART-50 five beams). A batch that fails is retried one
prompt at a time, so a failure costs one example and is recorded with a reason.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from babelsum.config import ModelSpec
from babelsum.config.schema import Decoding
from babelsum.lang.codes import language
from babelsum.models.loading import is_seq2seq
from babelsum.models.prompts import uses_chat_template

if TYPE_CHECKING:
    import torch
    from transformers import GenerationConfig, PreTrainedModel, PreTrainedTokenizerBase

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Generation:
    text: str | None
    status: Literal["ok", "failed", "empty"]
    reason: str | None = None
    new_tokens: int = 0


def decoding_of(spec: ModelSpec) -> Decoding:
    """The decoding `spec` generates with: its own, else greedy."""
    return spec.decoding or Decoding()


def decoding_config(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    max_new_tokens: int,
    decoding: Decoding | None = None,
    *,
    forced_bos_token_id: int | None = None,
) -> GenerationConfig:
    """`decoding` (default: greedy), stated value by value, carrying over the model's special
    token ids; never sampling.

    transformers fills every field of a passed config left unset from the model's own
    generation config, so sampling and penalty fields are set to neutral values, not left out.
    """
    decoding = decoding or Decoding()
    from transformers import GenerationConfig

    own = model.generation_config
    eos = own.eos_token_id
    eos = list(eos) if isinstance(eos, list) else [] if eos is None else [eos]
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in eos:
        eos.append(tokenizer.eos_token_id)
    return GenerationConfig(
        max_new_tokens=max_new_tokens,
        do_sample=False,
        num_beams=decoding.num_beams,
        num_return_sequences=1,
        early_stopping=False,
        temperature=1.0,
        top_p=1.0,
        top_k=50,
        repetition_penalty=1.0,
        encoder_repetition_penalty=1.0,
        no_repeat_ngram_size=decoding.no_repeat_ngram_size,
        encoder_no_repeat_ngram_size=0,
        length_penalty=decoding.length_penalty,
        min_length=0,
        eos_token_id=eos,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=own.bos_token_id,
        decoder_start_token_id=own.decoder_start_token_id,
        forced_bos_token_id=forced_bos_token_id,
        forced_eos_token_id=own.forced_eos_token_id,
    )


def generate(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    spec: ModelSpec,
    prompts: list[str],
    *,
    batch_size: int,
    max_new_tokens: int,
    target_lang: str | None = None,
    source_lang: str | None = None,
    max_batch_tokens: int | None = None,
) -> list[Generation]:
    """Generate one answer per prompt, in the order of `prompts`.

    Decoding is the spec's `decoding` (greedy unless set). Batches hold `batch_size` prompts,
    or, with `max_batch_tokens`, as many as fit that many tokens (rows x beams x (longest
    prompt + max_new_tokens)): short prompts then go many at a time, long ones few, instead of
    a fixed count padded to the longest.

    `prompts` come from `babelsum.models.prompts.render_generation_prompt`. For seq2seq models
    (mBART) `target_lang` is required: its language code is forced as the first generated
    token; `source_lang` (default: target_lang) sets the encoder's language code.
    """
    if not prompts:
        return []
    seq2seq = is_seq2seq(spec)
    forced_bos = None
    if seq2seq:
        if target_lang is None:
            raise ValueError(f"{spec.path} is a seq2seq model: generate needs target_lang")
        tokenizer.src_lang = language(source_lang or target_lang).mbart_code
        forced_bos = tokenizer.convert_tokens_to_ids(language(target_lang).mbart_code)
    decoding = decoding_of(spec)
    config = decoding_config(
        model, tokenizer, max_new_tokens, decoding, forced_bos_token_id=forced_bos
    )
    special = not uses_chat_template(spec)  # a chat template already holds its special tokens
    encoded = [
        tokenizer(p, add_special_tokens=special, verbose=False)["input_ids"] for p in prompts
    ]

    lengths = [len(ids) for ids in encoded]
    results: list[Generation | None] = [None] * len(prompts)
    for batch in batches(
        lengths, batch_size, max_new_tokens, max_batch_tokens, beams=decoding.num_beams
    ):
        try:
            outputs = _generate_batch(
                model, tokenizer, config, [encoded[i] for i in batch], seq2seq
            )
        except (RuntimeError, ValueError, IndexError) as err:
            if len(batch) == 1:
                outputs = [_failed(err)]
            else:
                log.warning(
                    "a batch of %d failed (%s); retrying one by one", len(batch), _reason(err)
                )
                _free_accelerator_memory()
                outputs = [
                    _generate_one(model, tokenizer, config, encoded[i], seq2seq) for i in batch
                ]
        for i, generation in zip(batch, outputs, strict=True):
            results[i] = generation
    return results  # type: ignore[return-value]


def batches(
    lengths: list[int],
    batch_size: int,
    max_new_tokens: int,
    max_batch_tokens: int | None = None,
    *,
    beams: int = 1,
) -> list[list[int]]:
    """Prompt positions in batches, longest first (an out-of-memory error shows at once, and a
    batch pads little). With `max_batch_tokens`, a batch grows while rows x beams x (its
    longest prompt + max_new_tokens) fits (beam search keeps `beams` sequences per row); a
    prompt longer than the budget goes alone."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    if max_batch_tokens is None:
        return [order[s : s + batch_size] for s in range(0, len(order), batch_size)]
    found: list[list[int]] = []
    for i in order:
        rows = len(found[-1]) + 1 if found else 1
        if found and rows * beams * (lengths[found[-1][0]] + max_new_tokens) <= max_batch_tokens:
            found[-1].append(i)
        else:
            found.append([i])
    return found


def _generate_one(model, tokenizer, config, ids: list[int], seq2seq: bool) -> Generation:
    try:
        return _generate_batch(model, tokenizer, config, [ids], seq2seq)[0]
    except (RuntimeError, ValueError, IndexError) as err:
        _free_accelerator_memory()
        return _failed(err)


def _generate_batch(
    model, tokenizer, config: GenerationConfig, batch: list[list[int]], seq2seq: bool
) -> list[Generation]:
    import torch

    # Decoder-only models continue the last prompt token, so padding goes on the left;
    # mBART's encoder has absolute positions, so its padding goes on the right.
    input_ids, attention_mask = _pad(batch, tokenizer.pad_token_id, left=not seq2seq)
    with torch.inference_mode(), _only_config(model, config):
        output = model.generate(
            input_ids=input_ids.to(model.device),
            attention_mask=attention_mask.to(model.device),
            generation_config=config,
        )
    # Decoder-only output repeats the prompt; seq2seq output starts with the decoder start token.
    new = output[:, 1:] if seq2seq else output[:, input_ids.shape[1] :]
    stops = set(config.eos_token_id)
    generations = []
    for row in new.tolist():
        length = next((k + 1 for k, t in enumerate(row) if t in stops), len(row))
        text = tokenizer.decode(row[:length], skip_special_tokens=True).strip()
        if text:
            generations.append(Generation(text, "ok", None, length))
        else:
            generations.append(Generation(None, "empty", "the model generated no text", length))
    return generations


@contextmanager
def _only_config(model, config: GenerationConfig) -> Iterator[None]:
    """Make `config` the model's own generation config while generating.

    Nothing of the checkpoint's generation config is then merged in (a `max_length` there
    would clash with `max_new_tokens` and warn on every batch).
    """
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    saved = inner.generation_config
    inner.generation_config = config
    try:
        yield
    finally:
        inner.generation_config = saved


def _pad(batch: list[list[int]], pad_id: int, *, left: bool) -> tuple[torch.Tensor, torch.Tensor]:
    import torch

    width = max(len(ids) for ids in batch)
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, ids in enumerate(batch):
        span = slice(width - len(ids), width) if left else slice(0, len(ids))
        input_ids[row, span] = torch.tensor(ids, dtype=torch.long)
        attention_mask[row, span] = 1
    return input_ids, attention_mask


def _failed(err: BaseException) -> Generation:
    return Generation(None, "failed", _reason(err), 0)


def _reason(err: BaseException) -> str:
    text = str(err).strip()
    first = text.splitlines()[0] if text else ""
    return f"{type(err).__name__}: {first}"[:300]


def _free_accelerator_memory() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
