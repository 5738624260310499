"""Running crawls: one process per crawl, on a schedule or from a queue.

Holds the job specs of site schedules (``jobs``), running one crawl in a
child process (``runner``), the daemon that schedules them (``daemon``) and
supervises their processes (``supervisor``), the back-off of failing sites
(``backoff``), the one log format of the daemon, the worker and their crawls
(``logs``), the Redis adapter of distributed crawls
(``distributed``, over ``redis_queue``: keys, seeds and the checks that need
no Scrapy), the worker that takes crawls from it (``worker``), and what the
daemon and the workers measure (``metrics``) and serve over HTTP
(``endpoint``: ``/metrics`` and ``/healthz``).

May import: ``crawler.storage``, ``crawler.sites``, ``crawler.exceptions``,
``crawler.items``, ``crawler.extraction.health`` (the field a health warning
names), and from ``crawler.extensions`` the names a crawl's
parent sets for it (``parent_watch``: the parent's pid; ``progress``: the
pipe of ``newscrawl crawl``'s progress line; ``download_log``: the setting
that quiets a daemon's crawl log). Never the command line. ``distributed`` is the
one module below the others' reach (with ``redis_queue``, which it
imports): spiders and middlewares import it to share a crawl through Redis,
and the settings name its components.
"""
