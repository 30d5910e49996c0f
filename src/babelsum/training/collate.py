"""Batches of training examples, and the count of how much of each batch is padding.

Three ways to batch (`batching:` in a train method):
- `padded`: random batches padded to their longest example (the baseline).
- `length_grouped`: the same padding, but the sampler puts examples of similar length in one
  batch (the Trainer's `group_by_length` sampler reads the `length` column), so little is padded.
- `padding_free`: a batch is one row holding its examples end to end, with `position_ids`
  restarting at 0 for each; no padding at all. Decoder-only models only: transformers turns
  restarting positions into a block-diagonal attention mask, so examples never see each other.
  Its speed needs `attn_implementation: flash_attention_2` (variable-length kernels): with
  sdpa or eager attention the mask is dense, row length squared, and attention computes
  across the whole row (benchmarks/bench_batching.py: 1.2-1.4x over padded on CPU, against
  1.7-2x for length_grouped).

Every collator records real and total tokens in a `BatchStats`, which the metrics callback
turns into tokens per second and the padding ratio.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from babelsum.errors import StageError

IGNORE = -100  # label of a token that carries no loss (prompt, padding)


@dataclass
class BatchStats:
    """Tokens the collators produced since the last `take()`."""

    real_tokens: int = 0  # prompt + completion tokens
    total_tokens: int = 0  # real tokens + padding
    supervised_tokens: int = 0  # tokens with a loss

    def add(self, real: int, total: int, supervised: int) -> None:
        self.real_tokens += real
        self.total_tokens += total
        self.supervised_tokens += supervised

    def take(self) -> tuple[int, int, int]:
        counts = (self.real_tokens, self.total_tokens, self.supervised_tokens)
        self.real_tokens = self.total_tokens = self.supervised_tokens = 0
        return counts


def _supervised(labels: list[list[int]]) -> int:
    count = sum(1 for row in labels for t in row if t != IGNORE)
    if count == 0:
        # examples.py guarantees a supervised token per example; this catches a broken pipeline
        raise StageError("a training batch has no supervised token (every label is -100)")
    return count


def _pad(rows: list[list[int]], value: int, width: int) -> torch.Tensor:
    return torch.tensor([row + [value] * (width - len(row)) for row in rows], dtype=torch.long)


class PaddedCollator:
    """Right-pads `input_ids` and `labels` to the longest example of the batch.

    Seq2seq examples (`seq2seq=True`) pad their `labels`, the target, to the longest target.
    """

    def __init__(self, pad_token_id: int, stats: BatchStats | None = None, seq2seq: bool = False):
        self.pad_token_id = pad_token_id
        self.stats = stats if stats is not None else BatchStats()
        self.seq2seq = seq2seq

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        inputs = [list(f["input_ids"]) for f in features]
        labels = [list(f["labels"]) for f in features]
        width = max(map(len, inputs))
        batch = {
            "input_ids": _pad(inputs, self.pad_token_id, width),
            "attention_mask": _pad([[1] * len(r) for r in inputs], 0, width),
        }
        if self.seq2seq:  # the target feeds the decoder: padded apart, to the longest target
            label_width = max(map(len, labels))
            real = sum(map(len, inputs)) + sum(map(len, labels))
            total = (width + label_width) * len(inputs)
        else:
            label_width, real, total = width, sum(map(len, inputs)), width * len(inputs)
        batch["labels"] = _pad(labels, IGNORE, label_width)
        self.stats.add(real, total, _supervised(labels))
        return batch


class PaddingFreeCollator:
    """Concatenates the batch into one row; `position_ids` restart at 0 for every example."""

    def __init__(self, stats: BatchStats | None = None):
        self.stats = stats if stats is not None else BatchStats()

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor | bool]:
        input_ids, labels, positions = [], [], []
        for f in features:
            ids = list(f["input_ids"])
            input_ids += ids
            # the first token of an example must not be predicted from the previous example
            labels += [IGNORE] + list(f["labels"])[1:]
            positions += range(len(ids))
        supervised = _supervised([labels])
        self.stats.add(len(input_ids), len(input_ids), supervised)
        return {
            "input_ids": torch.tensor([input_ids], dtype=torch.long),
            "labels": torch.tensor([labels], dtype=torch.long),
            "position_ids": torch.tensor([positions], dtype=torch.long),
            # transformers derives the per-example mask from position_ids only without a cache
            "use_cache": False,
        }


def make_collator(batching: str, pad_token_id: int, stats: BatchStats, seq2seq: bool = False):
    """The collator for a train method's `batching` (length grouping is the sampler's job)."""
    if batching == "padding_free":
        return PaddingFreeCollator(stats)
    return PaddedCollator(pad_token_id, stats, seq2seq=seq2seq)
