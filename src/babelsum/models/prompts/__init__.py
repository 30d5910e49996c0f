"""Summarization prompts: Jinja templates per language and role, and how they are rendered."""

from babelsum.models.prompts.render import (
    PromptError,
    apply_chat_template,
    fit_generation_prompt,
    render_generation_prompt,
    summarize_messages,
    template_languages,
    truncate_to_tokens,
    uses_chat_template,
    variant_count,
)

__all__ = [
    "PromptError",
    "apply_chat_template",
    "fit_generation_prompt",
    "render_generation_prompt",
    "summarize_messages",
    "template_languages",
    "truncate_to_tokens",
    "uses_chat_template",
    "variant_count",
]
