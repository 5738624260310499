"""What went wrong in a crawl, in words for its run row.

:func:`run_notes` reads a crawl's Scrapy stats and lists the pages a server
or a limit kept from the archive, and what the database outage handling did;
the run history appends the notes to ``crawl_runs.finish_reason``, e.g.
``finished; HTTP errors: 404 ×2; refused over DOWNLOAD_MAXSIZE (10485760 bytes): 1``.
A crawl where nothing went wrong has no notes. :func:`fetches` reads what
the crawl's downloads came to, from which the run's status is decided
(:func:`crawler.storage.failures.run_status`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crawler.storage.failures import Fetches

EXCEPTION_PREFIX = "downloader/exception_type_count/"
HTTP_ERROR_PREFIX = "httperror/response_ignored_status_count/"
# Download errors by what a user would call them (Scrapy 2.19's exception names).
EXCEPTION_WORDS = {
    "DownloadTimeoutError": "timeout",
    "DownloadFailedError": "connection lost",
    "DownloadConnectionRefusedError": "connection refused",
    "CannotResolveHostError": "host not found",
    "ResponseDataLossError": "truncated response",
}
# Counted with their own note, or not a fault of the site.
NOT_DOWNLOAD_ERRORS = ("DownloadCancelledError", "IgnoreRequest")
STATUS_PREFIX = "downloader/response_status_count/"
ROBOTS_STATUS_PREFIX = "robotstxt/response_status_count/"


def _counts(stats: Mapping[str, Any], prefix: str) -> dict[str, int]:
    return {k[len(prefix) :]: v for k, v in sorted(stats.items()) if k.startswith(prefix) and v}


def _listed(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} ×{n}" for name, n in counts.items())


def _is_usable(status: int) -> bool:
    return 200 <= status < 300 or status == 304


def fetches(stats: Mapping[str, Any]) -> Fetches:
    """What the crawl's downloads came to: its usable pages are the 2xx and
    304 responses other than robots.txt's."""
    statuses: dict[int, int] = {}
    for prefix, sign in ((STATUS_PREFIX, 1), (ROBOTS_STATUS_PREFIX, -1)):
        for code, n in _counts(stats, prefix).items():
            if code.isdigit():
                statuses[int(code)] = statuses.get(int(code), 0) + sign * n
    errors = sum(
        n
        for name, n in _counts(stats, EXCEPTION_PREFIX).items()
        if name.rsplit(".", 1)[-1] not in NOT_DOWNLOAD_ERRORS
    )
    return Fetches(
        requests=stats.get("downloader/request_count", 0),
        responses=stats.get("response_received_count", 0),
        usable=sum(n for code, n in statuses.items() if _is_usable(code) and n > 0),
        download_errors=errors,
        forbidden=stats.get("robotstxt/forbidden", 0),
        error_statuses={c: n for c, n in sorted(statuses.items()) if not _is_usable(c) and n > 0},
    )


def run_notes(stats: Mapping[str, Any], maxsize: int = 0) -> list[str]:
    notes = []
    http_errors = _counts(stats, HTTP_ERROR_PREFIX)
    if http_errors:
        notes.append(f"HTTP errors: {_listed(http_errors)}")
    errors: dict[str, int] = {}
    for name, n in _counts(stats, EXCEPTION_PREFIX).items():
        short = name.rsplit(".", 1)[-1]
        if short not in NOT_DOWNLOAD_ERRORS:
            word = EXCEPTION_WORDS.get(short, short)
            errors[word] = errors.get(word, 0) + n
    given_up = stats.get("retry/max_reached", 0)
    if given_up or errors:
        detail = f" (download errors: {_listed(errors)})" if errors else ""
        notes.append(f"pages given up after retries: {given_up}{detail}")
    if stats.get("newscrawl/retry_after_over_max"):
        # Counted in the pages given up above too (crawler/middlewares/retry_after.py).
        notes.append(
            "given up at once, Retry-After over RETRY_AFTER_MAX: "
            f"{stats['newscrawl/retry_after_over_max']}"
        )
    if stats.get("newscrawl/refused_size"):
        limit = f" ({maxsize} bytes)" if maxsize else ""
        notes.append(f"refused over DOWNLOAD_MAXSIZE{limit}: {stats['newscrawl/refused_size']}")
    if stats.get("newscrawl/redirect_loops"):
        notes.append(f"redirect loops not followed: {stats['newscrawl/redirect_loops']}")
    if stats.get("newscrawl/redirects_over_limit"):
        notes.append(
            f"redirect chains cut at REDIRECT_MAX_TIMES: {stats['newscrawl/redirects_over_limit']}"
        )
    if stats.get("robotstxt/forbidden"):
        notes.append(f"forbidden by robots.txt: {stats['robotstxt/forbidden']}")
    if stats.get("newscrawl/archive/write_failures"):
        notes.append(
            "pages stored without a capture, the archive could not be written "
            f"({stats.get('newscrawl/archive/write_error')}): "
            f"{stats['newscrawl/archive/write_failures']}"
        )
    notes.extend(spool_notes(stats))
    return notes


def spool_notes(stats: Mapping[str, Any]) -> list[str]:
    """What the store did about an unreachable database (crawler/storage/writer.py)."""
    notes = []
    recovered = stats.get("newscrawl/spool/recovered", 0)
    if recovered:
        notes.append(f"{recovered} items left in the spool by earlier crawls stored at the start")
    spooled = stats.get("newscrawl/spool/spooled", 0)
    if spooled:
        failures = stats.get("newscrawl/spool/write_failures", 0)
        left = stats.get("newscrawl/spool/left", 0)
        outcome = (
            f"{left} left in the spool for the next crawl"
            if left
            else "all stored once it was back"
        )
        notes.append(
            f"database unreachable ({failures} failed writes): {spooled} items spooled, {outcome}"
        )
    return notes
