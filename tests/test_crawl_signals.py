"""``newscrawl crawl`` stopped from outside, with real processes: SIGTERM,
Ctrl-C (SIGINT to the whole process group) and SIGKILL while its ``scrapy
crawl`` child is crawling a slow site on 127.0.0.1.

The crawl is never left running: a signal is passed on to the child and
waited for, and a child whose parent was killed (``newscrawl crawl`` or the
daemon) stops by itself. Every wait
polls with a generous deadline; no sleep is an assertion.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.archive import Archive
from support.sites import ScriptedSite, article_html, listing_html, paragraphs, site_definition

from crawler.scheduling.runner import PROJECT_ROOT
from crawler.storage.store import Store

WAIT = 60.0  # seconds any one condition may take before the test fails
ARTICLES = 200  # at 2 s each and 4 at a time, a crawl of well over a minute
DELAY = 2.0


def wait_for(condition: Callable[[], object], what: str, output: Path | None = None) -> object:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    log = output.read_text(errors="replace")[-4000:] if output is not None else ""
    pytest.fail(f"timed out waiting for: {what}\n--- output ---\n{log}")


def state(pid: int) -> str:
    """The process's state letter (Z: a zombie), or X when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "X"
    return stat[stat.rfind(")") + 2 :].split()[0]


def alive(pid: int) -> bool:
    return state(pid) not in ("X", "Z")


def parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rfind(")") + 2 :].split()[1])


@pytest.fixture
def slow_site(site: ScriptedSite) -> ScriptedSite:
    """``slow``: one listing page linking to articles that each take 2 s."""
    links = [f"/a/{n}.html" for n in range(ARTICLES)]
    site.page("/news/", listing_html(links))
    for n, link in enumerate(links):
        site.slow(link, article_html(f"Story {n}", paragraphs(n)), delay=DELAY)
    (site.sites_dir / "slow.yaml").write_text(site_definition("slow", site.url, ["/news/"]))
    return site


class Crawl:
    """``newscrawl crawl slow`` in a subprocess, its output in a file: with
    ``-v``, Scrapy's log too (it says how the crawl took each signal)."""

    def __init__(self, tmp_path: Path, name: str, new_session: bool = False) -> None:
        self.output = tmp_path / f"{name}.out"
        with open(self.output, "wb") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable, "-m", "crawler.cli", "crawl", "slow",
                    "--spider", "articles", "-v",
                    "--set", "AUTOTHROTTLE_ENABLED=False",
                    "--set", "RETRY_TIMES=0",
                ],
                cwd=PROJECT_ROOT,
                env=dict(os.environ),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=new_session,
            )  # fmt: skip

    def text(self) -> str:
        return self.output.read_text(errors="replace")


@pytest.fixture
def crawls(tmp_path: Path, archive: Archive, database_url: str) -> Iterator[Callable[..., Crawl]]:
    """Start ``newscrawl crawl`` processes; whatever is left of them and their
    crawl processes is killed at the end, so a failing test leaves nothing."""
    Store.open(database_url)  # the schema exists before the test polls it
    started: list[Crawl] = []

    def start(name: str, new_session: bool = False) -> Crawl:
        crawl = Crawl(tmp_path, name, new_session)
        started.append(crawl)
        return crawl

    yield start
    pids = [r["pid"] for r in archive.rows("select pid from crawl_runs")]
    for crawl in started:
        if crawl.proc.poll() is None:
            crawl.proc.kill()
            crawl.proc.wait(timeout=30)
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
    for pid in pids:
        deadline = time.monotonic() + 10
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)


def crawling(archive: Archive, site: ScriptedSite, crawl: Crawl, after: int = 0) -> dict:
    """The run row of ``crawl``'s child once it is downloading articles."""

    def running() -> dict | None:
        assert crawl.proc.poll() is None, crawl.text()[-4000:]
        rows = archive.rows(
            "select * from crawl_runs where status = 'running' and id > :after", after=after
        )
        if rows and any(path.startswith("/a/") for path in site.fetched()):
            return rows[0]
        return None

    run = wait_for(running, "a crawl downloading articles", crawl.output)
    assert isinstance(run, dict)
    assert parent_of(run["pid"]) == crawl.proc.pid  # the run row is the child's
    return run


def run_row(archive: Archive, run_id: int) -> dict:
    return archive.rows("select * from crawl_runs where id = :id", id=run_id)[0]


def lease_held(archive: Archive) -> bool:
    return bool(archive.scalar("select count(*) from crawl_locks where site = 'slow'"))


def test_sigterm_stops_the_crawl_and_waits_for_it(slow_site, archive, crawls):
    crawl = crawls("sigterm")
    run = crawling(archive, slow_site, crawl)

    crawl.proc.send_signal(signal.SIGTERM)
    code = crawl.proc.wait(timeout=WAIT)

    # The crawl process ended before newscrawl did.
    assert not alive(run["pid"]), "the scrapy crawl process outlived newscrawl crawl"
    assert code == 128 + signal.SIGTERM, crawl.text()[-4000:]
    row = run_row(archive, run["id"])
    assert row["status"] == "interrupted"
    assert row["finish_reason"].startswith("shutdown: stopped by a signal")
    assert not lease_held(archive)
    assert "Received SIGTERM, shutting down gracefully" in crawl.text()
    assert f"run {run['id']}: slow/articles interrupted" in crawl.text()


def test_sigkill_of_newscrawl_the_crawl_stops_by_itself(slow_site, archive, crawls):
    crawl = crawls("sigkill")
    run = crawling(archive, slow_site, crawl)

    crawl.proc.kill()
    crawl.proc.wait(timeout=WAIT)

    # Well before its articles are done, the orphaned crawl notices and stops.
    wait_for(lambda: not alive(run["pid"]), "the orphaned crawl process to end", crawl.output)
    row = run_row(archive, run["id"])
    assert row["status"] == "interrupted", crawl.text()[-4000:]
    assert row["finish_reason"].startswith("shutdown")
    assert not lease_held(archive)
    assert "the process that started this crawl" in crawl.text()

    # The site is free: a new crawl of it starts (and is stopped in turn).
    again = crawls("again")
    second = crawling(archive, slow_site, again, after=run["id"])
    again.proc.send_signal(signal.SIGTERM)
    assert again.proc.wait(timeout=WAIT) == 128 + signal.SIGTERM
    assert "not starting a second crawl" not in again.text()
    assert run_row(archive, second["id"])["status"] == "interrupted"


def test_ctrl_c_to_the_process_group_is_one_clean_interrupt(slow_site, archive, crawls):
    # A terminal's Ctrl-C: SIGINT to every process of the foreground group.
    crawl = crawls("ctrl-c", new_session=True)
    run = crawling(archive, slow_site, crawl)

    os.killpg(crawl.proc.pid, signal.SIGINT)
    code = crawl.proc.wait(timeout=WAIT)

    assert code == 128 + signal.SIGINT, crawl.text()[-4000:]
    assert not alive(run["pid"])
    text = crawl.text()
    assert text.count("Received SIGINT") == 1, text[-4000:]  # one signal, not two
    assert "forcing unclean shutdown" not in text
    rows = archive.rows("select * from crawl_runs")
    assert [(r["id"], r["status"]) for r in rows] == [(run["id"], "interrupted")]
    assert rows[0]["finish_reason"].startswith("shutdown: stopped by a signal")
    assert not lease_held(archive)


def test_a_second_sigterm_stops_the_crawl_at_once_and_its_run_is_closed(slow_site, archive, crawls):
    crawl = crawls("twice")
    run = crawling(archive, slow_site, crawl)

    crawl.proc.send_signal(signal.SIGTERM)
    # The crawl is closing: it waits for its downloads, 2 s each.
    wait_for(
        lambda: "Received SIGTERM, shutting down" in crawl.text(), "the first SIGTERM", crawl.output
    )
    crawl.proc.send_signal(signal.SIGTERM)
    code = crawl.proc.wait(timeout=WAIT)

    assert code == 128 + signal.SIGTERM, crawl.text()[-4000:]
    assert not alive(run["pid"])
    assert "Received SIGTERM twice, forcing unclean shutdown" in crawl.text()
    row = run_row(archive, run["id"])
    assert row["status"] == "interrupted"  # closed by newscrawl crawl, not left running
    assert not lease_held(archive)


def test_sigkill_of_the_daemon_its_crawls_stop_by_themselves(
    slow_site, archive, database_url, tmp_path
):
    definition = slow_site.sites_dir / "slow.yaml"
    definition.write_text(definition.read_text() + "schedule:\n  articles:\n    every: 1h\n")
    output = tmp_path / "daemon.out"
    Store.open(database_url)  # the schema exists before the test polls it
    with open(output, "wb") as out:
        daemon = subprocess.Popen(
            [
                sys.executable, "-m", "crawler.cli", "daemon", "--site", "slow",
                "--database", database_url,
                "--set", "AUTOTHROTTLE_ENABLED=False",
            ],
            cwd=PROJECT_ROOT,
            env=dict(os.environ),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        run = wait_for(
            lambda: archive.rows("select * from crawl_runs where status = 'running'"),
            "the daemon's crawl",
            output,
        )[0]
        assert parent_of(run["pid"]) == daemon.pid
        wait_for(lambda: any(p.startswith("/a/") for p in slow_site.fetched()), "articles")

        daemon.kill()
        daemon.wait(timeout=WAIT)

        wait_for(lambda: not alive(run["pid"]), "the orphaned crawl process to end", output)
        row = run_row(archive, run["id"])
        assert row["status"] == "interrupted"
        assert row["finish_reason"].startswith("shutdown")
        assert not lease_held(archive)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait(timeout=30)
        for row in archive.rows("select pid from crawl_runs"):
            if alive(row["pid"]):
                os.kill(row["pid"], signal.SIGKILL)
