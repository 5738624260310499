"""``newscrawl export``: every column of the matching articles as JSON Lines or
CSV, written row by row while the rows stream from the database, so memory
stays flat on an archive of any size.

JSON Lines: one object per article, keys in table order, times ISO-8601 UTC,
``tags`` a JSON list, ``sources`` a JSON object. CSV: a header row, the same
columns; ``tags`` joined with ``;``, ``sources`` as JSON text, booleans
``true``/``false``, nulls empty.

The format is ``--format``, else the extension of ``-o`` (``.csv``: CSV;
anything else: JSON Lines), else JSON Lines (:func:`export_format`).

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
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from sqlalchemy import Engine

from crawler.cli.reporting import iso_time
from crawler.storage.captures import captures_of_articles, full_record, latest_captures_of
from crawler.storage.queries import ArticleFilters, article_columns, iter_articles
from crawler.storage.warc import (
    ARCHIVE_DIR_ENV,
    ArchiveUnavailable,
    archive_dir,
    read_raw,
    warcinfo_record,
)

FORMATS = ("jsonl", "csv", "warc")
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


def export_format(chosen: str | None, output: Path | None) -> str:
    """``--format`` when given, else what the name of ``-o`` says: ``.csv``
    (any case) is CSV, ``.warc`` or ``.warc.gz`` WARC; any other name
    (``.jsonl``, none, a device) JSON Lines."""
    if chosen is not None:
        return chosen
    name = output.name.lower() if output is not None else ""
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".warc", ".warc.gz")):
        return "warc"
    return "jsonl"


def export_articles(
    engine: Engine, filters: ArticleFilters, fmt: str, out: TextIO, captures: bool = False
) -> int:
    """Write the articles to ``out`` in ``fmt``; the number written. With
    ``captures``, each row gets the reference of its latest capture."""
    if fmt == "warc":
        return write_warc(engine, iter_articles(engine, filters), out.buffer)
    rows = iter_articles(engine, filters)
    if captures:
        rows = with_capture_references(engine, rows)
    if fmt == "jsonl":
        return write_jsonl(rows, out)
    if fmt == "csv":
        columns = article_columns() + (list(CAPTURE_COLUMNS) if captures else [])
        return write_csv(rows, columns, out)
    raise ValueError(f"unknown export format {fmt!r}")


# --------------------------------------------------------------------------- captures

CAPTURE_COLUMNS = ("capture_fetched_at", "capture_warc_file", "capture_offset", "capture_length")


def _batches(rows: Iterable[dict[str, Any]], size: int = 500) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def with_capture_references(
    engine: Engine, rows: Iterable[dict[str, Any]]
) -> Iterator[dict[str, Any]]:
    """The rows, each with where its latest capture's record is (empty without one)."""
    for batch in _batches(rows):
        latest = latest_captures_of(engine, [row["id"] for row in batch])
        for row in batch:
            capture = latest.get(row["id"])
            values = (
                (capture.fetched_at, capture.warc_file, capture.warc_offset, capture.warc_length)
                if capture
                else (None,) * len(CAPTURE_COLUMNS)
            )
            yield {**row, **dict(zip(CAPTURE_COLUMNS, values, strict=True))}


def write_warc(engine: Engine, rows: Iterable[dict[str, Any]], out: BinaryIO) -> int:
    """Every capture of the articles as one WARC file (gzip per record), as
    the crawls wrote them: a warcinfo record, then each capture's record and,
    for a revisit, the full record it refers to (once). The number of
    records copied."""
    folder = archive_dir(os.environ.get(ARCHIVE_DIR_ENV), engine.url.render_as_string(False))
    if folder is None:
        raise ArchiveUnavailable(f"no archive directory ({ARCHIVE_DIR_ENV} is off)")
    out.write(warcinfo_record("newscrawl-export.warc.gz"))
    copied: set[int] = set()
    for batch in _batches(rows):
        for capture in captures_of_articles(engine, [row["id"] for row in batch]):
            for record in (full_record(engine, capture), capture):
                if record is not None and record.id not in copied:
                    copied.add(record.id)
                    out.write(
                        read_raw(folder, record.warc_file, record.warc_offset, record.warc_length)
                    )
    out.flush()
    return len(copied)


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
    folder is missing or is not a folder, it is a folder itself, or we may not
    write it (a regular file is written beside it: its folder must be writable)."""
    path = Path(os.path.realpath(given)) if given.is_symlink() else given
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except NotADirectoryError:
        raise ExportTargetError(f"{path.parent} is not a folder") from None
    except OSError as exc:
        raise ExportTargetError(f"{path}: {exc.strerror or exc}") from None
    if mode is None or stat.S_ISREG(mode):
        _check_folder(path.parent)
    elif stat.S_ISDIR(mode):
        raise ExportTargetError(f"{given} is a folder")
    if mode is not None and not os.access(path, os.W_OK):
        raise ExportTargetError(f"no permission to write {path}")
    return ExportTarget(given, path, replace=mode is None or stat.S_ISREG(mode))


def _check_folder(folder: Path) -> None:
    """The folder a new or replaced file is written in: there, and writable."""
    try:
        mode = os.stat(folder).st_mode
    except FileNotFoundError:
        raise ExportTargetError(f"no folder {folder}") from None
    except NotADirectoryError:
        raise ExportTargetError(f"{folder} is not a folder") from None
    except OSError as exc:
        raise ExportTargetError(f"{folder}: {exc.strerror or exc}") from None
    if not stat.S_ISDIR(mode):
        raise ExportTargetError(f"{folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ExportTargetError(f"no permission to write in the folder {folder}")


def _no_follow(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NOFOLLOW, 0o666)


def _open(path: Path, opener: Callable[[str, int], int] | None = None) -> TextIO:
    """``path`` opened for writing text; a refusal is an :class:`ExportTargetError`."""
    try:
        return open(path, "w", encoding="utf-8", newline="", opener=opener)
    except OSError as exc:
        raise ExportTargetError(exc.strerror or str(exc)) from None


@contextmanager
def open_target(target: ExportTarget) -> Iterator[TextIO]:
    """The text file to export into. A regular file is replaced only when the
    block ends without an exception (the partial file is removed otherwise);
    a device or FIFO is written in place. A file that cannot be opened raises
    :class:`ExportTargetError`; errors while writing, OSError."""
    if not target.replace:
        with _open(target.path) as out:
            yield out
        return
    try:
        mode: int | None = stat.S_IMODE(os.stat(target.path).st_mode)
    except FileNotFoundError:
        mode = None  # a new file: the usual permissions (0666 less the umask)
    partial = target.path.with_name(f".{target.path.name}.{os.getpid()}.partial")
    try:
        with _open(partial, _no_follow) as out:
            if mode is not None:
                os.fchmod(out.fileno(), mode)  # the replaced file keeps its permissions
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, target.path)
    finally:
        partial.unlink(missing_ok=True)
