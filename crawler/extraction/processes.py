"""Extraction processes: article pages read beside the crawl process when it
runs short of CPU, and the pool that hands pages to them.

A crawl runs on one thread (Scrapy's reactor): downloading, scheduling,
pipelines and, by default, reading every article page (parse, rules,
fallbacks). Against a fast site that thread is the limit, and reading pages
is a large part of its work (a fifth to a third against the benchmark
site). ``EXTRACTION_PROCESSES`` (Scrapy setting; environment
``NEWSCRAWL_EXTRACTION_PROCESSES``) moves that part to other processes:

- ``auto`` (the default): pages are read in the crawl process; after every
  100 article pages, if reading them took more than 15% of the time since
  the first of them and the machine has a second CPU, one extraction process
  takes over. A polite crawl (a few requests at a time, network latency)
  never gets there; a backfill against a fast server does.
- ``0``: always in the crawl process.
- ``N``: N extraction processes from the start.

An extraction process does what the crawl process would (the same
functions of crawler/extraction/reader.py): decode and parse the page,
check a guessed link, find the article's URL, apply the rules and
fallbacks, then clean the article and compute its fingerprints. Log
records of that work are sent back with the article and logged by the
crawl process, so they count in the run as always. If an extraction
process dies, the pages it was reading are read in the crawl process and
the crawl goes on there; nothing is lost.

Pages go to an extraction process, and its answers come back, over a Unix
socket pair that the crawl process reads on its event loop: handing a page
over starts no thread and waits for none. At most ``IN_FLIGHT`` pages per
process are on their way at a time. An extraction process ends when its end
of the connection closes: when the crawl is over, and when the crawl
process is gone, however it ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import logging
import multiprocessing
import os
import pickle
import resource
import signal
import socket
import struct
import time
import traceback
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crawler.extraction.reader import decode, read_article_page
from crawler.items import Article
from crawler.sites.definitions import Site

logger = logging.getLogger(__name__)

AUTO = "auto"
AUTO_MIN_PAGES = 100  # pages read in the crawl process between judgements of "auto"
AUTO_SHARE = 0.15  # of the time since the first of them, spent reading pages
PEAK_RSS_EVERY = 1.0  # seconds between two readings of an extraction process's peak RSS
IN_FLIGHT = 4  # pages sent to an extraction process at a time


def parse_processes(value: Any) -> int | str:
    """``auto`` or a whole number of processes, 0 or more."""
    text = str(value if value is not None else AUTO).strip().lower() or AUTO
    if text == AUTO:
        return AUTO
    try:
        number = int(text)
    except ValueError:
        number = -1
    if number < 0:
        raise ValueError(f"EXTRACTION_PROCESSES takes auto or a whole number >= 0, got {value!r}")
    return number


def wants_extraction_process(
    pages_read: int, seconds_reading: float, seconds_since_first: float, cpus: int
) -> bool:
    """``auto``'s judgement, once AUTO_MIN_PAGES pages were read here: is reading
    pages a large enough share of the crawl process's time, with a CPU to spare?"""
    return (
        cpus >= 2
        and pages_read >= AUTO_MIN_PAGES
        and seconds_reading > AUTO_SHARE * seconds_since_first
    )


# The garbage collector of a process that reads pages (an extraction process,
# or a crawl process while its engine runs: crawler/extensions/collector.py):
# the youngest generation collected every GEN0_THRESHOLD allocations of
# container objects instead of Python's 700, and what start-up made frozen
# out of the collections. Pages are read with objects by the thousand (the
# parsed tree's proxies, texts, lists), nearly all freed by the next page:
# collected every 700, many are caught alive and scanned again in the older
# generations.
GEN0_THRESHOLD = 10_000


def tune_collector() -> tuple[int, ...] | None:
    """Freeze what exists and collect the youngest generation every
    GEN0_THRESHOLD allocations: the thresholds before, or None (and nothing
    done) when the collector is off."""
    if not gc.isenabled():
        return None
    saved = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(GEN0_THRESHOLD, saved[0]), *saved[1:])
    return saved


# --------------------------------------------------------------------------- extraction processes

# An extraction process and the crawl process talk over a Unix socket pair:
# each message is a pickle after its length. The crawl process reads answers on
# its event loop, so a page handed over costs it no thread switch.
_LENGTH = struct.Struct("!Q")


@dataclass
class _Result:
    article: Article | None
    logs: list[tuple[str, int, str]]  # (logger, level, message)
    pid: int
    peak_rss_mb: float
    decoded: tuple[bool, int] = (False, 0)  # the page's Decoded.mislabelled and .replaced


@dataclass
class _Failure:
    """An exception raised while reading a page in an extraction process."""

    error: BaseException
    traceback: str


class _RemoteTraceback(Exception):
    def __str__(self) -> str:
        return str(self.args[0])


class ExtractionProcessGone(Exception):
    """The extraction process ended (or its connection broke) before answering."""


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + logging.Formatter().formatException(record.exc_info)
        self.records.append((record.name, record.levelno, message))


def _send(sock: socket.socket, message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(_LENGTH.pack(len(data)) + data)


def _serve(sock: socket.socket, site: Site, log_level: int) -> None:
    """An extraction process: read the pages the crawl process sends, answer
    each with its article, until the crawl process closes the connection or
    is gone (a SIGKILL closes its end too), then end."""
    # Ctrl-C reaches the whole process group: the crawl process decides.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    collect = _Collect()
    root = logging.getLogger()
    root.handlers[:] = [collect]
    root.setLevel(log_level)
    tune_collector()
    stream = sock.makefile("rb")
    try:
        _send(sock, (0, os.getpid()))  # ready
        while True:
            header = stream.read(_LENGTH.size)
            if len(header) < _LENGTH.size:
                return
            request_id, body, encoding, url, guessed, fetched_at = pickle.loads(
                stream.read(_LENGTH.unpack(header)[0])
            )
            collect.records = []
            answer: _Result | _Failure
            try:
                decoded = decode(body, encoding, url)
                article = read_article_page(decoded.text, url, site, guessed, fetched_at)
                answer = _Result(
                    article,
                    collect.records,
                    os.getpid(),
                    _recent_peak_rss_mb(),
                    (decoded.mislabelled, decoded.replaced),
                )
            except Exception as exc:
                answer = _Failure(_picklable(exc), traceback.format_exc())
            _send(sock, (request_id, answer))
    except OSError:
        return  # the crawl process is gone
    finally:
        stream.close()
        sock.close()


def _picklable(exc: Exception) -> Exception:
    """The exception itself if it can be sent to the crawl process, else its text."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


_peak = (0.0, -PEAK_RSS_EVERY)  # (MB, when read)


def _recent_peak_rss_mb() -> float:
    """The peak RSS, read again at most every PEAK_RSS_EVERY seconds: reading
    it for every page cost 3% of an extraction process's time."""
    global _peak
    now = time.monotonic()
    if now - _peak[1] >= PEAK_RSS_EVERY:
        _peak = (_peak_rss_mb(), now)
    return _peak[0]


def _peak_rss_mb() -> float:
    """This process's peak RSS. From /proc where there is one: ``ru_maxrss``
    carries over the RSS of the crawl process this one was forked from."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class ExtractionProcess:
    """One extraction process, as the crawl process sees it: pages are sent
    down its socket, and its answers are read on the crawl's event loop."""

    def __init__(self, site: Site, log_level: int) -> None:
        self._sock, theirs = socket.socketpair()
        self.process = multiprocessing.get_context("spawn").Process(
            target=_serve,
            args=(theirs, site, log_level),
            name="newscrawl-extraction",
            daemon=True,
        )
        try:
            self.process.start()
        finally:
            theirs.close()
        self.pid = self.process.pid
        self.ready = False  # it said it is ready
        self.gone = False
        self.pending: dict[int, asyncio.Future[Any]] = {}  # sent, not yet answered
        self.load = 0  # pages given to read(): sent, or waiting to be sent
        self._ids = itertools.count(1)
        self._writer: asyncio.StreamWriter | None = None
        # Pages sent and not yet answered: enough to keep the process busy;
        # the others wait here, not pickled in a buffer.
        self._in_flight = asyncio.Semaphore(IN_FLIGHT)

    async def serve(self) -> None:
        """Read the process's answers until it ends; then every page still
        waiting for one fails with :class:`ExtractionProcessGone`."""
        why: BaseException = ExtractionProcessGone("the extraction process ended")
        try:
            reader, self._writer = await asyncio.open_unix_connection(sock=self._sock)
            while True:
                header = await reader.readexactly(_LENGTH.size)
                request_id, answer = pickle.loads(
                    await reader.readexactly(_LENGTH.unpack(header)[0])
                )
                if request_id == 0:
                    self.ready = True
                    continue
                future = self.pending.pop(request_id, None)
                if future is not None and not future.done():
                    future.set_result(answer)
        except (OSError, EOFError, asyncio.IncompleteReadError, pickle.UnpicklingError) as exc:
            why = ExtractionProcessGone(f"the extraction process ended ({exc!r})")
            if not self.ready:
                logger.warning(
                    "extraction process %s ended before it was ready (%r): article pages "
                    "are read in the crawl process",
                    self.pid,
                    exc,
                )
        finally:
            self.gone, self.ready = True, False
            for future in self.pending.values():
                if not future.done():
                    future.set_exception(why)
            self.pending.clear()

    async def read(
        self, body: bytes, encoding: str, url: str, guessed: bool, fetched_at: datetime | None
    ) -> _Result:
        if self.gone or self._writer is None:
            raise ExtractionProcessGone("the extraction process ended")
        self.load += 1
        try:
            return await self._read(body, encoding, url, guessed, fetched_at)
        finally:
            self.load -= 1

    async def _read(
        self, body: bytes, encoding: str, url: str, guessed: bool, fetched_at: datetime | None
    ) -> _Result:
        async with self._in_flight:
            if self.gone or self._writer is None:  # it ended while this page waited
                raise ExtractionProcessGone("the extraction process ended")
            request_id = next(self._ids)
            future = asyncio.get_running_loop().create_future()
            self.pending[request_id] = future
            data = pickle.dumps(
                (request_id, body, encoding, url, guessed, fetched_at),
                protocol=pickle.HIGHEST_PROTOCOL,
            )
            self._writer.write(_LENGTH.pack(len(data)) + data)
            # A connection that breaks meanwhile ends serve(), which fails the
            # future with ExtractionProcessGone: the answer, either way.
            with contextlib.suppress(ConnectionError):
                await self._writer.drain()
            answer = await future
        if isinstance(answer, _Failure):
            raise answer.error from _RemoteTraceback(answer.traceback)
        return answer

    def close(self, timeout: float = 10.0) -> None:
        """End the process: it sees its connection close, finishes the page it
        is reading and ends; one still there after ``timeout`` is killed."""
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        if self._writer is not None:
            self._writer.close()
        else:
            self._sock.close()
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


class PageReader:
    """Reads a spider's article pages, here or in extraction processes."""

    def __init__(self, site: Site, processes: int | str, crawler: Any) -> None:
        self.site = site
        self.mode = processes
        self.crawler = crawler
        self.processes: list[ExtractionProcess] = []
        self._serving: list[asyncio.Task[None]] = []
        self.broken = False
        self.read_here = 0
        self.seconds_here = 0.0
        self.first_read: float | None = None
        self.peaks: dict[int, float] = {}  # peak RSS (MB) of each extraction process

    @property
    def stats(self) -> Any:
        return self.crawler.stats

    @property
    def ready(self) -> bool:
        """An extraction process is there to read the next page."""
        return not self.broken and any(p.ready for p in self.processes)

    def open(self) -> None:
        if isinstance(self.mode, int) and self.mode > 0:
            self._start_processes(self.mode)

    def _start_processes(self, count: int) -> None:
        level = logging.getLogger().getEffectiveLevel()
        try:
            for _ in range(count):
                self.processes.append(ExtractionProcess(self.site, level))
        except OSError as exc:
            logger.warning(
                "extraction processes could not start (%s): article pages are read in the "
                "crawl process",
                exc,
            )
            self.broken = True
            return
        self._serving = [asyncio.ensure_future(p.serve()) for p in self.processes]
        self.stats.set_value("newscrawl/extraction_processes", count)
        logger.info("article pages are read in %d extraction process(es)", count)

    def _auto_start(self) -> None:
        """``auto``: judge the last AUTO_MIN_PAGES pages read here; start an
        extraction process if they took a large share of the time, else look
        again after the next ones."""
        if self.mode != AUTO or self.processes or self.read_here < AUTO_MIN_PAGES:
            return
        assert self.first_read is not None
        since_first = time.perf_counter() - self.first_read
        if wants_extraction_process(
            self.read_here, self.seconds_here, since_first, os.cpu_count() or 1
        ):
            logger.info(
                "reading article pages took %.0f%% of the crawl process's time: "
                "starting an extraction process (EXTRACTION_PROCESSES=auto)",
                self.seconds_here / since_first * 100,
            )
            self._start_processes(1)
        self.read_here, self.seconds_here, self.first_read = 0, 0.0, None

    async def read(
        self, body: bytes, encoding: str, url: str, guessed: bool, fetched_at: datetime | None
    ) -> Article | None:
        """The article of a page, from its body and encoding (a Scrapy response's
        ``body`` and ``encoding``); cleaned already when an extraction process
        read it, which is also where the body is decoded. Raises
        :class:`UndecodablePage` for a page no charset decodes (see :func:`decode`)."""
        if self.ready:
            process = min((p for p in self.processes if p.ready), key=lambda p: p.load)
            try:
                result = await process.read(body, encoding, url, guessed, fetched_at)
            except ExtractionProcessGone:
                if not self.broken:
                    self.broken = True
                    logger.error(
                        "an extraction process died: article pages are read in the crawl "
                        "process from now on"
                    )
                    self.stats.inc_value("newscrawl/extraction_processes/broken")
            else:
                for name, level, message in result.logs:
                    logging.getLogger(name).log(level, "%s", message)
                self.stats.inc_value("newscrawl/extraction_processes/pages")
                self.peaks[result.pid] = result.peak_rss_mb
                self._count_decoding(*result.decoded)
                return result.article
        started = time.perf_counter()
        if self.first_read is None:
            self.first_read = started
        decoded = decode(body, encoding, url)
        self._count_decoding(decoded.mislabelled, decoded.replaced)
        article = read_article_page(decoded.text, url, self.site, guessed, fetched_at)
        self.seconds_here += time.perf_counter() - started
        self.read_here += 1
        self._auto_start()
        return article

    def _count_decoding(self, mislabelled: bool, replaced: int) -> None:
        if mislabelled:
            self.stats.inc_value("newscrawl/charset_mislabelled")
        if replaced:
            self.stats.inc_value("newscrawl/charset_bad_bytes_kept")

    def close(self) -> None:
        if not self.processes:
            return
        processes, self.processes = self.processes, []
        if self.peaks:
            total = round(sum(self.peaks.values()), 1)
            self.stats.set_value("newscrawl/extraction_processes/peak_rss_mb", total)
        for process in processes:
            process.close()
        for task in self._serving:
            task.cancel()
        self._serving = []
