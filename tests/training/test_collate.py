"""Collators: padding counted, padding-free rows that keep examples apart."""

import pytest
import torch

from babelsum.errors import StageError
from babelsum.training.collate import BatchStats, PaddedCollator, PaddingFreeCollator

A = {"input_ids": [5, 6, 7, 8], "labels": [-100, -100, 7, 8]}
B = {"input_ids": [9, 10], "labels": [-100, 10]}


def test_padded_batch_masks_padding_and_counts_it():
    stats = BatchStats()
    batch = PaddedCollator(pad_token_id=0, stats=stats)([A, B])
    assert batch["input_ids"].tolist() == [[5, 6, 7, 8], [9, 10, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1], [1, 1, 0, 0]]
    assert batch["labels"].tolist() == [[-100, -100, 7, 8], [-100, 10, -100, -100]]
    assert stats.take() == (6, 8, 3)
    assert stats.take() == (0, 0, 0)


def test_seq2seq_batch_pads_targets_to_the_longest_target():
    stats = BatchStats()
    features = [
        {"input_ids": [5, 6, 7], "labels": [250004, 11, 2]},
        {"input_ids": [5, 6], "labels": [250004, 2]},
    ]
    batch = PaddedCollator(pad_token_id=1, stats=stats, seq2seq=True)(features)
    assert batch["labels"].tolist() == [[250004, 11, 2], [250004, 2, -100]]
    assert stats.take() == (10, 12, 5)


def test_padding_free_row_restarts_positions_and_never_predicts_across_examples():
    stats = BatchStats()
    batch = PaddingFreeCollator(stats)([A, B])
    assert batch["input_ids"].tolist() == [[5, 6, 7, 8, 9, 10]]
    assert batch["position_ids"].tolist() == [[0, 1, 2, 3, 0, 1]]
    assert batch["labels"].tolist() == [[-100, -100, 7, 8, -100, 10]]
    assert "attention_mask" not in batch and batch["use_cache"] is False
    assert stats.take() == (6, 6, 3)


def test_batch_without_supervised_token_is_an_error():
    with pytest.raises(StageError, match="no supervised token"):
        PaddedCollator(pad_token_id=0)([{"input_ids": [1, 2], "labels": [-100, -100]}])


def test_padding_free_loss_equals_the_loss_of_the_examples_apart(tiny_models):
    """One packed row gives each example the logits it gets alone (sdpa attention)."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_models["qwen2"]).train()
    torch.manual_seed(0)
    a = {"input_ids": list(range(20, 33)), "labels": [-100] * 5 + list(range(25, 33))}
    b = {"input_ids": list(range(40, 47)), "labels": [-100] * 3 + list(range(43, 47))}
    model.eval()  # no dropout, so the two computations are comparable
    with torch.no_grad():
        packed = model(**PaddingFreeCollator()([a, b])).logits[0]
        alone = [model(torch.tensor([x["input_ids"]]), use_cache=False).logits[0] for x in (a, b)]
    torch.testing.assert_close(packed, torch.cat(alone), atol=1e-5, rtol=1e-4)
