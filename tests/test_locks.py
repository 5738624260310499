"""Crawl leases and orphaned runs, on a real SQLite file and a real PostgreSQL
database: who may take a lease, when it is taken over, and which runs are
closed as ``interrupted``."""

from __future__ import annotations

import os
import subprocess
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from crawler.storage.locks import (
    LeaseHeld,
    LeaseRenewer,
    acquire_lease,
    lease_holder,
    mark_orphaned_runs,
    process_alive,
    release_lease,
    renew_lease,
    this_host,
)
from crawler.storage.models import CrawlLockRow, CrawlRunRow
from crawler.storage.store import Store


def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


@pytest.fixture
def store(any_database_url) -> Store:
    return Store.open(any_database_url)


def run_row(store: Store, host: str, pid: int, site="demo", spider="articles") -> int:
    run_id = store.start_run(site, spider)
    with store.engine.begin() as conn:
        conn.execute(update(CrawlRunRow).where(CrawlRunRow.id == run_id).values(host=host, pid=pid))
    return run_id


def run_status(store: Store, run_id: int) -> tuple[str, str | None]:
    with store.engine.connect() as conn:
        row = conn.execute(
            select(CrawlRunRow.status, CrawlRunRow.finish_reason).where(CrawlRunRow.id == run_id)
        ).one()
    return row.status, row.finish_reason


def test_a_live_holder_keeps_the_lease(store):
    lease, takeover = acquire_lease(store.engine, "demo", "articles", ttl=60)
    assert takeover is None and lease.pid == os.getpid() and lease.host == this_host()

    with pytest.raises(LeaseHeld) as refused:
        acquire_lease(store.engine, "demo", "articles", ttl=60)
    assert f"demo/articles is being crawled by pid {os.getpid()} on {this_host()}" in str(
        refused.value
    )
    # Another spider of the same site is another lease.
    acquire_lease(store.engine, "demo", "top_stories", ttl=60)

    # Alive on this host: kept even once expired (we can see it working).
    with store.engine.begin() as conn:
        conn.execute(update(CrawlLockRow).values(expires_at=datetime.now(UTC) - timedelta(hours=1)))
    with pytest.raises(LeaseHeld):
        acquire_lease(store.engine, "demo", "articles", ttl=60)

    assert release_lease(store.engine, lease)
    assert lease_holder(store.engine, "demo", "articles") is None
    acquire_lease(store.engine, "demo", "articles", ttl=60)


def test_the_lease_of_a_dead_process_on_this_host_is_taken_over_at_once(store):
    pid = dead_pid()
    old, _ = acquire_lease(store.engine, "demo", "articles", ttl=3600, pid=pid)
    lease, takeover = acquire_lease(store.engine, "demo", "articles", ttl=60)
    assert takeover is not None and takeover.previous.pid == pid
    assert "is no longer running" in takeover.reason
    assert lease_holder(store.engine, "demo", "articles").owner == lease.owner
    # The old holder can neither renew nor release what it lost.
    assert not renew_lease(store.engine, old)
    assert not release_lease(store.engine, old)
    assert renew_lease(store.engine, lease, ttl=60)


def test_another_hosts_lease_is_taken_over_only_once_expired(store):
    acquire_lease(store.engine, "demo", "articles", ttl=60, host="crawler-2", pid=4242)
    their_run = run_row(store, "crawler-2", 4242)
    with pytest.raises(LeaseHeld, match="pid 4242 on crawler-2"):
        acquire_lease(store.engine, "demo", "articles", ttl=60)

    with store.engine.begin() as conn:
        conn.execute(
            update(CrawlLockRow).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    _, takeover = acquire_lease(store.engine, "demo", "articles", ttl=60)
    assert takeover is not None and "stopped renewing it" in takeover.reason
    status, reason = run_status(store, their_run)
    assert status == "interrupted"
    assert "lease was taken over" in reason and "crawler-2" in reason


def test_of_processes_racing_for_a_free_lease_exactly_one_wins(store):
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def contend() -> None:
        barrier.wait()
        try:
            acquire_lease(store.engine, "demo", "articles", ttl=60)
            outcomes.append("won")
        except LeaseHeld:
            outcomes.append("refused")

    threads = [threading.Thread(target=contend) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["refused"] * 5 + ["won"]


def test_runs_of_dead_processes_of_this_host_are_marked_interrupted(store):
    host = this_host()
    orphan = run_row(store, host, dead_pid())
    alive = run_row(store, host, os.getpid())
    elsewhere = run_row(store, "crawler-2", dead_pid())
    finished = run_row(store, host, dead_pid())
    store.finish_run(finished, "finished", {}, "finished")

    marked = mark_orphaned_runs(store.engine)

    assert [m.id for m in marked] == [orphan]
    status, reason = run_status(store, orphan)
    assert status == "interrupted"
    assert "ended without finishing its run" in reason
    assert run_status(store, alive)[0] == "running"
    assert run_status(store, elsewhere)[0] == "running"  # another host: its lease decides
    assert run_status(store, finished) == ("finished", "finished")
    assert mark_orphaned_runs(store.engine) == []


def test_a_reused_pid_is_not_the_process_that_held_the_lease():
    me = os.getpid()
    assert process_alive(me)
    assert process_alive(me, since=datetime.now(UTC))
    # This process started long after that time: a run or lease of that time
    # with this pid belonged to another process.
    assert not process_alive(me, since=datetime.now(UTC) - timedelta(days=30))
    assert not process_alive(dead_pid())
    assert not process_alive(0) and not process_alive(None)


def test_a_holder_whose_lease_was_taken_over_is_told(store):
    lease, _ = acquire_lease(store.engine, "demo", "articles", ttl=2)
    lost = threading.Event()
    renewer = LeaseRenewer(store.engine, lease, ttl=2, on_lost=lost.set).start()
    try:
        with store.engine.begin() as conn:  # another process took it over
            conn.execute(update(CrawlLockRow).values(owner="crawler-2:4242:x"))
        assert lost.wait(timeout=10)
        assert renewer.lost
    finally:
        renewer.stop(release=True)
    assert lease_holder(store.engine, "demo", "articles").owner == "crawler-2:4242:x"


def test_the_daemon_lease_tells_whether_a_daemon_runs_and_when_one_last_ran(store):
    from crawler.storage.locks import DAEMON_LEASE, daemon_state

    engine = store.engine
    assert daemon_state(engine).state == "none"
    lease, _ = acquire_lease(engine, *DAEMON_LEASE, ttl=60)
    running = daemon_state(engine)
    assert (running.state, running.pid, running.host) == ("running", os.getpid(), this_host())
    assert running.running and running.started_at == lease.acquired_at

    # Released, it stays as a record of the last run, and is free to take.
    assert release_lease(engine, lease, keep_record=True)
    stopped = daemon_state(engine)
    assert (stopped.state, stopped.running) == ("stopped", False)
    assert stopped.started_at == lease.acquired_at <= stopped.stopped_at
    again, takeover = acquire_lease(engine, *DAEMON_LEASE, ttl=60)  # the same live process
    assert takeover is not None and "released it" in takeover.reason
    assert daemon_state(engine).state == "running"

    # Its process gone without releasing it (on this host), or another host's
    # lease no longer renewed.
    gone = dead_pid()
    with engine.begin() as conn:
        conn.execute(update(CrawlLockRow).values(pid=gone))
    assert (daemon_state(engine).state, daemon_state(engine).pid) == ("ended", gone)
    expired = datetime.now(UTC) - timedelta(seconds=1)
    with engine.begin() as conn:
        conn.execute(update(CrawlLockRow).values(host="crawler-2", expires_at=expired))
    state = daemon_state(engine)
    assert (state.state, state.host, state.stopped_at) == ("expired", "crawler-2", expired)
    with engine.begin() as conn:
        conn.execute(update(CrawlLockRow).values(expires_at=expired + timedelta(hours=1)))
    assert daemon_state(engine).running  # another host's, still renewed
