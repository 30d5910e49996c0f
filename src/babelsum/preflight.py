"""Checks before anything is queued: every problem a task would hit on a compute node hours
later, found on the login node now, one line each and all at once.

`launch sweep` runs them (and `--dry-run` prints them); `--no-preflight` skips them.
"""

from __future__ import annotations

from babelsum.config import SweepConfig
from babelsum.errors import UserError


class PreflightError(UserError):
    """Problems found before submission; nothing was submitted."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(f"preflight: {p}" for p in problems))


def problems(config: SweepConfig) -> list[str]:
    """Every problem found, one line each; empty when the sweep can be submitted."""
    found: list[str] = []
    if config.offline:
        from babelsum.hub import check_offline

        found += check_offline(config)
    return found


def check(config: SweepConfig) -> None:
    found = problems(config)
    if found:
        raise PreflightError(found)
