"""What every command shares: one time format for people and one for JSON,
tables measured by display width, and one rule for the times people give."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from wcwidth import wcswidth

from crawler.cli.reporting import Column, field, format_table, human_time, iso_time
from crawler.sites.times import read_time

NOW = datetime(2026, 12, 7, 15, 30, tzinfo=UTC)


def test_one_time_format_for_people_and_one_for_json():
    moment = datetime(2021, 9, 24, 14, 0, 59)  # naive: SQLite's stored UTC
    assert human_time(moment) == "2021-09-24 14:00 UTC"
    assert iso_time(moment) == "2021-09-24T14:00:59Z"
    yerevan = datetime(2021, 9, 24, 18, 0, tzinfo=timezone(timedelta(hours=4)))
    assert human_time(yerevan) == "2021-09-24 14:00 UTC"
    assert iso_time(yerevan) == "2021-09-24T14:00:00Z"
    assert (human_time(None), iso_time(None)) == ("-", None)


def test_columns_line_up_by_display_width():
    rows = [
        {"site": "東京新聞", "title": "地震速報 🌋 津波の心配なし", "n": 1},
        {"site": "hidden-panarmenian", "title": "Café owner O'Brien", "n": 22},
        {"site": "x", "title": "e\u0301clair (a combining accent)", "n": 333},
    ]
    columns = [
        Column("site", field("site")),
        Column("title", field("title"), max_width=20),
        Column("n", field("n"), align_right=True),
    ]
    header, rule, *body = format_table(columns, rows).splitlines()
    # Each column starts at the same screen column on every line, and the
    # right-aligned numbers end where the rule under their header ends.
    title_starts = {wcswidth(header[: header.index("title")])}
    for line, row in zip(body, rows, strict=True):
        title_starts.add(wcswidth(line[: line.index(row["title"][:2])]))
        assert wcswidth(line) == wcswidth(rule)
    assert title_starts == {wcswidth("hidden-panarmenian  ")}
    # A cut title ends with "…" and takes at most its width, wide characters counted twice.
    cut = body[0][body[0].index("地") :].rsplit("  ", 1)[0].strip()
    assert cut.endswith("…") and wcswidth(cut) <= 20
    # Two columns never run together.
    assert "hidden-panarmenian  Café" in body[1]


def test_cells_hold_one_line_of_printable_text():
    rows = [{"title": "two\nlines\tand\x1b[31m escape"}]
    out = format_table([Column("title", field("title"))], rows)
    assert "\x1b" not in out and len(out.splitlines()) == 3


@pytest.mark.parametrize(
    "text, start, end",
    [
        ("2024-03-05", "2024-03-05T00:00:00", "2024-03-05T23:59:59.999999"),
        ("2024-03-05T14:30", "2024-03-05T14:30:00", "2024-03-05T14:30:00"),
        ("2024-03-05T18:30:00+04:00", "2024-03-05T14:30:00", "2024-03-05T14:30:00"),
        ("2024-03-05 14:30:00Z", "2024-03-05T14:30:00", "2024-03-05T14:30:00"),
        ("yesterday", "2026-12-06T00:00:00", "2026-12-06T23:59:59.999999"),
        ("2 days ago", "2026-12-05T00:00:00", "2026-12-05T23:59:59.999999"),
        ("3 hours ago", "2026-12-07T12:30:00", "2026-12-07T12:30:00"),
        ("March 5, 2024", "2024-03-05T00:00:00", "2024-03-05T23:59:59.999999"),
    ],
)
def test_one_rule_for_the_times_people_give(text, start, end):
    assert read_time(text, now=NOW) == datetime.fromisoformat(start).replace(tzinfo=UTC)
    assert read_time(text, end=True, now=NOW) == datetime.fromisoformat(end).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    "text", ["soonish", "", "2024-13-45", "2024-13-01", "05/03/2024", "2024", "next blue moon"]
)
def test_text_that_is_no_time_says_what_is_accepted(text):
    with pytest.raises(ValueError, match=r"expected a date \(2024-03-05\), an ISO-8601 time"):
        read_time(text, now=NOW)
