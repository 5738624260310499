"""Every newscrawl process ends the same way (crawler/__init__.py): its
database connections closed, then the garbage collector frozen, so Python's
finalization does not walk every object still alive (0.8 s of each crawl
process's exit before). Checked with real child processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# A reference cycle whose finalizer reports it: only a garbage collection at
# exit frees it, so the report shows whether finalization walked the objects.
CHILD = """
import sys
if sys.argv[1] == "newscrawl":
    import crawler
    from crawler.storage.database import get_engine

    with get_engine("sqlite:///" + sys.argv[2]).begin() as conn:
        conn.exec_driver_sql("create table t (x integer)")
        conn.exec_driver_sql("insert into t values (1)")


class Witness:
    def __del__(self):
        print("collected at exit", flush=True)


witness = Witness()
witness.itself = witness
"""


def run(kind: str, database: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", CHILD, kind, str(database)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def test_a_plain_python_process_collects_its_garbage_at_exit(tmp_path: Path):
    # The witness works: without newscrawl, finalization collects the cycle.
    assert run("plain", tmp_path / "unused.db").stdout == "collected at exit\n"


def test_a_newscrawl_process_exits_without_walking_its_objects_and_closes_the_database(
    tmp_path: Path,
):
    database = tmp_path / "archive.db"
    child = run("newscrawl", database)
    assert child.stdout == ""  # frozen: finalization left the cycle alone
    assert child.stderr == ""
    # The connection was closed before that: WAL checkpointed and removed.
    assert not (tmp_path / "archive.db-wal").exists()
    assert not (tmp_path / "archive.db-shm").exists()
    import sqlite3

    with sqlite3.connect(database) as conn:
        assert conn.execute("select x from t").fetchall() == [(1,)]
