"""What counts as a failed crawl: one definition, for the run rows, the
failure streak of ``newscrawl status`` and the daemon's back-off.

A crawl **failed** when its run's ``status`` is ``failed`` or ``timeout``
(:data:`FAILED_STATUSES`). The crawl itself decides, when it closes
(:func:`run_status`), from Scrapy's close reason and what its downloads came
to (:class:`Fetches`): a crawl that ran to its end is ``failed`` all the same
when it got no usable page at all, because the site could not be reached,
answered only errors (all 5xx, say), or its robots.txt forbade every page
asked for. A usable page is a 2xx or 304 response other than robots.txt's.

``running`` and ``interrupted`` runs (stopped from outside) say nothing about
a site's health (:data:`NEUTRAL_STATUSES`): they neither count as failures
nor end a streak of them.

Pure: imports nothing, so that any package may use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

FAILED_STATUSES = ("failed", "timeout")
NEUTRAL_STATUSES = ("running", "interrupted")
# Scrapy's close reasons of a crawl that ran to its end (possibly cut short by
# a configured limit) rather than being stopped from outside.
COMPLETED_REASONS = ("finished", "closespider_")


@dataclass(frozen=True)
class Fetches:
    """What a crawl's downloads came to (read from its Scrapy stats by
    :func:`crawler.extensions.outcomes.fetches`)."""

    requests: int = 0  # requests sent, robots.txt's included
    responses: int = 0  # responses received, robots.txt's included
    usable: int = 0  # 2xx and 304 responses other than robots.txt's
    download_errors: int = 0  # attempts that got no response (robots.txt's refusals left out)
    forbidden: int = 0  # requests robots.txt forbade
    # Statuses of the responses that were not usable (robots.txt's left out).
    error_statuses: dict[int, int] = field(default_factory=dict)


def is_failure(status: str | None) -> bool:
    return status in FAILED_STATUSES


def run_status(close_reason: str, fetches: Fetches) -> tuple[str, str]:
    """``(status, reason)`` of a crawl that closed with Scrapy's
    ``close_reason``; the reason begins the run's ``finish_reason``."""
    if close_reason == "shutdown":
        return "interrupted", "shutdown: stopped by a signal"
    if not close_reason.startswith(COMPLETED_REASONS):
        return "failed", close_reason
    if fetches.responses == 0 and fetches.download_errors:
        return "failed", f"no page could be fetched ({fetches.download_errors} download errors)"
    if fetches.requests and not fetches.usable:
        return "failed", f"no usable page ({why_unusable(fetches)})"
    return "finished", close_reason


def why_unusable(fetches: Fetches) -> str:
    """``HTTP 503; 1 forbidden by robots.txt``: what the requests of a crawl
    without a usable page got instead (the statuses answered, each attempt
    of a retried page counted by Scrapy: the notes that follow count pages)."""
    parts = []
    if fetches.error_statuses:
        parts.append("HTTP " + ", ".join(str(code) for code in sorted(fetches.error_statuses)))
    if fetches.forbidden:
        parts.append(f"{fetches.forbidden} forbidden by robots.txt")
    if fetches.download_errors:
        parts.append(f"{fetches.download_errors} download errors")
    return "; ".join(parts) or "nothing but robots.txt was fetched"


def one_line(reason: str | None, limit: int = 300) -> str:
    """A run's ``finish_reason`` for a log line: one line, at most ``limit``
    characters."""
    text = " ".join((reason or "no reason recorded").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
