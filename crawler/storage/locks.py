"""Crawl leases and runs left behind: the SQL that keeps two processes from
crawling the same site and spider, and that closes the runs of dead processes.

A lease is a ``crawl_locks`` row per (site, spider) naming its holder (host,
pid, a unique owner string) and an expiry that the holder keeps pushing
forward while it crawls. Another process may take the lease over when

- the holder is on this host and its process is gone (checked at once), or
- the holder is on another host and the lease has expired (it stopped
  renewing: crashed, or cut off from the database).

A holder on this host that is alive keeps its lease even past its expiry: we
can see it is still working. Process liveness compares the start time of the
process with the time of the lease or run, so a pid reused by an unrelated
process (after a reboot, in a restarted container) does not count as alive.

The same liveness test finds ``crawl_runs`` rows left ``running`` by a killed
process: :func:`mark_orphaned_runs` closes them as ``interrupted``.

A crawl's lease row is deleted when the crawl ends. The daemon's lease
(:data:`DAEMON_LEASE`) is kept as a record instead, marked released with the
time the daemon stopped: ``newscrawl status`` reads from it whether a daemon
runs now and when one last ran (:func:`daemon_state`).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from crawler.sites.times import human_time
from crawler.storage.models import CrawlLockRow, CrawlRunRow

logger = logging.getLogger(__name__)

DEFAULT_LEASE_TTL = 120.0
# The lease of the daemon itself: one scheduler per database (site names
# cannot start with "_", so this never collides with a real site).
DAEMON_LEASE = ("_daemon", "scheduler")
# The owner of a lease its holder gave up but kept as a record starts with this.
RELEASED = "released:"
# /proc start times are known to a clock tick, boot time to the second.
_START_TIME_SLACK = timedelta(seconds=2)

IsAlive = Callable[[int, datetime | None], bool]


def utcnow() -> datetime:
    return datetime.now(UTC)


def this_host() -> str:
    return socket.gethostname()


# --------------------------------------------------------------------------- processes


def _boot_time() -> float | None:
    try:
        with open("/proc/stat", encoding="ascii") as f:
            for line in f:
                if line.startswith("btime "):
                    return float(line.split()[1])
    except OSError:
        pass
    return None


def _proc_state(pid: int) -> tuple[str, datetime | None] | None:
    """(state letter, start time) of a process from /proc, or None off Linux."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
    except FileNotFoundError:
        return ("X", None)
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()  # the command name may hold spaces
    boot = _boot_time()
    started = None
    if boot is not None and len(fields) > 19:
        ticks = int(fields[19])
        started = datetime.fromtimestamp(boot + ticks / os.sysconf("SC_CLK_TCK"), UTC)
    return fields[0], started


def process_alive(pid: int | None, since: datetime | None = None) -> bool:
    """Whether process ``pid`` of this host runs, and (when ``since`` is given)
    is the same process that existed at ``since`` rather than a later one that
    was given the same pid."""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    state = _proc_state(pid)
    if state is None:
        return True
    letter, started = state
    if letter in ("Z", "X", "x"):  # a zombie has finished; only its exit status is left
        return False
    if since is not None and started is not None and started > since + _START_TIME_SLACK:
        return False
    return True


# --------------------------------------------------------------------------- leases


@dataclass(frozen=True)
class Lease:
    site: str
    spider: str
    owner: str
    host: str
    pid: int
    acquired_at: datetime
    expires_at: datetime

    @property
    def released(self) -> bool:
        """Given up by its holder and kept as a record (the daemon's lease)."""
        return self.owner.startswith(RELEASED)

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}, since {human_time(self.acquired_at)}"


@dataclass(frozen=True)
class Takeover:
    """The lease a new holder took over, and why it was free."""

    previous: Lease
    reason: str


class LeaseHeld(Exception):
    """Another live process holds the lease."""

    def __init__(self, holder: Lease) -> None:
        self.holder = holder
        super().__init__(
            f"{holder.site}/{holder.spider} is being crawled by {holder.describe()} "
            f"(lease until {human_time(holder.expires_at)})"
        )


def _lease(row: object) -> Lease:
    return Lease(
        site=row.site,  # type: ignore[attr-defined]
        spider=row.spider,  # type: ignore[attr-defined]
        owner=row.owner,  # type: ignore[attr-defined]
        host=row.host,  # type: ignore[attr-defined]
        pid=row.pid,  # type: ignore[attr-defined]
        acquired_at=row.acquired_at,  # type: ignore[attr-defined]
        expires_at=row.expires_at,  # type: ignore[attr-defined]
    )


def lease_holder(engine: Engine, site: str, spider: str) -> Lease | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(CrawlLockRow).where(CrawlLockRow.site == site, CrawlLockRow.spider == spider)
        ).first()
    return _lease(row) if row is not None else None


def why_free(
    holder: Lease, now: datetime, host: str, is_alive: IsAlive = process_alive
) -> str | None:
    """Why ``holder``'s lease may be taken over, or None while it is valid."""
    if holder.released:
        return f"its holder, pid {holder.pid} on {holder.host}, released it"
    if holder.host == host:
        if is_alive(holder.pid, holder.acquired_at):
            return None
        return f"its holder, pid {holder.pid} on {holder.host}, is no longer running"
    if holder.expires_at <= now:
        return (
            f"its holder, pid {holder.pid} on {holder.host}, stopped renewing it "
            f"(expired {human_time(holder.expires_at)})"
        )
    return None


def acquire_lease(
    engine: Engine,
    site: str,
    spider: str,
    ttl: float = DEFAULT_LEASE_TTL,
    *,
    host: str | None = None,
    pid: int | None = None,
    is_alive: IsAlive = process_alive,
) -> tuple[Lease, Takeover | None]:
    """Take the lease of (site, spider) for this process, or raise :class:`LeaseHeld`.

    Portable SQL only: an insert guarded by the primary key, or an update
    guarded by the previous holder's owner and expiry, so of two processes
    racing for a free lease exactly one wins.
    """
    host = host or this_host()
    pid = pid or os.getpid()
    for _ in range(5):
        lease = _new_lease(site, spider, host, pid, ttl)
        holder = lease_holder(engine, site, spider)
        if holder is None:
            if _insert_lease(engine, lease):
                return lease, None
            continue  # another process inserted it first: look again
        reason = why_free(holder, lease.acquired_at, host, is_alive)
        if reason is None:
            raise LeaseHeld(holder)
        if _take_over(engine, lease, holder, reason):
            return lease, Takeover(holder, reason)
    raise RuntimeError(f"could not take the lease of {site}/{spider}: too much contention")


def _new_lease(site: str, spider: str, host: str, pid: int, ttl: float) -> Lease:
    """A lease for this process, starting now, with a fresh owner token."""
    now = utcnow()
    return Lease(
        site,
        spider,
        f"{host}:{pid}:{uuid.uuid4().hex[:12]}",
        host,
        pid,
        now,
        now + timedelta(seconds=ttl),
    )


def _holder_values(lease: Lease) -> dict[str, Any]:
    return {
        "owner": lease.owner,
        "host": lease.host,
        "pid": lease.pid,
        "acquired_at": lease.acquired_at,
        "expires_at": lease.expires_at,
    }


def _insert_lease(engine: Engine, lease: Lease) -> bool:
    """Insert the lease's row; False when another process inserted it first."""
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(CrawlLockRow).values(
                    site=lease.site, spider=lease.spider, **_holder_values(lease)
                )
            )
    except IntegrityError:
        return False
    return True


def _take_over(engine: Engine, lease: Lease, holder: Lease, reason: str) -> bool:
    """Replace ``holder``'s row by the lease, unless someone else changed it
    meanwhile; the previous holder's running run is closed as interrupted."""
    with engine.begin() as conn:
        taken = conn.execute(
            update(CrawlLockRow)
            .where(
                CrawlLockRow.site == lease.site,
                CrawlLockRow.spider == lease.spider,
                CrawlLockRow.owner == holder.owner,
                CrawlLockRow.expires_at == holder.expires_at,
            )
            .values(**_holder_values(lease))
        ).rowcount
        if taken != 1:
            return False
        # The previous holder's run cannot finish its row any more.
        conn.execute(
            _close_running(
                f"interrupted: the lease was taken over because {reason}", lease.acquired_at
            ).where(
                CrawlRunRow.site == lease.site,
                CrawlRunRow.spider == lease.spider,
                CrawlRunRow.host == holder.host,
                CrawlRunRow.pid == holder.pid,
            )
        )
        return True


def _held(lease: Lease) -> list:
    """The conditions of ``lease``'s row while it is still ours."""
    return [
        CrawlLockRow.site == lease.site,
        CrawlLockRow.spider == lease.spider,
        CrawlLockRow.owner == lease.owner,
    ]


def _change_held(engine: Engine, lease: Lease, **values: object) -> bool:
    """Update ``lease``'s row while it is ours; False when it no longer is."""
    stmt = update(CrawlLockRow).where(*_held(lease)).values(**values)
    with engine.begin() as conn:
        return conn.execute(stmt).rowcount == 1


def renew_lease(engine: Engine, lease: Lease, ttl: float = DEFAULT_LEASE_TTL) -> bool:
    """Push the expiry forward; False when the lease is no longer ours."""
    return _change_held(engine, lease, expires_at=utcnow() + timedelta(seconds=ttl))


def release_lease(engine: Engine, lease: Lease, keep_record: bool = False) -> bool:
    """Give the lease up: its row is deleted, or with ``keep_record`` marked
    released, its expiry set to now (when the holder stopped)."""
    if keep_record:
        return _change_held(engine, lease, owner=RELEASED + lease.owner, expires_at=utcnow())
    with engine.begin() as conn:
        return conn.execute(delete(CrawlLockRow).where(*_held(lease))).rowcount == 1


class LeaseRenewer:
    """Renews a lease from a background thread until stopped."""

    def __init__(
        self,
        engine: Engine,
        lease: Lease,
        ttl: float = DEFAULT_LEASE_TTL,
        on_lost: Callable[[], None] | None = None,
        keep_record: bool = False,
    ) -> None:
        self.engine = engine
        self.lease = lease
        self.ttl = ttl
        self.on_lost = on_lost
        self.keep_record = keep_record  # on release: see release_lease
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"lease-{lease.site}-{lease.spider}", daemon=True
        )

    def start(self) -> LeaseRenewer:
        self._thread.start()
        return self

    def _run(self) -> None:
        interval = max(self.ttl / 4, 0.5)
        while not self._stop.wait(interval):
            try:
                if not renew_lease(self.engine, self.lease, self.ttl):
                    self.lost = True
                    logger.error(
                        "the lease of %s/%s was taken over by another process",
                        self.lease.site,
                        self.lease.spider,
                    )
                    if self.on_lost is not None:
                        self.on_lost()
                    return
            except Exception as exc:  # a database hiccup: try again next time
                logger.warning(
                    "could not renew the lease of %s/%s: %s",
                    self.lease.site,
                    self.lease.spider,
                    exc,
                )

    def stop(self, release: bool = True) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        if release and not self.lost:
            try:
                release_lease(self.engine, self.lease, keep_record=self.keep_record)
            except Exception as exc:
                logger.warning(
                    "could not release the lease of %s/%s (it will expire): %s",
                    self.lease.site,
                    self.lease.spider,
                    exc,
                )


# --------------------------------------------------------------------------- the daemon


@dataclass(frozen=True)
class DaemonState:
    """The daemon of a database, as its lease tells: ``running``; ``stopped``
    (it released its lease at ``stopped_at``); ``ended`` (its process on this
    host is gone without releasing it: killed, crashed); ``expired`` (on
    another host, it stopped renewing the lease, which expired at
    ``stopped_at``); ``none`` (no daemon has held the lease here)."""

    state: str
    host: str | None = None
    pid: int | None = None
    started_at: datetime | None = None
    stopped_at: datetime | None = None

    @property
    def running(self) -> bool:
        return self.state == "running"


def daemon_state(
    engine: Engine, host: str | None = None, is_alive: IsAlive = process_alive
) -> DaemonState:
    """Whether a daemon runs on this database now, and when one last ran."""
    holder = lease_holder(engine, *DAEMON_LEASE)
    if holder is None:
        return DaemonState("none")
    host = host or this_host()
    stopped: datetime | None = None
    if holder.released:
        state, stopped = "stopped", holder.expires_at
    elif why_free(holder, utcnow(), host, is_alive) is None:
        state = "running"
    elif holder.host == host:
        state = "ended"
    else:
        state, stopped = "expired", holder.expires_at
    return DaemonState(state, holder.host, holder.pid, holder.acquired_at, stopped)


# --------------------------------------------------------------------------- runs


def _close_running(reason: str, now: datetime, status: str = "interrupted"):  # type: ignore[no-untyped-def]
    return (
        update(CrawlRunRow)
        .where(CrawlRunRow.status == "running")
        .values(
            status=status,
            finished_at=func.coalesce(CrawlRunRow.finished_at, now),
            finish_reason=reason,
        )
    )


@dataclass(frozen=True)
class OrphanedRun:
    id: int
    site: str
    spider: str
    pid: int


def mark_orphaned_runs(
    engine: Engine, host: str | None = None, is_alive: IsAlive = process_alive
) -> list[OrphanedRun]:
    """Close as ``interrupted`` the runs of this host still ``running`` whose
    process is gone (killed, crashed, the machine restarted)."""
    host = host or this_host()
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                CrawlRunRow.id,
                CrawlRunRow.site,
                CrawlRunRow.spider,
                CrawlRunRow.pid,
                CrawlRunRow.started_at,
            ).where(CrawlRunRow.status == "running", CrawlRunRow.host == host)
        ).all()
    orphans = [
        OrphanedRun(r.id, r.site, r.spider, r.pid)
        for r in rows
        if not is_alive(r.pid, r.started_at)
    ]
    now = utcnow()
    marked = []
    for orphan in orphans:
        with engine.begin() as conn:
            done = conn.execute(
                _close_running(
                    f"interrupted: the crawl process (pid {orphan.pid} on {host}) "
                    "ended without finishing its run",
                    now,
                ).where(CrawlRunRow.id == orphan.id)
            ).rowcount
        if done:
            marked.append(orphan)
    return marked


def end_runs_of_process(
    engine: Engine,
    host: str,
    pid: int,
    started_after: datetime,
    status: str,
    reason: str,
    from_statuses: tuple[str, ...] = ("running",),
    site_spider: tuple[str, str] | None = None,
) -> list[int]:
    """Give ``status`` to the runs of one process (pid on host, started after
    ``started_after``; of one site and spider alone when ``site_spider`` is
    given) whose status is still one of ``from_statuses``. Counts already
    written are kept. The ids changed are returned."""
    now = utcnow()
    where = [
        CrawlRunRow.host == host,
        CrawlRunRow.pid == pid,
        CrawlRunRow.started_at >= started_after,
        CrawlRunRow.status.in_(from_statuses),
    ]
    if site_spider is not None:
        where += [CrawlRunRow.site == site_spider[0], CrawlRunRow.spider == site_spider[1]]
    with engine.begin() as conn:
        ids = list(conn.execute(select(CrawlRunRow.id).where(*where)).scalars())
        if ids:
            conn.execute(
                update(CrawlRunRow)
                .where(CrawlRunRow.id.in_(ids))
                .values(
                    status=status,
                    finished_at=func.coalesce(CrawlRunRow.finished_at, now),
                    finish_reason=reason,
                )
            )
    return ids


def close_orphaned_runs(engine: Engine, host: str | None = None) -> list[OrphanedRun]:
    """:func:`mark_orphaned_runs`, with a warning logged for each run closed."""
    orphans = mark_orphaned_runs(engine, host)
    for orphan in orphans:
        logger.warning(
            "run %d %s/%s marked interrupted: its process (pid %d) ended without finishing it",
            orphan.id,
            orphan.site,
            orphan.spider,
            orphan.pid,
        )
    return orphans
