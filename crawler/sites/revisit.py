"""The revisit policy: when a stored article is fetched again to catch corrections.

A site's ``revisit`` list holds ages after publication, e.g. 1 h, 6 h, 1 day,
3 days. A stored article is due when one of those moments has passed since
it was last fetched; after the last one it is never fetched again (unless a
crawl asks for ``refetch``).
"""

from __future__ import annotations

from datetime import datetime, timedelta


def is_due(
    published_at: datetime | None,
    first_seen_at: datetime,
    last_seen_at: datetime,
    now: datetime,
    ages: list[float],
) -> bool:
    """Is a stored article due for a revisit at ``now``?

    Ages count from publication, or from when newscrawl first saw the article
    when it has no publication time.
    """
    origin = published_at or first_seen_at
    for age in ages:
        checkpoint = origin + timedelta(seconds=age)
        if last_seen_at < checkpoint <= now:
            return True
    return False
