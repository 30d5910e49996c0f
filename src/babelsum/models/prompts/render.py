"""Render summarization prompts from the Jinja templates of a prompt set (sets.py).

Templates are `<lang>.<kind>.jinja` in the target language's own words (English instructions
made English leak into French and German summaries in the original study), or `<kind>.jinja`
for every language:
- `system` and `user`: the chat messages of instruct models (an empty system message is left
  out). `user` may define a list of `instructions`; `variant` picks one, and the teacher
  rotates among them.
- `plain`: one text ending in a cue ("Résumé en français :") for base causal models.
- `seq2seq.jinja`: the encoder input of seq2seq models (mBART), for every language.
Fields a template may use: title, article, source_language and target_language (names in the
template's language: "allemand"; English in `<kind>.jinja`), cross_lingual (source differs from
target), variant. sets/README.md is the researcher's guide.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2

from babelsum.config import ModelSpec
from babelsum.errors import PromptError
from babelsum.lang.codes import language
from babelsum.models.prompts.sets import DEFAULT_SET, PromptSet

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

log = logging.getLogger(__name__)

FIELDS = ("title", "article", "source_language", "target_language", "cross_lingual", "variant")
FALLBACK_LANGUAGE = "en"
KINDS = ("system", "user", "plain")


@functools.cache
def _environment(folders: tuple[Path, ...]) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(f) for f in folders]),
        undefined=jinja2.StrictUndefined,  # a misspelt field is an error, not an empty string
        keep_trailing_newline=False,
        autoescape=False,
    )


def template_languages(prompts: PromptSet | None = None) -> list[str]:
    """Languages with templates of their own for every kind (system, user, plain)."""
    prompts = prompts or DEFAULT_SET
    found = {f.name.split(".")[0] for folder in prompts.folders for f in folder.glob("*.*.jinja")}
    return sorted(lang for lang in found if all(prompts.find(f"{lang}.{k}.jinja") for k in KINDS))


def _template(kind: str, target_lang: str, prompts: PromptSet) -> tuple[str, str]:
    """The template file of `kind` for `target_lang`, and the language its words are in: the
    language's own, else the set's one for every language, else the English one."""
    own, shared = f"{target_lang}.{kind}.jinja", f"{kind}.jinja"
    english = f"{FALLBACK_LANGUAGE}.{kind}.jinja"
    if prompts.find(own):
        return own, target_lang
    if prompts.find(shared):
        return shared, FALLBACK_LANGUAGE  # language names in English
    if prompts.find(english):
        _warn_fallback(target_lang, prompts.shown())
        return english, FALLBACK_LANGUAGE
    raise PromptError(f"{prompts.shown()} has no {own}, {shared} or {english}")


@functools.cache
def _warn_fallback(target_lang: str, shown: str) -> None:
    log.warning(
        "no prompt templates for %r in %s; using the English ones (they name the target "
        "language), add %s.system.jinja, %s.user.jinja and %s.plain.jinja to write them in %s",
        target_lang,
        shown,
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


@contextlib.contextmanager
def _template_errors(name: str, prompts: PromptSet) -> Iterator[None]:
    """Jinja's errors as one PromptError line naming the template file."""
    path = prompts.find(name) or name
    try:
        yield
    except jinja2.UndefinedError as err:
        raise PromptError(
            f"prompt template {path}: {err.message}; fields are {', '.join(FIELDS)}"
        ) from None
    except jinja2.TemplateNotFound:
        raise PromptError(f"{prompts.shown()} has no {name}") from None
    except jinja2.TemplateSyntaxError as err:
        raise PromptError(f"prompt template {path}, line {err.lineno}: {err.message}") from None


def _render(name: str, prompts: PromptSet, fields: dict, keep_end: bool = False) -> str:
    """The rendered template, stripped of surrounding whitespace; `keep_end` keeps what the
    template writes at its end (a plain prompt may end on a newline: "### Summary:\n")."""
    with _template_errors(name, prompts):
        text = _environment(prompts.folders).get_template(name).render(**fields)
    return text.lstrip() if keep_end else text.strip()


def variant_count(target_lang: str, prompts: PromptSet | None = None) -> int:
    """How many instruction wordings the `user` template of `target_lang` offers."""
    prompts = prompts or DEFAULT_SET
    name, written_in = _template("user", target_lang, prompts)
    fields = _fields("", "", target_lang, target_lang, 0, written_in)
    with _template_errors(name, prompts):
        module = _environment(prompts.folders).get_template(name).make_module(fields)
    instructions = getattr(module, "instructions", None)
    return len(instructions) if instructions else 1


def render_kind(
    kind: str,
    prompts: PromptSet,
    article: str,
    title: str,
    source_lang: str,
    target_lang: str,
    variant: int = 0,
) -> str:
    """One template of `kind` (system, user, plain or seq2seq) of the set, rendered."""
    if kind == "seq2seq":
        fields = _fields(article, title, source_lang, target_lang, variant, target_lang)
        return _render("seq2seq.jinja", prompts, fields)
    name, written_in = _template(kind, target_lang, prompts)
    fields = _fields(article, title, source_lang, target_lang, variant, written_in)
    return _render(name, prompts, fields, keep_end=kind == "plain")


def summarize_messages(
    article: str,
    title: str,
    source_lang: str,
    target_lang: str,
    variant: int = 0,
    *,
    prompts: PromptSet | None = None,
) -> list[dict[str, str]]:
    """The system and user messages asking for a `target_lang` summary of an article (no
    system message when the set's system template is empty)."""
    prompts = prompts or DEFAULT_SET
    messages = []
    for kind in ("system", "user"):
        content = render_kind(kind, prompts, article, title, source_lang, target_lang, variant)
        if content or kind == "user":
            messages.append({"role": kind, "content": content})
    return messages


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
    prompts: PromptSet | None = None,
) -> str:
    """The text a model generates a summary from.

    Instruct models: the chat template with the generation prompt (it holds every special
    token, so tokenize it with `add_special_tokens=False`). Base causal models: the plain form.
    Seq2seq models: the encoder input; the target language goes in `forced_bos_token_id`.
    """
    from babelsum.models.loading import is_seq2seq

    prompts = prompts or DEFAULT_SET
    if is_seq2seq(spec) or not spec.chat:
        kind = "seq2seq" if is_seq2seq(spec) else "plain"
        return render_kind(kind, prompts, article, title, source_lang, target_lang, variant)
    if not getattr(tokenizer, "chat_template", None):
        raise PromptError(
            f"model {spec.path} has no chat template; set `chat: false` for a base model"
        )
    messages = summarize_messages(
        article, title, source_lang, target_lang, variant, prompts=prompts
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
    prompts: PromptSet | None = None,
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
        prompts=prompts,
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
