"""Which database, how to connect to it, and bringing its schema up to date."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from urllib.parse import quote_plus

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import URL, make_url

DATABASE_URL_ENV = "NEWSCRAWL_DATABASE_URL"
DEFAULT_DATABASE_URL = "sqlite:///newscrawl.db"
SQLITE_BUSY_TIMEOUT_MS = 30_000
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent.parent / "migrations"

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
    # WAL lets readers work while a crawl writes; the busy timeout makes a
    # second writer wait for the lock instead of failing at once.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


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


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Apply the Alembic migrations up to ``revision``."""
    from alembic import command
    from alembic.config import Config

    engine = get_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(url: str | None = None) -> str | None:
    from alembic.migration import MigrationContext

    with get_engine(url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config).get_current_head()


def ensure_schema(url: str | None = None) -> None:
    """Bring the database to the latest schema once per process.

    A new or empty database is created; an older newscrawl database is
    upgraded in place. A database with other tables but no newscrawl history
    is left alone and reported.
    """
    url = database_url(url)
    with _lock:
        if url in _upgraded:
            return
    engine = get_engine(url)
    if current_revision(url) != head_revision():
        tables = set(inspect(engine).get_table_names())
        if tables and "alembic_version" not in tables and "articles" in tables:
            raise RuntimeError(
                f"{safe_url(url)} has an articles table but no migration history; "
                "refusing to change it"
            )
        upgrade(url)
    with _lock:
        _upgraded.add(url)
