"""Times given on the command line: argparse ``type=`` functions.

Both a date (``2024-03-05``) and an ISO-8601 time (``2024-03-05T14:30``,
``2024-03-05 14:30:00+04:00``, ``...Z``) are accepted. A time without an
offset is UTC. A date is midnight UTC at its start, except as the end of a
range (``--until``, ``--to``), where it includes the whole day. A bad value
makes argparse exit with status 2, naming the option and the expected form.
"""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime, time

EXPECTED = "a date YYYY-MM-DD or an ISO-8601 time such as 2024-03-05T14:30:00Z"


def _parse(value: str) -> tuple[datetime, bool]:
    """The time given, in UTC, and whether it was a date alone."""
    text = value.strip()
    try:
        return datetime.combine(date.fromisoformat(text), time(), UTC), True
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC), False
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(f"expected {EXPECTED}, got {value!r}") from None


def start_time(value: str) -> datetime:
    """A moment; a date means its first instant (00:00 UTC)."""
    return _parse(value)[0]


def end_time(value: str) -> datetime:
    """The inclusive end of a range; a date means its last instant, so that
    ``--until 2024-03-05`` includes the whole of 5 March (UTC)."""
    moment, is_date = _parse(value)
    return datetime.combine(moment.date(), time.max, UTC) if is_date else moment


def time_text(value: str) -> str:
    """The value as given, once it reads as a date or time (for options passed
    on to a spider, which reads them in the site's time zone)."""
    _parse(value)
    return value.strip()
