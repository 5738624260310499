"""The daemon's crawl hosts (crawler/scheduling/hosts.py, host.py): many
crawls in one long-lived process, and what one bad site may do to the others.

Run for real: a ``newscrawl daemon`` process with one crawl host, healthy
sites served by the demo site, beside a site that never answers, a site
whose crawl kills the process it runs in, and a site whose crawl blocks its
host's reactor. Every healthy site must keep being crawled, with every
article stored and no run left open.
"""

from __future__ import annotations

import os
import re
import signal
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from support.daemons import (
    LocalSite,
    children_of,
    demo_definition,
    runs,
    simple_site,
    wait_for,
    write_site,
)

from crawler.cli.demo_site.content import NEWEST_FIRST, PAGE_SIZE, TOP_STORY_IDS
from crawler.cli.demo_site.pages import article_url, listing_url
from crawler.scheduling.host import CURRENT_CRAWL, crawl_label
from crawler.storage.warc import archive_dir, read_record

pytestmark = pytest.mark.e2e

HEALTHY = ("alpha", "beta", "gamma")


@pytest.fixture
def sites(tmp_path: Path) -> Path:
    folder = tmp_path / "host-sites"
    folder.mkdir()
    return folder


def pids_with_socket_port(port: int) -> list[int]:
    """The processes holding the TCP socket whose local port is ``port``
    (the client's end of a connection to us), from /proc."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            fds = list((entry / "fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd) in inodes:
                    found.append(int(entry.name))
                    break
            except OSError:
                continue
    return found


class BadSite(LocalSite):
    """One server for the bad sites, by path: ``/hang/`` answers after 120 s
    (or when the test ends); ``/crash/`` kills the process that asked (what
    a fault in a C extension or the out-of-memory killer does to a crawl)."""

    def __init__(self) -> None:
        self.killed: list[int] = []
        super().__init__()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.startswith("/crash/"):
                    for pid in pids_with_socket_port(self.client_address[1]):
                        site.killed.append(pid)
                        os.kill(pid, signal.SIGKILL)
                    return
                if self.path.startswith("/hang/"):
                    site.closing.wait(120)
                body = b"<html><body><p>Nothing today.</p></body></html>"
                try:
                    self.send_response(404 if self.path == "/robots.txt" else 200)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the crawl hung up

            def log_message(self, *args: object) -> None:
                pass

        return Handler


def healthy_sites(folder: Path, base_url: str) -> None:
    """Three demo definitions, each crawling one listing page of its own."""
    for page, name in enumerate(HEALTHY, start=1):
        demo_definition(
            folder,
            base_url,
            name=name,
            start_url=listing_url(page),
            articles={"every": "2s"},
            top_stories={"every": "3s"},
        )


def expected_paths() -> set[str]:
    """The articles of the healthy sites: those of the first three listing
    pages, and the top stories."""
    ids = [a.id for a in NEWEST_FIRST[: PAGE_SIZE * len(HEALTHY)]] + list(TOP_STORY_IDS)
    return {article_url(i) for i in ids}


def assert_healthy_sites_whole(archive) -> None:
    """Every article of the healthy sites stored, and every run of them
    finished, or failed with its host and crawled again at once."""
    stored = {urlsplit(r["url"]).path for r in archive.rows("select url from articles")}
    assert expected_paths() <= stored
    for name in HEALTHY:
        for run in runs(archive, name):
            assert run["status"] in ("finished", "failed"), run
            if run["status"] == "failed":
                assert "crawl host" in run["finish_reason"], run
                later = [
                    r
                    for r in runs(archive, name)
                    if r["id"] > run["id"] and r["spider"] == run["spider"]
                ]
                assert later and later[0]["status"] == "finished", (run, later[:1])


def assert_captures_readable(archive, folder: Path | None) -> None:
    """Every capture's record is where its row says, for its URL: the
    crawls of a host write one WARC file together."""
    assert folder is not None
    captures = archive.rows("select url, warc_file, warc_offset, warc_length from captures")
    assert captures
    for c in captures:
        headers, _payload = read_record(folder, c["warc_file"], c["warc_offset"], c["warc_length"])
        assert f"WARC-Target-URI: {c['url']}\r\n".encode() in headers, c


def host_pids(daemon) -> set[int]:
    return {
        pid
        for pid in children_of(daemon.proc.pid)
        if "crawler.scheduling.host" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
    }


def test_a_hung_site_times_out_in_its_host_while_the_others_are_crawled(
    sites, archive, database_url, daemons, demo_site
):
    with BadSite() as bad:
        healthy_sites(sites, demo_site.url)
        hang = simple_site("hang", bad.url, "/hang/", articles={"every": "2s"})
        hang["schedule"]["timeout"] = "3s"
        write_site(sites, hang)
        daemon = daemons(
            database_url, sites, "--crawl-hosts", "1", "--kill-after", "20",
            "--set", "DOWNLOAD_TIMEOUT=4", "--grace", "1", "--crawl-log-level", "INFO",
        )  # fmt: skip
        wait_for(
            lambda: (
                len(runs(archive, "hang", "timeout")) >= 2
                and all(len(runs(archive, n, "finished")) >= 6 for n in HEALTHY)
            ),
            "two timed-out runs of the hung site and six finished runs of each healthy one",
            daemon,
        )
        [host] = host_pids(daemon)
        # logrotate moves the log file away: the host, which writes its
        # crawls' lines to it itself, opens a new one as the daemon does.
        rotated = daemon.log.with_name(daemon.log.name + ".1")
        daemon.log.rename(rotated)
        finished = len(runs(archive, "alpha", "finished"))
        wait_for(
            lambda: len(runs(archive, "alpha", "finished")) > finished + 1,
            "two more finished runs of a healthy site",
            daemon,
        )
        assert daemon.stop(signal.SIGTERM) == 0
        assert "[alpha/articles] " in rotated.read_text()
        assert "[alpha/articles] " in daemon.log.read_text()
    assert runs(archive, status="running") == []
    assert_healthy_sites_whole(archive)
    # Stopped within its host, which went on crawling the others: one host for all.
    for run in runs(archive, "hang", "timeout"):
        assert run["finish_reason"].startswith("timeout: still running after 3s")
    assert {r["pid"] for r in runs(archive)} == {host}
    assert all(r["status"] == "finished" for n in HEALTHY for r in runs(archive, n))
    assert_captures_readable(
        archive, archive_dir(os.environ.get("NEWSCRAWL_ARCHIVE_DIR"), database_url)
    )
    # One host, one WARC file for all its crawls: not a file per crawl.
    files = {c["warc_file"] for c in archive.rows("select warc_file from captures")}
    assert len(files) == 1, files
    log = rotated.read_text() + daemon.log_text()
    assert "hang/articles: still running after 3s (schedule.timeout): stopping it" in log
    assert "Traceback" not in log


def test_a_crashing_site_takes_its_host_down_once_and_loses_the_others_nothing(
    sites, archive, database_url, daemons, demo_site
):
    with BadSite() as bad:
        healthy_sites(sites, demo_site.url)
        write_site(sites, simple_site("crash", bad.url, "/crash/", articles={"every": "3s"}))
        daemon = daemons(database_url, sites, "--crawl-hosts", "1")
        wait_for(
            lambda: (
                "crawled in processes of its own from now on" in daemon.log_text()
                and all(len(runs(archive, n, "finished")) >= 4 for n in HEALTHY)
            ),
            "the crashing site moved out of the hosts, and four finished runs of each other",
            daemon,
        )
        # Its next crawl runs in a process of its own, which it kills alone.
        before = len(bad.killed)
        wait_for(lambda: len(bad.killed) > before, "a crawl of the crashing site", daemon)
        wait_for(
            lambda: all(len(runs(archive, n, "finished")) >= 6 for n in HEALTHY),
            "two more finished runs of each healthy site",
            daemon,
        )
        assert host_pids(daemon)  # a new host took the healthy sites' crawls
        assert daemon.stop(signal.SIGTERM) == 0
    assert runs(archive, status="running") == []
    assert_healthy_sites_whole(archive)
    crash_runs = runs(archive, "crash")
    assert crash_runs and all(r["status"] == "failed" for r in crash_runs)
    log = daemon.log_text()
    # The host died under the crawl, the crawl was run again alone (and died
    # there too), and a new host took the healthy sites' next crawls.
    assert "crash/articles: its crawl host died during the crawl" in log
    assert re.search(r"crawl host \d+ \(pid \d+\) was killed by SIGKILL during", log)
    assert "crawl host 2 (pid" in log
    assert "Traceback" not in log


def test_a_crawl_that_blocks_its_host_is_killed_with_it_and_the_others_rerun(
    sites, archive, database_url, daemons, demo_site, monkeypatch
):
    """A crawl stuck in a callback blocks the whole reactor: the host's beats
    stop, the daemon kills it, and the crawls on it run again alone."""
    healthy_sites(sites, demo_site.url)
    monkeypatch.setenv("NEWSCRAWL_HOST_BEAT_TIMEOUT", "3")
    daemon = daemons(database_url, sites, "--crawl-hosts", "1")
    wait_for(
        lambda: all(len(runs(archive, n, "finished")) >= 2 for n in HEALTHY),
        "two finished runs of each site",
        daemon,
    )
    [host] = host_pids(daemon)
    os.kill(host, signal.SIGSTOP)  # what a callback that never returns does to the reactor
    try:
        wait_for(
            lambda: "has not answered for" in daemon.log_text(),
            "the daemon to see its host blocked",
            daemon,
        )
        wait_for(
            lambda: all(
                any(r["pid"] != host and r["status"] == "finished" for r in runs(archive, n))
                for n in HEALTHY
            ),
            "each site crawled again without the blocked host",
            daemon,
        )
    finally:
        try:
            os.kill(host, signal.SIGCONT)
        except ProcessLookupError:
            pass  # killed by the daemon, as it should be
    assert daemon.stop(signal.SIGTERM) == 0
    assert runs(archive, status="running") == []
    assert_healthy_sites_whole(archive)


def test_log_records_are_told_apart_by_crawl():
    import logging

    class Spider:
        name = "articles"

        class site:
            name = "alpha"

    record = logging.LogRecord("x", logging.INFO, "f", 1, "m", None, None)
    assert crawl_label(record) is None
    record.spider = Spider()
    assert crawl_label(record) == "alpha/articles"
    other = logging.LogRecord("x", logging.INFO, "f", 1, "m", None, None)
    token = CURRENT_CRAWL.set("beta/top_stories")
    try:
        assert crawl_label(other) == "beta/top_stories"
        assert crawl_label(record) == "alpha/articles"  # the spider wins
    finally:
        CURRENT_CRAWL.reset(token)


def test_a_host_is_recycled_after_its_crawls_without_cutting_one(
    sites, archive, database_url, daemons, demo_site, monkeypatch
):
    """After NEWSCRAWL_HOST_CRAWLS crawls a host takes no new one, ends its
    running crawls and exits; a new host takes the next crawls."""
    healthy_sites(sites, demo_site.url)
    monkeypatch.setenv("NEWSCRAWL_HOST_CRAWLS", "4")
    daemon = daemons(database_url, sites, "--crawl-hosts", "1")
    wait_for(
        lambda: (
            "crawl host 3 (pid" in daemon.log_text()
            and all(len(runs(archive, n, "finished")) >= 3 for n in HEALTHY)
        ),
        "a third crawl host, and three finished runs of each site",
        daemon,
    )
    assert daemon.stop(signal.SIGTERM) == 0
    log = daemon.log_text()
    assert "crawl host 1 (pid" in log and "takes no new crawl, it has run 4 crawls" in log
    assert re.search(r"crawl host 1 \(pid \d+\) exited", log)
    every = runs(archive)
    assert every and all(r["status"] == "finished" for r in every)
    assert len({r["pid"] for r in every}) >= 3
    assert_healthy_sites_whole(archive)
