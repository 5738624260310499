"""Durations: read from site definitions (``15m``, ``1.5h``, ``90``) and
written for people (``45s``, ``2m 5s``, ``1h 30m``, ``2d 3h``).

One reading and one writing for every part of newscrawl: the schedule of a
definition, the ``schedule`` and ``runs`` tables, the daemon's log. Imports
nothing of ``crawler``, so that any package may import it.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_UNITS_LARGEST_FIRST = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def parse_duration(value: Any) -> float:
    """``90``, ``"90s"``, ``"15m"``, ``"1.5h"``, ``"1d"`` -> seconds."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        m = _DURATION.match(str(value))
        if m is None:
            raise ValueError(
                f"not a duration: {value!r} (use seconds or a number with s, m, h or d: '15m')"
            )
        seconds = float(m.group(1)) * _UNIT_SECONDS[m.group(2) or "s"]
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative: {value!r}")
    return seconds


def format_duration(value: float | timedelta) -> str:
    """Seconds (or a timedelta) as every non-zero unit, largest first:
    ``45s``, ``2m 5s``, ``1h 30m``, ``2d 3h``, ``0s``. Under a minute a
    fraction is kept (``0.5s``); from a minute on, whole seconds (rounded).

    Exact to the second, never cut to the largest units: a job's description
    (crawler/scheduling/jobs.py) is its signature in the job store, and two
    different schedules must not read the same.
    """
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds < 0:
        return "-" + format_duration(-seconds)
    if seconds < 60 and seconds != int(seconds):
        return f"{seconds:g}s"
    rest = int(round(seconds))
    parts = []
    for unit, size in _UNITS_LARGEST_FIRST:
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    return " ".join(parts) or "0s"
