"""Publication dates: the text a page shows -> an aware UTC datetime.

Order of attempts: the site's explicit ``format`` strings (``strptime``), then
ISO-8601, then RFC 2822 (feeds, HTTP), then dateparser for everything else
(localised month names, "2 hours ago"). A date without a zone takes the site's.
A numeric date written with dots (``02.04.2024``) is read day first.

A text that shows a date and no time of day ("2021-09-20", "September 20,
2021") is read as that calendar date, ``date_only``: 00:00 UTC on that date,
never shifted by a time zone, and never mistaken for an exact midnight.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

_DATEPARSER_SETTINGS: dict[str, object] = {"PREFER_DAY_OF_MONTH": "first"}


# Formats and ISO forms that carry no time of day.
_TIME_DIRECTIVES = re.compile(r"%[HIMSXcTRrsfp]")
_ISO_DATE = re.compile(r"\d{4}-?\d{2}-?\d{2}")
# Day, month and year written with dots (14.01.2024, 2.4.24): day first, in every
# language that writes dates so; dateparser would otherwise guess month first.
_DOTTED_DATE = re.compile(r"(?<![\d.])\d{1,2}\.\d{1,2}\.(?:\d{4}|\d{2})(?![\d.])")


@dataclass(frozen=True)
class ParsedDate:
    value: datetime  # aware, UTC
    zone_known: bool  # the text carried its own offset or zone
    date_only: bool = False  # the text has no time of day: value is the date at 00:00 UTC


def _localise(value: datetime, zone: ZoneInfo, date_only: bool = False) -> ParsedDate:
    if date_only:
        return ParsedDate(datetime(value.year, value.month, value.day, tzinfo=UTC), False, True)
    known = value.tzinfo is not None and value.tzinfo.utcoffset(value) is not None
    if not known:
        value = value.replace(tzinfo=zone)
    return ParsedDate(value.astimezone(UTC), known)


def read_date(
    raw: str | None,
    formats: list[str] | None = None,
    timezone: str = "UTC",
    languages: list[str] | None = None,
    now: datetime | None = None,
) -> ParsedDate | None:
    """Parse a page's date text; ``None`` when nothing sensible can be read."""
    if not raw or not raw.strip():
        return None
    text = raw.strip()
    zone = ZoneInfo(timezone)
    for fmt in formats or []:
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return _localise(parsed, zone, date_only=not _TIME_DIRECTIVES.search(fmt))
    iso = re.sub(r"Z$", "+00:00", text)
    try:
        return _localise(datetime.fromisoformat(iso), zone, bool(_ISO_DATE.fullmatch(text)))
    except ValueError:
        pass
    try:
        return _localise(parsedate_to_datetime(text), zone)
    except (TypeError, ValueError, IndexError):
        pass
    return _read_text(text, zone, languages, now)


def _read_text(
    text: str, zone: ZoneInfo, languages: list[str] | None, now: datetime | None
) -> ParsedDate | None:
    """dateparser's reading of a date text, in the page's languages first."""
    # imported late: loading its language data costs ~0.3 s
    from dateparser.date import DateDataParser

    settings = dict(_DATEPARSER_SETTINGS, RETURN_TIME_AS_PERIOD=True)
    if _DOTTED_DATE.search(text):
        settings["DATE_ORDER"] = "DMY"
    if now is not None:
        settings["RELATIVE_BASE"] = now.astimezone(zone).replace(tzinfo=None)
    for langs in (languages or None, None) if languages else (None,):
        try:
            data = DateDataParser(languages=langs, settings=settings).get_date_data(text)
        except ValueError:  # a language code dateparser does not know
            continue
        if data.date_obj is not None:
            return _localise(data.date_obj, zone, date_only=data.period != "time")
    return None


def parse_date(
    raw: str | None,
    formats: list[str] | None = None,
    timezone: str = "UTC",
    languages: list[str] | None = None,
    now: datetime | None = None,
) -> datetime | None:
    """:func:`read_date`'s aware UTC datetime alone."""
    parsed = read_date(raw, formats, timezone, languages, now)
    return parsed.value if parsed else None
