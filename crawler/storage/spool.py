"""The spool: what a crawl could not write while its database was unreachable,
kept on local disk until it can be written.

Under ``NEWSCRAWL_SPOOL_DIR`` (default ``$XDG_STATE_HOME/newscrawl/spool``,
that is ``~/.local/state/newscrawl/spool``) each database has a folder, named
by a hash of its URL without the password, a SQLite file by its absolute
path (``database.txt`` in the folder names the database). In it, each crawl
process that needed the spool has one JSON Lines file; each line is one
record: a batch of articles, a top-stories snapshot, rejected items, or the
final state of a run row. A line is flushed to disk before the crawl goes on,
so a process killed afterwards loses nothing.

The process writing a file holds an exclusive ``flock`` on it; the lock ends
with the process, however it ends. The writer replays its own file once the
database answers again; a file nobody holds is replayed by the next crawl of
the same database (:meth:`Spool.replay_abandoned`). Records are written in
order and ``FILE.done`` counts those already written, so a replay cut short
resumes where it stopped. Articles are upserts by URL: a batch written twice
adds nothing.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from crawler.items import Article, TopStoriesSnapshot, TopStory
from crawler.storage.database import without_secrets

logger = logging.getLogger(__name__)

SPOOL_DIR_ENV = "NEWSCRAWL_SPOOL_DIR"


def default_spool_dir() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(state) / "newscrawl" / "spool"


def spool_dir(setting: str | None = None) -> Path:
    """The setting given, else ``NEWSCRAWL_SPOOL_DIR``, else the default."""
    return Path(setting or os.environ.get(SPOOL_DIR_ENV) or default_spool_dir())


def database_unreachable(exc: BaseException) -> bool:
    """Is this a failure to reach the database (down, locked, connection lost),
    as opposed to a fault in what was written?"""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeoutError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def short_error(exc: BaseException) -> str:
    """The driver's first line, without SQLAlchemy's statement and parameters."""
    return (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0]


def database_label(db_url: str) -> str:
    """The database's URL without its password, in ``user:pass@`` or as a
    ``?password=`` / ``?sslpassword=`` parameter (given or not, the same
    database); a SQLite file by its absolute path, so two working folders'
    ``newscrawl.db`` are two databases."""
    url = without_secrets(make_url(db_url))
    name = url.database or ""
    if url.get_backend_name() == "sqlite" and name not in ("", ":memory:"):
        if not name.startswith("file:"):
            url = url.set(database=str(Path(name).resolve()))
    return url.render_as_string(hide_password=False)


# --------------------------------------------------------------------------- records


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, Article):
        return dataclasses.asdict(value)
    raise TypeError(f"cannot spool {type(value).__name__}")


def _decode(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and "$datetime" in obj:
        return datetime.fromisoformat(obj["$datetime"])
    return obj


def _known_fields(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def articles_record(
    articles: list[Article], run_id: int | None, pages_fetched: int | None = None
) -> dict[str, Any]:
    """A batch of articles: the items themselves until the record is spooled
    (JSON then), so a batch written at once costs no copy. The run's row
    counts it when it is written (with the pages the crawl had fetched)."""
    return {
        "kind": "articles",
        "run_id": run_id,
        "items": list(articles),
        "pages_fetched": pages_fetched,
    }


def _article(data: Article | dict[str, Any]) -> Article:
    return data if isinstance(data, Article) else Article(**_known_fields(Article, data))


def top_stories_record(snapshot: TopStoriesSnapshot, run_id: int | None) -> dict[str, Any]:
    return {"kind": "top_stories", "run_id": run_id, "snapshot": dataclasses.asdict(snapshot)}


def rejected_record(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"kind": "rejected", "rows": rows}


def run_end_record(
    run_id: int, status: str, counts: dict[str, Any], finish_reason: str
) -> dict[str, Any]:
    return {
        "kind": "run_end",
        "run_id": run_id,
        "status": status,
        "counts": counts,
        "finish_reason": finish_reason,
    }


def record_size(record: dict[str, Any]) -> int:
    """How many scraped items a record holds (a run row counts as none)."""
    kind = record["kind"]
    if kind == "articles":
        return len(record["items"])
    if kind == "rejected":
        return len(record["rows"])
    return 1 if kind == "top_stories" else 0


@dataclass
class Written:
    """What a replay wrote."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    snapshots: int = 0
    top_story_entries: int = 0
    rejected: int = 0
    run_rows: int = 0
    items: int = 0
    runs: set[int] = field(default_factory=set)  # the runs that spooled them


def write_record(store: Any, record: dict[str, Any], written: Written) -> None:
    kind = record["kind"]
    if kind == "articles":
        counts = store.save_articles(
            [_article(a) for a in record["items"]],
            run_id=record.get("run_id"),
            pages_fetched=record.get("pages_fetched"),
        )
        written.new += counts.new
        written.updated += counts.updated
        written.unchanged += counts.unchanged
    elif kind == "top_stories":
        data = _known_fields(TopStoriesSnapshot, record["snapshot"])
        data["entries"] = [TopStory(**e) for e in data.get("entries", [])]
        written.top_story_entries += store.save_top_stories(
            TopStoriesSnapshot(**data), record.get("run_id")
        )
        written.snapshots += 1
    elif kind == "rejected":
        store.save_rejected(record["rows"])
        written.rejected += len(record["rows"])
    elif kind == "run_end":
        store.finish_run(
            record["run_id"], record["status"], record["counts"], record["finish_reason"]
        )
        written.run_rows += 1
    else:
        raise ValueError(f"unknown spool record kind {kind!r}")
    written.items += record_size(record)
    if record.get("run_id") is not None:
        written.runs.add(record["run_id"])


# --------------------------------------------------------------------------- files


def _read_records(f: IO[str]) -> list[dict[str, Any]]:
    f.seek(0)
    records = []
    for line in f:
        try:
            records.append(json.loads(line, object_hook=_decode))
        except ValueError:
            # Only the last line can be cut short (the process died writing it);
            # what it held was never confirmed as spooled.
            logger.warning("spool: skipped an incomplete line in %s", f.name)
    return records


def _done_count(path: Path) -> int:
    try:
        return int(path.with_name(path.name + ".done").read_text())
    except (OSError, ValueError):
        return 0


def _set_done_count(path: Path, count: int) -> None:
    done = path.with_name(path.name + ".done")
    temporary = done.with_name(done.name + ".tmp")
    temporary.write_text(str(count))
    os.replace(temporary, done)


def _remove(path: Path) -> None:
    for name in (path, path.with_name(path.name + ".done")):
        name.unlink(missing_ok=True)


def _replay_file(f: IO[str], path: Path, store: Any, written: Written) -> None:
    """Write the file's records not yet written, in order. A failure is raised
    at the record that failed; the ones before it count as written."""
    records = _read_records(f)
    for index in range(_done_count(path), len(records)):
        write_record(store, records[index], written)
        _set_done_count(path, index + 1)


class Spool:
    """The spool of one database, as seen by one process."""

    def __init__(self, root: Path, db_url: str) -> None:
        label = database_label(db_url)
        self.folder = Path(root) / hashlib.sha256(label.encode()).hexdigest()[:16]
        self.database = label
        self.path: Path | None = None
        self._file: IO[str] | None = None
        self._lock = threading.Lock()

    def _open_own(self) -> IO[str]:
        if self._file is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            (self.folder / "database.txt").write_text(self.database + "\n")
            stamp = time.strftime("%Y%m%dT%H%M%S")
            self.path = self.folder / f"{stamp}-{socket.gethostname()}-{os.getpid()}.jsonl"
            self._file = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held open
            fcntl.flock(self._file, fcntl.LOCK_EX)
        return self._file

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, default=_encode, ensure_ascii=False) + "\n"
        with self._lock:
            f = self._open_own()
            f.seek(0, os.SEEK_END)
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    @property
    def pending(self) -> bool:
        """Does our own file hold records not written yet?"""
        return self._file is not None

    def items_left(self) -> int:
        """How many items our own file holds that are not written yet."""
        with self._lock:
            if self._file is None or self.path is None:
                return 0
            records = _read_records(self._file)[_done_count(self.path) :]
            return sum(record_size(r) for r in records)

    def close(self) -> None:
        """Let go of our own file (and its lock): what it holds waits for the
        next crawl. A crawl process needs not call it; its end does the same."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file, self.path = None, None

    def replay_own(self, store: Any) -> Written:
        """Write our own spooled records; the file goes once all are written.
        A database failure is raised (the rest stays spooled)."""
        written = Written()
        with self._lock:
            if self._file is None or self.path is None:
                return written
            _replay_file(self._file, self.path, store, written)
            _remove(self.path)
            self._file.close()
            self._file, self.path = None, None
        return written

    def replay_abandoned(self, store: Any) -> Written:
        """Write the records of spool files no live process holds (left by
        crawls that ended before the database came back, or were killed)."""
        written = Written()
        if not self.folder.is_dir():
            return written
        files = sorted(self.folder.glob("*.jsonl"), key=lambda p: (p.stat().st_mtime, p.name))
        for path in files:
            if path == self.path:
                continue
            try:
                f = open(path, encoding="utf-8")  # noqa: SIM115 - closed below
            except FileNotFoundError:
                continue  # replayed by another process meanwhile
            with f:
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # its crawl is still running
                if os.fstat(f.fileno()).st_nlink == 0:
                    continue  # replayed and removed while we waited
                try:
                    _replay_file(f, path, store, written)
                except Exception as exc:
                    if database_unreachable(exc):
                        raise
                    failed = path.with_name(path.name + ".failed")
                    os.replace(path, failed)
                    logger.error(
                        "spool: %s could not be written (%s); moved to %s", path, exc, failed
                    )
                    continue
                _remove(path)
                logger.info("spool: wrote %s and removed it", path)
        return written


_spools: dict[tuple[str, str], Spool] = {}
_spools_lock = threading.Lock()


def get_spool(root: str | Path, db_url: str) -> Spool:
    """One spool per folder and database per process, shared by the store
    pipeline and the run history."""
    key = (str(root), db_url)
    with _spools_lock:
        if key not in _spools:
            _spools[key] = Spool(Path(root), db_url)
        return _spools[key]


# --------------------------------------------------------------------------- depth


def spool_files(root: str | Path, db_url: str) -> list[Path]:
    """The database's spool files (written by live crawls or waiting for the
    next one), without opening them."""
    folder = Spool(Path(root), db_url).folder
    if not folder.is_dir():
        return []
    return sorted(folder.glob("*.jsonl"))


def items_waiting(path: Path) -> int:
    """How many scraped items ``path`` holds that are not written yet. It
    takes no lock: a line being written (or cut short) counts as nothing."""
    done = _done_count(path)
    items = 0
    try:
        with open(path, encoding="utf-8") as f:
            for index, line in enumerate(f):
                if index < done:
                    continue
                try:
                    items += record_size(json.loads(line))
                except (ValueError, KeyError, TypeError):
                    continue
    except OSError:  # replayed and removed meanwhile, or not readable
        return 0
    return items
