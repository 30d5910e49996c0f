"""SLURM's time and memory notations, read and written: `1-12:00:00`, `90`, `64G`, `4000M`."""

from __future__ import annotations

import re

_MEGABYTES = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}


def minutes(time: str) -> float:
    """SLURM time 'D-HH:MM:SS', 'D-HH:MM', 'HH:MM:SS', 'MM:SS' or 'MM' -> minutes."""
    days, _, rest = time.rpartition("-")
    parts = [int(p) for p in rest.split(":")]
    if days:  # after a day count, the fields are hours first
        h, m, s = (parts + [0, 0])[:3]
    else:
        h, m, s = {3: parts, 2: [0, *parts], 1: [0, parts[0], 0]}[len(parts)]
    return (int(days or 0) * 24 + h) * 60 + m + s / 60


def time_text(total_minutes: float) -> str:
    """Minutes -> 'D-HH:MM:SS' (or 'HH:MM:SS' under a day), rounded up to the minute."""
    days, rest = divmod(int(-(-total_minutes // 1)), 24 * 60)
    hours, mins = divmod(rest, 60)
    return (f"{days}-" if days else "") + f"{hours:02d}:{mins:02d}:00"


def megabytes(mem: str) -> float:
    """SLURM memory '64G', '4000M', '4000' (megabytes) -> megabytes."""
    number, unit = re.fullmatch(r"(\d+)([KMGT]?)", mem).groups()
    return int(number) * _MEGABYTES[unit or "M"]


def mem_text(mb: float) -> str:
    """Megabytes -> '64G' when a whole number of gigabytes or more, else '4000M'."""
    gigabytes = mb / 1024
    return f"{round(gigabytes)}G" if gigabytes >= 1 else f"{round(mb)}M"
