"""SLURM's time and memory notations, read, checked and written: `1-12:00:00`, `90`, `64G`.

Checked as sbatch reads them, whatever YAML made of them:
- time: a bare number is minutes, as `sbatch --time=90` reads it (`time: 90` -> 01:30:00). The
  config loader reads `12:00:00` as text, not as YAML 1.1's sexagesimal integer 43200.
- mem: a number needs a unit. sbatch reads `--mem=64` as 64 megabytes, which in a config
  almost always meant 64G, so `mem: 64` is refused with a line saying both ways to write it.
"""

from __future__ import annotations

import re

_MEGABYTES = {"K": 1 / 1024, "M": 1, "G": 1024, "T": 1024 * 1024}

# sbatch's forms: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS
_TIME = re.compile(r"(?:\d+-\d{1,2}|\d+)(?::\d{1,2}){0,2}")
_TIME_FORMS = "minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS"
# 64G, 4000M, 64GB, 64g: sbatch reads the unit's first letter in either case
_MEM = re.compile(r"(\d+)([KMGT])B?", re.IGNORECASE)


def minutes(time: str) -> float:
    """SLURM time 'D-HH:MM:SS', 'D-HH:MM', 'D-HH', 'HH:MM:SS', 'MM:SS' or 'MM' -> minutes."""
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


def slurm_time(value: object) -> str:
    """A time limit as sbatch takes it; an int is minutes. ValueError says what is allowed."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value <= 0:
            raise ValueError("time must be a positive number of minutes or HH:MM:SS")
        return time_text(value)
    text = value.strip() if isinstance(value, str) else None
    if text is None or not _TIME.fullmatch(text):
        raise ValueError(f"time must be SLURM's {_TIME_FORMS}, e.g. 04:00:00 or 1-12:00:00")
    if any(int(field) >= 60 for field in text.split(":")[1:]):
        raise ValueError("time: minutes and seconds after a ':' must be below 60")
    if minutes(text) <= 0:
        raise ValueError("time must be longer than zero")
    return text


def slurm_mem(value: object) -> str:
    """Memory as sbatch takes it, normalized ('64g', '64GB' -> '64G'); a unit is required."""
    if (isinstance(value, int) and not isinstance(value, bool)) or str(value).strip().isdigit():
        raise ValueError(
            f"mem {value} has no unit: sbatch would read {value} megabytes; "
            f"write {value}G or {value}M"
        )
    match = _MEM.fullmatch(value.strip()) if isinstance(value, str) else None
    if not match or int(match[1]) <= 0:
        raise ValueError("mem must be a positive size like 16G or 4000M")
    return f"{int(match[1])}{match[2].upper()}"
