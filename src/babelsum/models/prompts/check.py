"""Check a config's prompt sets before anything is queued: each one exists and renders, for
every language the sweep asks summaries in, what its models read. No model is loaded."""

from __future__ import annotations

from pathlib import Path

from babelsum.config import ModelSpec, SweepConfig
from babelsum.errors import PromptError
from babelsum.models.prompts.render import render_kind, variant_count
from babelsum.models.prompts.sets import Role, chosen_prompts


def kinds_read_by(spec: ModelSpec) -> tuple[str, ...]:
    """The templates a model reads, from its config alone (a family left out is read from
    the model when it runs; here it counts as causal)."""
    if spec.is_seq2seq:
        return ("seq2seq",)
    return ("system", "user") if spec.chat else ("plain",)


def prompt_readers(config: SweepConfig) -> list[tuple[Role, str]]:
    """(role, model) of every model that reads prompts: the teacher (unless `lead`) and each
    trained or evaluated model."""
    readers: list[tuple[Role, str]] = []
    if config.teacher is not None and config.teacher.backend != "lead" and config.teacher.model:
        readers.append(("teacher", config.teacher.model))
    readers += [("student", m) for m in dict.fromkeys(m.model for m in config.train.methods)]
    return readers


def prompt_set_problems(config: SweepConfig, config_dir: Path | None) -> list[str]:
    """One line per problem: a set that is not there, a template missing or broken."""
    targets = list(config.languages)
    hf = config.data.hf if config.data.source == "hf" else None
    if hf is not None and hf.summary_language and hf.summary_language not in targets:
        targets.append(hf.summary_language)
    problems = []
    for role, model in prompt_readers(config):
        try:
            prompts = chosen_prompts(config, role, model, config_dir)
        except PromptError as exc:  # names the field already
            problems.append(str(exc))
            continue
        kinds = kinds_read_by(config.models[model])
        try:
            for target in targets:
                # the same-language form, and the cross-lingual one when there is another language
                for source in [target, *[s for s in config.languages if s != target][:1]]:
                    for kind in kinds:
                        render_kind(kind, prompts, "Article.", "Title", source, target)
                if role == "teacher" and "user" in kinds:
                    variant_count(target, prompts)
        except PromptError as exc:
            where = config.prompt_choice(role, model)[1]
            problems.append(f"{where} ({role} {model}): {exc}")
    return list(dict.fromkeys(problems))
