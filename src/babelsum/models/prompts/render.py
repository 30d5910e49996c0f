"""Render summarization prompts from the Jinja templates in this folder.

Templates are `<lang>.<role>.jinja` in the target language's own words (English instructions
made English leak into French and German summaries in the original study):
- `system` and `user`: the chat messages of instruct models. `user` defines a list of
  `instructions`; `variant` picks one, and the teacher rotates among them.
- `plain`: one text ending in a cue ("Résumé en français :") for base causal models.
- `seq2seq.jinja`: the encoder input of seq2seq models (mBART), for every language.
Fields a template may use: title, article, source_language and target_language (names in the
target language: "allemand"), cross_lingual (source differs from target), variant.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2

from babelsum.config import ModelSpec
from babelsum.errors import PromptError
from babelsum.lang.codes import language

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

log = logging.getLogger(__name__)

BUILT_IN = Path(__file__).parent
FIELDS = ("title", "article", "source_language", "target_language", "cross_lingual", "variant")
FALLBACK_LANGUAGE = "en"


@functools.cache
def _environment(folder: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        undefined=jinja2.StrictUndefined,  # a misspelt field is an error, not an empty string
        keep_trailing_newline=False,
        autoescape=False,
    )


def template_languages(template_dir: Path | None = None) -> list[str]:
    """Languages with a full set of templates (system, user, plain) in the folder."""
    folder = template_dir or BUILT_IN
    return sorted(
        f.name.split(".")[0]
        for f in folder.glob("*.user.jinja")
        if all(
            (folder / f"{f.name.split('.')[0]}.{r}.jinja").is_file() for r in ("system", "plain")
        )
    )


def _template_language(target_lang: str, folder: Path) -> str:
    if (folder / f"{target_lang}.user.jinja").is_file():
        return target_lang
    _warn_fallback(target_lang, str(folder))
    return FALLBACK_LANGUAGE


@functools.cache
def _warn_fallback(target_lang: str, folder: str) -> None:
    log.warning(
        "no prompt templates for %r in %s; using the English ones (they name the target "
        "language), add %s.system.jinja, %s.user.jinja and %s.plain.jinja to write them in %s",
        target_lang,
        folder,
        *[target_lang] * 3,
        language(target_lang).english_name,
    )


def _fields(
    article: str, title: str, source_lang: str, target_lang: str, variant: int, written_in: str
) -> dict:
    """The template fields; language names are spelt in `written_in`, the template's language."""
    names = _language_names(written_in)
    return {
        "title": title,
        "article": article,
        "source_language": names[source_lang],
        "target_language": names[target_lang],
        "cross_lingual": source_lang != target_lang,
        "variant": variant,
    }


@functools.cache
def _language_names(in_lang: str) -> dict[str, str]:
    """Language names written in `in_lang` ("allemand" in French), from babel's CLDR data."""
    from babel import Locale

    from babelsum.lang.codes import LANGUAGES

    names = Locale.parse(in_lang).languages
    return {code: names.get(code, lang.english_name) for code, lang in LANGUAGES.items()}


def _render(name: str, folder: Path, fields: dict) -> str:
    try:
        return _environment(folder).get_template(name).render(**fields).strip()
    except jinja2.UndefinedError as err:
        raise PromptError(
            f"prompt template {folder / name}: {err.message}; fields are {', '.join(FIELDS)}"
        ) from None
    except jinja2.TemplateNotFound:
        raise PromptError(f"no prompt template {name} in {folder}") from None
    except jinja2.TemplateSyntaxError as err:
        raise PromptError(
            f"prompt template {folder / name}, line {err.lineno}: {err.message}"
        ) from None


def variant_count(target_lang: str, template_dir: Path | None = None) -> int:
    """How many instruction wordings the `user` template of `target_lang` offers."""
    folder = template_dir or BUILT_IN
    lang = _template_language(target_lang, folder)
    fields = _fields("", "", lang, lang, 0, lang)
    module = _environment(folder).get_template(f"{lang}.user.jinja").make_module(fields)
    instructions = getattr(module, "instructions", None)
    return len(instructions) if instructions else 1


def summarize_messages(
    article: str,
    title: str,
    source_lang: str,
    target_lang: str,
    variant: int = 0,
    *,
    template_dir: Path | None = None,
) -> list[dict[str, str]]:
    """The system and user messages asking for a `target_lang` summary of an article."""
    folder = template_dir or BUILT_IN
    lang = _template_language(target_lang, folder)
    fields = _fields(article, title, source_lang, target_lang, variant, lang)
    return [
        {"role": "system", "content": _render(f"{lang}.system.jinja", folder, fields)},
        {"role": "user", "content": _render(f"{lang}.user.jinja", folder, fields)},
    ]


def uses_chat_template(spec: ModelSpec) -> bool:
    """Whether prompts for `spec` go through its chat template (instruct causal models)."""
    from babelsum.models.loading import is_seq2seq

    return spec.chat and not is_seq2seq(spec)


def render_generation_prompt(
    tokenizer: PreTrainedTokenizerBase,
    spec: ModelSpec,
    article: str,
    title: str,
    source_lang: str,
    target_lang: str,
    variant: int = 0,
    *,
    template_dir: Path | None = None,
) -> str:
    """The text a model generates a summary from.

    Instruct models: the chat template with the generation prompt (it holds every special
    token, so tokenize it with `add_special_tokens=False`). Base causal models: the plain form.
    Seq2seq models: the encoder input; the target language goes in `forced_bos_token_id`.
    """
    from babelsum.models.loading import is_seq2seq

    folder = template_dir or BUILT_IN
    if is_seq2seq(spec):
        own = (folder / "seq2seq.jinja").is_file()
        fields = _fields(article, title, source_lang, target_lang, variant, target_lang)
        return _render("seq2seq.jinja", folder if own else BUILT_IN, fields)
    if not spec.chat:
        lang = _template_language(target_lang, folder)
        fields = _fields(article, title, source_lang, target_lang, variant, lang)
        return _render(f"{lang}.plain.jinja", folder, fields)
    if not getattr(tokenizer, "chat_template", None):
        raise PromptError(
            f"model {spec.path} has no chat template; set `chat: false` for a base model"
        )
    messages = summarize_messages(
        article, title, source_lang, target_lang, variant, template_dir=template_dir
    )
    return apply_chat_template(tokenizer, messages, spec.path)


def apply_chat_template(
    tokenizer: PreTrainedTokenizerBase, messages: list[dict[str, str]], model: str
) -> str:
    """The model's chat template over `messages`, ending where the model answers.

    Some chat templates (Gemma's, Mistral's older ones) refuse a system turn: it is then
    folded into the first user turn.
    """
    try:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    except jinja2.TemplateError as err:
        if "system" not in str(err).lower() or messages[0]["role"] != "system":
            raise PromptError(f"chat template of {model}: {err}") from None
        first = {
            "role": "user",
            "content": messages[0]["content"] + "\n\n" + messages[1]["content"],
        }
        return tokenizer.apply_chat_template(
            [first, *messages[2:]], tokenize=False, add_generation_prompt=True
        )


def truncate_to_tokens(
    tokenizer: PreTrainedTokenizerBase, text: str, max_tokens: int
) -> tuple[str, bool]:
    """The longest prefix of `text` within `max_tokens` tokens, and whether it was cut.

    Cut at a token's character offset, so the kept text is the original text, never a
    re-decoded approximation of it.
    """
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    offsets = encoded["offset_mapping"]
    if len(offsets) <= max_tokens:
        return text, False
    if max_tokens <= 0:
        return "", True
    return text[: offsets[max_tokens - 1][1]].rstrip(), True


def fit_generation_prompt(
    tokenizer: PreTrainedTokenizerBase,
    spec: ModelSpec,
    article: str,
    title: str,
    source_lang: str,
    target_lang: str,
    *,
    max_input_tokens: int,
    variant: int = 0,
    template_dir: Path | None = None,
) -> tuple[str, bool]:
    """`render_generation_prompt` with the article cut so the prompt fits `max_input_tokens`
    (and the model's own limit); returns the prompt and whether the article was cut.

    The article is cut before templating: cutting the rendered prompt would lose its end,
    the generation prompt that tells the model to answer.
    """
    limit = tokenizer.model_max_length
    budget = min(max_input_tokens, limit) if limit and limit < 1_000_000 else max_input_tokens
    render = functools.partial(
        render_generation_prompt,
        tokenizer,
        spec,
        title=title,
        source_lang=source_lang,
        target_lang=target_lang,
        variant=variant,
        template_dir=template_dir,
    )
    special = not uses_chat_template(spec)
    overhead = len(tokenizer(render(article=""), add_special_tokens=special)["input_ids"])
    if overhead >= budget:
        raise PromptError(
            f"the prompt for {spec.path} takes {overhead} tokens without the article; "
            f"max_input_tokens {max_input_tokens} leaves no room for it"
        )
    room = budget - overhead
    kept, cut = truncate_to_tokens(tokenizer, article, room)
    prompt = render(article=kept)
    # Tokens may merge differently where the article meets the template: trim the excess.
    excess = len(tokenizer(prompt, add_special_tokens=special)["input_ids"]) - budget
    if excess > 0:
        kept, _ = truncate_to_tokens(tokenizer, kept, room - excess)
        prompt, cut = render(article=kept), True
    return prompt, cut
