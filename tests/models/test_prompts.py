"""Prompt templates: target-language wording, cross-lingual form, variants, chat/plain/seq2seq;
prompt sets chosen per config, role and model."""

import logging

import pytest

from babelsum.config import ConfigError, ModelSpec, SweepConfig, validate_config
from babelsum.models.loading import load_tokenizer
from babelsum.models.prompts import (
    PromptError,
    PromptSet,
    fit_generation_prompt,
    prompt_set,
    render_generation_prompt,
    shipped_sets,
    summarize_messages,
    template_languages,
    truncate_to_tokens,
    uses_chat_template,
    variant_count,
)
from babelsum.models.prompts.render import render_kind

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
        summarize_messages(ARTICLE, "Lyon", "fr", "fr", prompts=PromptSet.of_folder(tmp_path))


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


# ---------------------------------------------------------------- prompt sets

STUDY_LANGUAGES = ("en", "fr", "de", "ja")


@pytest.mark.parametrize("name", shipped_sets())
@pytest.mark.parametrize("role", ["teacher", "student"])
def test_every_shipped_set_renders_every_kind_for_every_study_language(name, role):
    prompts = prompt_set(name, role)
    for target in STUDY_LANGUAGES:
        for source in (target, "fr" if target != "fr" else "de"):  # same- and cross-lingual
            messages = summarize_messages(ARTICLE, "Lyon", source, target, 1, prompts=prompts)
            assert messages[-1]["role"] == "user" and ARTICLE in messages[-1]["content"]
            for kind in ("plain", "seq2seq"):
                assert ARTICLE in render_kind(kind, prompts, ARTICLE, "Lyon", source, target)
        assert variant_count(target, prompts) >= 1


def test_shipped_sets_are_the_four_of_the_studies():
    assert shipped_sets() == ["default", "paper", "slds", "xsum-phi2"]


def test_the_default_set_is_todays_prompts():
    assert prompt_set(None, "student") == prompt_set("default", "teacher")
    default = summarize_messages(ARTICLE, "Lyon", "fr", "de")
    assert default == summarize_messages(
        ARTICLE, "Lyon", "fr", "de", prompts=prompt_set(None, "student")
    )


def test_paper_set_has_a_teacher_prompt_per_language_and_one_student_prompt():
    teacher, student = prompt_set("paper", "teacher"), prompt_set("paper", "student")
    assert template_languages(teacher) == ["de", "en", "fr", "ja"]
    assert (
        "Wikipedia-Artikel"
        in summarize_messages(ARTICLE, "Lyon", "de", "de", prompts=teacher)[1]["content"]
    )
    assert variant_count("fr", teacher) == 3  # the study rotated wordings every 1,000 articles
    user = summarize_messages(ARTICLE, "Lyon", "de", "de", prompts=student)[1]["content"]
    assert user.startswith("Summarize the following article in German.")
    # a file both roles share sits at the set's top: mBART's input
    assert student.folders[-1] == teacher.folders[-1] and student.find("seq2seq.jinja")


def test_slds_set_asks_a_legal_expert_for_a_german_headnote_of_a_french_decision():
    system, user = summarize_messages(
        ARTICLE, "", "fr", "de", prompts=prompt_set("slds", "student")
    )
    assert "legal expert" in system["content"] and "in German" in system["content"]
    assert user["content"].startswith(f"Leading decision:\n```{ARTICLE}```")
    assert (
        "Generate a headnote in German" in user["content"]
        and "written in French" in user["content"]
    )


def test_xsum_set_ends_on_the_newline_after_summary_and_has_no_system_message(tiny_models):
    prompts = prompt_set("xsum-phi2", "student")
    base = ModelSpec(path=str(tiny_models["qwen2"]), chat=False)
    plain = render_generation_prompt(
        load_tokenizer(base), base, "Text.", "", "en", "en", prompts=prompts
    )
    assert plain == "### Article:\nText.\n\n### Summary:\n"
    assert summarize_messages("Text.", "", "en", "en", prompts=prompts) == [
        {"role": "user", "content": "### Article:\nText.\n\n### Summary:"}
    ]


def test_a_folder_of_ones_own_is_relative_to_the_config_folder(tmp_path):
    mine = tmp_path / "prompts" / "mine"
    mine.mkdir(parents=True)
    (mine / "user.jinja").write_text("Sum up in {{ target_language }}: {{ article }}")
    (mine / "system.jinja").write_text("")
    prompts = prompt_set("prompts/mine", "student", tmp_path)
    assert prompts.folders == (mine,)
    messages = summarize_messages("x", "t", "fr", "de", prompts=prompts)
    assert messages == [{"role": "user", "content": "Sum up in German: x"}]  # English names


def test_an_unknown_set_names_the_field_the_shipped_sets_and_where_it_looked(tmp_path):
    with pytest.raises(PromptError) as err:
        prompt_set("papr", "student", tmp_path, "models.phi.prompts")
    assert str(err.value) == (
        "models.phi.prompts: 'papr' is neither a shipped prompt set (default, paper, slds, "
        f"xsum-phi2) nor a folder (looked for {tmp_path / 'papr'})"
    )


def test_a_missing_file_in_a_chosen_set_names_the_file_and_the_set(tmp_path):
    (tmp_path / "fr.user.jinja").write_text("{{ article }}")  # no system template at all
    prompts = PromptSet.of_folder(tmp_path)
    with pytest.raises(PromptError) as err:
        summarize_messages(ARTICLE, "Lyon", "fr", "fr", prompts=prompts)
    assert f"prompt set '{tmp_path}'" in str(err.value)
    assert "has no fr.system.jinja, system.jinja or en.system.jinja" in str(err.value)
    with pytest.raises(PromptError, match=r"has no seq2seq\.jinja"):
        render_kind("seq2seq", prompts, ARTICLE, "Lyon", "fr", "fr")


def config_with(**changes) -> SweepConfig:
    data = {
        "study": "prompts",
        "languages": ["en", "fr"],
        "teacher": {"backend": "hf", "model": "teacher"},
        "models": {"teacher": {"path": "tiny:qwen2"}, "student": {"path": "tiny:qwen2"}},
        "train": {"languages": ["en"], "methods": [{"model": "student", "method": "full"}]},
    }
    for key, value in changes.items():
        data[key] = data.get(key, {}) | value if isinstance(value, dict) else value
    return validate_config(data)


def test_a_models_own_prompts_win_over_the_roles():
    config = config_with(prompts={"teacher": "paper", "student": "slds"})
    assert config.prompt_choice("teacher", "teacher") == ("paper", "prompts.teacher")
    assert config.prompt_choice("student", "student") == ("slds", "prompts.student")
    config = config_with(
        prompts={"student": "slds"},
        models={
            "teacher": {"path": "tiny:qwen2"},
            "student": {"path": "tiny:qwen2", "prompts": "xsum-phi2"},
        },
    )
    assert config.prompt_choice("student", "student") == ("xsum-phi2", "models.student.prompts")
    assert config.prompt_choice("teacher", "teacher") == (None, "prompts.teacher")  # default


def test_teacher_prompt_dir_is_the_older_name_of_prompts_teacher():
    config = config_with(teacher={"backend": "hf", "model": "teacher", "prompt_dir": "mine"})
    assert config.prompt_choice("teacher", "teacher") == ("mine", "teacher.prompt_dir")
    with pytest.raises(ConfigError, match="teacher.prompt_dir: the older name of prompts.teacher"):
        config_with(
            teacher={"backend": "hf", "model": "teacher", "prompt_dir": "mine"},
            prompts={"teacher": "paper"},
        )


def test_the_check_before_submission_names_each_broken_set(tmp_path):
    from babelsum.models.prompts.check import prompt_set_problems

    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "user.jinja").write_text("{{ artcle }}")
    (tmp_path / "half" / "system.jinja").write_text("")
    config = config_with(prompts={"teacher": "nope", "student": "half"})
    problems = prompt_set_problems(config, tmp_path)
    assert len(problems) == 2, problems
    assert problems[0].startswith("prompts.teacher: 'nope' is neither a shipped prompt set")
    assert problems[1].startswith("prompts.student (student student): prompt template ")
    assert "'artcle' is undefined" in problems[1]
    assert (
        prompt_set_problems(config_with(prompts={"teacher": "paper", "student": "paper"}), None)
        == []
    )
