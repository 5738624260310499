"""Article pages read in extraction processes (crawler/extraction/processes.py): the same
rows as when the crawl process reads them, logs passed on, a dead extraction
process costs nothing, none outlives its crawl."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from support.processes import scrapy_crawl

from crawler.extraction.processes import (
    AUTO,
    AUTO_MIN_PAGES,
    IN_FLIGHT,
    ExtractionProcess,
    ExtractionProcessGone,
    PageReader,
    _Result,
    parse_processes,
    wants_extraction_process,
)
from crawler.extraction.reader import read_article_page
from crawler.scheduling.runner import PROJECT_ROOT, crawl_env
from crawler.sites.definitions import Site
from crawler.storage.database import get_engine

COLUMNS = (
    "url, title, body, author, section, tags, published_at, published_raw, content_hash, "
    "simhash, sources, duplicate_of"
)


def stored_rows(url: str) -> list[dict]:
    with get_engine(url).connect() as conn:
        return [
            dict(r)
            for r in conn.execute(text(f"select {COLUMNS} from articles order by url")).mappings()
        ]


def test_extraction_processes_store_what_the_crawl_process_would(sites_dir, tmp_path, monkeypatch):
    urls = {}
    for processes in ("0", "2"):
        urls[processes] = f"sqlite:///{tmp_path / f'archive-{processes}.db'}"
        monkeypatch.setenv("NEWSCRAWL_DATABASE_URL", urls[processes])
        proc = scrapy_crawl(
            "articles", "-a", "site=demo", "-s", f"EXTRACTION_PROCESSES={processes}"
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        if processes == "2":
            assert "article pages are read in 2 extraction process(es)" in proc.stderr
            # Pages that come before the processes are ready are read here: on a
            # busy machine not all 64 go there, and the rows must not differ.
            read_there = re.search(r"'newscrawl/extraction_processes/pages': (\d+)", proc.stderr)
            assert read_there is not None and int(read_there.group(1)) > 0
        else:
            assert "extraction_processes" not in proc.stderr
    inline, offloaded = stored_rows(urls["0"]), stored_rows(urls["2"])
    assert len(inline) == 64
    assert offloaded == inline


def test_a_bad_extraction_processes_value_stops_the_crawl(sites_dir, database_url):
    proc = scrapy_crawl("articles", "-a", "site=demo", "-s", "EXTRACTION_PROCESSES=many")
    assert proc.returncode == 2
    assert "EXTRACTION_PROCESSES takes auto or a whole number >= 0, got 'many'" in proc.stderr
    assert parse_processes(None) == parse_processes(" Auto ") == AUTO
    assert parse_processes("3") == 3
    with pytest.raises(ValueError):
        parse_processes("-1")


def test_auto_starts_a_process_only_when_reading_pages_is_a_large_share():
    assert wants_extraction_process(100, 2.0, 10.0, cpus=2)
    assert not wants_extraction_process(100, 0.5, 10.0, cpus=2)  # a polite crawl: 5%
    assert not wants_extraction_process(99, 9.0, 10.0, cpus=2)  # too early to judge
    assert not wants_extraction_process(100, 9.0, 10.0, cpus=1)  # no CPU to spare


@pytest.mark.e2e
@pytest.mark.serial  # compares the share of time spent reading pages: alone, not under load
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="auto needs a second CPU")
def test_auto_starts_an_extraction_process_for_a_busy_crawl_only():
    # A readable date: the one of PAGE sends the date parser through every
    # language it knows, which alone takes a sizeable share of the pauses below.
    body = PAGE.replace("sometime soon", "2024-05-01 10:00").encode()

    async def scenario(pause: float) -> bool:
        reader = PageReader(SITE, AUTO, Crawler())
        reader.open()
        try:
            for _ in range(AUTO_MIN_PAGES):
                await reader.read(body, "utf-8", "https://reader.example/a/1/", False, None)
                await asyncio.sleep(pause)  # waiting for the network, in a polite crawl
            return bool(reader.processes)
        finally:
            reader.close()

    assert asyncio.run(scenario(0.0))  # nothing but reading pages: one is started
    assert not asyncio.run(scenario(0.05))  # reading is a small share: none


class Stats:
    def __init__(self) -> None:
        self.values: dict[str, object] = {}

    def inc_value(self, key: str, count: int = 1) -> None:
        self.values[key] = self.values.get(key, 0) + count  # type: ignore[operator]

    def set_value(self, key: str, value: object) -> None:
        self.values[key] = value


class Crawler:
    def __init__(self) -> None:
        self.stats = Stats()


SITE = Site.model_validate(
    {
        "name": "reader",
        "base_url": "https://reader.example/",
        "article": {
            "title": "h1",
            "body": "div.story",
            "published": {"css": "p.when", "format": ["%d.%m.%Y"]},
            "fallback": False,
        },
    }
)
PAGE = """<html><head><link rel="canonical" href="https://reader.example/a/1/"></head><body>
<h1>Harbour  reopens</h1><p class="when">sometime soon</p>
<div class="story"><p>The harbour reopened on Monday after a storm closed it for a week.</p>
<p>Ferries run again from Tuesday.</p></div></body></html>"""
BODY = PAGE.encode()


async def wait_ready(reader: PageReader) -> None:
    for _ in range(600):
        if reader.ready:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the extraction process did not start")


@pytest.mark.e2e
def test_an_extraction_process_cleans_forwards_logs_and_can_die(caplog):
    expected = read_article_page(
        PAGE, "https://reader.example/a/1/?utm_source=x", SITE, False, None
    )
    assert expected is not None and expected.content_hash is not None

    async def scenario() -> None:
        reader = PageReader(SITE, 1, Crawler())
        reader.open()
        try:
            await wait_ready(reader)
            caplog.clear()
            article = await reader.read(
                BODY, "utf-8", "https://reader.example/a/1/?utm_source=x", False, None
            )
            assert article == expected  # cleaned, fingerprints and all
            assert article.title == "Harbour reopens" and article.simhash is None  # short body
            # The date the clean stage could not read was logged in the
            # extraction process, and logged again here.
            assert "could not read the date 'sometime soon'" in caplog.text
            assert reader.stats.values["newscrawl/extraction_processes/pages"] == 1

            # A page that cannot be read raises here what it raised there, with
            # its traceback, and the extraction process reads the next one.
            with pytest.raises(TypeError) as raised:
                await reader.read(BODY, "utf-8", 42, False, None)  # type: ignore[arg-type]
            assert "read_article_page" in str(raised.value.__cause__)
            assert reader.ready
            url = "https://reader.example/a/1/"
            assert await reader.read(BODY, "utf-8", url, False, None) == article
            assert reader.stats.values["newscrawl/extraction_processes/pages"] == 2

            # The body is decoded there as Scrapy would decode it here.
            cyrillic = PAGE.replace("Harbour  reopens", "Гавань открыта")
            assert cyrillic != PAGE
            there = await reader.read(cyrillic.encode("cp1251"), "cp1251", url, False, None)
            assert there == read_article_page(cyrillic, url, SITE, False, None)
            assert there is not None and there.title == "Гавань открыта"

            # The extraction process dies: its pages are read here, the crawl goes on.
            (pid,) = reader.peaks
            os.kill(pid, signal.SIGKILL)
            again = await reader.read(BODY, "utf-8", url, False, None)
            assert again == article  # read and cleaned here the same way
            assert reader.stats.values["newscrawl/extraction_processes/broken"] == 1
            assert "an extraction process died" in caplog.text
        finally:
            reader.close()

    with caplog.at_level(logging.INFO):
        asyncio.run(scenario())


@pytest.mark.e2e
def test_extraction_processes_end_with_a_killed_crawl(tmp_path):
    """A SIGKILL leaves nobody to shut the pool down: the extraction process
    notices its parent is gone and ends."""
    script = tmp_path / "crawl_stand_in.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import asyncio, sys, time
            sys.path.insert(0, {str(Path(__file__).parent)!r})
            from test_page_reader import SITE, Crawler, wait_ready
            from crawler.extraction.processes import PageReader

            async def main():
                reader = PageReader(SITE, 1, Crawler())
                reader.open()
                await wait_ready(reader)
                await reader.read(b"<h1>x</h1>", "utf-8", "https://reader.example/", False, None)
                print(*reader.peaks, flush=True)
                time.sleep(600)

            if __name__ == "__main__":  # extraction processes are spawned: they import this
                asyncio.run(main())
            """
        )
    )
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=PROJECT_ROOT,
        env=crawl_env("sqlite://"),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    try:
        worker = int(proc.stdout.readline())
        assert running(worker)
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    for _ in range(100):
        if not running(worker):
            return
        time.sleep(0.1)
    os.kill(worker, signal.SIGKILL)
    raise AssertionError("the extraction process outlived its crawl")


def running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.e2e
def test_an_extraction_process_that_cannot_start_is_reported_and_pages_are_read_here(caplog):
    async def scenario() -> None:
        process = ExtractionProcess(SITE, "NO SUCH LEVEL")  # type: ignore[arg-type]
        serving = asyncio.ensure_future(process.serve())
        await asyncio.wait_for(serving, 60)  # it fails setting up logging, and ends
        assert process.gone and not process.ready
        with pytest.raises(ExtractionProcessGone):
            await process.read(BODY, "utf-8", "https://reader.example/a/1/", False, None)
        process.close()

        # A reader whose only process is gone reads the page itself.
        reader = PageReader(SITE, 0, Crawler())
        reader.processes = [process]
        article = await reader.read(BODY, "utf-8", "https://reader.example/a/1/", False, None)
        assert article is not None and article.title == "Harbour reopens"

    with caplog.at_level(logging.WARNING):
        asyncio.run(scenario())
    assert "ended before it was ready" in caplog.text


@pytest.mark.e2e
def test_pages_waiting_for_a_dead_extraction_process_are_all_answered():
    """More pages than IN_FLIGHT at once, and the process dies while it reads
    them: every read ends, none waits for ever."""
    slow = PAGE.replace(
        "<p>Ferries run again from Tuesday.</p>",
        "<p>Ferries run again from Tuesday, and the harbour office stays open.</p>" * 30_000,
    ).encode()

    async def scenario() -> list[object]:
        process = ExtractionProcess(SITE, logging.WARNING)
        serving = asyncio.ensure_future(process.serve())
        for _ in range(600):
            if process.ready:
                break
            await asyncio.sleep(0.05)
        assert process.ready
        url = "https://reader.example/a/1/"
        reads = asyncio.gather(
            *(process.read(slow, "utf-8", url, False, None) for _ in range(IN_FLIGHT + 2)),
            return_exceptions=True,
        )
        for _ in range(600):  # the first page was sent whole, the others wait
            await asyncio.sleep(0.01)
            if process.pending and not process._writer.transport.get_write_buffer_size():
                break
        assert process.pending
        os.kill(process.pid, signal.SIGKILL)
        try:
            return await asyncio.wait_for(reads, 30)
        finally:
            process.close()
            await serving

    outcomes = asyncio.run(scenario())
    assert len(outcomes) == IN_FLIGHT + 2
    # Answered before the kill, or told the process is gone (and then read
    # in the crawl process by PageReader).
    assert all(isinstance(o, _Result | ExtractionProcessGone) for o in outcomes), outcomes
    assert isinstance(outcomes[-1], ExtractionProcessGone)


@pytest.mark.e2e
def test_pages_are_shared_between_extraction_processes_by_their_load():
    async def scenario() -> None:
        reader = PageReader(SITE, 2, Crawler())
        reader.open()
        try:
            for _ in range(600):
                if all(p.ready for p in reader.processes):
                    break
                await asyncio.sleep(0.05)
            url = "https://reader.example/a/1/"
            pages = 3 * IN_FLIGHT  # more than both processes take at once
            reads = [
                asyncio.ensure_future(reader.read(BODY, "utf-8", url, False, None))
                for _ in range(pages)
            ]
            await asyncio.sleep(0)  # each read has picked its process
            assert [p.load for p in reader.processes] == [pages // 2, pages // 2]
            assert all(a is not None and a.content_hash for a in await asyncio.gather(*reads))
            assert [p.load for p in reader.processes] == [0, 0]
        finally:
            reader.close()

    asyncio.run(scenario())
