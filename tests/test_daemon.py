"""The daemon, run for real: ``python -m crawler.cli.main daemon`` as a subprocess
with second-scale schedules, against sites served on 127.0.0.1 and a temporary
database (``support.daemons``, and the ``daemons`` fixture of conftest.py).
Assertions are on ``crawl_runs`` and on what the servers saw.

Every wait polls the database with a deadline; no sleep is an assertion.
"""

from __future__ import annotations

import json
import os
import re
import signal
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.engine import make_url
from support.archive import Archive
from support.daemons import (
    LocalSite,
    closed_port,
    demo_definition,
    newscrawl,
    runs,
    silence_bundled_sites,
    simple_site,
    wait_for,
    with_sites,
    write_site,
)
from support.processes import scrapy_crawl

from crawler.scheduling.jobs import JobSpec, job_specs, plan_jobs
from crawler.sites.definitions import Site
from crawler.storage.locks import acquire_lease, this_host
from crawler.storage.models import CrawlLockRow, CrawlRunRow
from crawler.storage.store import Store

# --------------------------------------------------------------------------- helpers


def assert_no_overlap(rows: list[dict]) -> None:
    ordered = sorted(rows, key=lambda r: r["started_at"])
    for before, after in zip(ordered, ordered[1:], strict=False):
        assert before["finished_at"] is not None
        assert before["finished_at"] <= after["started_at"], (before, after)


class SlowSite(LocalSite):
    """Listing pages on 127.0.0.1 that answer after a delay per path, with no
    article links. Counts the requests of each path in flight at once."""

    def __init__(self, delays: dict[str, float]) -> None:
        self.delays = delays
        self.in_flight: dict[str, int] = {}
        self.most_in_flight: dict[str, int] = {}
        self.requests: list[str] = []
        super().__init__()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path
                with lock:
                    site.requests.append(path)
                    site.in_flight[path] = site.in_flight.get(path, 0) + 1
                    site.most_in_flight[path] = max(
                        site.most_in_flight.get(path, 0), site.in_flight[path]
                    )
                try:
                    site.closing.wait(site.delays.get(path, 0))
                    body = b"<html><body><p>No news is good news.</p></body></html>"
                    self.send_response(404 if path == "/robots.txt" else 200)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the crawler hung up (it was stopped)
                finally:
                    with lock:
                        site.in_flight[path] -= 1

            def log_message(self, *args: object) -> None:
                pass

        return Handler


@pytest.fixture
def sites(tmp_path: Path) -> Path:
    folder = tmp_path / "daemon-sites"
    folder.mkdir()
    return folder


# --------------------------------------------------------------------------- schedules


def site(**schedule) -> Site:
    return Site.model_validate(
        {
            "name": "example",
            "base_url": "https://news.example/",
            "timezone": "Asia/Yerevan",
            "listing": {"start_urls": ["/news/"]},
            "article": {"body": "p"},
            "top_stories": {"pages": ["/"], "entries": "li a"},
            "schedule": schedule,
        }
    )


def test_site_schedules_become_jobs_with_triggers_and_grace_times():
    specs = job_specs(
        [site(articles={"every": "15m", "jitter": "1m"}, top_stories={"cron": "0 7 * * *"})]
    )
    articles, top = specs
    assert (articles.id, top.id) == ("example:articles", "example:top_stories")
    assert articles.describe() == "every 15m, jitter 1m"
    assert articles.misfire_grace_time() == 450  # half the interval
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert articles.first_run_time(now) == now  # a new interval job runs at once
    # Cron times are read in the site's time zone: 07:00 in Yerevan is 03:00 UTC.
    assert top.first_run_time(now) == datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
    assert top.describe() == "cron '0 7 * * *' (Asia/Yerevan)"
    assert top.misfire_grace_time(now) == 12 * 3600  # half a day, the cap

    # Defaults, a disabled spider, and a site without top stories.
    default = job_specs([site()])
    assert [s.describe() for s in default] == ["every 1h, jitter 2m", "every 15m, jitter 30s"]
    off = job_specs([site(top_stories={"every": "5m", "enabled": False})])
    assert [s.spider for s in off] == ["articles"]
    no_top = site().model_copy(update={"top_stories": None})
    assert [s.spider for s in job_specs([no_top])] == ["articles"]


def test_only_changed_jobs_are_replaced_and_jobs_of_removed_sites_go():
    specs = job_specs([site(articles={"every": "15m"})])
    stored = {
        "example:articles": specs[0].signature,  # unchanged: keeps its next run time
        "example:top_stories": "example:top_stories every 5m",  # changed
        "gone:articles": "gone:articles every 1h",  # its site was removed
    }
    plan = plan_jobs(specs, stored)
    assert [s.id for s in plan.keep] == ["example:articles"]
    assert [s.id for s in plan.add] == ["example:top_stories"]
    assert plan.remove == ["gone:articles"]
    assert isinstance(plan.add[0], JobSpec)


# --------------------------------------------------------------------------- the daemon


def test_jobs_run_on_schedule_a_down_site_fails_alone_and_sigterm_exits_cleanly(
    sites, demo_site, archive, database_url, daemons
):
    silence_bundled_sites(sites)
    demo_definition(
        sites,
        demo_site.url + "/",
        articles={"every": "2s"},
        top_stories={"every": "1h", "enabled": False},
    )
    down = write_site(
        sites,
        simple_site(
            "down", f"http://127.0.0.1:{closed_port()}/", "/news/", articles={"every": "2s"}
        ),
    )
    demo_site.request_log.clear()
    daemon = daemons(database_url, sites, "--max-crawls", "3")

    # Several runs of each job; the site that is down fails each time and the
    # demo site keeps being crawled.
    wait_for(
        lambda: (
            len(runs(archive, "demo", "finished")) >= 3
            and len(runs(archive, "down", "failed")) >= 2
        ),
        "three finished demo runs and two failed runs of the down site",
        daemon,
    )
    failed = runs(archive, "down", "failed")[0]
    assert "no page could be fetched" in failed["finish_reason"]
    assert {r["trigger"] for r in runs(archive)} == {"daemon"}
    assert {r["spider"] for r in runs(archive)} == {"articles"}  # top_stories is disabled

    # A second daemon on the same database refuses to start.
    second = newscrawl("daemon", "--database", database_url, env=with_sites(sites))
    assert second.returncode == 3
    assert "another newscrawl daemon is running" in second.stderr

    # SIGHUP reloads the definitions: a new site is crawled, a removed one's job goes.
    demo_definition(
        sites,
        demo_site.url + "/",
        "demo2",
        "/eng/news/?from=demo2",
        articles={"every": "2s"},
        top_stories={"every": "1h", "enabled": False},
    )
    down.unlink()
    daemon.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: runs(archive, "demo2", "finished"), "a finished run of demo2", daemon)
    wait_for(
        lambda: not archive.rows("select id from apscheduler_jobs where id = 'down:articles'"),
        "the job of the removed site to be gone",
        daemon,
    )
    # A definition with an error: reported, and the schedule stays as it was.
    (sites / "broken.yaml").write_text("name: broken\nbase_url: not-a-url\n")
    daemon.proc.send_signal(signal.SIGHUP)
    wait_for(
        lambda: "SIGHUP: site definitions not reloaded" in daemon.log_text(),
        "the reload to be refused",
        daemon,
    )
    assert "broken.yaml: invalid site definition" in daemon.log_text()
    assert daemon.proc.poll() is None
    (sites / "broken.yaml").unlink()

    status = json.loads(
        newscrawl("status", "--json", "--database", database_url, env=with_sites(sites)).stdout
    )
    assert status["daemon"]["running"] and status["daemon"]["pid"] == daemon.proc.pid
    by_pair = {(s["site"], s["spider"]): s for s in status["sites"]}
    demo = by_pair["demo", "articles"]
    assert demo["last_run"]["trigger"] == "daemon"
    assert demo["consecutive_failures"] == 0
    assert demo["next_run_source"] == "job store" and demo["next_run"]
    assert by_pair["down", "articles"]["consecutive_failures"] >= 2
    assert by_pair["down", "articles"]["next_run_source"] == "not configured"
    assert by_pair["demo", "top_stories"]["next_run_source"] == "disabled"

    assert daemon.stop(signal.SIGTERM) == 0
    assert runs(archive, status="running") == []
    log = daemon.log_text()
    assert "SIGTERM received" in log and "newscrawl daemon stopped" in log
    # (The crawls of the down site log their connection errors, and a crawl
    # started while broken.yaml was there refused to run; no job crashed.)
    assert "raised an exception" not in log and "could not record" not in log
    # One listing request per run: each run of the job fetched the site once.
    demo_runs = runs(archive, "demo")
    assert all(r["status"] == "finished" for r in demo_runs)
    assert demo_site.request_log.paths().count("/eng/news/") == len(demo_runs)
    assert demo_site.request_log.paths().count("/eng/news/?from=demo2") == len(
        runs(archive, "demo2")
    )
    # The run log: one line per start and one per end with the counts.
    assert log.count("demo/articles: crawl started") >= len(demo_runs)
    for run in demo_runs:
        assert f"run {run['id']} demo/articles finished (finished) in" in log
    assert f"pages {demo_runs[0]['pages_fetched']}, new {demo_runs[0]['articles_new']}," in log


@pytest.mark.e2e
def test_a_slow_crawl_never_overlaps_itself_and_a_hanging_one_times_out(
    sites, archive, database_url, daemons
):
    with SlowSite({"/slow/": 2.0, "/hang/": 120.0, "/stuck/": 120.0}) as server:
        write_site(sites, simple_site("slow", server.url, "/slow/", articles={"every": "1s"}))
        hang = simple_site("hang", server.url, "/hang/", articles={"every": "1s"})
        hang["schedule"]["timeout"] = "5s"
        write_site(sites, hang)
        # Runs once, for as long as the test: running when the daemon is stopped.
        write_site(sites, simple_site("stuck", server.url, "/stuck/", articles={"every": "1h"}))
        # Each crawl a process of its own: the signals it gets are the
        # subject (crawl hosts: tests/test_crawl_hosts.py).
        daemon = daemons(
            database_url, sites, "--site", "slow", "--site", "hang", "--site", "stuck",
            "--max-crawls", "3", "--kill-after", "1", "--grace", "0.5", "--crawl-hosts", "0",
        )  # fmt: skip

        # The interval (1 s) is shorter than a crawl (2 s and more): runs are
        # skipped, not stacked.
        wait_for(
            lambda: (
                len(runs(archive, "slow", "finished")) >= 3 and runs(archive, "hang", "timeout")
            ),
            "three finished slow runs and a timed-out hanging run",
            daemon,
        )
        assert server.most_in_flight["/slow/"] == 1
        assert_no_overlap(runs(archive, "slow", "finished"))
        timed_out = runs(archive, "hang", "timeout")[0]
        assert timed_out["finish_reason"].startswith("timeout: still running after 5s")
        assert "maximum number of running instances reached" in daemon.log_text()

        # Stopped while a crawl runs, with a short grace: the crawl is stopped
        # (SIGTERM, then SIGKILL) and its run ends as interrupted; exit status 0.
        stuck = wait_for(lambda: runs(archive, "stuck", "running"), "the stuck run", daemon)
        assert daemon.stop(signal.SIGTERM) == 0
    assert runs(archive, status="running") == []
    assert_no_overlap(runs(archive, "slow"))
    assert_no_overlap(runs(archive, "hang"))
    [row] = runs(archive, "stuck")
    assert (row["id"], row["status"]) == (stuck[0]["id"], "interrupted")
    assert row["finish_reason"] == (
        "interrupted: the daemon stopped and the crawl did not finish within 0.5s"
    )
    log = daemon.log_text()
    # SIGTERM first; Scrapy then waits for the download in flight, so SIGKILL.
    assert re.search(r"stopping \d crawl\(s\) \(SIGTERM\): .*stuck/articles", log)
    assert re.search(r"killing \d crawl\(s\) \(SIGKILL\): .*stuck/articles", log)


@pytest.mark.e2e
def test_after_sigkill_a_restart_marks_the_orphaned_run_and_resumes(
    sites, archive, database_url, daemons
):
    with SlowSite({"/slow/": 2.0}) as server:
        write_site(sites, simple_site("slow", server.url, "/slow/", articles={"every": "1s"}))
        first = daemons(database_url, sites, "--site", "slow")
        orphan = wait_for(lambda: runs(archive, "slow", "running"), "a run in progress", first)[0]
        first.kill_all()
        assert runs(archive, "slow", "running")[0]["id"] == orphan["id"]

        second = daemons(database_url, sites, "--site", "slow")
        wait_for(
            lambda: archive.scalar(
                "select count(*) from crawl_runs where status = 'finished' and id > :id",
                id=orphan["id"],
            ),
            "a finished run after the restart",
            second,
        )
        row = archive.rows("select * from crawl_runs where id = :id", id=orphan["id"])[0]
        assert row["status"] == "interrupted"
        assert row["finish_reason"] == (
            f"interrupted: the crawl process (pid {orphan['pid']} on {this_host()}) "
            "ended without finishing its run"
        )
        assert second.stop(signal.SIGTERM) == 0
    assert runs(archive, status="running") == []
    assert f"run {orphan['id']} slow/articles marked interrupted" in second.log_text()


def test_a_manual_crawl_is_refused_while_another_process_holds_the_lease(
    sites_dir, demo_site, archive, database_url
):
    store = Store.open(database_url)
    engine = store.engine
    acquire_lease(engine, "demo", "articles", ttl=600)  # held by this live process
    before = len(demo_site.request_log)

    proc = scrapy_crawl("articles", "-a", "site=demo", "-a", "pages=1")
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert (
        f"newscrawl: demo/articles is being crawled by pid {os.getpid()} on {this_host()}"
        in proc.stderr
    )
    assert "not starting a second crawl" in proc.stderr
    assert newscrawl("crawl", "demo", "--spider", "articles").returncode == 3
    assert runs(archive) == []
    assert len(demo_site.request_log) == before  # nothing was fetched

    # Say the holder was on another host and stopped renewing: once expired,
    # the lease is taken over, and the run it left is closed.
    stale = store.start_run("demo", "articles")
    with engine.begin() as conn:
        conn.execute(
            update(CrawlLockRow).values(
                host="crawler-2", pid=4242, expires_at=datetime.now(UTC) - timedelta(seconds=1)
            )
        )
        conn.execute(
            update(CrawlRunRow).where(CrawlRunRow.id == stale).values(host="crawler-2", pid=4242)
        )

    proc = scrapy_crawl("articles", "-a", "site=demo", "-a", "pages=1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "took over the lease of demo/articles" in proc.stderr
    rows = runs(archive)
    assert [(r["id"], r["status"]) for r in rows] == [
        (stale, "interrupted"),
        (stale + 1, "finished"),
    ]
    assert "lease was taken over" in rows[0]["finish_reason"]
    assert archive.rows("select * from crawl_locks") == []  # released at the end


def test_the_daemon_on_postgresql_never_logs_the_database_password(
    sites, demo_site, postgres_url, daemons
):
    """Also: a crawl whose lease another process holds is skipped, not doubled."""
    url = make_url(postgres_url)
    if url.password is None:
        url = url.set(password="pw-never-logged-7c1f")
    secret = url.password
    full_url = url.render_as_string(hide_password=False)
    demo_definition(
        sites,
        demo_site.url + "/",
        articles={"every": "2s"},
        top_stories={"every": "2s"},
    )
    store = Store.open(postgres_url)
    acquire_lease(store.engine, "demo", "top_stories", ttl=600)  # say, a backfill
    archive = Archive(postgres_url)
    daemon = daemons(full_url, sites, "--site", "demo", "--crawl-log-level", "INFO")
    wait_for(
        lambda: (
            archive.scalar("select count(*) from crawl_runs where status = 'finished'")
            and "demo/top_stories: skipped, another process is crawling it" in daemon.log_text()
        ),
        "a finished articles run, and a top_stories run skipped",
        daemon,
    )
    assert daemon.stop(signal.SIGTERM) == 0
    log = daemon.log_text()
    assert f"database {url.render_as_string(hide_password=True)}" in log
    assert secret not in log
    assert archive.scalar("select count(*) from crawl_runs where status = 'running'") == 0
    assert archive.scalar("select count(*) from crawl_runs where spider = 'top_stories'") == 0
    assert f"(pid {os.getpid()} on {this_host()}" in log
    schedule = newscrawl(
        "schedule", "--site", "demo", "--json", "--database", full_url, env=with_sites(sites)
    )
    assert schedule.returncode == 0 and secret not in schedule.stdout + schedule.stderr
    jobs = json.loads(schedule.stdout)
    assert [(j["id"], j["schedule"], j["next_run_source"]) for j in jobs] == [
        ("demo:articles", "every 2s", "job store"),
        ("demo:top_stories", "every 2s", "job store"),
    ]


# The tgkill system call (a signal to one thread of a process), by machine.
TGKILL = {"x86_64": 234, "aarch64": 131}


@pytest.mark.e2e
@pytest.mark.skipif(os.uname().machine not in TGKILL, reason="tgkill's number is not known here")
def test_an_idle_daemon_handles_a_signal_that_reaches_another_of_its_threads(
    sites, database_url, daemons
):
    """The kernel hands a signal sent to the daemon to any of its threads. Its
    Python handler runs in the main thread, which an idle daemon keeps waiting
    for its next crawl (here a year away): the handler must still run at once."""
    import ctypes

    silence_bundled_sites(sites)
    yearly = {"cron": "0 0 1 1 *"}
    write_site(
        sites, simple_site("yearly", f"http://127.0.0.1:{closed_port()}/", "/", articles=yearly)
    )
    daemon = daemons(database_url, sites)
    wait_for(lambda: "newscrawl daemon started" in daemon.log_text(), "the start", daemon)
    pid = daemon.proc.pid
    libc = ctypes.CDLL(None, use_errno=True)

    def to_another_thread(signum: int) -> None:
        threads = [int(t) for t in os.listdir(f"/proc/{pid}/task") if int(t) != pid]
        assert threads, "the daemon runs other threads (its lease renewer)"
        assert libc.syscall(TGKILL[os.uname().machine], pid, threads[0], signum) == 0

    to_another_thread(signal.SIGHUP)
    wait_for(lambda: "SIGHUP: site definitions reloaded" in daemon.log_text(), "the reload", daemon)
    to_another_thread(signal.SIGTERM)
    assert daemon.proc.wait(timeout=60) == 0
    assert "newscrawl daemon stopped" in daemon.log_text()
