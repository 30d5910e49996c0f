"""Training examples: the evaluation prompt as input, the reference summary as the only loss.

The prompt is the very text evaluation generates from (`fit_generation_prompt`): the article
is cut to the token budget *before* templating, so the instruction and the generation prompt
survive and the summary is never cut off. The completion is the summary as the model must
write it, end-of-turn token included (a model that never learns to stop rambles), so every
example has supervised tokens.

- Instruct models: the chat template's assistant turn after the generation prompt.
- Base causal models: " " + summary + the end-of-text token after the plain prompt.
- Seq2seq models (mBART): encoder input in the article's language code, labels in the summary's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from datasets import Dataset

from babelsum.config import ModelSpec, TrainMethod
from babelsum.errors import StageError
from babelsum.lang.codes import language
from babelsum.models.loading import is_seq2seq
from babelsum.models.prompts import PromptSet, fit_generation_prompt, uses_chat_template
from babelsum.training.collate import IGNORE

_PLACEHOLDER = "\x00summary\x00"


@dataclass
class Example:
    input_ids: list[int]
    labels: list[int]  # -100 where no loss is taken
    prompt_tokens: int
    completion_tokens: int
    article_cut: bool  # the article was cut to fit max_input_tokens


def records_in_language(split: Dataset, lang: str) -> list[dict]:
    """The records of a split whose *article* is in `lang` (summaries may be in another)."""
    return [r for r in split if r["language"] == lang]


def summary_language(record: dict) -> str:
    return record.get("summary_language") or record["language"]


def prompt_for(
    record: dict, tokenizer, spec: ModelSpec, max_input_tokens: int, prompts: PromptSet | None
) -> tuple[str, bool]:
    """The generation prompt of a record with its article cut to fit, and whether it was cut."""
    return fit_generation_prompt(
        tokenizer,
        spec,
        record["text"],
        record.get("title") or "",
        record["language"],
        summary_language(record),
        max_input_tokens=max_input_tokens,
        prompts=prompts,
    )


def completion_suffix(tokenizer, spec: ModelSpec) -> tuple[str, str]:
    """What the chat template writes around an answer after the generation prompt.

    Returns (before, after) such that the assistant turn is before + summary + after, e.g.
    ("", "<|im_end|>\\n") for Qwen2.5. Found by rendering a one-turn chat with and without
    an answer: the template's own end-of-turn markers, whatever the family.
    """
    user = [{"role": "user", "content": "."}]
    prompt = tokenizer.apply_chat_template(user, tokenize=False, add_generation_prompt=True)
    answered = tokenizer.apply_chat_template(
        user + [{"role": "assistant", "content": _PLACEHOLDER}], tokenize=False
    )
    if not answered.startswith(prompt) or _PLACEHOLDER not in answered:
        raise StageError(
            f"the chat template of {spec.path} does not render an answer after its generation "
            "prompt, so the prompt and the summary cannot be told apart for training"
        )
    before, after = answered[len(prompt) :].split(_PLACEHOLDER)
    return before, after


def causal_example(
    record: dict,
    tokenizer,
    spec: ModelSpec,
    max_input_tokens: int,
    suffix: tuple[str, str] | None,
    prompts: PromptSet | None = None,
) -> Example:
    """input_ids = prompt + completion; labels = -100 on the prompt, the completion itself.

    `suffix` is the chat template's (before, after) around an answer; None for base models.
    """
    prompt, cut = prompt_for(record, tokenizer, spec, max_input_tokens, prompts)
    chat = suffix is not None
    prompt_ids = tokenizer(prompt, add_special_tokens=not chat)["input_ids"]
    summary = record["summary"].strip()
    if chat:
        before, after = suffix
        completion_ids = tokenizer(before + summary + after, add_special_tokens=False)["input_ids"]
    else:
        # the summary follows a prompt that ends on a newline directly, else after a space
        separator = "" if prompt[-1:].isspace() else " "
        completion_ids = tokenizer(separator + summary, add_special_tokens=False)["input_ids"]
        completion_ids.append(tokenizer.eos_token_id)
    return Example(
        input_ids=prompt_ids + completion_ids,
        labels=[IGNORE] * len(prompt_ids) + completion_ids,
        prompt_tokens=len(prompt_ids),
        completion_tokens=len(completion_ids),
        article_cut=cut,
    )


def seq2seq_example(
    record: dict,
    tokenizer,
    spec: ModelSpec,
    max_input_tokens: int,
    prompts: PromptSet | None = None,
) -> Example:
    """Encoder input tagged with the article's language code, labels with the summary's."""
    tokenizer.src_lang = language(record["language"]).mbart_code
    tokenizer.tgt_lang = language(summary_language(record)).mbart_code
    prompt, cut = prompt_for(record, tokenizer, spec, max_input_tokens, prompts)
    encoded = tokenizer(prompt, text_target=record["summary"].strip())
    labels = encoded["labels"]
    # learned positions end at model_max_length: an over-long summary cannot be learned whole
    limit = tokenizer.model_max_length
    if len(labels) > limit:
        labels = labels[: limit - 1] + [labels[-1]]
    return Example(
        input_ids=encoded["input_ids"],
        labels=labels,
        prompt_tokens=len(encoded["input_ids"]),
        completion_tokens=len(labels),
        article_cut=cut,
    )


def build_examples(
    records: Iterable[dict],
    tokenizer,
    spec: ModelSpec,
    method: TrainMethod,
    where: str,
    prompts: PromptSet | None = None,
) -> tuple[Dataset, dict]:
    """Tokenized examples (input_ids, labels, length) and a report of what was cut; `prompts`
    is the model's student prompt set (None: the default).

    Raises StageError when a record has no summary, or the prompt alone exceeds the budget.
    """
    seq2seq = is_seq2seq(spec)
    suffix = completion_suffix(tokenizer, spec) if uses_chat_template(spec) else None
    examples: list[Example] = []
    for record in records:
        if not (record.get("summary") or "").strip():
            raise StageError(
                f"article {record['article_id']} ({record['language']}) has no summary in the "
                "train split; the split stage should have left it out"
            )
        try:
            if seq2seq:
                example = seq2seq_example(record, tokenizer, spec, method.max_input_tokens, prompts)
            else:
                example = causal_example(
                    record, tokenizer, spec, method.max_input_tokens, suffix, prompts
                )
        except StageError as exc:
            raise StageError(f"{where}: {exc}") from None
        examples.append(example)
    count = max(len(examples), 1)
    report = {
        "examples": len(examples),
        "truncated_articles": sum(e.article_cut for e in examples),
        "truncated_ratio": sum(e.article_cut for e in examples) / count,
        # longer than max_summary_tokens: kept whole, but evaluation stops generating earlier
        "long_summaries": sum(e.completion_tokens > method.max_summary_tokens for e in examples),
        "mean_prompt_tokens": sum(e.prompt_tokens for e in examples) / count,
        "mean_completion_tokens": sum(e.completion_tokens for e in examples) / count,
        "max_length": max((len(e.input_ids) for e in examples), default=0),
    }
    dataset = Dataset.from_dict(
        {
            "input_ids": [e.input_ids for e in examples],
            "labels": [e.labels for e in examples],
            "length": [len(e.input_ids) for e in examples],  # read by the length-grouped sampler
        }
    )
    return dataset, report


def validation_sample(
    split: Dataset,
    train_lang: str,
    tokenizer,
    spec: ModelSpec,
    method: TrainMethod,
    prompt_set: PromptSet | None = None,
) -> tuple[list[str], list[str], str]:
    """Prompts, references and summary language of the first `rouge_samples` validation
    articles in `train_lang` (the same ones at every check, so the scores compare)."""
    records = records_in_language(split, train_lang)[: method.rouge_samples]
    prompts = [
        prompt_for(r, tokenizer, spec, method.max_input_tokens, prompt_set)[0] for r in records
    ]
    references = [r["summary"] for r in records]
    langs = Counter(summary_language(r) for r in records)
    lang = langs.most_common(1)[0][0] if langs else train_lang
    return prompts, references, lang
