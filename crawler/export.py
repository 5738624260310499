"""``newscrawl export``: every column of the matching articles as JSON Lines or
CSV, written row by row while the rows stream from the database, so memory
stays flat on an archive of any size.

JSON Lines: one object per article, keys in table order, times ISO-8601 UTC,
``tags`` a JSON list, ``sources`` a JSON object. CSV: a header row, the same
columns; ``tags`` joined with ``;``, ``sources`` as JSON text, booleans
``true``/``false``, nulls empty.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy import Engine

from crawler.reporting import iso_time
from crawler.storage.queries import ArticleFilters, article_columns, iter_articles

FORMATS = ("jsonl", "csv")
TAG_SEPARATOR = ";"


def _json_value(value: Any) -> Any:
    return iso_time(value) if isinstance(value, datetime) else value


def _csv_value(name: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return iso_time(value) or ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if name == "tags" and isinstance(value, list):
        return TAG_SEPARATOR.join(str(tag) for tag in value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def write_jsonl(rows: Iterable[dict[str, Any]], out: TextIO) -> int:
    count = 0
    for row in rows:
        out.write(json.dumps({k: _json_value(v) for k, v in row.items()}, ensure_ascii=False))
        out.write("\n")
        count += 1
    return count


def write_csv(rows: Iterable[dict[str, Any]], columns: list[str], out: TextIO) -> int:
    writer = csv.writer(out)
    writer.writerow(columns)
    count = 0
    for row in rows:
        writer.writerow([_csv_value(name, row[name]) for name in columns])
        count += 1
    return count


def export_articles(engine: Engine, filters: ArticleFilters, fmt: str, out: TextIO) -> int:
    """Write the articles to ``out`` in ``fmt``; the number written."""
    rows = iter_articles(engine, filters)
    if fmt == "jsonl":
        return write_jsonl(rows, out)
    if fmt == "csv":
        return write_csv(rows, article_columns(), out)
    raise ValueError(f"unknown export format {fmt!r}")
