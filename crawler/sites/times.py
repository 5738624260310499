"""Times a person gives: ``--since``/``--until`` (and ``--at``, ``--from``,
``--to``) of every command, and ``-a since=``/``-a until=`` of the spiders.
One rule for all of them (docs/querying.md, "Times"):

- an ISO-8601 time (``2024-03-05T14:30``, ``2024-03-05 14:30:00+04:00``,
  ``...Z``) is that moment; without an offset it is UTC;
- a day (``2024-03-05``, ``March 5, 2024``, ``yesterday``, ``2 days ago``,
  ``last monday``) is that day in UTC: from its first instant, or, as the end
  of a range, through its last instant, so the whole day is included;
- other text dateparser reads as a moment (``3 hours ago``, ``5 March 2024
  14:30``, ``now``) is that moment, UTC unless it names a zone.

Relative values are read against the present moment. Text that is none of
these raises ``ValueError`` naming the accepted forms.

And the times people read: :func:`human_time` (``2021-09-24 14:00 UTC``) in
every command's output and log lines, :func:`iso_time` (ISO 8601 with ``Z``)
in JSON and exports.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

_FIGURES_ONLY = re.compile(r"[\d\s\-/.:,+TZ]*")
ACCEPTED = (
    "a date (2024-03-05), an ISO-8601 time (2024-03-05T14:30:00Z) "
    "or words such as 'yesterday' or '2 days ago'"
)


def read_time(text: str, end: bool = False, now: datetime | None = None) -> datetime:
    """The moment ``text`` names, aware, in UTC. ``end``: a day means its last
    instant (the inclusive end of a range) instead of its first."""
    when = day_or_moment(text, now)
    if isinstance(when, datetime):
        return when
    start = datetime.combine(when, time(), UTC)
    return start + timedelta(days=1, microseconds=-1) if end else start


def day_or_moment(text: str, now: datetime | None = None) -> date | datetime:
    """What ``text`` names: a day (a ``date``) or a moment (an aware UTC
    ``datetime``)."""
    value = str(text).strip()
    day = _iso_day(value)
    if day is not None:
        return day
    moment = _iso_moment(value)
    if moment is not None:
        return moment
    moment, is_day = _words(value, now)
    return moment.date() if is_day else moment


def _utc(value: datetime) -> datetime:
    """A stored time in UTC: naive values are UTC already (SQLite keeps no offset)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso_time(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with ``Z``, for JSON and exports: ``2021-09-21T19:40:00Z``
    (fractions of a second are kept when the time has them)."""
    if value is None:
        return None
    return _utc(value).isoformat().replace("+00:00", "Z")


def human_time(value: datetime | None) -> str:
    """A time for people, to the minute in UTC: ``2021-09-21 19:40 UTC``."""
    return _utc(value).strftime("%Y-%m-%d %H:%M UTC") if value is not None else "-"


def _iso_day(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _iso_moment(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value)
    except (ValueError, OverflowError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _words(value: str, now: datetime | None) -> tuple[datetime, bool]:
    """What dateparser reads in ``value`` (English), and whether it named a
    day (or a longer period) rather than a moment. Figures alone that are not
    ISO 8601 (``2024-13-01``, ``05/03/2024``, ``2024``) are refused, not
    guessed: which is the day and which the month is for ISO to say."""
    from dateparser.date import DateDataParser

    if _FIGURES_ONLY.fullmatch(value):
        raise ValueError(f"expected {ACCEPTED}, got {value!r}")

    settings = {
        "TIMEZONE": "UTC",
        "TO_TIMEZONE": "UTC",
        "RETURN_AS_TIMEZONE_AWARE": True,
        "RETURN_TIME_AS_PERIOD": True,
        "PREFER_DATES_FROM": "past",
    }
    if now is not None:
        settings["RELATIVE_BASE"] = now.astimezone(UTC).replace(tzinfo=None)
    data = DateDataParser(languages=["en"], settings=settings).get_date_data(value)
    if data.date_obj is None:
        raise ValueError(f"expected {ACCEPTED}, got {value!r}")
    return data.date_obj.astimezone(UTC), data.period != "time"
