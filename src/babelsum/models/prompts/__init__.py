"""Summarization prompts: sets of Jinja templates per language and kind, and their rendering."""

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
from babelsum.models.prompts.sets import PromptSet, chosen_prompts, prompt_set, shipped_sets

__all__ = [
    "PromptError",
    "PromptSet",
    "apply_chat_template",
    "chosen_prompts",
    "fit_generation_prompt",
    "prompt_set",
    "render_generation_prompt",
    "shipped_sets",
    "summarize_messages",
    "template_languages",
    "truncate_to_tokens",
    "uses_chat_template",
    "variant_count",
]
