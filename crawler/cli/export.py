"""``newscrawl export``: every column of the matching articles as JSON Lines or
CSV, written row by row while the rows stream from the database, so memory
stays flat on an archive of any size.

JSON Lines: one object per article, keys in table order, times ISO-8601 UTC,
``tags`` a JSON list, ``sources`` a JSON object. CSV: a header row, the same
columns; ``tags`` joined with ``;``, ``sources`` as JSON text, booleans
``true``/``false``, nulls empty.

``-o PATH`` (:func:`check_target`, :func:`open_target`): a regular file, or a
path that does not exist yet, is written through a temporary file beside it,
renamed over it only when the whole export was written; a symbolic link is
followed (the file it points at is replaced, the link stays); anything else (a
character device such as ``/dev/null``, a FIFO) is written to directly.
"""

from __future__ import annotations

import csv
import json
import os
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Engine

from crawler.cli.reporting import iso_time
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


# --------------------------------------------------------------------------- -o PATH


class ExportTargetError(Exception):
    """An output path that cannot be written to, found before anything is queried."""


@dataclass(frozen=True)
class ExportTarget:
    given: Path  # as the user wrote it
    path: Path  # where the data goes: a symbolic link followed
    replace: bool  # a regular file (or a new one): written beside, renamed over it


def check_target(given: Path) -> ExportTarget:
    """Where ``-o given`` writes, and how; :class:`ExportTargetError` when its
    folder is missing or is not a folder, or it is a folder itself."""
    path = Path(os.path.realpath(given)) if given.is_symlink() else given
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except NotADirectoryError:
        raise ExportTargetError(f"{path.parent} is not a folder") from None
    except OSError as exc:
        raise ExportTargetError(f"{path}: {exc.strerror or exc}") from None
    if mode is not None:
        if stat.S_ISDIR(mode):
            raise ExportTargetError(f"{given} is a folder")
        return ExportTarget(given, path, replace=stat.S_ISREG(mode))
    parent = path.parent
    try:
        parent_mode = os.stat(parent).st_mode
    except FileNotFoundError:
        raise ExportTargetError(f"no folder {parent}") from None
    except NotADirectoryError:
        raise ExportTargetError(f"{parent} is not a folder") from None
    except OSError as exc:
        raise ExportTargetError(f"{parent}: {exc.strerror or exc}") from None
    if not stat.S_ISDIR(parent_mode):
        raise ExportTargetError(f"{parent} is not a folder")
    return ExportTarget(given, path, replace=True)


def _no_follow(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NOFOLLOW, 0o666)


@contextmanager
def open_target(target: ExportTarget) -> Iterator[TextIO]:
    """The text file to export into. A regular file is replaced only when the
    block ends without an exception (the partial file is removed otherwise);
    a device or FIFO is written in place. Write errors are raised as OSError."""
    if not target.replace:
        with open(target.path, "w", encoding="utf-8", newline="") as out:
            yield out
        return
    try:
        mode: int | None = stat.S_IMODE(os.stat(target.path).st_mode)
    except FileNotFoundError:
        mode = None  # a new file: the usual permissions (0666 less the umask)
    partial = target.path.with_name(f".{target.path.name}.{os.getpid()}.partial")
    try:
        with open(partial, "w", encoding="utf-8", newline="", opener=_no_follow) as out:
            if mode is not None:
                os.fchmod(out.fileno(), mode)  # the replaced file keeps its permissions
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, target.path)
    finally:
        partial.unlink(missing_ok=True)
