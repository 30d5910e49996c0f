"""Prompt templates: target-language wording, cross-lingual form, variants, chat/plain/seq2seq."""

import logging

import pytest

from babelsum.config import ModelSpec
from babelsum.models.loading import load_tokenizer
from babelsum.models.prompts import (
    PromptError,
    fit_generation_prompt,
    render_generation_prompt,
    summarize_messages,
    template_languages,
    truncate_to_tokens,
    uses_chat_template,
    variant_count,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ARTICLE = "La ville de Lyon se trouve au bord du Rhône. Elle compte un demi-million d'habitants."


def test_templates_for_the_study_languages():
    assert {"en", "fr", "de", "ja"} <= set(template_languages())
    for lang in ("en", "fr", "de", "ja"):
        assert variant_count(lang) >= 3


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("en", ["Summarize", "in English", "Title: Lyon"]),
        ("fr", ["Résume", "en français", "Titre : Lyon"]),
        ("de", ["Fasse", "auf Deutsch", "Titel: Lyon"]),
        ("ja", ["日本語で", "要約", "タイトル：Lyon"]),
    ],
)
def test_instructions_in_the_target_language(lang, words):
    system, user = summarize_messages(ARTICLE, "Lyon", lang, lang)
    assert system["role"] == "system" and user["role"] == "user"
    for word in words:
        assert word in user["content"]
    assert user["content"].endswith(ARTICLE)
    assert "written in" not in user["content"]  # not cross-lingual


def test_cross_lingual_prompt_names_the_source_language_in_the_target_language():
    user = summarize_messages(ARTICLE, "Lyon", "fr", "de")[1]["content"]
    assert "Der folgende Artikel ist auf Französisch verfasst." in user
    assert "auf Deutsch" in user
    assert (
        "以下の記事は英語で書かれています。"
        in summarize_messages("x", "t", "en", "ja")[1]["content"]
    )


def test_variants_change_the_wording_and_wrap_around():
    texts = [summarize_messages(ARTICLE, "Lyon", "fr", "fr", v)[1]["content"] for v in range(4)]
    assert len(set(texts[:3])) == 3
    assert texts[3] == texts[0]


def test_language_without_templates_falls_back_to_english(caplog):
    with caplog.at_level(logging.WARNING):
        user = summarize_messages("Texto.", "Madrid", "es", "es")[1]["content"]
    assert "in Spanish" in user
    assert "no prompt templates for 'es'" in caplog.text


def test_template_with_a_missing_field_is_named(tmp_path):
    for role in ("system", "plain"):
        (tmp_path / f"fr.{role}.jinja").write_text("Résume.")
    (tmp_path / "fr.user.jinja").write_text("Résume {{ artcle }}.")
    with pytest.raises(PromptError, match=r"fr\.user\.jinja: 'artcle' is undefined; fields are"):
        summarize_messages(ARTICLE, "Lyon", "fr", "fr", template_dir=tmp_path)


def test_chat_plain_and_seq2seq_forms(tiny_models):
    qwen = ModelSpec(path=str(tiny_models["qwen2"]))
    chat = render_generation_prompt(load_tokenizer(qwen), qwen, ARTICLE, "Lyon", "fr", "fr")
    assert chat.startswith("<|im_start|>system\nTu es")
    assert chat.endswith(ARTICLE + "<|im_end|>\n<|im_start|>assistant\n")
    assert uses_chat_template(qwen)

    base = ModelSpec(path=str(tiny_models["qwen2"]), chat=False)
    plain = render_generation_prompt(load_tokenizer(base), base, ARTICLE, "Lyon", "fr", "fr")
    assert plain == f"Lyon\n\n{ARTICLE}\n\nRésumé en français :"
    assert not uses_chat_template(base)

    mbart = ModelSpec(path=str(tiny_models["mbart"]))  # chat left True: seq2seq wins
    source = render_generation_prompt(load_tokenizer(mbart), mbart, ARTICLE, "Lyon", "fr", "de")
    assert source == f"Lyon\n\n{ARTICLE}"
    assert not uses_chat_template(mbart)


def test_gemma_folds_the_system_prompt_into_the_user_turn(tiny_models):
    spec = ModelSpec(path=str(tiny_models["gemma3"]))
    prompt = render_generation_prompt(load_tokenizer(spec), spec, ARTICLE, "Lyon", "de", "de")
    assert prompt.startswith("<bos><start_of_turn>user\nDu bist")
    assert prompt.endswith("<start_of_turn>model\n")


def test_chat_template_refusing_a_system_turn(tiny_models, tmp_path):
    tokenizer = load_tokenizer(ModelSpec(path=str(tiny_models["qwen2"])))
    tokenizer.chat_template = (
        "{% for m in messages %}{% if m['role'] == 'system' %}"
        "{{ raise_exception('System role not supported') }}{% endif %}"
        "[{{ m['role'] }}]{{ m['content'] }}{% endfor %}[assistant]"
    )
    spec = ModelSpec(path=str(tiny_models["qwen2"]))
    prompt = render_generation_prompt(tokenizer, spec, ARTICLE, "Lyon", "en", "en")
    assert prompt.startswith("[user]You are an expert editor")


def test_chat_model_without_chat_template(tiny_models):
    spec = ModelSpec(path=str(tiny_models["mbart"]), family="qwen2")  # claims to be chat
    tokenizer = load_tokenizer(ModelSpec(path=str(tiny_models["mbart"])))
    with pytest.raises(PromptError, match="has no chat template; set `chat: false`"):
        render_generation_prompt(tokenizer, spec, ARTICLE, "Lyon", "fr", "fr")


def test_truncate_to_tokens_keeps_original_text(tiny_models):
    tokenizer = load_tokenizer(ModelSpec(path=str(tiny_models["qwen2"])))
    assert truncate_to_tokens(tokenizer, ARTICLE, 10_000) == (ARTICLE, False)
    cut, was_cut = truncate_to_tokens(tokenizer, ARTICLE, 8)
    assert was_cut and ARTICLE.startswith(cut) and len(cut) < len(ARTICLE)
    assert len(tokenizer(cut, add_special_tokens=False)["input_ids"]) <= 8


@pytest.mark.parametrize("family", ["qwen2", "gemma3", "mbart"])
def test_fit_generation_prompt_cuts_the_article_not_the_prompt(tiny_models, family):
    spec = ModelSpec(path=str(tiny_models[family]))
    tokenizer = load_tokenizer(spec)
    long_article = " ".join([ARTICLE] * 200)
    prompt, cut = fit_generation_prompt(
        tokenizer, spec, long_article, "Lyon", "fr", "fr", max_input_tokens=200
    )
    special = not uses_chat_template(spec)
    assert cut
    assert len(tokenizer(prompt, add_special_tokens=special)["input_ids"]) <= 200
    if family == "qwen2":
        assert prompt.endswith("<|im_end|>\n<|im_start|>assistant\n")  # the answer cue survives
    short, cut = fit_generation_prompt(
        tokenizer, spec, ARTICLE, "Lyon", "fr", "fr", max_input_tokens=4096
    )
    assert not cut and ARTICLE in short


def test_fit_generation_prompt_with_no_room_for_the_article(tiny_models):
    spec = ModelSpec(path=str(tiny_models["qwen2"]))
    with pytest.raises(PromptError, match="leaves no room"):
        fit_generation_prompt(
            load_tokenizer(spec), spec, ARTICLE, "Lyon", "fr", "fr", max_input_tokens=10
        )
