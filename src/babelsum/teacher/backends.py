"""The ways a teacher writes summaries: `lead` (first sentences), `hf` (transformers), `vllm`.

Each backend answers `summarize(articles, variants)` with one `Generation` per article, in
order; `variants` picks the prompt wording per article (ignored by `lead`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from babelsum.config import ModelSpec, SweepConfig, TeacherConfig
from babelsum.lang.sentences import join_sentences, split_sentences
from babelsum.models.generate import Generation

if TYPE_CHECKING:
    from babelsum.models.prompts import PromptSet

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Article:
    row: int  # position in the prepare dataset
    article_id: str
    language: str
    title: str
    text: str


class TeacherBackend(Protocol):
    # whether asking again with another prompt variant can give another answer
    uses_prompts: bool
    truncated: int  # articles cut to fit max_input_tokens so far

    def summarize(self, articles: list[Article], variants: list[int]) -> list[Generation]: ...


def open_backend(config: SweepConfig, prompts: PromptSet | None = None) -> TeacherBackend:
    """The configured backend; `prompts` is the teacher's prompt set (None: the default)."""
    teacher = config.teacher
    assert teacher is not None, "the teacher stage runs only when the config has a teacher"
    if teacher.backend == "lead":
        return LeadBackend(teacher.lead_sentences)
    spec = config.models[teacher.model]
    if teacher.backend == "hf":
        return HFBackend(spec, teacher, prompts)
    return VLLMBackend(spec, teacher, prompts)


# ---------------------------------------------------------------- lead


class LeadBackend:
    """Lead-k: the article's first k sentences, the classic extractive baseline."""

    uses_prompts = False

    def __init__(self, sentences: int):
        self.sentences = sentences
        self.truncated = 0

    def summarize(self, articles: list[Article], variants: list[int]) -> list[Generation]:
        return [self._lead(a) for a in articles]

    def _lead(self, article: Article) -> Generation:
        sentences = split_sentences(article.text, article.language)[: self.sentences]
        if not sentences:
            return Generation(None, "empty", "the article has no sentence", 0)
        return Generation(join_sentences(sentences, article.language), "ok", None, 0)


# ---------------------------------------------------------------- models


def _prompts(
    tokenizer,
    spec: ModelSpec,
    teacher: TeacherConfig,
    prompt_set: PromptSet | None,
    articles: list[Article],
    variants: list[int],
) -> tuple[list[str], int]:
    from babelsum.models.prompts import fit_generation_prompt

    prompts, truncated = [], 0
    for article, variant in zip(articles, variants, strict=True):
        prompt, cut = fit_generation_prompt(
            tokenizer,
            spec,
            article.text,
            article.title,
            article.language,
            article.language,
            max_input_tokens=teacher.max_input_tokens,
            variant=variant,
            prompts=prompt_set,
        )
        prompts.append(prompt)
        truncated += cut
    return prompts, truncated


class HFBackend:
    """transformers `generate`: batched, sorted by length, greedy (babelsum.models.generate)."""

    uses_prompts = True

    def __init__(self, spec: ModelSpec, teacher: TeacherConfig, prompts: PromptSet | None = None):
        from babelsum.models.loading import load_model, load_tokenizer

        self.spec, self.teacher, self.prompts = spec, teacher, prompts
        self.tokenizer = load_tokenizer(spec)
        self.model = load_model(spec)
        self.truncated = 0

    def summarize(self, articles: list[Article], variants: list[int]) -> list[Generation]:
        from babelsum.models.generate import generate

        results: list[Generation | None] = [None] * len(articles)
        # One language at a time: seq2seq models take the target language per call.
        for lang in sorted({a.language for a in articles}):
            picked = [i for i, a in enumerate(articles) if a.language == lang]
            prompts, truncated = _prompts(
                self.tokenizer,
                self.spec,
                self.teacher,
                self.prompts,
                [articles[i] for i in picked],
                [variants[i] for i in picked],
            )
            self.truncated += truncated
            outputs = generate(
                self.model,
                self.tokenizer,
                self.spec,
                prompts,
                batch_size=self.teacher.batch_size,
                max_new_tokens=self.teacher.max_new_tokens,
                max_batch_tokens=self.teacher.max_batch_tokens,
                target_lang=lang,
            )
            for i, output in zip(picked, outputs, strict=True):
                results[i] = output
        return results  # type: ignore[return-value]


class VLLMBackend:
    """vLLM's offline engine, greedy (temperature 0); needs `pip install babelsum[vllm]`."""

    uses_prompts = True

    def __init__(self, spec: ModelSpec, teacher: TeacherConfig, prompts: PromptSet | None = None):
        from babelsum.models.vllm_engine import VllmModel

        self.spec, self.teacher, self.prompts = spec, teacher, prompts
        max_len = teacher.max_input_tokens + teacher.max_new_tokens
        self.engine = VllmModel(spec, max_len, "teacher.backend")
        self.tokenizer = self.engine.tokenizer
        self.truncated = 0

    def summarize(self, articles: list[Article], variants: list[int]) -> list[Generation]:
        prompts, truncated = _prompts(
            self.tokenizer, self.spec, self.teacher, self.prompts, articles, variants
        )
        self.truncated += truncated
        return self.engine.generate(prompts, self.teacher.max_new_tokens)
