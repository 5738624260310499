"""How the commands print: aligned text tables, JSON documents, one article in
full with its revisions and their diffs.

One time format for people, ``2021-09-24 14:00 UTC`` (:func:`human_time`),
one for JSON, ISO 8601 in UTC with ``Z`` (:func:`iso_time`; both in
crawler/sites/times.py, for log lines too), and one for
durations, ``1h 30m`` (:func:`crawler.sites.durations.format_duration`), in
every command. Table cells are measured by their width on a terminal
(``wcwidth``), so wide characters and emoji keep the columns aligned."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

from wcwidth import wcswidth, wcwidth

from crawler.sites.times import human_time, iso_time


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_time(value)
    if isinstance(value, Mapping):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def dump_json(document: Any, out: TextIO, indent: int | None = 2) -> None:
    json.dump(jsonable(document), out, ensure_ascii=False, indent=indent)
    out.write("\n")


# --------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[Mapping[str, Any]], Any]
    max_width: int | None = None  # longer values end with "…"
    align_right: bool = False


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return human_time(value)
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "-"
    # One line of printable text, whatever the value holds.
    return "".join(c if c.isprintable() else " " for c in " ".join(str(value).split()))


def display_width(text: str) -> int:
    """Columns ``text`` takes on a terminal: 2 for East Asian wide characters
    and emoji, 0 for combining marks and joiners (control characters, which
    cells never hold, count as 0)."""
    width = wcswidth(text)
    return width if width >= 0 else sum(max(wcwidth(char), 0) for char in text)


def _fit(text: str, width: int | None) -> str:
    """``text`` cut to ``width`` columns, ending with "…" when cut."""
    if width is None or display_width(text) <= width:
        return text
    out, used = [], 0
    for char in text:
        size = max(wcwidth(char), 0)
        if used + size > width - 1:
            break
        out.append(char)
        used += size
    return "".join(out) + "…"


def _pad(text: str, width: int, right: bool = False) -> str:
    gap = " " * max(width - display_width(text), 0)
    return gap + text if right else text + gap


def format_table(
    columns: Sequence[Column],
    rows: Iterable[Mapping[str, Any]],
    below: Callable[[Mapping[str, Any]], Iterable[str]] | None = None,
    header: bool = True,
) -> str:
    """An aligned text table; ``below`` adds indented lines under a row;
    without ``header``, only the rows (names and values, say)."""
    rows = list(rows)
    cells = [[_fit(_cell(col.value(row)), col.max_width) for col in columns] for row in rows]
    widths = [
        max([display_width(col.header) if header else 0, *(display_width(ln[i]) for ln in cells)])
        for i, col in enumerate(columns)
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            _pad(v, w, col.align_right) for v, w, col in zip(values, widths, columns, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out = [line([c.header for c in columns]), line(["-" * w for w in widths])] if header else []
    for row, values in zip(rows, cells, strict=True):
        out.append(line(values))
        if below is not None:
            out.extend(f"    {extra}" for extra in below(row))
    return "\n".join(out)


def field(name: str) -> Callable[[Mapping[str, Any]], Any]:
    return lambda row: row.get(name)


def format_fields(pairs: Iterable[tuple[str, Any]]) -> str:
    """Names and their values, the values lined up (two spaces after the
    longest name), each value one line of printable text."""
    rows = [{"name": name, "value": value} for name, value in pairs]
    columns = [Column("", field("name")), Column("", field("value"))]
    return format_table(columns, rows, header=False)


def cut_note(shown: int, total: int, command: str = "") -> str:
    """The line under a listing that ``--limit`` cut short; ``command``: the
    command whose ``--limit`` it is, when another printed the listing."""
    more = f"{command} --limit N" if command else "--limit N"
    return f"showing {shown} of {total}; {more} for more, --limit 0 for all"


# The listings' columns, shared by the commands that print them.
ARTICLE_COLUMNS = (
    Column("id", field("id"), align_right=True),
    Column("published", field("published_at")),
    Column("site", field("site")),
    Column("title", field("title"), max_width=72),
    Column("url", field("url")),
)

SITE_COUNT_COLUMNS = (
    Column("site", field("site")),
    Column("articles", field("articles"), align_right=True),
    Column("top-story rows", field("top_story_rows"), align_right=True),
    Column("runs", field("runs"), align_right=True),
    Column("rejected", field("rejected"), align_right=True),
)

CORRECTION_COLUMNS = (
    Column("id", field("id"), align_right=True),
    Column("corrected", field("corrected_at")),
    Column("site", field("site")),
    Column("version", field("version"), align_right=True),
    Column("title", field("title"), max_width=72),
)


def top_story_columns(rows: Sequence[Mapping[str, Any]]) -> list[Column]:
    """A snapshot's columns; ``page`` when a site has several top-stories pages."""
    columns = [
        Column("snapshot", field("captured_at")),
        Column("site", field("site")),
        Column("rank", field("rank"), align_right=True),
        Column("title", field("title"), max_width=72),
        Column("url", field("url")),
    ]
    if len({(r["site"], r["page_url"]) for r in rows}) > len({r["site"] for r in rows}):
        columns.insert(2, Column("page", field("page_url")))
    return columns


def format_summary(summary: Mapping[str, Any], articles_note: str | None = None) -> str:
    """``newscrawl summary``: counts per site, the newest articles (then
    ``articles_note``, when the list was cut), the current top stories and
    the recent corrections, each an aligned table."""
    lines = [f"Database: {summary['database']}"]
    if not summary["sites"]:
        return "\n".join([*lines, "Nothing stored yet."])
    lines += ["", format_table(SITE_COUNT_COLUMNS, summary["sites"]), "", "Newest articles:"]
    articles = summary["newest_articles"]
    lines.append(format_table(ARTICLE_COLUMNS, articles) if articles else "none")
    lines += [articles_note] if articles_note else []
    stories = summary["top_stories"]
    lines += ["", "Current top stories (the latest snapshot of each page):"]
    lines.append(format_table(top_story_columns(stories), stories) if stories else "none")
    if "recent_corrections" in summary:
        corrections = summary["recent_corrections"]
        lines += ["", "Recent corrections:"]
        if corrections:
            lines += [
                format_table(CORRECTION_COLUMNS, corrections),
                "What changed: newscrawl show ID --diff",
            ]
        else:
            lines.append("none")
    return "\n".join(lines)


# --------------------------------------------------------------------------- one article


def sentence_lines(text: str) -> list[str]:
    """A body as one sentence per line, paragraphs separated by an empty line:
    the unit a reader compares when a site corrects an article."""
    lines: list[str] = []
    for paragraph in text.split("\n\n"):
        if lines:
            lines.append("")
        lines.extend(s for s in re.split(r"(?<=[.!?])\s+", paragraph.strip()) if s)
    return lines


def version_diffs(article: Mapping[str, Any], revisions: Sequence[Mapping[str, Any]]) -> list[dict]:
    """A unified diff of title and body between each version and the next."""
    states = [*revisions, {**article, "captured_at": None}]
    out = []
    for old, new in zip(states, states[1:], strict=False):
        a, b = f"version {old['version']}", f"version {new['version']}"
        title = difflib.unified_diff([old["title"]], [new["title"]], a, b, lineterm="", n=0)
        body = difflib.unified_diff(
            sentence_lines(old["body"]), sentence_lines(new["body"]), a, b, lineterm=""
        )
        out.append(
            {
                "from_version": old["version"],
                "to_version": new["version"],
                "changed_at": old["captured_at"],
                "title_diff": "\n".join(title),
                "body_diff": "\n".join(body),
            }
        )
    return out


def _versions(article: Mapping[str, Any], revisions: Sequence[Mapping[str, Any]]) -> str:
    """One line per version, indented: each earlier one until it was replaced,
    the current one since."""
    rows = [
        {
            "version": r["version"],
            "state": "until",
            "at": r["captured_at"],
            "title": r["title"]
            + (f"  [{r['reason']}]" if r.get("reason", "revisit") != "revisit" else ""),
        }
        for r in revisions
    ]
    since = revisions[-1]["captured_at"] if revisions else article["first_seen_at"]
    current = {"version": article["version"], "state": "current since", "at": since}
    rows.append({**current, "title": article["title"]})
    columns = [
        Column("", field("version"), align_right=True),
        *(Column("", field(name)) for name in ("state", "at", "title")),
    ]
    return "\n".join(f"  {line}" for line in format_table(columns, rows, header=False).splitlines())


def format_captures(captures: Sequence[Mapping[str, Any]]) -> str:
    """An article's captures (docs/archive.md), one line each, oldest first."""
    if not captures:
        return (
            "Captures: none (fetched before captures were kept, or with NEWSCRAWL_ARCHIVE_DIR=off)"
        )
    rows = [
        {**c, "where": f"{c['warc_file']}@{c['warc_offset']}+{c['warc_length']}"} for c in captures
    ]
    columns = [
        Column("", field(name))
        for name in ("fetched_at", "record_type", "http_status", "host", "where")
    ]
    table = format_table(columns, rows, header=False).splitlines()
    return "\n".join(["Captures:", *(f"  {line}" for line in table)])


def format_article(
    article: Mapping[str, Any],
    revisions: Sequence[Mapping[str, Any]],
    aliases: Sequence[Mapping[str, Any]],
    duplicate_title: str | None,
    diffs: Sequence[Mapping[str, Any]] | None,
    captures: Sequence[Mapping[str, Any]] = (),
) -> str:
    """One article in full: metadata, body, versions, captures, and diffs when given."""
    published = human_time(article["published_at"])
    if article.get("published_raw"):
        published += f" (page: {article['published_raw']!r})"
    duplicate = "-"
    if article["duplicate_of"] is not None:
        duplicate = f"{article['duplicate_of']}"
        if duplicate_title:
            duplicate += f" ({duplicate_title})"
    meta = [
        ("id", article["id"]),
        ("site", article["site"]),
        ("url", article["url"]),
        ("author", article["author"] or "-"),
        ("section", article["section"] or "-"),
        ("tags", article["tags"] or []),
        ("language", article["language"] or "-"),
        ("published", published),
        ("first seen", article["first_seen_at"]),
        ("last seen", article["last_seen_at"]),
        ("version", article["version"]),
        ("duplicate of", duplicate),
    ]
    meta += [("also at", alias["url"]) for alias in aliases]
    title = _cell(article["title"])
    lines = [title, "=" * min(display_width(title), 78), format_fields(meta)]
    lines += ["", article["body"], "", "Versions:", _versions(article, revisions)]
    lines += ["", format_captures(captures)]
    if diffs is not None:
        if not diffs:
            lines += ["", "No earlier versions: nothing to compare."]
        for diff in diffs:
            lines += [
                "",
                f"Changes from version {diff['from_version']} to {diff['to_version']} "
                f"(seen {human_time(diff['changed_at'])}):",
            ]
            if diff["title_diff"]:
                lines += ["Title:", diff["title_diff"]]
            if diff["body_diff"]:
                lines += ["Body:", diff["body_diff"]]
            if not diff["title_diff"] and not diff["body_diff"]:
                lines.append("(whitespace only)")
    return "\n".join(lines)


def run_outcome(status: str, finish_reason: str | None, form: str = "{} ({})") -> str:
    """A run's status with its finish reason, the status said once: reasons
    of stopped runs begin with it (``interrupted: the daemon stopped ...``)."""
    if not finish_reason:
        return status
    if finish_reason == status or finish_reason.startswith(f"{status}: "):
        return finish_reason
    return form.format(status, finish_reason)
