"""What a user sees of a crawl: ``newscrawl crawl`` prints a progress line on a
terminal (none elsewhere), one line per run and where the log went, with
Scrapy's log in a file; ``scrapy crawl`` and ``newscrawl`` refuse a user's
mistake in one line with a documented exit status, never a traceback; no
command shows Alembic's INFO lines."""

from __future__ import annotations

import fcntl
import io
import json
import os
import pty
import socket
import struct
import subprocess
import sys
import termios
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.processes import scrapy_crawl
from support.sites import article_html, listing_html, paragraphs, site_definition

from crawler.cli.progress import (
    KEEP_LOGS,
    CrawlOutput,
    ProgressLine,
    new_log_file,
    progress_text,
    summary_line,
)
from crawler.exceptions import CONFIG_ERROR_EXIT, CRAWL_FAILED_EXIT
from crawler.scheduling.runner import PROJECT_ROOT, ProgressPipe

NO_THROTTLE = ("--set", "AUTOTHROTTLE_ENABLED=False")


@pytest.fixture(autouse=True)
def log_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "logs"
    monkeypatch.setenv("NEWSCRAWL_LOG_DIR", str(folder))
    return folder


def newscrawl(*args: str, cwd: Path = PROJECT_ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "crawler.cli", *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )


def lines(text: str) -> list[str]:
    return text.splitlines()


# --------------------------------------------------------------------------- mistakes


@pytest.fixture
def paper_sites(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A sites folder with ``paper`` (articles only, nothing served) and a
    database path that a refused command must not create."""
    folder = tmp_path / "sites"
    folder.mkdir()
    (folder / "paper.yaml").write_text(site_definition("paper", "http://127.0.0.1:9", ["/news/"]))
    monkeypatch.setenv("NEWSCRAWL_SITES_DIR", str(folder))
    monkeypatch.setenv("NEWSCRAWL_DATABASE_URL", f"sqlite:///{tmp_path / 'refused.db'}")
    return folder


@pytest.mark.e2e
@pytest.mark.parametrize(
    "args,message",
    [
        (["articles"], "scrapy crawl: spider 'articles' needs a site: -a site=NAME"),
        (
            ["articles", "-a", "site=paper", "-a", "pages=abc"],
            "scrapy crawl: -a pages= takes a whole number, got 'abc'",
        ),
        (
            ["articles", "-a", "site=paper", "-a", "refetch=maybe"],
            "scrapy crawl: -a refetch= takes true or false, got 'maybe'",
        ),
        (
            ["articles", "-a", "site=paper", "-a", "since=2024-03-05", "-a", "until=2024-03-01"],
            "scrapy crawl: -a since= must be before -a until=",
        ),
        (
            ["top_stories", "-a", "site=paper"],
            "scrapy crawl: site 'paper' has no 'top_stories' section",
        ),
        (
            ["sports", "-a", "site=paper"],
            "scrapy crawl: no spider named 'sports' (spiders: articles, top_stories)",
        ),
    ],
    ids=["no-site", "pages-abc", "refetch-maybe", "since-after-until", "no-section", "no-spider"],
)
def test_scrapy_crawl_refuses_a_bad_argument_in_one_line(paper_sites, tmp_path, args, message):
    env = {**os.environ, "SCRAPY_SETTINGS_MODULE": "settings.scrapy_settings"}
    proc = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == CONFIG_ERROR_EXIT
    assert lines(proc.stderr) == [message]  # before Scrapy logs anything
    assert proc.stdout == ""
    assert not (tmp_path / "refused.db").exists()


@pytest.mark.e2e
def test_newscrawl_crawl_refuses_bad_pages_as_usage(paper_sites):
    proc = newscrawl("crawl", "paper", "--pages", "0")
    assert proc.returncode == CONFIG_ERROR_EXIT
    assert lines(proc.stderr)[-1] == (
        "newscrawl crawl: error: argument --pages: must be at least 1, got 0"
    )
    assert "Traceback" not in proc.stderr


@pytest.mark.e2e
@pytest.mark.parametrize("command", ["demo-site", "demo"])
def test_a_busy_port_is_one_line_and_status_1(command, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        database = ["--database", f"sqlite:///{tmp_path}/x.db"] if command == "demo" else []
        proc = newscrawl(command, "--port", str(port), *database)
    assert proc.returncode == CRAWL_FAILED_EXIT
    [line] = lines(proc.stderr)
    assert line.startswith(f"newscrawl: cannot serve the demo site on 127.0.0.1:{port} (")
    assert line.endswith("pass --port with a free port")
    assert proc.stdout == ""


# --------------------------------------------------------------------------- since=yesterday


def test_scrapy_crawl_takes_since_yesterday(site, archive):
    now = datetime.now(UTC)
    dates = {"/a/new": now - timedelta(minutes=5), "/a/old": now - timedelta(days=3)}
    for path, published in dates.items():
        meta = f'<meta property="article:published_time" content="{published.isoformat()}">'
        site.page(path, article_html(f"Story {path}", paragraphs(len(path)), head=meta))
    site.page("/news/", listing_html(sorted(dates)))
    (site.sites_dir / "paper.yaml").write_text(site_definition("paper", site.url, ["/news/"]))

    proc = scrapy_crawl("articles", "-a", "site=paper", "-a", "since=yesterday")
    assert proc.returncode == 0, proc.stderr[-3000:]
    stored = [r["url"] for r in archive.rows("select url from articles")]
    assert stored == [f"{site.url}/a/new"]  # the one published before yesterday is left out
    run = archive.rows("select status, arguments from crawl_runs")[0]
    assert run["status"] == "finished"
    assert json.loads(run["arguments"]) == {"since": "yesterday"}


# --------------------------------------------------------------------------- alembic


def test_no_alembic_lines_from_a_crawl_on_a_new_database(sites_dir, archive, log_dir):
    # Each crawl finds the database new (migrations run) and logs at INFO.
    proc = scrapy_crawl("top_stories", "-a", "site=demo")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Spider opened" in proc.stderr  # its INFO log is there...
    assert "alembic." not in proc.stderr  # ...but not Alembic's (its loggers: alembic.*)

    database = f"sqlite:///{log_dir.parent / 'second.db'}"
    proc = newscrawl("crawl", "demo", "--spider", "top_stories", "-v", "--database", database)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Spider opened" in proc.stderr
    assert "alembic." not in proc.stdout + proc.stderr

    proc = newscrawl("db", "upgrade", "--database", f"sqlite:///{log_dir.parent / 'third.db'}")
    assert proc.returncode == 0
    assert "alembic." not in proc.stdout + proc.stderr


# --------------------------------------------------------------------------- an unreachable site


@pytest.fixture
def down_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> str:
    """``down``: both spiders, on a port nothing listens on."""
    folder = tmp_path / "down-sites"
    folder.mkdir()
    with socket.socket() as probe:  # a port just free: connections are refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (folder / "down.yaml").write_text(
        site_definition("down", f"http://127.0.0.1:{port}", ["/news/"])
        + "top_stories:\n  pages: [/]\n  entries: 'ul.top li a'\n"
    )
    monkeypatch.setenv("NEWSCRAWL_SITES_DIR", str(folder))
    return "down"


def test_an_unreachable_site_is_one_line_per_failed_crawl(down_site, archive, log_dir):
    proc = newscrawl("crawl", down_site, "--set", "RETRY_TIMES=0")
    assert proc.returncode == CRAWL_FAILED_EXIT
    assert proc.stdout == ""
    failed, failed_too, log = lines(proc.stderr)
    for line, spider in ((failed, "articles"), (failed_too, "top_stories")):
        assert line.startswith("newscrawl: run ") and f": down/{spider} failed after " in line
        assert "no page could be fetched" in line and "connection refused" in line
    assert log.startswith(f"log: {log_dir}/down-")
    text = Path(log.removeprefix("log: ")).read_text()
    assert "Connection was refused" in text
    assert "Traceback" not in text  # a download error is one line in the log too
    assert [r["status"] for r in archive.rows("select status from crawl_runs")] == ["failed"] * 2

    # With the log on stderr: still no traceback.
    proc = newscrawl("crawl", down_site, "--spider", "articles", "-v", "--set", "RETRY_TIMES=0")
    assert proc.returncode == CRAWL_FAILED_EXIT
    assert "Connection was refused" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout

    proc = scrapy_crawl("articles", "-a", f"site={down_site}", "-s", "RETRY_TIMES=0")
    assert "Connection was refused" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


# --------------------------------------------------------------------------- progress and summary


def run_on_terminal(*args: str, columns: int = 200) -> tuple[int, str, str]:
    """``newscrawl ARGS`` with stderr on a pseudo-terminal ``columns`` wide:
    (status, stdout, what the terminal received)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    received: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: every process holding the terminal has ended
                return
            if not chunk:
                return
            received.append(chunk)

    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "crawler.cli", *args],
            cwd=PROJECT_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=follower,
            env={k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")},
        )
        os.close(follower)
        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        stdout, _ = proc.communicate(timeout=300)
        reader.join(timeout=60)
    finally:
        os.close(leader)
    return proc.returncode, stdout.decode(), b"".join(received).decode(errors="replace")


def test_a_crawl_on_a_terminal_shows_a_progress_line_then_a_summary(sites_dir, archive, log_dir):
    code, stdout, terminal = run_on_terminal("crawl", "demo", "--spider", "articles", *NO_THROTTLE)
    assert code == 0, terminal[-3000:]
    # One line, rewritten in place: carriage returns, never a new line.
    assert "\rdemo/articles " in terminal
    updates = [u for u in terminal.split("\r") if u.startswith("demo/articles ")]
    assert updates, terminal
    assert all("\n" not in u for u in updates)
    assert all(" pages (" in u or " page (" in u for u in updates)
    assert "/s), " in updates[-1] and " rejected" in updates[-1]
    assert terminal.endswith("\r\x1b[K")  # cleared before the summary
    assert "Spider opened" not in terminal  # Scrapy's log is in the file

    run = archive.rows("select * from crawl_runs")[0]
    summary, log = lines(stdout)
    assert summary.startswith(f"run {run['id']}: demo/articles finished in ")
    assert summary.endswith(
        f": {run['pages_fetched']} pages, {run['articles_new']} new, 0 updated, "
        "0 unchanged, 0 rejected"
    )
    path = Path(log.removeprefix("log: "))
    assert path.parent == log_dir and path.name.startswith("demo-")
    assert "Spider opened" in path.read_text()


def test_off_a_terminal_a_crawl_prints_no_progress_line(sites_dir, archive, tmp_path):
    log = tmp_path / "crawl.log"
    proc = newscrawl("crawl", "demo", "--log-file", str(log), *NO_THROTTLE)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr == "", proc.stderr[-3000:]  # nothing at all: no progress, no log
    assert len(lines(proc.stdout)) == 3, proc.stdout
    articles, top_stories, where = lines(proc.stdout)
    assert articles.startswith("run 1: demo/articles finished in ")
    assert top_stories.startswith("run 2: demo/top_stories finished in ")
    assert top_stories.endswith(", 1 top-story snapshot")
    assert where == f"log: {log}"
    assert log.read_text().count("Spider opened") == 2  # both crawls, appended


def test_verbose_puts_scrapys_log_on_stderr_and_no_log_file(sites_dir, archive, log_dir):
    proc = newscrawl("crawl", "demo", "--spider", "top_stories", "-v", *NO_THROTTLE)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "[scrapy.core.engine] INFO: Spider opened" in proc.stderr
    assert "\r" not in proc.stderr
    [run] = lines(proc.stdout)  # and no log line
    assert run.startswith("run 1: demo/top_stories finished in ")
    assert not log_dir.exists()


# --------------------------------------------------------------------------- the parts


def test_the_log_folder_keeps_the_newest_logs_of_each_site(tmp_path):
    folder = tmp_path / "logs"
    start = datetime(2024, 3, 5, 14, 0, tzinfo=UTC)
    made = [new_log_file("demo", folder, start + timedelta(seconds=n)) for n in range(3)]
    assert [p.name for p in made][0] == f"demo-20240305-140000-{os.getpid()}.log"
    for n in range(3, KEEP_LOGS + 5):
        new_log_file("demo", folder, start + timedelta(seconds=n))
    (folder / "demo-x-20240305-140000-1.log").write_text("another site's")
    (folder / "notes.txt").write_text("not a log")
    # The names sort in time order: no file times needed.
    newest = new_log_file("demo", folder, start + timedelta(hours=1))
    kept = sorted(p.name for p in folder.iterdir() if p.name.startswith("demo-2"))
    assert len(kept) == KEEP_LOGS and newest.name in kept
    assert (folder / "demo-x-20240305-140000-1.log").exists() and (folder / "notes.txt").exists()


def test_the_options_choose_where_the_log_goes(tmp_path, log_dir):
    class Terminal:
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    quiet = CrawlOutput.choose("demo", stderr=terminal)  # type: ignore[arg-type]
    assert quiet.log_file is not None and quiet.log_file.parent == log_dir
    assert quiet.progress is not None and quiet.log_level is None
    assert quiet.settings() == {"LOG_FILE": str(quiet.log_file), "LOG_FILE_APPEND": "True"}
    for verbose, level in ((1, "INFO"), (2, "DEBUG"), (3, "DEBUG")):
        loud = CrawlOutput.choose("demo", verbose=verbose, stderr=terminal)  # type: ignore[arg-type]
        assert (loud.log_file, loud.progress, loud.settings()) == (None, None, {"LOG_LEVEL": level})
    level = CrawlOutput.choose("demo", log_level="WARNING", stderr=terminal)  # type: ignore[arg-type]
    assert level.settings() == {"LOG_LEVEL": "WARNING"}
    chosen = tmp_path / "my.log"
    both = CrawlOutput.choose("demo", 1, None, chosen, stderr=terminal)  # type: ignore[arg-type]
    assert both.settings() == {
        "LOG_LEVEL": "INFO",
        "LOG_FILE": str(chosen),
        "LOG_FILE_APPEND": "True",
    }
    with pytest.raises(SystemExit, match="cannot write the log file"):
        CrawlOutput.choose("demo", log_file=tmp_path / "missing" / "x.log")


def test_summary_and_progress_lines():
    started = datetime(2024, 3, 5, 14, 0, tzinfo=UTC)
    run = {
        "id": 12,
        "site": "demo",
        "spider": "articles",
        "status": "finished",
        "finish_reason": "finished",
        "started_at": started,
        "finished_at": started + timedelta(seconds=4.6),
        "pages_fetched": 66,
        "articles_new": 60,
        "articles_updated": 1,
        "articles_unchanged": 2,
        "items_rejected": 3,
        "top_story_snapshots": 0,
    }
    assert summary_line(run) == (
        "run 12: demo/articles finished in 4s: 66 pages, 60 new, 1 updated, 2 unchanged, 3 rejected"
    )
    limited = {**run, "finish_reason": "closespider_pagecount"}
    assert summary_line(limited).endswith("3 rejected (closespider_pagecount)")
    failed = {
        **run,
        **dict.fromkeys(("pages_fetched", "articles_new", "articles_updated"), 0),
        **dict.fromkeys(("articles_unchanged", "items_rejected"), 0),
        "status": "failed",
        "finish_reason": "no page could be fetched (2 download errors)",
    }
    assert summary_line(failed) == (
        "run 12: demo/articles failed after 4s: no page could be fetched (2 download errors)"
    )
    stopped = {**run, "status": "interrupted", "finish_reason": "interrupted: the daemon stopped"}
    assert summary_line(stopped) == (
        "run 12: demo/articles interrupted after 4s (66 pages, 60 new, 1 updated, "
        "2 unchanged, 3 rejected): the daemon stopped"
    )
    top = {**run, "spider": "top_stories", "top_story_snapshots": 1}
    assert summary_line(top).endswith(", 3 rejected, 1 top-story snapshot")
    report = {"pages_fetched": 42, "articles_new": 30, "items_rejected": 1, "elapsed": 5.0}
    assert progress_text("demo/articles", report) == (
        "demo/articles 5s: 42 pages (8.4/s), 30 new, 0 updated, 0 unchanged, 1 rejected"
    )


def test_the_runner_hands_on_each_report_of_the_child():
    """A child writing reports (and a line that is not one) on the pipe."""
    reports: list[dict] = []
    script = (
        "import os, sys\n"
        "fd = int(sys.argv[1])\n"
        'os.write(fd, b\'{"pages_fetched": 1}\\n{"pages_fe\')\n'
        "os.write(fd, b'tched\": 2}\\nnot json\\n')\n"
        "os.close(fd)\n"
        "sys.exit(3)\n"
    )
    with ProgressPipe(reports.append) as pipe:
        [fd] = pipe.child_fds()
        proc = subprocess.Popen([sys.executable, "-c", script, str(fd)], pass_fds=(fd,))
        pipe.started()
        assert pipe.wait(proc, timeout=60) == 3
    assert reports == [{"pages_fetched": 1}, {"pages_fetched": 2}]
    with ProgressPipe(None) as pipe:  # not asked for: no pipe
        assert (pipe.settings(), pipe.child_fds()) == ({}, ())


def test_the_progress_line_is_cut_to_the_terminals_width(monkeypatch):
    out = io.StringIO()
    line = ProgressLine(out)
    monkeypatch.setenv("COLUMNS", "30")
    line.show("demo/articles 5s: 72 pages (12.1/s), 60 new, 0 updated")
    shown = out.getvalue()
    assert shown == "\rdemo/articles 5s: 72 pages (…\x1b[K"
    assert len(shown.removeprefix("\r").removesuffix("\x1b[K")) == 29  # never wraps
    line.clear()
    assert out.getvalue().endswith("\r\x1b[K")
