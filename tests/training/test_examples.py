"""Training examples: the evaluation prompt, completion-only labels, the article cut first."""

import pytest

from babelsum.config import ModelSpec, TrainMethod
from babelsum.errors import StageError
from babelsum.models.loading import load_tokenizer
from babelsum.models.prompts import fit_generation_prompt
from babelsum.training.examples import build_examples, validation_sample

LONG = "The council of the river city opened a new market hall near the old bridge. " * 80
SUMMARY = "The river city opened a market hall."


def record(text=LONG, summary=SUMMARY, language="en", summary_language="en"):
    return {
        "article_id": "q1",
        "language": language,
        "summary_language": summary_language,
        "title": "Market hall",
        "text": text,
        "summary": summary,
    }


def method(**changes):
    fields = {"model": "m", "method": "full", "max_input_tokens": 256, "max_summary_tokens": 64}
    return TrainMethod(**(fields | changes))


def spec_of(tiny_models, family, chat=True):
    return ModelSpec(path=str(tiny_models[family]), family=family, chat=chat)


@pytest.mark.parametrize(
    "family, end_of_turn",
    [("qwen2", "<|im_end|>"), ("phi3", "<|end|>"), ("gemma3", "<end_of_turn>")],
)
def test_chat_examples_supervise_only_the_summary_and_its_end_of_turn(
    tiny_models, family, end_of_turn
):
    spec = spec_of(tiny_models, family)
    tokenizer = load_tokenizer(spec)
    examples, report = build_examples([record()], tokenizer, spec, method(), "train.methods[0]")
    ids, labels = examples[0]["input_ids"], examples[0]["labels"]
    prompt_length = sum(1 for t in labels if t == -100)
    assert labels[:prompt_length] == [-100] * prompt_length  # the prompt is one masked prefix
    assert labels[prompt_length:] == ids[prompt_length:]
    completion = tokenizer.decode(ids[prompt_length:])
    assert completion.startswith(SUMMARY) and end_of_turn in completion
    # the input is exactly the prompt evaluation generates from, article cut to fit
    prompt, cut = fit_generation_prompt(
        tokenizer, spec, LONG, "Market hall", "en", "en", max_input_tokens=256
    )
    assert cut and report["truncated_articles"] == 1
    assert tokenizer.decode(ids[:prompt_length]) == tokenizer.decode(
        tokenizer(prompt, add_special_tokens=False)["input_ids"]
    )
    assert prompt_length <= 256 and examples[0]["length"] == len(ids)


def test_base_model_example_ends_with_end_of_text(tiny_models):
    spec = spec_of(tiny_models, "qwen2", chat=False)
    tokenizer = load_tokenizer(spec)
    examples, _ = build_examples([record()], tokenizer, spec, method(), "train.methods[0]")
    supervised = [t for t in examples[0]["labels"] if t != -100]
    assert tokenizer.decode(supervised[:-1]).strip() == SUMMARY
    assert supervised[-1] == tokenizer.eos_token_id


def test_a_prompt_set_shapes_the_example_and_a_prompt_ending_on_a_newline_takes_no_space(
    tiny_models,
):
    from babelsum.models.prompts import prompt_set

    spec = spec_of(tiny_models, "qwen2", chat=False)
    tokenizer = load_tokenizer(spec)
    xsum = prompt_set("xsum-phi2", "student")
    examples, _ = build_examples(
        [record()], tokenizer, spec, method(), "train.methods[0]", prompts=xsum
    )
    text = tokenizer.decode(examples[0]["input_ids"][:-1])
    assert text.startswith("### Article:\nThe council")
    assert text.endswith("\n\n### Summary:\n" + SUMMARY)  # the seed's format, no extra space
    default, _ = build_examples([record()], tokenizer, spec, method(), "train.methods[0]")
    assert tokenizer.decode(default[0]["input_ids"][:-1]).endswith("Summary in English: " + SUMMARY)


def test_seq2seq_example_tags_article_and_summary_languages(tiny_models):
    """SLDS-like cross-lingual record: a French article, a German summary."""
    spec = spec_of(tiny_models, "mbart", chat=False)
    tokenizer = load_tokenizer(spec)
    examples, _ = build_examples(
        [record(language="fr", summary_language="de")],
        tokenizer,
        spec,
        method(method="seq2seq"),
        "train.methods[0]",
    )
    ids, labels = examples[0]["input_ids"], examples[0]["labels"]
    assert tokenizer.convert_ids_to_tokens(ids[0]) == "fr_XX"
    assert tokenizer.convert_ids_to_tokens(labels[0]) == "de_DE"
    assert labels[-1] == tokenizer.eos_token_id and -100 not in labels


def test_short_article_is_not_cut_and_long_summary_is_kept_whole(tiny_models):
    spec = spec_of(tiny_models, "qwen2")
    tokenizer = load_tokenizer(spec)
    long_summary = "The market hall opened. " * 40
    examples, report = build_examples(
        [record(text="A short article.", summary=long_summary)],
        tokenizer,
        spec,
        method(max_summary_tokens=16),
        "train.methods[0]",
    )
    assert report["truncated_articles"] == 0 and report["long_summaries"] == 1
    supervised = [t for t in examples[0]["labels"] if t != -100]
    assert tokenizer.decode(supervised).startswith(long_summary.strip())


def test_budget_without_room_for_the_article_names_the_method(tiny_models):
    spec = spec_of(tiny_models, "qwen2")
    tokenizer = load_tokenizer(spec)
    with pytest.raises(StageError, match=r"train.methods\[2\].*max_input_tokens 8 leaves no room"):
        build_examples([record()], tokenizer, spec, method(max_input_tokens=8), "train.methods[2]")


def test_record_without_summary_is_an_error_naming_it(tiny_models):
    spec = spec_of(tiny_models, "qwen2")
    tokenizer = load_tokenizer(spec)
    with pytest.raises(StageError, match="article q1 .* has no summary"):
        build_examples([record(summary="  ")], tokenizer, spec, method(), "train.methods[0]")


def test_validation_sample_takes_train_language_articles_and_summary_language(tiny_models):
    from datasets import Dataset

    spec = spec_of(tiny_models, "qwen2")
    tokenizer = load_tokenizer(spec)
    split = Dataset.from_list(
        [record(language="de", summary_language="en")]
        + [record(language="fr", summary_language="de")] * 3
    )
    prompts, references, lang = validation_sample(
        split, "fr", tokenizer, spec, method(rouge_samples=2)
    )
    assert len(prompts) == len(references) == 2 and lang == "de"
