"""``/metrics`` and ``/healthz`` of ``newscrawl daemon`` and ``newscrawl
worker``: real daemons and a worker in subprocesses, real crawls of sites
served on 127.0.0.1, scraped over HTTP and parsed by prometheus_client's own
parser; ``newscrawl status --json`` must tell the same figures. The parts
that need no process (the spool's depth, a hung probe, health warnings'
fields) are tested on their own below.

Every wait polls with a deadline; no duration is asserted.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update
from support.daemons import (
    closed_port,
    demo_definition,
    newscrawl,
    simple_site,
    with_sites,
    write_site,
)
from test_daemon import SlowSite

from crawler.extraction.health import HEALTH_FIELDS, health_warnings, warning_field
from crawler.scheduling.endpoint import Health
from crawler.scheduling.metrics import SpoolDepth
from crawler.scheduling.runner import PROJECT_ROOT
from crawler.sites.definitions import BUNDLED_SITES_DIR
from crawler.storage.database import get_engine
from crawler.storage.locks import DAEMON_LEASE
from crawler.storage.models import CrawlLockRow
from crawler.storage.spool import articles_record, get_spool, run_end_record
from crawler.storage.store import Store

WAIT = 60.0


# --------------------------------------------------------------------------- helpers


def get(port: int, path: str) -> tuple[int, str] | None:
    """(status, body) of ``GET http://127.0.0.1:PORT/PATH``, None when nothing listens."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except (ConnectionError, urllib.error.URLError):
        return None


def scrape(port: int) -> dict[tuple[str, tuple], float]:
    """Every sample of ``/metrics``: (name, sorted labels) -> value."""
    answer = get(port, "/metrics")
    if answer is None or answer[0] != 200:
        return {}
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer[1])
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def wait_until(condition, what: str, proc: subprocess.Popen | None = None, log=lambda: ""):
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.2)
    ended = (
        f"the process ended with {proc.poll()}"
        if proc is not None and proc.poll() is not None
        else ""
    )
    pytest.fail(f"timed out waiting for: {what} {ended}\n--- log ---\n{log()[-4000:]}")


def free_port() -> int:
    return closed_port()


def listening_ports(pid: int) -> set[int]:
    """The TCP ports process ``pid`` listens on (Linux /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def status_json(db_url: str, sites: Path) -> dict:
    result = newscrawl("status", "--json", "--database", db_url, env=with_sites(sites))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def assert_status_matches_metrics(status: dict, samples: dict) -> None:
    """The last success and failures in a row of every site and spider are
    the same in ``status --json`` and in the metrics."""
    for entry in status["sites"]:
        pair = {"site": entry["site"], "spider": entry["spider"]}
        success = value(samples, "newscrawl_last_success_timestamp_seconds", **pair)
        if entry["last_success"] is None:
            assert success is None, entry
        else:
            expected = datetime.fromisoformat(entry["last_success"]).timestamp()
            assert success == pytest.approx(expected, abs=1e-3), entry
        failures = value(samples, "newscrawl_consecutive_failures", **pair)
        assert failures == entry["consecutive_failures"], entry


# --------------------------------------------------------------------------- the daemon


@pytest.mark.e2e
def test_a_daemons_metrics_and_health_with_real_crawls_and_a_restart(
    tmp_path, demo_site, archive, database_url, daemons
):
    sites = tmp_path / "metrics-sites"
    sites.mkdir()
    # Each job runs once at the start (then in an hour): the figures stay put.
    demo_definition(
        sites, demo_site.url + "/", articles={"every": "1h"}, top_stories={"every": "1h"}
    )
    port = free_port()
    with SlowSite({"/news/": 600}) as slow:
        # A crawl that hangs until the daemon stops it: the daemon stays up
        # through its grace period once it stops.
        write_site(sites, simple_site("slow", slow.url, "/news/", articles={"every": "1h"}))
        daemon = daemons(
            database_url, sites,
            "--metrics-port", str(port), "--max-crawls", "3",
            "--grace", "5", "--kill-after", "2", "--set", "DOWNLOAD_TIMEOUT=600",
        )  # fmt: skip

        def crawled() -> dict:
            samples = scrape(port)
            pairs = [("demo", "articles"), ("demo", "top_stories")]
            done = all(
                value(samples, "newscrawl_last_success_timestamp_seconds", site=s, spider=p)
                and value(samples, "newscrawl_crawls_total", site=s, spider=p, status="finished")
                for s, p in pairs
            )
            return samples if done else {}

        samples = wait_until(
            crawled, "both demo crawls in the metrics", daemon.proc, daemon.log_text
        )
        demo = {"site": "demo", "spider": "articles"}
        run = archive.rows("select * from crawl_runs where site = 'demo' and spider = 'articles'")
        assert len(run) == 1 and run[0]["status"] == "finished"
        assert value(samples, "newscrawl_crawls_total", **demo, status="finished") == 1
        assert value(samples, "newscrawl_crawls_total", **demo, status="failed") == 0
        assert value(samples, "newscrawl_articles_new_total", **demo) == run[0]["articles_new"] > 0
        assert value(samples, "newscrawl_pages_fetched_total", **demo) == run[0]["pages_fetched"]
        assert value(samples, "newscrawl_crawl_duration_seconds_count", **demo) == 1
        assert value(samples, "newscrawl_crawl_duration_seconds_sum", **demo) > 0
        assert (
            value(samples, "newscrawl_last_run", **demo, column="articles_new")
            == (run[0]["articles_new"])
        )
        assert value(samples, "newscrawl_field_fill_rate", **demo, field="title") == 1.0
        assert value(samples, "newscrawl_schedule_interval_seconds", **demo) == 3600
        assert value(samples, "newscrawl_extraction_health_warnings_total", site="demo",
                     field="author") == 0  # fmt: skip
        assert value(samples, "newscrawl_spool_items") == 0
        assert value(samples, "newscrawl_daemon_up") == 1
        assert value(samples, "newscrawl_daemon_lease_held") == 1
        assert value(samples, "newscrawl_running_crawls") == 1  # the slow site's
        # The slow site has no successful run yet: no timestamp, no failure.
        assert value(samples, "newscrawl_last_success_timestamp_seconds", site="slow",
                     spider="articles") is None  # fmt: skip
        assert not any("url" in dict(labels) for _, labels in samples)
        assert_status_matches_metrics(status_json(database_url, sites), samples)
        assert get(port, "/healthz") == (200, "ok\n")
        assert get(port, "/nothing")[0] == 404

        # Another process takes the daemon's lease: unhealthy at once.
        engine = get_engine(database_url)
        with engine.begin() as conn:
            conn.execute(
                update(CrawlLockRow)
                .where(CrawlLockRow.site == DAEMON_LEASE[0], CrawlLockRow.spider == DAEMON_LEASE[1])
                .values(owner="another daemon")
            )
        code, body = get(port, "/healthz")
        assert code == 503 and "lease" in body, body
        # Stopping: unhealthy while it waits for the slow crawl.
        daemon.proc.send_signal(signal.SIGTERM)
        code, body = wait_until(
            lambda: (answer := get(port, "/healthz")) and "no longer" not in answer[1] and answer,
            "an answer while stopping",
        )
        assert code == 503 and ("stopping" in body or "lost its lease" in body), body
        daemon.proc.wait(timeout=WAIT)
        assert get(port, "/metrics") is None  # the endpoint went with the daemon

    # A restarted daemon tells the figures of the database at once, before
    # any crawl (every job's next run is an hour away).
    with engine.begin() as conn:
        conn.execute(CrawlLockRow.__table__.delete().where(CrawlLockRow.owner == "another daemon"))
    runs_before = archive.scalar("select count(*) from crawl_runs")
    again = daemons(database_url, sites, "--metrics-port", str(port))
    status = status_json(database_url, sites)

    def restored() -> dict:
        samples = scrape(port)
        ready = (
            value(samples, "newscrawl_last_success_timestamp_seconds", **demo)
            and value(samples, "newscrawl_consecutive_failures", site="slow", spider="articles")
            is not None
        )
        return samples if ready else {}

    samples = wait_until(restored, "the gauges read at start-up", again.proc, again.log_text)
    assert archive.scalar("select count(*) from crawl_runs") == runs_before  # no crawl
    assert value(samples, "newscrawl_crawls_total", **demo, status="finished") == 0
    assert_status_matches_metrics(status, samples)
    assert get(port, "/healthz") == (200, "ok\n")

    # SIGHUP: a new site's series appear, a removed one's gauges go.
    (sites / "slow.yaml").unlink()
    later = {"site": "later", "spider": "articles"}
    yearly = simple_site(
        "later", f"http://127.0.0.1:{closed_port()}/", "/news/", articles={"cron": "0 0 1 1 *"}
    )
    write_site(sites, yearly)
    again.proc.send_signal(signal.SIGHUP)
    samples = wait_until(
        lambda: (
            (s := scrape(port))
            and value(s, "newscrawl_consecutive_failures", **later) == 0
            and value(s, "newscrawl_consecutive_failures", site="slow", spider="articles") is None
            and s
        ),
        "the reloaded sites in the metrics",
        again.proc,
        lambda: again.log_text() + "\n--- output ---\n" + again.output.read_text(errors="replace"),
    )
    assert value(samples, "newscrawl_schedule_interval_seconds", **later) >= 365 * 86400
    assert value(samples, "newscrawl_crawls_total", **later, status="finished") == 0
    assert value(samples, "newscrawl_last_success_timestamp_seconds", **demo) is not None
    assert again.stop() == 0


@pytest.mark.e2e
def test_metrics_port_0_opens_nothing_and_a_taken_port_refuses_the_start(tmp_path, daemons):
    empty = tmp_path / "no-sites"
    empty.mkdir()
    off = daemons(f"sqlite:///{tmp_path / 'off.db'}", empty, "--metrics-port", "0")
    wait_until(lambda: "newscrawl daemon started" in off.log_text(), "the daemon", off.proc)
    assert listening_ports(off.proc.pid) == set()
    assert off.stop() == 0

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        url = f"sqlite:///{tmp_path / 'busy.db'}"
        busy = daemons(url, empty, "--metrics-port", str(port))
        assert busy.proc.wait(timeout=WAIT) == 1
        lines = busy.output.read_text().splitlines()
        assert lines == [
            f"newscrawl: cannot serve metrics on 127.0.0.1:{port}: port {port} is already in "
            "use (--metrics-port PORT chooses another port, --metrics-port 0 turns it off)"
        ]
        # It let go of its lease: the next daemon on the database may start.
        status = status_json(url, empty)
        assert status["daemon"]["state"] == "stopped"

    bad = newscrawl("daemon", "--metrics-port", "70000")
    assert bad.returncode == 2
    assert bad.stderr == (
        "newscrawl: --metrics-port must be a port from 1 to 65535, or 0 for none; got 70000\n"
    )


# --------------------------------------------------------------------------- the worker


@pytest.mark.e2e
def test_a_workers_metrics_and_health_after_a_crawl_from_the_queue(
    tmp_path, demo_site, redis_url, database_url
):
    import redis

    from crawler.scheduling.redis_queue import KEY_PREFIX

    name = f"metrics{uuid.uuid4().hex[:8]}"
    sites = tmp_path / "sites"
    sites.mkdir()
    data = yaml.safe_load((BUNDLED_SITES_DIR / "demo.yaml").read_text())
    data.update(name=name, base_url=demo_site.url + "/")
    data["listing"]["max_pages"] = 1
    write_site(sites, data)
    port = free_port()
    env = {
        **os.environ,
        "NEWSCRAWL_SITES_DIR": str(sites),
        "NEWSCRAWL_REDIS_URL": redis_url,
        "NEWSCRAWL_METRICS_PORT": str(port),  # the environment's default, no option
    }
    cli = [sys.executable, "-m", "crawler.cli"]
    Store.open(database_url)
    output = tmp_path / "worker.out"
    with open(output, "wb") as out:
        worker = subprocess.Popen(
            [*cli, "worker", "--site", name, "--database", database_url,
             "--set", "NEWSCRAWL_WORKER_IDLE_SECONDS=1", "--set", "RETRY_TIMES=0",
             "--set", "AUTOTHROTTLE_START_DELAY=0"],
            cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_until(lambda: get(port, "/healthz"), "the worker's endpoint", worker, output.read_text)
        assert get(port, "/healthz") == (200, "ok\n")
        enqueue = subprocess.run(
            [*cli, "enqueue", name, "--spider", "articles"], env=env, capture_output=True
        )
        assert enqueue.returncode == 0, enqueue.stderr
        pair = {"site": name, "spider": "articles"}
        samples = wait_until(
            lambda: (
                (s := scrape(port))
                and value(s, "newscrawl_crawls_total", **pair, status="finished")
                and value(s, "newscrawl_last_success_timestamp_seconds", **pair)
                and s
            ),
            "a finished crawl in the worker's metrics",
            worker,
            output.read_text,
        )
        assert value(samples, "newscrawl_articles_new_total", **pair) > 0
        assert value(samples, "newscrawl_crawl_duration_seconds_count", **pair) == 1
        assert value(samples, "newscrawl_worker_up") == 1
        assert value(samples, "newscrawl_redis_up") == 1
        status = status_json(database_url, sites)
        assert_status_matches_metrics(
            {"sites": [e for e in status["sites"] if e["site"] == name]}, samples
        )
        # A second worker on the same port: one line, exit status 1.
        second = subprocess.run(
            [*cli, "worker", "--site", name, "--metrics-port", str(port)],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert second.returncode == 1
        assert second.stderr.splitlines() == [
            f"newscrawl: cannot serve metrics on 127.0.0.1:{port}: port {port} is already in "
            "use (--metrics-port PORT chooses another port, --metrics-port 0 turns it off)"
        ]
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=WAIT) == 0
        server = redis.Redis.from_url(redis_url)
        for key in server.scan_iter(f"{KEY_PREFIX}:{name}:*"):
            server.delete(key)
    assert get(port, "/metrics") is None


# --------------------------------------------------------------------------- parts


def test_the_spool_depth_counts_the_items_not_written_yet(tmp_path):
    from crawler.items import Article

    url = f"sqlite:///{tmp_path / 'archive.db'}"
    depth = SpoolDepth(tmp_path / "spool", url)

    def read() -> tuple[float, float]:
        samples = {s.name: s.value for family in depth.collect() for s in family.samples}
        return samples["newscrawl_spool_items"], samples["newscrawl_spool_files"]

    assert read() == (0, 0)
    spool = get_spool(tmp_path / "spool", url)
    article = Article(url="http://127.0.0.1/a/1", site="demo", title="T", body="B")
    spool.append(articles_record([article, article], run_id=1))
    spool.append(run_end_record(1, "finished", {}, "finished"))
    assert read() == (2, 1)
    assert spool.items_left() == 2  # the spool's own count agrees
    spool.append(articles_record([article], run_id=1))
    assert read() == (3, 1)  # read again: the file changed
    # Another database's spool is not this one's.
    other = SpoolDepth(tmp_path / "spool", f"sqlite:///{tmp_path / 'other.db'}")
    assert [s.value for f in other.collect() for s in f.samples] == [0, 0]
    spool.replay_own(Store.open(url))
    assert read() == (0, 0)


def test_a_hung_probe_makes_health_fail_without_hanging_it():
    release = threading.Event()
    calls = []

    def probe() -> str | None:
        calls.append(1)
        release.wait(60)
        return None

    health = Health(lambda: None, probe, "the database", timeout=0.2)
    assert health() == "the database did not answer within 0.2s"
    assert health().startswith("the database did not answer")
    assert len(calls) == 1  # the hung probe is waited for, not started again
    release.set()
    deadline = time.monotonic() + WAIT
    while health() is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert health() is None
    stopping = Health(lambda: "the daemon is stopping", probe, "the database")
    assert stopping() == "the daemon is stopping"


def test_each_health_warning_names_its_field():
    recent = [{"articles": 20, **dict.fromkeys(HEALTH_FIELDS, 1.0), "by_rule": {"author": 1.0}}]
    now = {"articles": 20, **dict.fromkeys(HEALTH_FIELDS, 1.0), "by_rule": {"author": 1.0}}
    now.update(section=0.1, by_rule={"author": 0.0})
    warnings = health_warnings("gazette", now, recent * 3)
    assert len(warnings) == 2
    assert sorted(warning_field(w) for w in warnings) == ["author", "section"]
    assert warning_field("site x: something else") is None
