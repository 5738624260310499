"""Processes that start at once on an empty database: one creates the schema,
the others wait for it and go on, on SQLite and on PostgreSQL. The same real
processes race in each round, on a new empty database each time, released
together once all of them are ready."""

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

# Imports first (the slow part); then, for each round's database, says it is
# ready, waits for the go and brings that database to the latest schema. The
# engines and what the process knows of a database are dropped after each
# round, as if it were new.
RACER = """
import sys, time
from pathlib import Path
from crawler.storage.database import dispose_engines, ensure_schema, upgrade
how, number, *rounds = sys.argv[1:]
for url, folder in zip(rounds[::2], rounds[1::2]):
    Path(folder, f"ready-{number}").touch()
    while not Path(folder, "go").exists():
        time.sleep(0.002)
    if how == "ensure_schema":
        ensure_schema(url)
    else:
        upgrade(url)
    dispose_engines()
"""


def release_when_ready(folder: Path, procs: list[subprocess.Popen[str]]) -> None:
    """Once every process says it is ready for this round, tell them all to go."""
    deadline = time.monotonic() + 120  # a hang guard, not a measure
    while not all((folder / f"ready-{n}").exists() for n in range(PROCESSES)):
        ended = [p for p in procs if p.poll() is not None]
        assert not ended, [p.communicate()[1][-3000:] for p in ended]
        assert time.monotonic() < deadline, "the processes did not get ready"
        time.sleep(0.01)
    (folder / "go").touch()


def race(urls: list[str], folder: Path, how: str) -> None:
    """PROCESSES processes bring each of ``urls`` in turn to the latest schema
    at once; all of them end well."""
    rounds = []
    for n, url in enumerate(urls):
        (folder / f"round-{n}").mkdir(parents=True)
        rounds += [url, str(folder / f"round-{n}")]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, how, str(n), *rounds],
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(PROCESSES)
    ]
    try:
        for n in range(len(urls)):
            release_when_ready(folder / f"round-{n}", procs)
        results = [(p.wait(timeout=120), *p.communicate(timeout=10)) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for code, _out, err in results:
        assert "Traceback" not in err, err
        assert code == 0, err
    for url in urls:
        assert current_revision(url) == head_revision()
    dispose_engines()


@pytest.mark.parametrize("how", ["ensure_schema", "upgrade"])
def test_processes_starting_at_once_on_an_empty_sqlite_file(tmp_path, how):
    race([f"sqlite:///{tmp_path / f'archive-{n}.db'}" for n in range(ROUNDS)], tmp_path, how)


@pytest.mark.parametrize("how", ["ensure_schema", "upgrade"])
def test_processes_starting_at_once_on_an_empty_postgresql_database(postgres_admin, tmp_path, how):
    names = [f"newscrawl_test_{uuid.uuid4().hex[:12]}" for _ in range(ROUNDS)]
    try:
        for name in names:
            with postgres_admin.connect() as conn:
                conn.execute(text(f'create database "{name}"'))
        urls = [
            postgres_admin.url.set(database=name).render_as_string(hide_password=False)
            for name in names
        ]
        race(urls, tmp_path, how)
    finally:
        dispose_engines()
        with postgres_admin.connect() as conn:
            for name in names:
                conn.execute(text(f'drop database if exists "{name}" with (force)'))
