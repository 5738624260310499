"""WARC files: where the archive is (``NEWSCRAWL_ARCHIVE_DIR``), the files a
crawl process writes and reading one record back.

A crawl process writes one file at a time, named after the time it was
opened, the host and the process: ``newscrawl-20261207T131500Z-HOST-PID-00000.warc.gz``.
Each record is gzipped on its own (a member per record, as WARC tools
expect) and written with one ``write``: a process killed at any moment leaves
a file whose every record is whole, up to the last one written. A file past
``NEWSCRAWL_ARCHIVE_FILE_SIZE`` bytes is closed and the next one begun.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from isal import isal_zlib
from sqlalchemy.engine import make_url
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

ARCHIVE_DIR_ENV = "NEWSCRAWL_ARCHIVE_DIR"
FILE_SIZE_ENV = "NEWSCRAWL_ARCHIVE_FILE_SIZE"
DEFAULT_FILE_SIZE = 1_000_000_000  # bytes: a file is closed once past it
OFF = "off"
# Records are compressed by ISA-L (the ``isal`` package): the same gzip
# format every WARC reader reads, at a fifth of zlib's CPU at its fastest
# level and no larger (docs/performance.md, the page archive). Level 1 of
# ISA-L's 0-3: about 12% larger records than warcio's zlib level 9.
GZIP_LEVEL = 1
GZIP_WBITS = isal_zlib.MAX_WBITS + 16  # a gzip header and trailer, not zlib's
# Headers that describe the bytes on the wire, not the payload kept: the
# payload is stored as the crawl read it (decompressed, de-chunked).
WIRE_HEADERS = ("content-encoding", "transfer-encoding", "content-length")


class ArchiveUnavailable(Exception):
    """The archive directory cannot be written (or a record cannot be read)."""


def archive_dir(setting: str | None, database_url: str) -> Path | None:
    """The archive directory: the setting, else ``archive/`` beside a SQLite
    database file, else ``archive/`` in the working directory; None when
    the setting is ``off`` (or the database is in memory)."""
    value = (setting or "").strip()
    if value.lower() == OFF:
        return None
    if value:
        return Path(value).expanduser()
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            return None
        return Path(url.database).expanduser().resolve().parent / "archive"
    return Path.cwd() / "archive"


def file_size_limit(setting: object) -> int:
    """``NEWSCRAWL_ARCHIVE_FILE_SIZE``: bytes, with an optional K, M or G."""
    text = str(setting or "").strip().upper().removesuffix("B")
    if not text:
        return DEFAULT_FILE_SIZE
    units = {"K": 10**3, "M": 10**6, "G": 10**9}
    factor = units.get(text[-1], 1)
    number = text[:-1] if text[-1] in units else text
    try:
        size = int(float(number) * factor)
    except ValueError:
        raise ValueError(
            f"{FILE_SIZE_ENV} takes a size in bytes (e.g. 1G, 500M), got {setting!r}"
        ) from None
    if size < 1:
        raise ValueError(f"{FILE_SIZE_ENV} must be positive, got {setting!r}")
    return size


def check_writable(folder: Path) -> None:
    """Create ``folder`` and write a file in it, or raise ArchiveUnavailable."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".newscrawl-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ArchiveUnavailable(
            f"the archive directory {folder} cannot be written ({exc.strerror or exc}); "
            f"set {ARCHIVE_DIR_ENV} to a writable directory, or to 'off'"
        ) from None


def payload_digest(payload: bytes) -> str:
    """The WARC payload digest of ``payload``: ``sha1:`` and base32, as warcio writes it."""
    return "sha1:" + base64.b32encode(hashlib.sha1(payload).digest()).decode("ascii")


def host_name() -> str:
    return socket.gethostname().split(".")[0] or "localhost"


@dataclass(frozen=True)
class Written:
    """Where a record went: the file (relative to the archive directory), offset and length."""

    warc_file: str
    offset: int
    length: int


@dataclass
class Page:
    """A page as fetched, to be written as a ``request`` and a ``response`` record."""

    url: str
    status: int
    reason: str
    protocol: str
    method: str
    request_headers: list[tuple[str, str]]
    response_headers: list[tuple[str, str]]
    body: bytes
    fetched_at: datetime


class WarcFiles:
    """The WARC files of one crawl process: records appended under a lock,
    each whole with one write; a new file past ``size_limit`` bytes.

    A process that runs many crawls (a crawl host) writes them all to one
    file: :meth:`shared` gives each crawl the process's files for a folder,
    and :meth:`release` closes them when the last crawl using them ends, or,
    with ``keep_open`` (set by a crawl host), leaves them open for the next
    crawl: a file per host and ``size_limit``, not one per crawl."""

    _shared: dict[Path, WarcFiles] = {}
    _shared_lock = threading.Lock()
    keep_open = False

    def __init__(self, folder: Path, size_limit: int = DEFAULT_FILE_SIZE) -> None:
        self.folder = folder
        self.size_limit = size_limit
        self.host = host_name()
        self.serial = 0
        self.started = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._name = ""
        self._size = 0
        self.files: list[str] = []
        self.users = 0

    @classmethod
    def shared(cls, folder: Path, size_limit: int = DEFAULT_FILE_SIZE) -> WarcFiles:
        """This process's files in ``folder``, one more crawl using them."""
        with cls._shared_lock:
            files = cls._shared.get(folder)
            if files is None:
                files = cls._shared[folder] = cls(folder, size_limit)
            files.users += 1
            return files

    def release(self) -> None:
        """One crawl less uses them: closed after the last."""
        with WarcFiles._shared_lock:
            self.users -= 1
            if self.users > 0 or WarcFiles.keep_open:
                return
            if WarcFiles._shared.get(self.folder) is self:
                del WarcFiles._shared[self.folder]
        with self._lock:
            self.close()

    def _open(self) -> None:
        self._name = f"newscrawl-{self.started}-{self.host}-{os.getpid()}-{self.serial:05d}.warc.gz"
        self.serial += 1
        path = self.folder / self._name
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._size = os.fstat(self._fd).st_size
        self.files.append(self._name)
        self._append(warcinfo_record(self._name, self.host))

    def _append(self, data: bytes) -> int:
        assert self._fd is not None
        offset = self._size
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError:
            # A full disk: what part of the record was written is cut off, so
            # the file stays whole records only and the next offset is right.
            os.ftruncate(self._fd, offset)
            raise
        self._size += len(data)
        return offset

    def write(
        self, page: Page, revisit_of: tuple[str, datetime] | None, digest: str | None = None
    ) -> Written:
        """Write ``page``'s request and response records (a ``revisit``
        record when ``revisit_of`` gives the URL and time of an identical
        earlier capture): where its response or revisit record is.
        ``digest``: the body's :func:`payload_digest`, when known."""
        response, request = page_records(page, revisit_of, digest)
        data = response + request
        with self._lock:
            if self._fd is None or self._size >= self.size_limit:
                self.close()
                self._open()
            offset = self._append(data)
            return Written(self._name, offset, len(response))

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


# The records of a page are written out here, as warcio's WARCWriter writes
# them (the same headers in the same order, the same digests), without its
# record objects and stream copies: a third of what keeping a page cost the
# crawl's reactor thread. tests/test_archive_capture.py compares the two.
_WARC_VERSION = "WARC/1.0"
_REVISIT_PROFILE = "http://netpreserve.org/warc/1.0/revisit/identical-payload-digest"
_EMPTY_DIGEST = "sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ"  # payload_digest(b"")


def _sha1(*parts: bytes) -> str:
    digest = hashlib.sha1()
    for part in parts:
        digest.update(part)
    return "sha1:" + base64.b32encode(digest.digest()).decode("ascii")


def _http_block(http: StatusAndHeaders) -> bytes:
    """The HTTP headers as warcio writes them: ASCII, else (a header with
    other characters) left to warcio, which percent-encodes them."""
    first = " ".join(part for part in (http.protocol, http.statusline) if part)
    text = (first + "\r\n" if first else "") + "".join(
        f"{name}: {value}\r\n" for name, value in http.headers
    )
    try:
        return text.encode("ascii") + b"\r\n"
    except UnicodeEncodeError:
        return http.to_ascii_bytes()


def _member(warc_headers: list[tuple[str, str]], *block: bytes) -> bytes:
    """A record (its WARC headers, then its block) as a gzip member of its own."""
    head = _WARC_VERSION + "\r\n" + "".join(f"{n}: {v}\r\n" for n, v in warc_headers)
    data = b"".join((head.encode("utf-8"), b"\r\n", *block, b"\r\n\r\n"))
    return isal_zlib.compress(data, GZIP_LEVEL, GZIP_WBITS)


def _record_id() -> str:
    return f"<urn:uuid:{uuid.uuid4()}>"


def page_records(
    page: Page, revisit_of: tuple[str, datetime] | None, digest: str | None = None
) -> tuple[bytes, bytes]:
    """The page's response (or revisit) record and its request record, each
    a gzip member. ``digest``: the body's :func:`payload_digest`, when known."""
    digest = digest or payload_digest(page.body)
    date = page.fetched_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    http = _http_block(
        StatusAndHeaders(
            f"{page.status} {page.reason}".strip(), page.response_headers, protocol=page.protocol
        )
    )
    record_id = _record_id()
    headers = [("WARC-Date", date)]
    if revisit_of is None:
        headers += [
            ("WARC-Type", "response"),
            ("WARC-Record-ID", record_id),
            ("WARC-Target-URI", page.url),
            ("WARC-Payload-Digest", digest),
            ("WARC-Block-Digest", _sha1(http, page.body)),
            ("Content-Type", "application/http; msgtype=response"),
            ("Content-Length", str(len(http) + len(page.body))),
        ]
        response = _member(headers, http, page.body)
    else:
        refers_to, refers_at = revisit_of
        headers += [
            ("WARC-Type", "revisit"),
            ("WARC-Record-ID", record_id),
            ("WARC-Target-URI", page.url),
            ("WARC-Profile", _REVISIT_PROFILE),
            ("WARC-Refers-To-Target-URI", refers_to),
            ("WARC-Refers-To-Date", refers_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")),
            ("WARC-Payload-Digest", digest),
            ("WARC-Block-Digest", _sha1(http)),
            ("Content-Type", "application/http; msgtype=response"),
            ("Content-Length", str(len(http))),
        ]
        response = _member(headers, http)
    return response, _request_record(page, date, record_id)


def _request_record(page: Page, date: str, concurrent_to: str) -> bytes:
    http = _http_block(
        StatusAndHeaders(
            f"{page.method} {_target(page.url)} {page.protocol}",
            page.request_headers,
            is_http_request=True,
        )
    )
    return _member(
        [
            ("WARC-Date", date),
            ("WARC-Concurrent-To", concurrent_to),
            ("WARC-Type", "request"),
            ("WARC-Record-ID", _record_id()),
            ("WARC-Target-URI", page.url),
            ("WARC-Payload-Digest", _EMPTY_DIGEST),
            ("WARC-Block-Digest", _sha1(http)),
            ("Content-Type", "application/http; msgtype=request"),
            ("Content-Length", str(len(http))),
        ],
        http,
    )


def warcinfo_record(name: str, host: str | None = None) -> bytes:
    """The ``warcinfo`` record that begins a WARC file, gzipped."""
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=True)
    info = {"software": "newscrawl", "hostname": host or host_name()}
    writer.write_record(writer.create_warcinfo_record(name, info))
    return buffer.getvalue()


def _target(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def read_raw(folder: Path, warc_file: str, offset: int, length: int) -> bytes:
    """The bytes of one record as stored: a gzip member."""
    path = folder / warc_file
    try:
        with path.open("rb") as stream:
            stream.seek(offset)
            data = stream.read(length)
    except OSError as exc:
        raise ArchiveUnavailable(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) < length:
        raise ArchiveUnavailable(f"{path} ends before the record at offset {offset}")
    return data


def record_parts(raw: bytes) -> tuple[bytes, bytes]:
    """A record's WARC and HTTP headers as text, and its payload."""
    for record in ArchiveIterator(io.BytesIO(raw)):
        out = io.BytesIO()
        out.write(record.rec_headers.to_bytes())
        if record.http_headers is not None:
            out.write(record.http_headers.to_bytes())
        return out.getvalue(), record.content_stream().read()
    raise ArchiveUnavailable("no WARC record there")


def read_record(folder: Path, warc_file: str, offset: int, length: int) -> tuple[bytes, bytes]:
    """One record of the archive: its headers and its payload."""
    try:
        return record_parts(read_raw(folder, warc_file, offset, length))
    except ArchiveUnavailable as exc:
        raise ArchiveUnavailable(f"{warc_file} at offset {offset}: {exc}") from None
