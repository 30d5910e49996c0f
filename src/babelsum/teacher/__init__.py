"""The teacher's parts: backends that write summaries, cleaning, checks, the shard journal.

The stage that runs them is `babelsum.stages.teacher`.
"""
