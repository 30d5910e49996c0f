"""The LLM judge: its prompt, the reading of its JSON answer, and the A/B order swap.

The judge sees the article and two summaries, A and B, and answers with JSON:
{"summary_a": {"rationale": "...", "score": 0-5}, "summary_b": {...}}. It never learns which
model wrote which. Each article is judged twice, base model first and fine-tuned first; a
summary's score is the mean of its two readings, which cancels a constant preference for
one position. Decoding is greedy (temperature 0), so asking the same prompt again would give
the same answer: a retry shows the judge its own answer and what was wrong with it.
An answer still unreadable after the retries leaves the article *missing*, never scored 0.

The model sits behind `ask`, a function from a batch of chat conversations to answers
(None when generation failed), so this module runs without a model.

The base model's own judge score (the study's base row) comes from the judge tasks that read
the same base cell: each judged the base summaries beside one fine-tuned model's
(`base_model_scores`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from babelsum.lang.codes import LANGUAGES
from babelsum.metrics.bootstrap import mean_interval

MIN_SCORE, MAX_SCORE = 0, 5
ORDERS = ("base_first", "tuned_first")

Messages = list[dict[str, str]]
Ask = Callable[[Sequence[Messages]], Sequence[str | None]]

SYSTEM = (
    "You are a careful evaluator of summaries. You answer with one JSON object and nothing else."
)
INSTRUCTIONS = """\
Read the article and two summaries of it, A and B. Both should be written in {language}.

Score each summary from 0 to 5 (integers only):
5 = faithful, covers the main points, fluent, in {language};
3 = mostly faithful but misses important points or is clumsy;
1 = mostly wrong, off-topic, or not in {language};
0 = empty or meaningless.
Judge each summary on its own merits; the order in which they are shown means nothing.

Answer with exactly this JSON, a one-sentence rationale before each score:
{{"summary_a": {{"rationale": "...", "score": 0}}, "summary_b": {{"rationale": "...", "score": 0}}}}

Article:
{article}

Summary A:
{summary_a}

Summary B:
{summary_b}"""
CORRECTION = (
    "Your answer could not be used: {problem}. Answer again with only the JSON object "
    '{{"summary_a": {{"rationale": "...", "score": <0-5>}}, '
    '"summary_b": {{"rationale": "...", "score": <0-5>}}}}.'
)
EMPTY_SUMMARY = "(empty)"


class VerdictError(ValueError):
    """A judge answer that is not the JSON asked for; the message says what is wrong."""


@dataclass(frozen=True)
class Verdict:
    score_a: int
    score_b: int
    rationale_a: str
    rationale_b: str


@dataclass
class Reading:
    """One order of one article: what was asked, every answer, and the verdict if any."""

    order: str  # "base_first" or "tuned_first"
    answers: list[str | None] = field(default_factory=list)
    verdict: Verdict | None = None
    problem: str | None = None  # why the last answer was not used

    def scores(self) -> tuple[int, int] | None:
        """(base, tuned) scores of this reading, whatever the order shown."""
        if self.verdict is None:
            return None
        a, b = self.verdict.score_a, self.verdict.score_b
        return (a, b) if self.order == "base_first" else (b, a)


@dataclass
class Judgment:
    """Both readings of one article and the scores averaged over them."""

    readings: list[Reading]

    @property
    def complete(self) -> bool:
        return all(r.verdict is not None for r in self.readings)

    @property
    def base_score(self) -> float | None:
        return self._mean(0)

    @property
    def tuned_score(self) -> float | None:
        return self._mean(1)

    @property
    def winner(self) -> str | None:
        """'tuned' or 'base' when both orders agree on the better summary, else 'tie'."""
        if not self.complete:
            return None
        signs = {(s[1] > s[0]) - (s[1] < s[0]) for s in (r.scores() for r in self.readings)}
        if signs == {1}:
            return "tuned"
        if signs == {-1}:
            return "base"
        return "tie"

    @property
    def reason(self) -> str | None:
        problems = [f"{r.order}: {r.problem}" for r in self.readings if r.verdict is None]
        return "; ".join(problems) or None

    def _mean(self, which: int) -> float | None:
        if not self.complete:
            return None
        return sum(r.scores()[which] for r in self.readings) / len(self.readings)


def judge_messages(article: str, summary_a: str, summary_b: str, lang: str) -> Messages:
    """The conversation asking the judge to score summaries A and B of `article`."""
    language = LANGUAGES[lang].english_name if lang in LANGUAGES else lang
    user = INSTRUCTIONS.format(
        language=language,
        article=article,
        summary_a=summary_a.strip() or EMPTY_SUMMARY,
        summary_b=summary_b.strip() or EMPTY_SUMMARY,
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def correction_messages(messages: Messages, answer: str | None, problem: str) -> Messages:
    """`messages` followed by the unusable answer and a request to answer again."""
    return [
        *messages,
        {"role": "assistant", "content": answer or ""},
        {"role": "user", "content": CORRECTION.format(problem=problem)},
    ]


def parse_verdict(text: str | None) -> Verdict:
    """The two scores and rationales of a judge answer; VerdictError says what is wrong."""
    if text is None or not text.strip():
        raise VerdictError("the answer is empty")
    answer = _first_json_object(text)
    if answer is None:
        raise VerdictError(
            f'no JSON object with "summary_a" or "summary_b" in the answer {_excerpt(text)}'
        )
    scores, rationales = [], []
    for key in ("summary_a", "summary_b"):
        part = answer.get(key)
        if not isinstance(part, dict):
            raise VerdictError(f'the JSON has no object "{key}"')
        scores.append(_score(part.get("score"), key))
        rationales.append(str(part.get("rationale", "")).strip())
    return Verdict(scores[0], scores[1], rationales[0], rationales[1])


def judge_articles(
    ask: Ask,
    items: Sequence[tuple[str, str, str, str]],
    *,
    retries: int,
) -> list[Judgment]:
    """Judge each (article, base summary, tuned summary, lang) in both orders.

    Every reading still unreadable is asked again, with a correction, up to `retries` times;
    all readings of one round go to `ask` as one batch.
    """
    conversations: list[Messages] = []
    readings: list[Reading] = []
    judgments = []
    for article, base, tuned, lang in items:
        pair = []
        for order in ORDERS:
            first, second = (base, tuned) if order == "base_first" else (tuned, base)
            conversations.append(judge_messages(article, first, second, lang))
            pair.append(Reading(order))
        readings.extend(pair)
        judgments.append(Judgment(pair))

    pending = list(range(len(readings)))
    for _ in range(retries + 1):
        if not pending:
            break
        answers = ask([conversations[i] for i in pending])
        still = []
        for i, answer in zip(pending, answers, strict=True):
            reading = readings[i]
            reading.answers.append(answer)
            try:
                reading.verdict = parse_verdict(answer)
                reading.problem = None
            except VerdictError as err:
                reading.problem = str(err)
                conversations[i] = correction_messages(conversations[i], answer, str(err))
                still.append(i)
        pending = still
    return judgments


def base_model_scores(
    scores: Iterable[dict], *, samples: int = 1000, seed: int = 0
) -> dict[str, dict]:
    """The base model's judge score per base cell, from the `scores.json` of judge tasks.

    Each judge task scores the base summaries of its base cell (`base_predictions`, the base
    evaluate task's key) beside one fine-tuned model's; an article's base score is the mean
    over the tasks that judged it, and the cell's score is the mean over its articles, with a
    95% bootstrap interval. Returns base cell key -> {"n", "judge_tasks", "mean", "low",
    "high"} (mean, low and high None when no article was judged).
    """
    articles: dict[str, dict[tuple[str, str], list[float]]] = {}
    tasks: dict[str, int] = {}
    for task in scores:
        cell = task.get("base_predictions")
        if not cell:
            continue
        tasks[cell] = tasks.get(cell, 0) + 1
        per_article = articles.setdefault(cell, {})
        for r in task.get("base_scores") or []:
            per_article.setdefault((r["article_id"], r["language"]), []).append(r["score"])
    out = {}
    for cell, count in tasks.items():
        means = [sum(v) / len(v) for v in articles[cell].values()]
        interval = mean_interval(means, samples=samples, seed=seed)
        out[cell] = {"n": len(means), "judge_tasks": count}
        for key in ("mean", "low", "high"):
            value = getattr(interval, key)
            out[cell][key] = None if math.isnan(value) else value  # nothing judged: None
    return out


def _first_json_object(text: str) -> dict | None:
    """The first JSON object in `text` holding a summary's verdict, maybe wrapped in prose or
    a ``` fence. Objects nested inside a broken one do not count."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict) and ("summary_a" in value or "summary_b" in value):
            return value
    return None


def _score(value: object, key: str) -> int:
    # bool is an int in Python; true/false is not a score
    number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if number is None or not math.isfinite(number) or number != int(number):
        raise VerdictError(f'"{key}".score must be an integer 0-5, got {json.dumps(value)}')
    if not MIN_SCORE <= number <= MAX_SCORE:
        raise VerdictError(f'"{key}".score {number} is outside 0-5')
    return int(number)


def _excerpt(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[:limit] + "...")
