"""Processes that start at once on an empty database: one creates the schema,
the others wait for it and go on, on SQLite and on PostgreSQL. Each round
starts several real processes, released together once all of them are ready."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from crawler.scheduling.runner import PROJECT_ROOT
from crawler.storage.database import current_revision, dispose_engines, head_revision

# Every test here starts processes at once on one database.
pytestmark = pytest.mark.e2e

PROCESSES = 4
ROUNDS = 3

# Imports first (the slow part), then says it is ready and waits for the go.
RACER = """
import sys, time
from pathlib import Path
from crawler.storage.database import ensure_schema, upgrade
url, ready, go, how = sys.argv[1:]
Path(ready).touch()
while not Path(go).exists():
    time.sleep(0.002)
if how == "ensure_schema":
    ensure_schema(url)
else:
    upgrade(url)
"""


def race(url: str, folder: Path, how: str) -> None:
    """PROCESSES processes bring ``url`` to the latest schema at once; all
    of them end well."""
    folder.mkdir()
    go = folder / "go"
    procs = []
    for n in range(PROCESSES):
        ready = folder / f"ready-{n}"
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", RACER, url, str(ready), str(go), how],
                cwd=PROJECT_ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    try:
        deadline = time.monotonic() + 120  # a hang guard, not a measure
        while not all((folder / f"ready-{n}").exists() for n in range(PROCESSES)):
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            assert time.monotonic() < deadline, "the processes did not start"
            time.sleep(0.01)
        go.touch()
        results = [(p.wait(timeout=120), *p.communicate(timeout=10)) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for code, _out, err in results:
        assert "Traceback" not in err, err
        assert code == 0, err
    assert current_revision(url) == head_revision()
    dispose_engines()


@pytest.mark.parametrize("how", ["ensure_schema", "upgrade"])
def test_processes_starting_at_once_on_an_empty_sqlite_file(tmp_path, how):
    for n in range(ROUNDS):
        race(f"sqlite:///{tmp_path / f'archive-{n}.db'}", tmp_path / f"round-{n}", how)


@pytest.mark.parametrize("how", ["ensure_schema", "upgrade"])
def test_processes_starting_at_once_on_an_empty_postgresql_database(postgres_admin, tmp_path, how):
    for n in range(ROUNDS):
        name = f"newscrawl_test_{uuid.uuid4().hex[:12]}"
        with postgres_admin.connect() as conn:
            conn.execute(text(f'create database "{name}"'))
        try:
            url = postgres_admin.url.set(database=name).render_as_string(hide_password=False)
            race(url, tmp_path / f"round-{n}", how)
        finally:
            dispose_engines()
            with postgres_admin.connect() as conn:
                conn.execute(text(f'drop database if exists "{name}" with (force)'))
