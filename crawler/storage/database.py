"""Which database, how to connect to it, and bringing its schema up to date."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from urllib.parse import quote_plus

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError

DATABASE_URL_ENV = "NEWSCRAWL_DATABASE_URL"
DEFAULT_DATABASE_URL = "sqlite:///newscrawl.db"
SQLITE_BUSY_TIMEOUT_MS = 30_000
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent.parent / "migrations"

logger = logging.getLogger(__name__)
_engines: dict[str, Engine] = {}
_upgraded: set[str] = set()
_lock = threading.Lock()


def database_url(url: str | None = None) -> str:
    """The URL given, else ``NEWSCRAWL_DATABASE_URL``, else ``sqlite:///newscrawl.db``."""
    return url or os.environ.get(DATABASE_URL_ENV) or DEFAULT_DATABASE_URL


# Query parameters that carry a secret (libpq's connection parameters
# ``password`` and ``sslpassword``), whatever their case.
SECRET_QUERY_KEYS = frozenset({"password", "sslpassword"})
MASK = "***"


def is_secret_key(key: str) -> bool:
    return key.lower() in SECRET_QUERY_KEYS


def without_secrets(url: URL) -> URL:
    """``url`` without its password, either ``user:pass@`` or ``?password=``."""
    query = {k: v for k, v in url.query.items() if not is_secret_key(k)}
    return URL.create(url.drivername, url.username, None, url.host, url.port, url.database, query)


def _values(value: str | tuple[str, ...]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def safe_url(url: str) -> str:
    """The URL with any password masked, for logs and messages: the one in
    ``user:pass@`` and those given as query parameters (``?password=``,
    ``?sslpassword=``, any case) are shown as ``***``."""
    try:
        parsed = make_url(url)
    except Exception:  # noqa: BLE001 - not a URL SQLAlchemy reads: mask by pattern
        masked = re.sub(r"(//[^/@:]*:)[^/@]*@", rf"\g<1>{MASK}@", url)
        keys = "|".join(SECRET_QUERY_KEYS)
        return re.sub(
            rf"(?<![\w-])((?:{keys})\s*=\s*)[^&;#\s]*", rf"\g<1>{MASK}", masked, flags=re.I
        )
    shown = parsed.set(query={}).render_as_string(hide_password=True)
    pairs = [
        f"{quote_plus(key)}={MASK if is_secret_key(key) else quote_plus(value)}"
        for key in sorted(parsed.query)
        for value in _values(parsed.query[key])
    ]
    return shown + ("?" + "&".join(pairs) if pairs else "")


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    # The busy timeout makes a second writer wait for the lock instead of
    # failing at once; WAL lets readers work while a crawl writes.
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    _journal_mode_wal(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _journal_mode_wal(cursor) -> None:  # type: ignore[no-untyped-def]
    """Switch the file to WAL. Switching takes an exclusive lock, and SQLite
    answers "database is locked" at once, without waiting out the busy
    timeout, when several processes open a new file together: try again
    until the busy timeout has passed."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    pause = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.2)


PG_CONNECT_TIMEOUT = 10  # seconds: an unreachable server fails a write, not hangs it


def make_engine(url: str) -> Engine:
    connect_args = {}
    if make_url(url).get_backend_name() == "postgresql":
        connect_args["connect_timeout"] = PG_CONNECT_TIMEOUT
    engine = create_engine(url, future=True, pool_pre_ping=True, connect_args=connect_args)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def get_engine(url: str | None = None) -> Engine:
    """One engine per URL per process."""
    url = database_url(url)
    with _lock:
        if url not in _engines:
            _engines[url] = make_engine(url)
        return _engines[url]


# Values per ``IN (...)`` list written out for SQLite: well under its limit of
# bound parameters (32,766).
SQLITE_IN_VALUES = 500


def sqlite_select_in(connection: Connection, sql: str, values: list) -> list:
    """The rows of ``sql`` (a SELECT with ``{marks}`` where its ``IN`` list
    goes) for ``values``, run on SQLite as written-out SQL with one ``?`` per
    value, SQLITE_IN_VALUES at a time. An expanding SQLAlchemy parameter is
    rendered again at every execution, which costs more than SQLite's own
    work for a batch's lookups (docs/performance.md, the store)."""
    rows: list = []
    for start in range(0, len(values), SQLITE_IN_VALUES):
        chunk = tuple(values[start : start + SQLITE_IN_VALUES])
        marks = ", ".join("?" * len(chunk))
        rows += connection.exec_driver_sql(sql.format(marks=marks), chunk).all()
    return rows


def ping(engine: Engine) -> None:
    """``SELECT 1``: raises when the database does not answer."""
    with engine.connect() as conn:
        conn.execute(text("select 1"))


def dispose_engines(timeout: float = -1) -> bool:
    """Close every pooled connection (before dropping a database, or forking).

    ``timeout``: seconds to wait for another thread creating an engine (the
    default waits as long as it takes); False when that ran out and nothing
    was closed.
    """
    if not _lock.acquire(timeout=timeout):
        return False
    try:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _upgraded.clear()
    finally:
        _lock.release()
    return True


def quiet_alembic() -> None:
    """Alembic at WARNING, unless its level was set: at INFO it logs each
    plugin it sets up when imported (``alembic.runtime.plugins``) and each
    migration, which is not news to a newscrawl user, in any command or crawl.
    Called before anything of Alembic is imported."""
    alembic_logger = logging.getLogger("alembic")
    if alembic_logger.level == logging.NOTSET:
        alembic_logger.setLevel(logging.WARNING)


# Schema changes are made by one process at a time (see _schema_lock).
SCHEMA_LOCK_KEY = 0x6E657773_63726177  # PostgreSQL advisory lock key: the bytes of "newscraw"
SCHEMA_LOCK_SUFFIX = ".schema-lock"  # SQLite: the file locked beside the database


def _sqlite_lock_path(url: str) -> Path | None:
    """The lock file beside a SQLite database file; None for a database in
    memory or other backends."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    name = parsed.database or ""
    if name.startswith("file:"):
        name = name[len("file:") :].split("?", 1)[0]
    if name in ("", ":memory:") or parsed.query.get("mode") == "memory":
        return None
    return Path(name + SCHEMA_LOCK_SUFFIX)


@contextmanager
def _schema_lock(url: str) -> Iterator[Connection]:
    """A connection in a transaction, held by one process at a time per
    database: two processes that find an empty or older database at once
    would otherwise both run the migrations, and the second fail
    (``table ... already exists``, ``UniqueViolation``). Whoever waits sees
    the schema the first one made once it has the lock.

    PostgreSQL: a transaction-level advisory lock, released at commit or when
    the connection drops. SQLite: an exclusive ``flock`` on a file beside the
    database, released when the file is closed (or the process ends)."""
    engine = get_engine(url)
    # Where the lock file cannot be made (a folder we cannot write to): SQLite's own locking.
    with _sqlite_file_lock(url), engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
        yield connection


@contextmanager
def _sqlite_file_lock(url: str) -> Iterator[bool]:
    """The exclusive ``flock`` on the lock file beside a SQLite database,
    held for the block: True; False (no lock taken) for other databases, a
    database in memory, or a lock file that cannot be made."""
    lock_path = _sqlite_lock_path(url)
    try:
        lock_file = open(lock_path, "a") if lock_path else None  # noqa: SIM115 - held for the block
    except OSError:
        lock_file = None
    if lock_file is None:
        yield False
        return
    try:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        yield True
    finally:
        lock_file.close()


def _refuse_foreign(connection: Connection, url: str) -> None:
    tables = set(inspect(connection).get_table_names())
    if tables and "alembic_version" not in tables and "articles" in tables:
        raise RuntimeError(
            f"{safe_url(url)} has an articles table but no migration history; refusing to change it"
        )


def upgrade(url: str | None = None, revision: str = "head", *, only_ours: bool = False) -> None:
    """Apply the Alembic migrations up to ``revision``, one process at a time
    (another one doing it is waited for; the migrations it applied are not
    applied again). ``only_ours``: refuse a database that has an articles
    table but no newscrawl migration history."""
    quiet_alembic()
    from alembic import command
    from alembic.config import Config

    url = database_url(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with _schema_lock(url) as connection:
        if only_ours:
            _refuse_foreign(connection, url)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(url: str | None = None) -> str | None:
    quiet_alembic()
    from alembic.migration import MigrationContext

    with get_engine(url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    quiet_alembic()
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config).get_current_head()


# A migration's file name starts with its revision id: 0001_initial_schema.py
# is revision "0001" (tests/test_store.py holds every migration to it).
_MIGRATION_FILE = re.compile(r"^(\d{4})_\w+\.py$")


def newest_migration() -> str | None:
    """The newest revision in the migrations folder, from the file names alone:
    the head revision, known without importing Alembic (a second or so of a
    crawl process's start-up went to Alembic)."""
    found = [
        m.group(1)
        for f in (MIGRATIONS_DIR / "versions").iterdir()
        if (m := _MIGRATION_FILE.match(f.name))
    ]
    return max(found, default=None)


def _stamped_revision(url: str) -> str | None:
    """The revision the database's ``alembic_version`` table records, read with
    one query (None without the table, or without a row)."""
    try:
        with get_engine(url).connect() as connection:
            return connection.execute(text("select version_num from alembic_version")).scalar()
    except SQLAlchemyError:
        return None


# --------------------------------------------------------------------------- a new database

# A new SQLite database gets its schema from the statements the migrations
# leave, in one transaction, instead of by running the migrations: Alembic's
# import and the migrations cost a crawl into a new database about 0.4 s of
# its start-up, the statements a few milliseconds (docs/performance.md). The
# file holds the newest revision and the SQL of every object of a database
# the migrations made, in the order SQLite keeps them, without the full-text
# index's shadow tables (its virtual table makes them). It is used only when
# its revision is the newest migration's: a migration added without writing
# the file again is run by Alembic as before, and tests/test_store.py fails
# until ``make schema-snapshot`` writes it.
SQLITE_SNAPSHOT = MIGRATIONS_DIR / "sqlite_schema.json"


def sqlite_schema(connection: sqlite3.Connection) -> list[str]:
    """The SQL of a SQLite database's objects, in the order they were made,
    without the tables SQLite makes by itself (shadow tables, sqlite_sequence)."""
    shadow = {row[1] for row in connection.execute("PRAGMA table_list") if row[2] == "shadow"}
    return [
        sql
        for name, sql in connection.execute(
            "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid"
        )
        if name not in shadow and name != "sqlite_sequence"
    ]


def write_sqlite_snapshot(path: Path = SQLITE_SNAPSHOT) -> None:
    """Run the migrations on a new SQLite file and write what they made to ``path``."""
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'snapshot.db'}"
        upgrade(url)
        dispose_engines()
        with sqlite3.connect(Path(folder) / "snapshot.db") as connection:
            statements = sqlite_schema(connection)
            (revision,) = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        connection.close()
    _write_snapshot(path, revision, statements)


def _write_snapshot(path: Path, revision: str | None, statements: list[str]) -> None:
    snapshot = {"revision": revision, "statements": statements}
    path.write_text(json.dumps(snapshot, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


@cache
def _read_snapshot(path: Path) -> dict | None:
    """A snapshot's revision and statements; None when it cannot be read."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _sqlite_snapshot() -> dict | None:
    return _read_snapshot(SQLITE_SNAPSHOT)


def _sqlite_file(url: str) -> Path | None:
    """The file of a SQLite database URL; None for other databases, a database
    in memory, or a URL with options (``file:...?...``), left to Alembic."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.query:
        return None
    name = parsed.database or ""
    if name in ("", ":memory:") or name.startswith("file:"):
        return None
    return Path(name)


def _create_sqlite_from_snapshot(url: str, head: str | None) -> bool:
    """Give a new, empty SQLite file the newest schema from SQLITE_SNAPSHOT,
    under the schema lock: True when done; False, having changed nothing,
    when the file is not empty, no snapshot of the newest revision is there,
    or the file cannot be opened or locked (the migrations' way then waits,
    or says what is wrong)."""
    snapshot = _sqlite_snapshot()
    path = _sqlite_file(url)
    if path is None or not snapshot or snapshot.get("revision") != head:
        return False
    with _sqlite_file_lock(url) as locked:
        if not locked:
            return False
        try:
            connection = sqlite3.connect(
                path, isolation_level=None, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000
            )
            try:
                connection.execute("BEGIN IMMEDIATE")
                return _apply_snapshot(connection, snapshot["statements"], head)
            finally:
                connection.close()
        except sqlite3.Error:
            return False


def _apply_snapshot(connection: sqlite3.Connection, statements: list[str], head: str) -> bool:
    """The snapshot's statements and the revision, in the transaction begun
    on ``connection``, committed only if the database was empty and every
    statement ran; else rolled back (a failing statement with a warning)."""
    try:
        if connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            connection.execute("ROLLBACK")
            return False
        for statement in statements:
            connection.execute(statement)
        connection.execute("INSERT INTO alembic_version (version_num) VALUES (?)", (head,))
    except sqlite3.Error as exc:
        connection.execute("ROLLBACK")
        logger.warning(
            "the schema snapshot %s failed (%s): running the migrations", SQLITE_SNAPSHOT.name, exc
        )
        return False
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
    return True


# A new, empty PostgreSQL database likewise: the statements the migrations
# ran on one (recorded by ``make schema-snapshot`` against a server), run
# again in one transaction under the schema lock, without Alembic: 0.5 s of a
# first crawl's start-up, most of it importing Alembic and its round trips.
POSTGRES_SNAPSHOT = MIGRATIONS_DIR / "postgresql_schema.json"
# What the migrations run that is not part of the schema: reading the
# catalogue, and Alembic's own bookkeeping (the revision is written once, last).
_NOT_RECORDED = ("SELECT", "SHOW", "WITH")
_VERSION_TABLE_WRITES = ("INSERT INTO alembic_version", "UPDATE alembic_version")


def write_postgres_snapshot(admin_url: str, path: Path = POSTGRES_SNAPSHOT) -> None:
    """Run the migrations on a new database of the server at ``admin_url``
    (one the URL's user may create databases on), recording the statements
    that make the schema, and write them to ``path``; the database is dropped."""
    import uuid

    from sqlalchemy import event

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"newscrawl_snapshot_{uuid.uuid4().hex[:10]}"
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        text_ = statement.strip()
        if text_.split(None, 1)[0].upper() in _NOT_RECORDED or text_.startswith(
            _VERSION_TABLE_WRITES
        ):
            return
        if parameters:
            raise RuntimeError(f"a migration statement with parameters: {text_[:80]}")
        statements.append(statement)

    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        event.listen(get_engine(url), "before_cursor_execute", record)
        upgrade(url)
        revision = _stamped_revision(url)
    finally:
        dispose_engines()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    _write_snapshot(path, revision, statements)


def _postgres_snapshot() -> dict | None:
    return _read_snapshot(POSTGRES_SNAPSHOT)


def _create_postgres_from_snapshot(url: str, head: str | None) -> bool:
    """Give a new PostgreSQL database, empty in its current schema, the
    newest schema from POSTGRES_SNAPSHOT, in one transaction under the schema
    lock: True when done; False, having changed nothing, when the schema
    holds tables already or no snapshot of the newest revision is there."""
    snapshot = _postgres_snapshot()
    if not snapshot or snapshot.get("revision") != head:
        return False
    try:
        with _schema_lock(url) as connection:
            tables = connection.exec_driver_sql(
                "SELECT count(*) FROM information_schema.tables"
                " WHERE table_schema = current_schema()"
            ).scalar()
            if tables:
                return False
            for statement in snapshot["statements"]:
                connection.exec_driver_sql(statement, {})
            connection.exec_driver_sql(
                "INSERT INTO alembic_version (version_num) VALUES (%(head)s)", {"head": head}
            )
            return True
    except SQLAlchemyError as exc:
        logger.warning(
            "the schema snapshot %s failed (%s): running the migrations",
            POSTGRES_SNAPSHOT.name,
            str(exc).splitlines()[0],
        )
        return False


def _create_from_snapshot(url: str, head: str | None) -> bool:
    """A new, empty database's schema from its backend's snapshot (True), or
    nothing done (False): the migrations then make it."""
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        return _create_sqlite_from_snapshot(url, head)
    if backend == "postgresql":
        return _create_postgres_from_snapshot(url, head)
    return False


def ensure_schema(url: str | None = None) -> None:
    """Bring the database to the latest schema once per process.

    A new or empty database is created; an older newscrawl database is
    upgraded in place. A database with other tables but no newscrawl history
    is left alone and reported. A database already at the newest migration
    is recognised by one query, without Alembic: what every crawl process
    finds.
    """
    url = database_url(url)
    with _lock:
        if url in _upgraded:
            return
    head = newest_migration()
    stamped = _stamped_revision(url)
    if head is not None and stamped == head:
        with _lock:
            _upgraded.add(url)
        return
    if stamped is None and _create_from_snapshot(url, head):
        with _lock:
            _upgraded.add(url)
        return
    if current_revision(url) != head_revision():
        # Checked again under the schema lock: another process starting at the
        # same time may be creating the schema (upgrade() waits for it).
        upgrade(url, only_ours=True)
    with _lock:
        _upgraded.add(url)
