"""A database password never shown: in ``user:pass@`` or given as a query
parameter (``?password=``, ``?sslpassword=``, any case), in messages, in the
daemon's log and in the spool's ``database.txt``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crawler.scheduling.runner import PROJECT_ROOT
from crawler.storage.database import safe_url

SECRET = "s3cr3t-Pa55"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            f"postgresql+psycopg://postgres@127.0.0.1/test?password={SECRET}",
            "postgresql+psycopg://postgres@127.0.0.1/test?password=***",
        ),
        (
            f"postgresql+psycopg://news:{SECRET}@db:5433/news",
            "postgresql+psycopg://news:***@db:5433/news",
        ),
        (
            f"postgresql+psycopg://news@db/news?sslmode=require&PassWord={SECRET}",
            "postgresql+psycopg://news@db/news?PassWord=***&sslmode=require",
        ),
        (
            f"postgresql://news:{SECRET}@db/news?PASSWORD={SECRET}&sslpassword={SECRET}"
            f"&SSLPassword={SECRET}&application_name=crawler",
            "postgresql://news:***@db/news?PASSWORD=***&SSLPassword=***"
            "&application_name=crawler&sslpassword=***",
        ),
        (
            f"postgresql+psycopg://db/news?password={SECRET}&password=other",
            "postgresql+psycopg://db/news?password=***&password=***",
        ),
        ("sqlite:///newscrawl.db", "sqlite:///newscrawl.db"),
        ("sqlite:////var/lib/news.db?timeout=30", "sqlite:////var/lib/news.db?timeout=30"),
        # Not a URL SQLAlchemy reads: masked by pattern.
        (f"host=db password={SECRET}", "host=db password=***"),
    ],
)
def test_safe_url_masks_every_password(url, shown):
    assert safe_url(url) == shown
    assert SECRET not in safe_url(url)


def test_a_parameter_only_named_like_a_password_is_kept():
    url = "postgresql+psycopg://db/news?passfile=/etc/pgpass&application_name=password"
    assert safe_url(url) == url.replace("passfile=/etc/pgpass&application_name=password", "") + (
        "application_name=password&passfile=%2Fetc%2Fpgpass"
    )


def test_the_spool_names_its_database_without_the_password(tmp_path):
    from crawler.storage.spool import Spool

    given = Spool(tmp_path, f"postgresql+psycopg://news@db/news?sslmode=require&Password={SECRET}")
    other = Spool(tmp_path, "postgresql+psycopg://news:other@db/news?sslmode=require")
    without = Spool(tmp_path, "postgresql+psycopg://news@db/news?sslmode=require")
    assert given.folder == other.folder == without.folder  # the same database
    given.append({"kind": "rejected", "rows": []})
    try:
        written = (given.folder / "database.txt").read_text()
        assert written == "postgresql+psycopg://news@db/news?sslmode=require\n"
        assert SECRET not in str(given.path)
    finally:
        given.close()


@pytest.mark.e2e
def test_a_command_that_cannot_reach_the_database_does_not_show_the_password():
    url = f"postgresql+psycopg://postgres@127.0.0.1:1/news?password={SECRET}"
    proc = subprocess.run(
        [sys.executable, "-m", "crawler.cli", "status", "--database", url],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert "127.0.0.1:1/news?password=***" in proc.stderr
    assert SECRET not in proc.stdout + proc.stderr


def test_the_daemon_start_up_line_does_not_show_the_password(postgres_url, tmp_path):
    url = f"{postgres_url}?password={SECRET}"  # trust authentication ignores it
    sites = tmp_path / "sites"
    sites.mkdir()
    log = tmp_path / "daemon.log"
    env = dict(os.environ, NEWSCRAWL_SITES_DIR=str(sites), NEWSCRAWL_SPOOL_DIR=str(tmp_path))
    with open(tmp_path / "daemon.out", "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "crawler.cli", "daemon", "--database", url, "--log-file", log],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120  # a hang guard, not a measure
        while "newscrawl daemon started" not in (log.read_text() if log.exists() else ""):
            assert proc.poll() is None, (tmp_path / "daemon.out").read_text()
            assert time.monotonic() < deadline, "the daemon did not start"
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=90) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text() + (tmp_path / "daemon.out").read_text()
    [started] = [line for line in text.splitlines() if "newscrawl daemon started" in line]
    assert started.endswith(f"database {postgres_url}?password=***")
    assert SECRET not in text
    assert SECRET not in "".join(p.read_text() for p in Path(tmp_path).rglob("database.txt"))
