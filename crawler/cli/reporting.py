"""How the query commands print: aligned text tables, JSON documents, one
article in full with its revisions and their diffs. Times are ISO-8601 UTC."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO


def iso_time(value: datetime | None) -> str | None:
    """ISO-8601 in UTC, for JSON: ``2021-09-21T19:40:00+00:00``."""
    return value.isoformat() if value is not None else None


def table_time(value: datetime | None) -> str:
    """ISO-8601 in UTC to the second, for tables: ``2021-09-21T19:40:00Z``."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else "-"


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
        return table_time(value)
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "-"
    return " ".join(str(value).split())  # one line, whatever the text holds


def _fit(text: str, width: int | None) -> str:
    if width is None or len(text) <= width:
        return text
    return text[: width - 1] + "…"


def format_table(
    columns: Sequence[Column],
    rows: Iterable[Mapping[str, Any]],
    below: Callable[[Mapping[str, Any]], Iterable[str]] | None = None,
) -> str:
    """An aligned text table; ``below`` adds indented lines under a row."""
    rows = list(rows)
    cells = [[_fit(_cell(col.value(row)), col.max_width) for col in columns] for row in rows]
    widths = [
        max([len(col.header), *(len(line[i]) for line in cells)]) for i, col in enumerate(columns)
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if col.align_right else v.ljust(w)
            for v, w, col in zip(values, widths, columns, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out = [line([c.header for c in columns]), line(["-" * w for w in widths])]
    for row, values in zip(rows, cells, strict=True):
        out.append(line(values))
        if below is not None:
            out.extend(f"    {extra}" for extra in below(row))
    return "\n".join(out)


def field(name: str) -> Callable[[Mapping[str, Any]], Any]:
    return lambda row: row.get(name)


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


def format_article(
    article: Mapping[str, Any],
    revisions: Sequence[Mapping[str, Any]],
    aliases: Sequence[Mapping[str, Any]],
    duplicate_title: str | None,
    diffs: Sequence[Mapping[str, Any]] | None,
) -> str:
    """One article in full: metadata, body, versions, and diffs when given."""
    published = table_time(article["published_at"])
    if article.get("published_raw"):
        published += f"  (page: {article['published_raw']!r})"
    duplicate = "-"
    if article["duplicate_of"] is not None:
        duplicate = f"{article['duplicate_of']}"
        if duplicate_title:
            duplicate += f"  {duplicate_title}"
    meta = [
        ("id", article["id"]),
        ("site", article["site"]),
        ("url", article["url"]),
        ("author", article["author"] or "-"),
        ("section", article["section"] or "-"),
        ("tags", ", ".join(article["tags"] or []) or "-"),
        ("language", article["language"] or "-"),
        ("published", published),
        ("first seen", table_time(article["first_seen_at"])),
        ("last seen", table_time(article["last_seen_at"])),
        ("version", article["version"]),
        ("duplicate of", duplicate),
    ]
    meta += [("also at", alias["url"]) for alias in aliases]
    lines = [article["title"], "=" * min(len(article["title"]), 78)]
    lines += [f"{name:<13}{value}" for name, value in meta]
    lines += ["", article["body"], "", "Versions:"]
    for revision in revisions:
        lines.append(
            f"  {revision['version']}  until {table_time(revision['captured_at'])}  "
            f"{revision['title']}"
        )
    since = revisions[-1]["captured_at"] if revisions else article["first_seen_at"]
    lines.append(f"  {article['version']}  current since {table_time(since)}  {article['title']}")
    if diffs is not None:
        if not diffs:
            lines += ["", "No earlier versions: nothing to compare."]
        for diff in diffs:
            lines += [
                "",
                f"Changes from version {diff['from_version']} to {diff['to_version']} "
                f"(seen {table_time(diff['changed_at'])}):",
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
