"""The Redis side of distributed crawls that needs no Scrapy: the URL from
``NEWSCRAWL_REDIS_URL``, the keys of a site's spider, seeds and what is
waiting, and the checks the commands make before they use any of it (the
``distributed`` extra installed, Redis reachable).

The scrapy-redis components are in :mod:`crawler.scheduling.distributed`,
which re-exports these names; this module imports ``redis`` only when it
talks to Redis, so the checks run where the extra is missing.
"""

from __future__ import annotations

import os
import time
from typing import Any

from crawler.exceptions import CONFIG_ERROR_EXIT

REDIS_URL_ENV = "NEWSCRAWL_REDIS_URL"
KEY_PREFIX = "newscrawl"
EXTRA_HINT = "pip install 'newscrawl[distributed]'"
# How long a check waits for Redis to answer before calling it unreachable.
CONNECT_TIMEOUT = 5.0


class DistributedUnavailable(Exception):
    """Distributed crawls cannot run here: the extra is missing, the URL is
    unset or not a Redis URL (``status`` 2, a usage mistake), or Redis does
    not answer (``status`` 1). The text is one line for the user."""

    def __init__(self, message: str, status: int = CONFIG_ERROR_EXIT) -> None:
        super().__init__(message)
        self.status = status


def redis_url() -> str | None:
    return os.environ.get(REDIS_URL_ENV) or None


def shown_url(url: str) -> str:
    """The Redis URL with its password masked, for messages and logs."""
    from crawler.storage.database import safe_url

    return safe_url(url)


def key(site: str, spider: str, what: str) -> str:
    return f"{KEY_PREFIX}:{site}:{spider}:{what}"


def connect(url: str):  # type: ignore[no-untyped-def]
    import redis

    return redis.Redis.from_url(url, decode_responses=False)


def enqueue_crawl(url: str, site: str, spider: str) -> None:
    """Ask the workers for one crawl of a site's spider."""
    connect(url).rpush(key(site, spider, "seeds"), str(time.time()).encode())


def pending(url: str, site: str, spider: str) -> int:
    """Seeds and queued requests waiting for a worker."""
    server = connect(url)
    return int(server.llen(key(site, spider, "seeds"))) + int(
        server.zcard(key(site, spider, "requests"))
    )


# --------------------------------------------------------------------------- checks


def require_extra() -> None:
    """Raise :class:`DistributedUnavailable` unless the ``distributed`` extra
    (redis, scrapy-redis) can be imported."""
    try:
        import redis  # noqa: F401
        import scrapy_redis  # noqa: F401
    except ImportError as exc:
        missing = getattr(exc, "name", None) or "scrapy_redis"
        raise DistributedUnavailable(
            f"distributed crawls need the distributed extra ({missing} is not installed): "
            f"{EXTRA_HINT}"
        ) from None


def required_url() -> str:
    """``NEWSCRAWL_REDIS_URL``, or :class:`DistributedUnavailable` when unset."""
    url = redis_url()
    if not url:
        raise DistributedUnavailable(
            f"set {REDIS_URL_ENV} to your Redis server (e.g. redis://127.0.0.1:6379/0)"
        )
    return url


def reachable(url: str) -> None:
    """Ping Redis at ``url``; :class:`DistributedUnavailable` when the URL is
    not a Redis URL (status 2) or nothing answers (status 1)."""
    import redis

    try:
        server = redis.Redis.from_url(
            url, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=CONNECT_TIMEOUT
        )
    except ValueError as exc:
        raise DistributedUnavailable(
            f"{REDIS_URL_ENV} is not a Redis URL ({shown_url(url)}): {exc}"
        ) from None
    try:
        server.ping()
    except redis.RedisError as exc:
        raise DistributedUnavailable(
            f"cannot reach Redis at {shown_url(url)} ({REDIS_URL_ENV}): {one_line(exc)}", status=1
        ) from None
    finally:
        server.close()


def ready() -> str:
    """The Redis URL of a command that needs Redis (``worker``, ``enqueue``),
    once the extra, the URL and the server are checked."""
    require_extra()
    url = required_url()
    reachable(url)
    return url


def one_line(exc: Any) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
