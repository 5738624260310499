"""Publication dates: the text a page shows -> an aware UTC datetime.

Order of attempts: the site's explicit ``format`` strings (``strptime``), then
ISO-8601, then RFC 2822 (feeds, HTTP), then dateparser for everything else
(localised month names, "2 hours ago"). A date without a zone takes the site's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

_DATEPARSER_SETTINGS: dict[str, object] = {"PREFER_DAY_OF_MONTH": "first"}


@dataclass(frozen=True)
class ParsedDate:
    value: datetime  # aware, UTC
    zone_known: bool  # the text carried its own offset or zone


def _localise(value: datetime, zone: ZoneInfo) -> ParsedDate:
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
            return _localise(datetime.strptime(text, fmt), zone)
        except ValueError:
            continue
    iso = re.sub(r"Z$", "+00:00", text)
    try:
        return _localise(datetime.fromisoformat(iso), zone)
    except ValueError:
        pass
    try:
        return _localise(parsedate_to_datetime(text), zone)
    except (TypeError, ValueError, IndexError):
        pass
    import dateparser  # imported late: loading its language data costs ~0.3 s

    settings = dict(_DATEPARSER_SETTINGS)
    if now is not None:
        settings["RELATIVE_BASE"] = now.astimezone(zone).replace(tzinfo=None)
    parsed = dateparser.parse(text, languages=languages or None, settings=settings)
    if parsed is None and languages:
        parsed = dateparser.parse(text, settings=settings)
    return _localise(parsed, zone) if parsed is not None else None


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
