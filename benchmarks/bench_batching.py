"""Useful (non-padding) tokens per second of babelsum's batching against plain padded batches.

A length-skewed set of training examples (log-normal lengths: most short, a few long, like
news articles) trains a tiny Qwen2 for the same number of steps with each `batching` of a
train method, through the real Trainer, collators and sampler of the train stage:

- padded:         random batches padded to their longest example (the baseline)
- length_grouped: batches of similar length (the Trainer's group_by_length sampler)
- padding_free:   one row per batch, positions restarting per example, no padding

Prints useful tokens per second, the padding ratio of each, and the speed-up over padded.
On CPU (sdpa attention) padding_free pays for a dense block-diagonal mask over the whole
row; its full speed needs flash_attention_2 on a GPU.
Run: .venv/bin/python benchmarks/bench_batching.py [--steps 40] [--batch-size 8]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from datasets import Dataset
from transformers import AutoModelForCausalLM, Trainer

from babelsum.config import TrainMethod
from babelsum.models.tiny import build_tiny_model
from babelsum.training.arguments import training_arguments
from babelsum.training.collate import BatchStats, make_collator

WORDS = "river city market winter council music harbour forest bridge station museum".split()


def skewed_examples(count: int, vocab_size: int, seed: int = 0) -> Dataset:
    """Log-normal lengths between 32 and 1,024 tokens; the last quarter of each is the summary."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        length = int(min(1024, max(32, rng.lognormvariate(4.8, 0.8))))
        ids = [rng.randrange(10, vocab_size) for _ in range(length)]
        prompt = length - max(8, length // 4)
        rows.append({"input_ids": ids, "labels": [-100] * prompt + ids[prompt:], "length": length})
    return Dataset.from_list(rows)


def measure(model_dir: Path, examples: Dataset, batching: str, steps: int, batch_size: int):
    method = TrainMethod(
        model="tiny",
        method="full",
        max_steps=steps,
        per_device_batch_size=batch_size,
        learning_rate=1e-4,
        batching=batching,
        save_steps=10**6,
        logging_steps=10**6,
    )
    with tempfile.TemporaryDirectory() as work:
        args = training_arguments(
            method,
            checkpoint_dir=Path(work),
            precision="fp32",
            deepspeed_config=None,
            where="bench",
        )
        args.save_strategy = "no"
        model = AutoModelForCausalLM.from_pretrained(model_dir)
        stats = BatchStats()
        trainer = Trainer(
            model=model,
            args=args,
            train_dataset=examples,
            data_collator=make_collator(batching, model.config.pad_token_id, stats),
        )
        started = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - started
    real, total, _ = stats.take()
    return real / seconds, 1 - real / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--examples", type=int, default=512)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        texts = [" ".join(random.Random(i).choices(WORDS, k=200)) for i in range(50)]
        model_dir = build_tiny_model("qwen2", Path(tmp), texts)
        vocab = AutoModelForCausalLM.from_pretrained(model_dir).config.vocab_size
        examples = skewed_examples(args.examples, vocab)
        results = {
            batching: measure(model_dir, examples, batching, args.steps, args.batch_size)
            for batching in ("padded", "length_grouped", "padding_free")
        }

    base_speed = results["padded"][0]
    print(f"{args.steps} steps, batch {args.batch_size}, {args.examples} length-skewed examples")
    print(f"{'batching':<16}{'useful tok/s':>14}{'padding':>10}{'vs padded':>11}")
    for batching, (speed, padding) in results.items():
        print(f"{batching:<16}{speed:>14.0f}{padding:>10.1%}{speed / base_speed:>10.2f}x")


if __name__ == "__main__":
    main()
