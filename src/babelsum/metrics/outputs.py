"""The files an evaluation or judge task leaves in its output folder (gather reads them back).

- predictions.jsonl: one record per test article (prediction or failure, language, ROUGE)
- judgments.jsonl:   one record per judged article (both orders, rationales)
- scores.json:       the cell's numbers (n, failures, empty, means with 95% intervals)
"""

PREDICTIONS = "predictions.jsonl"
JUDGMENTS = "judgments.jsonl"
SCORES = "scores.json"
