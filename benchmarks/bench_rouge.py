"""Scoring throughput of our multilingual ROUGE against rouge-score's default, in one run.

The baseline is rouge-score's own `RougeScorer(use_stemmer=True)` on English pairs (what
most papers run); ours scores the same English pairs (same numbers, checked) and Japanese
pairs of similar length (MeCab segmentation). Each pair is scored for ROUGE-1/2/L/Lsum; both
sides get one sentence per line, so ROUGE-Lsum works the same way in both. The texts are all
different, so no cache helps across pairs. Prints pairs per second and the ratio to the
baseline; nothing is asserted.
Run: .venv/bin/python benchmarks/bench_rouge.py [--pairs 2000]
"""

from __future__ import annotations

import argparse
import random
import time

from rouge_score.rouge_scorer import RougeScorer

from babelsum.metrics.rouge import ROUGE_TYPES, one_sentence_per_line, score_pair

EN_WORDS = (
    "the city river trade council announced new policy market bank rates economy growth "
    "people tourism museum old town heritage government minister election vote law court "
    "company profits shares fell rose sharply report said year week million percent"
).split()
JA_SENTENCES = [
    "東京都は新しい政策を発表した",
    "市場は月曜日に大きく下落した",
    "銀行は金利を引き上げた",
    "経済は貿易と観光業に支えられている",
    "旧市街は世界遺産に登録されている",
    "政府は来年度の予算案を閣議決定した",
    "人口は約五十万人である",
    "裁判所は訴えを退けた",
]


def english_text(rng: random.Random, sentences: int) -> str:
    return " ".join(
        " ".join(rng.choice(EN_WORDS) for _ in range(rng.randint(8, 16))).capitalize() + "."
        for _ in range(sentences)
    )


def japanese_text(rng: random.Random, sentences: int) -> str:
    # a number in each sentence keeps every text distinct
    return "".join(
        rng.choice(JA_SENTENCES) + f"、{rng.randint(1, 10_000)}件。" for _ in range(sentences)
    )


def pairs(make, n: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    return [(make(rng, 3), make(rng, 3)) for _ in range(n)]


def throughput(score, items) -> float:
    start = time.perf_counter()
    for pred, ref in items:
        score(pred, ref)
    return len(items) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=2000)
    args = parser.parse_args()

    english = pairs(english_text, args.pairs, seed=0)
    japanese = pairs(japanese_text, args.pairs, seed=1)
    baseline = RougeScorer(list(ROUGE_TYPES), use_stemmer=True)

    def rouge_score_default(pred: str, ref: str):
        return baseline.score(one_sentence_per_line(ref, "en"), one_sentence_per_line(pred, "en"))

    for pred, ref in english[:50]:  # same numbers, or the comparison means nothing
        theirs = rouge_score_default(pred, ref)
        ours = score_pair(pred, ref, "en")
        assert all(abs(ours[t] - theirs[t].fmeasure) < 1e-12 for t in ROUGE_TYPES)
    score_pair(*japanese[0], "ja")  # load MeCab before timing

    base = throughput(rouge_score_default, english)
    ours_en = throughput(lambda p, r: score_pair(p, r, "en"), english)
    ours_ja = throughput(lambda p, r: score_pair(p, r, "ja"), japanese)
    print(f"{args.pairs} pairs, 3 sentences each, ROUGE-1/2/L/Lsum")
    print(f"rouge-score default (en):  {base:9.0f} pairs/s   1.00x")
    print(f"babelsum ROUGE (en):       {ours_en:9.0f} pairs/s   {ours_en / base:.2f}x")
    print(f"babelsum ROUGE (ja):       {ours_ja:9.0f} pairs/s   {ours_ja / base:.2f}x")


if __name__ == "__main__":
    main()
