"""Failing sites back off (crawler/scheduling/backoff.py) and what counts as a
failed crawl (crawler/storage/failures.py); the daemon's log of them.

The delay and the classification are pure functions; the back-off's changes
to a job are checked on a real APScheduler scheduler over a real SQLite
archive; the crawl's log is that of real ``scrapy crawl`` processes; and the
whole is a real daemon crawling a dead site and a healthy one for about a
minute.
"""

from __future__ import annotations

import logging
import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from pydantic import ValidationError
from support.archive import Archive
from support.daemons import (
    closed_port,
    demo_definition,
    runs,
    silence_bundled_sites,
    simple_site,
    wait_for,
    write_site,
)

from crawler.cli.demo_site import DemoSiteServer
from crawler.extensions.outcomes import fetches
from crawler.scheduling.backoff import DEFAULT_MAX_BACKOFF, Backoff, backoff_delay
from crawler.scheduling.jobs import format_duration, site_job_specs
from crawler.scheduling.logs import crawl_log_settings
from crawler.scheduling.runner import PROJECT_ROOT, crawl_command, crawl_env
from crawler.sites.definitions import Site
from crawler.storage.failures import Fetches, run_status
from crawler.storage.models import CrawlRunRow
from crawler.storage.status import (
    consecutive_failures,
    last_failure,
    last_failure_reason,
    last_run,
    stored_next_runs,
)
from crawler.storage.store import Store

HOUR = 3600.0
# A line of the daemon's log, and of the crawls it starts: time LEVEL logger: message.
LOG_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: "
)


# --------------------------------------------------------------------------- the delay


def test_the_delay_doubles_from_the_period_up_to_the_cap():
    assert backoff_delay(3600, 0) == 0  # no failure, no back-off
    assert [backoff_delay(3600, n) for n in range(1, 6)] == [
        3600,  # the first failure: the normal interval
        7200,
        14400,
        21600,  # 8h capped at the default 6h
        21600,
    ]
    assert DEFAULT_MAX_BACKOFF == 6 * HOUR
    assert [backoff_delay(60, n, cap=300) for n in range(1, 6)] == [60, 120, 240, 300, 300]
    # A schedule slower than the cap keeps its period: never more often than it.
    assert backoff_delay(24 * HOUR, 3) == 24 * HOUR
    assert backoff_delay(900, 2, cap=0) == 900  # max_backoff 0: no growth
    assert backoff_delay(900, 10_000) == 6 * HOUR  # no overflow, however long the streak


def test_max_backoff_is_read_and_checked_in_the_schedule_section():
    def site(**schedule: object) -> Site:
        return Site.model_validate(
            {"name": "example", "base_url": "https://news.example/", "schedule": schedule}
        )

    assert site().schedule.max_backoff == 6 * HOUR
    assert site(max_backoff="90m").schedule.max_backoff == 5400
    assert site(max_backoff=0).schedule.max_backoff == 0
    for bad in ("soon", "-1h", True):
        with pytest.raises(ValidationError, match="max_backoff"):
            site(max_backoff=bad)


# --------------------------------------------------------------------------- failed crawls


# Scrapy stats of real crawls (Scrapy 2.19, RETRY_TIMES=0) of each kind of site.
UNREACHABLE = {
    "downloader/exception_count": 2,
    "downloader/exception_type_count/scrapy.exceptions.DownloadConnectionRefusedError": 2,
    "downloader/request_count": 2,
    "retry/max_reached": 2,
}
ALL_503 = {
    "downloader/request_count": 2,
    "downloader/response_status_count/503": 2,
    "httperror/response_ignored_status_count/503": 1,
    "response_received_count": 2,
    "robotstxt/response_status_count/503": 1,
}
ROBOTS_FORBID_ALL = {
    "downloader/exception_count": 1,
    "downloader/exception_type_count/scrapy.exceptions.IgnoreRequest": 1,
    "downloader/request_count": 1,
    "downloader/response_status_count/200": 1,
    "response_received_count": 1,
    "robotstxt/forbidden": 1,
    "robotstxt/response_status_count/200": 1,
}
HEALTHY_WITH_A_404 = {
    "downloader/request_count": 3,
    "downloader/response_status_count/200": 1,
    "downloader/response_status_count/404": 2,
    "response_received_count": 3,
    "robotstxt/response_status_count/404": 1,
}
NOT_MODIFIED = {
    "downloader/request_count": 2,
    "downloader/response_status_count/304": 1,
    "downloader/response_status_count/404": 1,
    "response_received_count": 2,
    "robotstxt/response_status_count/404": 1,
}


def test_a_crawl_without_a_usable_page_failed():
    assert fetches(UNREACHABLE) == Fetches(requests=2, download_errors=2)
    assert run_status("finished", fetches(UNREACHABLE)) == (
        "failed",
        "no page could be fetched (2 download errors)",
    )
    assert run_status("finished", fetches(ALL_503)) == ("failed", "no usable page (HTTP 503)")
    assert run_status("finished", fetches(ROBOTS_FORBID_ALL)) == (
        "failed",
        "no usable page (1 forbidden by robots.txt)",
    )
    # A limit that ended the crawl does not save it.
    assert run_status("closespider_pagecount", fetches(ALL_503))[0] == "failed"


def test_a_crawl_with_one_usable_page_or_nothing_to_do_finished():
    assert run_status("finished", fetches(HEALTHY_WITH_A_404)) == ("finished", "finished")
    assert run_status("finished", fetches(NOT_MODIFIED)) == ("finished", "finished")
    assert run_status("finished", fetches({})) == ("finished", "finished")  # no request
    assert run_status("closespider_pagecount", fetches(HEALTHY_WITH_A_404)) == (
        "finished",
        "closespider_pagecount",
    )
    # Stopped from outside: neither a failure nor a success.
    assert run_status("shutdown", fetches(UNREACHABLE)) == (
        "interrupted",
        "shutdown: stopped by a signal",
    )
    assert run_status("cancelled", fetches(HEALTHY_WITH_A_404)) == ("failed", "cancelled")


def add_run(store: Store, site: str, status: str, reason: str, ended: datetime) -> int:
    run_id = store.start_run(site, "articles")
    with store.engine.begin() as conn:
        conn.execute(
            CrawlRunRow.__table__.update()
            .where(CrawlRunRow.id == run_id)
            .values(
                status=status,
                finish_reason=reason,
                started_at=ended - timedelta(seconds=2),
                finished_at=ended,
            )
        )
    return run_id


def test_the_failure_streak_and_the_last_failure_reason(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 'runs.db'}")
    now = datetime.now(UTC).replace(microsecond=0)
    assert consecutive_failures(store.engine, "gazette", "articles") == 0
    assert last_failure(store.engine, "gazette", "articles") is None
    add_run(store, "gazette", "failed", "old", now - timedelta(hours=5))
    ok = add_run(store, "gazette", "finished", "finished", now - timedelta(hours=4))
    add_run(store, "gazette", "failed", "no usable page (HTTP 503)", now - timedelta(hours=3))
    add_run(store, "gazette", "interrupted", "shutdown: stopped by a signal", now)
    timed_out = add_run(store, "gazette", "timeout", "timeout:\nstill running", now)
    add_run(store, "other", "failed", "not this site", now)

    # interrupted runs neither count nor end the streak
    assert consecutive_failures(store.engine, "gazette", "articles") == 2
    assert consecutive_failures(store.engine, "gazette", "articles", before=timed_out) == 1
    assert consecutive_failures(store.engine, "gazette", "articles", before=ok) == 1
    failure = last_failure(store.engine, "gazette", "articles")
    assert (failure["id"], failure["status"]) == (timed_out, "timeout")
    assert failure["finished_at"] == now
    assert last_failure_reason(store.engine, "gazette", "articles") == "timeout: still running"


# --------------------------------------------------------------------------- the scheduler


def noop() -> None:
    """A job function (the scheduler is paused: it never runs)."""


def scheduled_site(name: str, every: str, **schedule: object) -> Site:
    return Site.model_validate(
        {
            "name": name,
            "base_url": "https://news.example/",
            "schedule": {"articles": {"every": every}, **schedule},
        }
    )


def test_failures_push_the_next_run_back_and_a_success_ends_the_streak(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 'runs.db'}")
    sites = {"gazette": scheduled_site("gazette", "1m", max_backoff="5m")}
    backoff = Backoff(store.engine, lambda: sites)
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.start(paused=True)
    try:
        normal = datetime.now(UTC) + timedelta(minutes=1)
        scheduler.add_job(noop, "interval", minutes=1, id="gazette:articles", next_run_time=normal)
        backoff.resume(scheduler)  # no failure yet: unchanged
        assert next_run(scheduler) == normal

        def crawl(status: str, reason: str) -> tuple[str | None, datetime]:
            """A crawl of gazette ends now; (its log line, when it ended)."""
            add_run(store, "gazette", status, reason, datetime.now(UTC))
            ended = datetime.now(UTC)
            return backoff.after_run(last_run(store.engine, "gazette", "articles")), ended

        # Doubling from the interval, capped at 5m.
        for n, delay in enumerate([60, 120, 240, 300, 300], start=1):
            line, ended = crawl("failed", "no page could be fetched (2 download errors)")
            assert ended + timedelta(seconds=delay) <= next_run(scheduler)
            assert next_run(scheduler) <= datetime.now(UTC) + timedelta(seconds=delay)
            assert line.endswith(
                f"gazette/articles failed ({n} in a row) in 2s: no page could be fetched "
                f"(2 download errors); next try in {format_duration(delay)} (back-off)"
            )
        pushed = next_run(scheduler)

        # The first success: the job's next run stays the trigger's own (here
        # as the scheduler left it), and the run's line says the site is back.
        line, _ = crawl("finished", "finished")
        assert next_run(scheduler) == pushed
        assert re.fullmatch(
            r"run \d+ gazette/articles finished \(finished\) in 2s: pages 0, .*; back after 5 "
            r"failed crawls in a row, on its schedule again \(every 1m\)",
            line,
        )
        line, _ = crawl("finished", "finished")
        assert line is None  # the usual line

        # The next failure starts a new streak: one interval, not 10 minutes.
        scheduler.modify_job("gazette:articles", next_run_time=datetime.now(UTC))
        line, ended = crawl("failed", "no usable page (HTTP 503)")
        assert line.endswith(
            "(1 in a row) in 2s: no usable page (HTTP 503); next try in 1m (back-off)"
        )
        assert ended + timedelta(seconds=60) <= next_run(scheduler)
        assert next_run(scheduler) <= datetime.now(UTC) + timedelta(seconds=60)
    finally:
        scheduler.shutdown(wait=False)


def next_run(scheduler: BackgroundScheduler) -> datetime:
    return scheduler.get_job("gazette:articles").next_run_time


def test_at_start_a_failing_site_waits_for_its_back_off(tmp_path, caplog):
    store = Store.open(f"sqlite:///{tmp_path / 'runs.db'}")
    sites = {
        "gazette": scheduled_site("gazette", "1h"),
        "healthy": scheduled_site("healthy", "1h"),
    }
    backoff = Backoff(store.engine, lambda: sites)
    ended = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    for _ in range(3):
        add_run(store, "gazette", "failed", "no page could be fetched (1 download errors)", ended)
    add_run(store, "healthy", "finished", "finished", ended)

    # A job added now (new, or changed): an interval job would run at once,
    # but the third failure in a row holds it for 4 hours from that failure.
    [gazette] = site_job_specs(sites["gazette"])
    now = datetime.now(UTC)
    with caplog.at_level(logging.WARNING, logger="newscrawl.daemon"):
        assert backoff.first_run(gazette, now) == ended + timedelta(hours=4)
    assert "job gazette:articles: 3 failed crawls in a row (last: no page could be" in caplog.text
    [healthy] = site_job_specs(sites["healthy"])
    assert backoff.first_run(healthy, now) == now

    # Jobs kept in the job store: held the same way when the daemon starts.
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.start(paused=True)
    try:
        scheduler.add_job(noop, "interval", hours=1, id="gazette:articles", next_run_time=now)
        scheduler.add_job(noop, "interval", hours=1, id="healthy:articles", next_run_time=now)
        scheduler.add_job(noop, "interval", hours=1, id="gone:articles", next_run_time=now)
        backoff.resume(scheduler)
        assert scheduler.get_job("gazette:articles").next_run_time == ended + timedelta(hours=4)
        assert scheduler.get_job("healthy:articles").next_run_time == now
        assert scheduler.get_job("gone:articles").next_run_time == now
    finally:
        scheduler.shutdown(wait=False)


# --------------------------------------------------------------------------- a crawl's log


def crawl_log(folder: Path, db_url: str, site: str, level: str) -> str:
    """The output of a crawl started as the daemon starts them, at ``level``."""
    settings = {
        "LOG_LEVEL": level,
        "NEWSCRAWL_QUIET_DOWNLOAD_ERRORS": "true",
        "RETRY_TIMES": "0",
        **crawl_log_settings(site, "articles"),
    }
    env = {**crawl_env(db_url), "NEWSCRAWL_SITES_DIR": str(folder)}
    proc = subprocess.run(
        crawl_command(site, "articles", {}, settings),
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc.stderr


@pytest.mark.e2e
def test_a_dead_sites_crawl_logs_nothing_below_info_and_everything_in_the_daemons_format(
    tmp_path, database_url, archive
):
    folder = tmp_path / "sites"
    folder.mkdir()
    url = f"http://127.0.0.1:{closed_port()}/"
    write_site(folder, simple_site("dead", url, "/news/", articles={"every": "1h"}))

    quiet = crawl_log(folder, database_url, "dead", "WARNING")
    assert quiet.strip() == ""
    loud = crawl_log(folder, database_url, "dead", "INFO")
    lines = loud.splitlines()
    assert "Traceback" not in loud
    # Every line in the daemon's format, naming the crawl.
    assert lines and all(LOG_LINE.match(line) for line in lines if line[:1].isdigit())
    assert any(
        "ERROR scrapy.downloadermiddlewares.retry: [dead/articles] Gave up" in line
        for line in lines
    )
    assert any(
        "ERROR scrapy.core.scraper: [dead/articles] Error downloading" in line for line in lines
    )

    # Both runs failed, and count the ERROR lines, logged or not.
    first, second = runs(archive, "dead")
    assert first["status"] == second["status"] == "failed"
    assert first["errors"] == second["errors"] > 0
    assert "connection refused" in first["finish_reason"]


# --------------------------------------------------------------------------- the daemon


def gaps(rows: list[dict]) -> list[float]:
    """Seconds from the end of each run to the start of the next."""
    return [
        (parse(after["started_at"]) - parse(before["finished_at"])).total_seconds()
        for before, after in zip(rows, rows[1:], strict=False)
    ]


def parse(value: str | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


class JobTimes:
    """The next run times the daemon's job store holds for a job, read at each
    poll of the test."""

    def __init__(self, archive: Archive, job_id: str) -> None:
        self.archive, self.job_id = archive, job_id
        self.seen: set[float] = set()

    def read(self) -> None:
        value = (stored_next_runs(self.archive.engine) or {}).get(self.job_id)
        if value is not None:
            self.seen.add(value.timestamp())

    def on_one_grid(self, interval: float) -> bool:
        """Every time read is the first plus a whole number of intervals."""
        first = min(self.seen)
        steps = [(t - first) / interval for t in self.seen]
        return all(abs(step - round(step)) < 1e-3 for step in steps)


@pytest.mark.e2e
def test_a_dead_site_backs_off_beside_a_healthy_one_and_returns_to_its_schedule(
    tmp_path, demo_site, database_url, archive, daemons
):
    folder = tmp_path / "daemon-sites"
    folder.mkdir()
    silence_bundled_sites(folder)
    off = {"every": "1h", "enabled": False}
    demo_definition(
        folder, demo_site.url + "/", "healthy", articles={"every": "4s"}, top_stories=off
    )
    port = closed_port()  # nothing listens there, until the site comes back below
    demo_definition(
        folder, f"http://127.0.0.1:{port}/", "flaky", articles={"every": "2s"}, top_stories=off
    )
    daemon = daemons(database_url, folder, "--max-crawls", "3")
    healthy_times = JobTimes(archive, "healthy:articles")

    def failed_four_times() -> bool:
        healthy_times.read()
        return len(runs(archive, "flaky", "failed")) >= 4

    # Crawls, each a process, take seconds to start on a busy machine: a
    # generous deadline (the tries alone are 14 s apart and more).
    wait_for(failed_four_times, "four failed crawls of the dead site", daemon, wait=180)
    with DemoSiteServer("127.0.0.1", port):  # the dead site comes back

        def finished_twice() -> bool:
            healthy_times.read()
            return len(runs(archive, "flaky", "finished")) >= 2

        wait_for(
            finished_twice, "two finished crawls of the site once it is back", daemon, wait=120
        )
    flaky = runs(archive, "flaky")
    failed = [r for r in flaky if r["status"] == "failed"]
    back = flaky[len(failed) :]
    log = daemon.log_text()

    # The dead site's tries thinned out: from the end of each failed crawl to
    # the next try, at least the interval (2 s), doubled with each failure in
    # a row: 2, 4, 8 s, then 16 s before the try that found it back.
    assert len(failed) == 4 and [r["status"] for r in flaky[:4]] == ["failed"] * 4
    for n, gap in enumerate(gaps(flaky[:5]), start=1):
        assert gap >= 2 * 2 ** (n - 1), (n, gap, flaky)
    # After the first success it is back on its schedule: the next run comes
    # at the interval, not after the 32 s the streak would have reached.
    assert [r["status"] for r in back[:2]] == ["finished", "finished"]
    assert gaps(back[:2])[0] < 32, back
    assert f"run {back[0]['id']} flaky/articles finished (finished) in " in log
    assert "back after 4 failed crawls in a row, on its schedule again (every 2s)" in log

    # The healthy site kept its schedule throughout: each of its runs
    # finished, more of them than the dead site's tries, and its job's run
    # times stayed on one 4 s grid, never pushed.
    # (A crawl of it may still be running as the daemon goes on: only the
    # runs that ended are judged.)
    healthy = [r for r in runs(archive, "healthy") if r["status"] != "running"]
    assert healthy and all(r["status"] == "finished" for r in healthy), healthy
    assert len(healthy) > len(failed)
    assert len(healthy_times.seen) >= 4 and healthy_times.on_one_grid(4.0), healthy_times.seen

    # One line per failed crawl, with its reason and the next try; no
    # traceback, and none of Scrapy's lines per page given up.
    for n, run in enumerate(failed, start=1):
        [line] = [line for line in log.splitlines() if f"run {run['id']} flaky/articles" in line]
        assert (
            f"WARNING newscrawl.daemon: run {run['id']} flaky/articles failed ({n} in a row)"
            in line
        )
        assert "connection refused" in line
        assert line.endswith(f"next try in {2 * 2 ** (n - 1)}s (back-off)")
    assert "Traceback" not in log
    assert "Gave up retrying" not in log and "Error downloading" not in log
    assert all(LOG_LINE.match(line) for line in log.splitlines() if line.strip())
