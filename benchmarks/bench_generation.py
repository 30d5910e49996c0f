"""Batched greedy generation against one prompt at a time, and batches filled to a token
budget against batches of a fixed size, on the same tiny model and prompts of mixed lengths.

Every run goes through `babelsum.models.generate.generate` (batch_size N, batch_size 1, and
batch_size N with max_batch_tokens) and must give identical answers; the script prints the
throughput of each and the ratios (aims on a 2-core CPU machine: batched >= 5x one at a time,
token budget >= 1.3x fixed size). Nothing about time is asserted.
Run: .venv/bin/python benchmarks/bench_generation.py [--family qwen2] [--prompts 64]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from babelsum.config import ModelSpec
from babelsum.models.generate import generate
from babelsum.models.loading import load_model, load_tokenizer
from babelsum.models.prompts import fit_generation_prompt
from babelsum.models.tiny import build_tiny_model, tokenizer_corpus

SHORTEST = 200  # tokens: the chat template and system prompt take up to about 180


def prompts_for(tokenizer, spec: ModelSpec, texts: list[str], n: int, max_tokens: int) -> list:
    """n prompts whose lengths spread evenly from just above the template (200 tokens with
    its system prompt) to `max_tokens`, as articles cut to an input budget do (a mix of the
    four languages)."""
    langs = ["en", "fr", "de", "ja"]
    long_text = " ".join(texts)
    out = []
    for i in range(n):
        budget = SHORTEST + (i * 37) % (max_tokens - SHORTEST + 1)
        start = (i * 101) % max(1, len(long_text) - 4 * max_tokens)
        lang = langs[i % len(langs)]
        prompt, _ = fit_generation_prompt(
            tokenizer,
            spec,
            long_text[start : start + 8 * max_tokens],
            "Titre",
            lang,
            lang,
            max_input_tokens=budget,
        )
        out.append((prompt, lang))
    return out


def run(model, tokenizer, spec, prompts, batch_size: int, max_new_tokens: int, budget=None):
    start = time.perf_counter()
    if batch_size == 1:
        answers = [
            generate(
                model,
                tokenizer,
                spec,
                [p],
                batch_size=1,
                max_new_tokens=max_new_tokens,
                target_lang=lang,
            )[0]
            for p, lang in prompts
        ]
    else:
        # one call per language, as the teacher and evaluation do (mBART needs target_lang)
        answers = [None] * len(prompts)
        for lang in sorted({lang for _, lang in prompts}):
            picked = [i for i, (_, x) in enumerate(prompts) if x == lang]
            got = generate(
                model,
                tokenizer,
                spec,
                [prompts[i][0] for i in picked],
                batch_size=batch_size,
                max_new_tokens=max_new_tokens,
                target_lang=lang,
                max_batch_tokens=budget,
            )
            for i, answer in zip(picked, got, strict=True):
                answers[i] = answer
    return answers, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", default="qwen2", choices=["qwen2", "phi3", "gemma3", "mbart"])
    parser.add_argument("--prompts", type=int, default=256, help="a quarter per language")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--max-input-tokens", type=int, default=1024)
    parser.add_argument(
        "--max-batch-tokens",
        type=int,
        help="the token budget of a batch; default: batch size x (max input + max new "
        "tokens), the peak a fixed batch of the longest prompts takes, so both batchings "
        "fit the same memory and the budget packs short prompts more densely",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    budget = args.max_batch_tokens or args.batch_size * (
        args.max_input_tokens + args.max_new_tokens
    )

    with tempfile.TemporaryDirectory() as tmp:
        texts = tokenizer_corpus()
        folder = build_tiny_model(args.family, Path(tmp), texts)
        spec = ModelSpec(path=str(folder), chat=args.family != "mbart")
        tokenizer, model = load_tokenizer(spec), load_model(spec)
        prompts = prompts_for(tokenizer, spec, texts, args.prompts, args.max_input_tokens)

        run(model, tokenizer, spec, prompts[:2], 2, 4)  # warm-up
        single, t_single = run(model, tokenizer, spec, prompts, 1, args.max_new_tokens)
        batched, t_batched = run(
            model, tokenizer, spec, prompts, args.batch_size, args.max_new_tokens
        )
        budgeted, t_budget = run(
            model,
            tokenizer,
            spec,
            prompts,
            args.batch_size,
            args.max_new_tokens,
            budget,
        )

    same = sum(a == b for a, b in zip(single, batched, strict=True))
    same_budget = sum(a == b for a, b in zip(batched, budgeted, strict=True))
    tokens = sum(a.new_tokens for a in batched)
    print(
        f"tiny {args.family}, {args.prompts} prompts, {args.max_new_tokens} new tokens max, "
        f"{torch.get_num_threads()} thread(s)"
    )
    print(
        f"{'one at a time':<24} {t_single:8.2f} s {args.prompts / t_single:8.1f} prompts/s "
        f"{tokens / t_single:9.0f} tokens/s"
    )
    print(
        f"{f'batched (batch {args.batch_size})':<24} {t_batched:8.2f} s "
        f"{args.prompts / t_batched:8.1f} prompts/s {tokens / t_batched:9.0f} tokens/s"
    )
    print(
        f"{f'token budget {budget}':<24} {t_budget:8.2f} s "
        f"{args.prompts / t_budget:8.1f} prompts/s {tokens / t_budget:9.0f} tokens/s"
    )
    print(f"identical greedy answers: {same}/{len(batched)} batched, {same_budget} token budget")
    print(f"throughput ratio batched / one at a time: {t_single / t_batched:.1f}x (aim: >= 5x)")
    print(f"throughput ratio token budget / fixed size: {t_batched / t_budget:.2f}x (aim: >= 1.3x)")
    if same != len(batched) or same_budget != len(batched):
        raise SystemExit("the batchings' answers differ")


if __name__ == "__main__":
    main()
