"""Pages kept as WARC records (docs/archive.md): real crawls through Scrapy
against sites served on 127.0.0.1, the files read back with warcio's own
reader, the ``captures`` table and ``newscrawl show`` / ``capture``."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.archive import Archive
from support.processes import newscrawl_cli, scrapy_crawl
from support.sites import (
    NewsSite,
    Reply,
    ScriptedSite,
    article_html,
    paragraphs,
    site_definition,
)
from warcio.archiveiterator import ArchiveIterator

from crawler.scheduling.runner import PROJECT_ROOT, crawl_env
from crawler.storage.store import Store


@pytest.fixture
def paper(tmp_path, monkeypatch, database_url):
    server = ScriptedSite()
    folder = tmp_path / "sites"
    folder.mkdir()
    (folder / "paper.yaml").write_text(
        site_definition("paper", server.url, [server.url + "/news/"])
    )
    monkeypatch.setenv("NEWSCRAWL_SITES_DIR", str(folder))
    monkeypatch.setenv("NEWSCRAWL_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.setenv("NEWSCRAWL_ARCHIVE_DIR", str(tmp_path / "warc"))
    yield server
    server.close()


def newscrawl(*args: str) -> subprocess.CompletedProcess:
    return newscrawl_cli(*args, text=False)


def records(folder: Path) -> list[dict]:
    """Every record of every WARC file in ``folder``, read with warcio."""
    out = []
    for path in sorted(folder.glob("*.warc.gz")):
        with path.open("rb") as stream:
            it = ArchiveIterator(stream)
            for record in it:
                payload = record.content_stream().read()  # before the offset is asked
                out.append(
                    {
                        "file": path.name,
                        "offset": it.get_record_offset(),
                        "type": record.rec_type,
                        "url": record.rec_headers.get_header("WARC-Target-URI"),
                        "digest": record.rec_headers.get_header("WARC-Payload-Digest"),
                        "payload": payload,
                    }
                )
    return out


def test_every_page_is_kept_and_an_unchanged_one_becomes_a_revisit(paper, tmp_path, database_url):
    site = NewsSite(paper, delay=0.0)
    site.publish(5)
    first = scrapy_crawl("articles", "-a", "site=paper")
    assert first.returncode == 0, first.stderr[-2000:]
    warc = tmp_path / "warc"
    files = list(warc.glob("*.warc.gz"))
    assert len(files) == 1 and f"-{os.uname().nodename.split('.')[0]}-" in files[0].name
    kept = records(warc)
    assert kept[0]["type"] == "warcinfo"
    responses = {r["url"].removeprefix(paper.url): r for r in kept if r["type"] == "response"}
    # Listing pages and robots.txt too, each with its request record.
    assert set(responses) == {"/robots.txt", "/news/", *(f"/a/{n}" for n in range(1, 6))}
    assert sum(r["type"] == "request" for r in kept) == len(responses)
    served = article_html("Story 3", paragraphs(3)).encode()
    assert responses["/a/3"]["payload"] == served

    archive = Archive(database_url)
    captures = archive.rows(
        "select c.*, a.url as article_url from captures c join articles a on a.id = c.article_id"
    )
    assert len(captures) == 5
    for row in captures:
        record = responses[row["url"].removeprefix(paper.url)]
        assert row["url"] == row["article_url"]
        assert (row["warc_file"], row["warc_offset"]) == (record["file"], record["offset"])
        assert row["payload_digest"] == record["digest"]
        assert (row["record_type"], row["http_status"], row["kind"]) == ("response", 200, "article")
        assert row["host"] in row["warc_file"]

    # Fetched again: four pages unchanged (revisit records), one changed.
    paper.reply("/a/3", Reply(200, served.replace(b"Story 3</h1>", b"Story 3 updated</h1>")))
    again = scrapy_crawl("articles", "-a", "site=paper", "-a", "refetch=true")
    assert again.returncode == 0, again.stderr[-2000:]
    latest = archive.rows(
        "select article_id, record_type from captures where id > :last order by id",
        last=max(r["id"] for r in captures),
    )
    assert sorted(r["record_type"] for r in latest) == ["response"] + ["revisit"] * 4
    revisit = next(r for r in latest if r["record_type"] == "revisit")["article_id"]
    assert any(r["type"] == "revisit" for r in records(warc))

    # `capture` prints the page, from the full record a revisit refers to.
    page = newscrawl("capture", str(revisit))
    assert page.returncode == 0, page.stderr
    number = archive.scalar("select url from articles where id = :id", id=revisit).rsplit("/")[-1]
    assert page.stdout == responses[f"/a/{number}"]["payload"]
    raw = newscrawl("capture", str(revisit), "--warc")
    assert raw.stdout.startswith(b"WARC/1.0") and b"WARC-Type: revisit" in raw.stdout
    oldest = newscrawl("capture", str(revisit), "--warc", "--capture", "1")
    assert b"WARC-Type: response" in oldest.stdout
    shown = newscrawl("show", str(revisit))
    assert shown.stdout.count(b"revisit") == 1 and b"Captures:" in shown.stdout
    missing = newscrawl("capture", str(revisit), "--capture", "3")
    assert missing.returncode != 0 and b"has 2 captures" in missing.stderr

    # Exports: the captures of a selection as one WARC file; a reference in JSON Lines.
    out = tmp_path / "export" / "paper.warc.gz"
    out.parent.mkdir()
    exported = newscrawl("export", "--site", "paper", "-o", str(out))
    assert exported.returncode == 0, exported.stderr
    assert b"exported 10 WARC records" in exported.stderr
    copied = records(out.parent)
    assert [r["type"] for r in copied].count("response") == 6  # five first, one changed
    assert [r["type"] for r in copied].count("revisit") == 4
    lines = newscrawl("export", "--captures").stdout.decode().splitlines()
    rows = [json.loads(line) for line in lines]
    assert all(r["capture_warc_file"].endswith(".warc.gz") for r in rows) and len(rows) == 5


def test_a_top_stories_page_is_captured_with_its_snapshot(
    demo_site, sites_dir, database_url, tmp_path, monkeypatch
):
    monkeypatch.setenv("NEWSCRAWL_ARCHIVE_DIR", str(tmp_path / "warc"))
    crawl = scrapy_crawl("top_stories", "-a", "site=demo", "-s", "EXTRACTION_PROCESSES=0")
    assert crawl.returncode == 0, crawl.stderr[-2000:]
    archive = Archive(database_url)
    pages = archive.rows("select * from captures where kind = 'top_stories'")
    assert len(pages) == 1 and pages[0]["article_id"] is None
    snapshot = archive.scalar(
        "select count(*) from top_stories where page_url = :url and captured_at = :at",
        url=pages[0]["url"],
        at=pages[0]["fetched_at"],
    )
    assert snapshot > 0
    followed = archive.scalar("select count(*) from captures where kind = 'article'")
    assert followed == archive.scalar("select count(*) from articles") > 0


def test_an_unwritable_archive_directory_stops_the_crawl_before_any_fetch(
    paper, tmp_path, database_url, monkeypatch
):
    NewsSite(paper, delay=0.0).publish(3)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("NEWSCRAWL_ARCHIVE_DIR", str(blocker / "warc"))
    crawl = scrapy_crawl("articles", "-a", "site=paper")
    assert crawl.returncode == 2
    lines = crawl.stderr.strip().splitlines()
    assert (
        len(lines) == 1 and "archive directory" in lines[0] and "NEWSCRAWL_ARCHIVE_DIR" in lines[0]
    )
    assert paper.request_log == []


def test_off_keeps_no_pages_and_the_default_is_beside_the_database(
    paper, tmp_path, database_url, monkeypatch
):
    NewsSite(paper, delay=0.0).publish(3)
    monkeypatch.setenv("NEWSCRAWL_ARCHIVE_DIR", "off")
    assert scrapy_crawl("articles", "-a", "site=paper").returncode == 0
    archive = Archive(database_url)
    assert archive.scalar("select count(*) from articles") == 3
    assert archive.scalar("select count(*) from captures") == 0
    assert not (tmp_path / "archive").exists() and not (tmp_path / "warc").exists()

    monkeypatch.delenv("NEWSCRAWL_ARCHIVE_DIR")
    assert scrapy_crawl("articles", "-a", "site=paper", "-a", "refetch=true").returncode == 0
    assert len(list((tmp_path / "archive").glob("newscrawl-*.warc.gz"))) == 1  # beside archive.db
    assert archive.scalar("select count(*) from captures") == 3
    shown = newscrawl("capture", "1", "--html")
    assert shown.returncode == 0 and b"<h1>" in shown.stdout


def test_files_rotate_at_the_size_set(paper, tmp_path, database_url, monkeypatch):
    NewsSite(paper, delay=0.0).publish(12)
    monkeypatch.setenv("NEWSCRAWL_ARCHIVE_FILE_SIZE", "3K")
    assert scrapy_crawl("articles", "-a", "site=paper").returncode == 0
    files = sorted((tmp_path / "warc").glob("*.warc.gz"))
    assert len(files) >= 3
    assert [f.name[-13:] for f in files[:2]] == ["00000.warc.gz", "00001.warc.gz"]
    for path in files:
        with path.open("rb") as stream:
            assert next(iter(ArchiveIterator(stream))).rec_type == "warcinfo"
    kept = records(tmp_path / "warc")
    assert sum(r["type"] == "response" for r in kept) == 12 + 2
    bad = newscrawl("capture", "1")  # still found across files
    assert bad.returncode == 0


def test_a_wrong_file_size_is_one_line(paper, monkeypatch):
    monkeypatch.setenv("NEWSCRAWL_ARCHIVE_FILE_SIZE", "big")
    crawl = scrapy_crawl("articles", "-a", "site=paper")
    assert crawl.returncode == 2
    assert crawl.stderr.strip().splitlines() == [
        "newscrawl: NEWSCRAWL_ARCHIVE_FILE_SIZE takes a size in bytes (e.g. 1G, 500M), got 'big'"
    ]


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_stopped_crawl_leaves_a_readable_file_and_every_row_has_its_record(
    paper, tmp_path, database_url, stop
):
    NewsSite(paper, delay=0.3).publish(60)
    Store.open(database_url)
    archive = Archive(database_url)
    proc = subprocess.Popen(
        [sys.executable, "-m", "scrapy", "crawl", "articles", "-a", "site=paper",
         "-s", "EXTRACTION_PROCESSES=0", "-s", "STORE_BATCH_SIZE=5"],
        cwd=PROJECT_ROOT,
        env=crawl_env(database_url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while archive.scalar("select count(*) from captures") < 10:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        proc.send_signal(stop)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    kept = records(tmp_path / "warc")  # warcio reads every record to the end
    assert kept[-1]["type"] == "request"  # the last record is whole
    where = {(r["file"], r["offset"]): r for r in kept}
    rows = archive.rows("select * from captures")
    assert len(rows) >= 10
    for row in rows:
        record = where[(row["warc_file"], row["warc_offset"])]
        assert (record["type"], record["url"]) == ("response", row["url"])
        with (tmp_path / "warc" / row["warc_file"]).open("rb") as stream:
            stream.seek(row["warc_offset"])
            assert gzip.decompress(stream.read(row["warc_length"])).startswith(b"WARC/1.0")
    stored = archive.scalar("select count(*) from articles")
    assert stored == archive.scalar("select count(distinct article_id) from captures")


def test_migration_0009_keeps_existing_revisions_as_revisits_and_downgrades(any_database_url):
    """An archive from before captures: its revisions read ``revisit``; a
    downgrade drops the table and the column, and keeps the data."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect, text

    from crawler.storage.database import MIGRATIONS_DIR, dispose_engines, get_engine, upgrade

    url = any_database_url
    upgrade(url, "0008")
    with get_engine(url).begin() as conn:
        conn.execute(
            text(
                "insert into articles (site, url, title, body, tags, first_seen_at, last_seen_at,"
                " content_hash, version, sources) values ('paper', 'http://x/a', 'New', 'Body',"
                " '[]', '2024-03-01 09:00:00', '2024-03-01 09:00:00', 'h', 2, '{}')"
            )
        )
        conn.execute(
            text(
                "insert into article_revisions (article_id, version, title, body, content_hash,"
                " captured_at) values (1, 1, 'Old', 'Body', 'g', '2024-03-01 09:00:00')"
            )
        )
    upgrade(url)
    archive = Archive(url)
    assert archive.rows("select version, reason from article_revisions") == [
        {"version": 1, "reason": "revisit"}
    ]
    assert archive.scalar("select count(*) from captures") == 0

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with get_engine(url).begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0008")
    dispose_engines()
    inspector = inspect(get_engine(url))
    assert "captures" not in inspector.get_table_names()
    assert "reason" not in {c["name"] for c in inspector.get_columns("article_revisions")}
    assert Archive(url).scalar("select count(*) from article_revisions") == 1


FULL_DISK = """
import resource, sys
from datetime import UTC, datetime
from pathlib import Path
from crawler.storage.warc import Page, WarcFiles
resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))  # writes past it fail (EFBIG)
files = WarcFiles(Path(sys.argv[1]))
written = 0
try:
    for n in range(1000):
        body = bytes(range(256)) * (20 + n % 7)  # compresses badly: a few KB a record
        page = Page(f"http://x/{n}", 200, "OK", "HTTP/1.1", "GET", [], [], body, datetime.now(UTC))
        files.write(page, None)
        written += 1
except OSError as exc:
    print(written, exc.errno)
"""


def test_a_full_disk_cuts_the_record_it_failed_on(tmp_path):
    """A write that fails part way (here past RLIMIT_FSIZE, as on a full
    disk) leaves the file with whole records only, every one readable."""
    import errno

    proc = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(tmp_path)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    written, code = map(int, proc.stdout.split())
    assert written > 1 and code == errno.EFBIG
    kept = records(tmp_path)
    assert [r["type"] for r in kept] == ["warcinfo"] + ["response", "request"] * written
    [path] = tmp_path.glob("*.warc.gz")
    assert path.stat().st_size < 20_000


def test_a_page_whose_record_cannot_be_written_is_still_stored(tmp_path, monkeypatch):
    """A full disk fails the page's records, not the page: the response goes
    on to the spider without a capture, and the run row will say so."""
    import asyncio
    import errno

    from scrapy.http import HtmlResponse, Request
    from scrapy.utils.test import get_crawler

    from crawler.extensions.outcomes import run_notes
    from crawler.items import CAPTURE, UNSTORED
    from crawler.middlewares.capture import CaptureMiddleware

    crawler = get_crawler()
    middleware = CaptureMiddleware(tmp_path, 1 << 30, f"sqlite:///{tmp_path / 'a.db'}", crawler)

    def full(*_args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(middleware.files, "write", full)
    request = Request("http://news.example/a/1", meta={UNSTORED: True})
    response = HtmlResponse(request.url, body=b"<p>story</p>", request=request)
    assert asyncio.run(middleware.process_response(request, response)) is response
    assert CAPTURE not in request.meta
    notes = run_notes(crawler.stats.get_stats())
    assert "pages stored without a capture, the archive could not be written " in " ".join(notes)
    assert "(No space left on device): 1" in " ".join(notes)


def _warcio_records(page, revisit_of):
    """A page's records as warcio's WARCWriter builds them, uncompressed:
    what crawler.storage.warc writes out by itself (each record a gzip
    member of its own)."""
    import io
    from datetime import UTC

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    from crawler.storage.warc import _target, payload_digest

    def member(record):
        buffer = io.BytesIO()
        WARCWriter(buffer, gzip=False).write_record(record)
        return buffer.getvalue()

    writer = WARCWriter(io.BytesIO(), gzip=False)
    date = page.fetched_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    http = StatusAndHeaders(
        f"{page.status} {page.reason}".strip(), page.response_headers, protocol=page.protocol
    )
    if revisit_of is None:
        record = writer.create_warc_record(
            page.url,
            "response",
            payload=io.BytesIO(page.body),
            length=len(page.body),
            http_headers=http,
            warc_headers_dict={"WARC-Date": date},
        )
    else:
        record = writer.create_revisit_record(
            page.url,
            payload_digest(page.body),
            revisit_of[0],
            revisit_of[1].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            http_headers=http,
            warc_headers_dict={"WARC-Date": date},
        )
    response = member(record)
    request = writer.create_warc_record(
        page.url,
        "request",
        payload=io.BytesIO(b""),
        length=0,
        http_headers=StatusAndHeaders(
            f"{page.method} {_target(page.url)} {page.protocol}",
            page.request_headers,
            is_http_request=True,
        ),
        warc_headers_dict={
            "WARC-Date": date,
            "WARC-Concurrent-To": record.rec_headers.get_header("WARC-Record-ID"),
        },
    )
    return response, member(request)


@pytest.mark.parametrize("revisit", [False, True])
def test_records_are_the_bytes_warcio_writes(monkeypatch, revisit):
    """The records of a page are written out without warcio's record
    objects, byte for byte as its WARCWriter writes them: headers (in
    order), digests, lengths, a non-ASCII header value percent-encoded.
    Each is one gzip member (compressed by ISA-L) that zlib reads."""
    import itertools
    import uuid
    from datetime import UTC, datetime

    from crawler.storage.warc import Page, page_records

    fetched = datetime(2026, 12, 7, 15, 0, 1, tzinfo=UTC)
    pages = [
        Page(
            "http://news.example/a/1?x=1&y=%C3%A9",
            200,
            "OK",
            "HTTP/1.1",
            "GET",
            [("Accept", "text/html"), ("User-Agent", "newscrawl/1")],
            [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", "21")],
            "<p>story é</p>\r\n".encode() * 3,
            fetched,
        ),
        Page(
            "http://news.example/",
            200,
            "",
            "HTTP/1.0",
            "GET",
            [],
            [("Content-Disposition", 'inline; filename="é.html"'), ("X-Name", "Zoë")],
            b"",
            fetched,
        ),
    ]
    revisit_of = ("http://news.example/a/1", datetime(2026, 12, 1, tzinfo=UTC))
    for page in pages:
        monkeypatch.setattr(uuid, "uuid4", itertools.count(1).__next__)
        ours = page_records(page, revisit_of if revisit else None)
        monkeypatch.setattr(uuid, "uuid4", itertools.count(1).__next__)
        assert [one_gzip_member(record) for record in ours] == list(
            _warcio_records(page, revisit_of if revisit else None)
        )


def one_gzip_member(data: bytes) -> bytes:
    """What a gzip member holds, as the standard library's zlib reads it;
    fails unless ``data`` is exactly one member."""
    import zlib

    reader = zlib.decompressobj(zlib.MAX_WBITS + 16)
    content = reader.decompress(data)
    assert reader.eof and not reader.unused_data
    return content
