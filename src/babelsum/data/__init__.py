"""Data: the canonical article schema, its sources, cleaning, and topic-aware splits."""
