"""Listing walks: how far each listing's pagination got, kept across crawls.

A walk of a listing (one start URL of a site's ``listing`` and the pages its
``next_page`` rule leads to) begins with a crawl and is complete once
pagination reached its end. Only a site whose walk completed at least once
may end pagination where the known part of the archive begins, and only
with articles stored before the current walk began counting as known: so a
crawl that was killed, timed out or cut short is continued by the next
ordinary crawl instead of being mistaken for the known part of the site.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, select, update

from crawler.storage.models import ListingWalkRow

WALKS = ListingWalkRow.__table__


@dataclass(frozen=True)
class Walk:
    listing: str
    started_at: datetime
    # A walk of this listing ran to its end before this one began: pagination
    # may stop where the known part begins.
    covered: bool
    # This walk was begun by an earlier crawl that did not finish it.
    resumed: bool


def begin_walks(
    engine: Engine, site: str, spider: str, listings: Iterable[str], run_id: int | None
) -> dict[str, Walk]:
    """Begin a walk of each listing, or continue the one left incomplete."""
    now = datetime.now(UTC)
    walks: dict[str, Walk] = {}
    with engine.begin() as conn:
        for listing in dict.fromkeys(listings):
            key = (ListingWalkRow.site == site, ListingWalkRow.spider == spider)
            row = conn.execute(select(WALKS).where(*key, ListingWalkRow.listing == listing)).first()
            if row is None:
                conn.execute(
                    WALKS.insert().values(
                        site=site,
                        spider=spider,
                        listing=listing,
                        started_at=now,
                        crawls=1,
                        pages_read=0,
                        run_id=run_id,
                        updated_at=now,
                    )
                )
                walks[listing] = Walk(listing, now, covered=False, resumed=False)
                continue
            resumed = row.completed_at is None
            values = {"run_id": run_id, "updated_at": now}
            if resumed:
                values["crawls"] = row.crawls + 1
            else:
                values.update(started_at=now, completed_at=None, crawls=1, pages_read=0)
            conn.execute(
                update(ListingWalkRow)
                .where(*key, ListingWalkRow.listing == listing)
                .values(**values)
            )
            walks[listing] = Walk(
                listing,
                row.started_at if resumed else now,
                covered=row.last_completed_at is not None,
                resumed=resumed,
            )
    return walks


def read_walks(engine: Engine, site: str, spider: str) -> dict[str, Walk]:
    """The walks under way, as a crawl that did not begin them sees them
    (a worker joining a crawl another process began)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(WALKS).where(ListingWalkRow.site == site, ListingWalkRow.spider == spider)
        )
        return {
            r.listing: Walk(
                r.listing,
                r.started_at,
                covered=r.last_completed_at is not None,
                resumed=r.crawls > 1,
            )
            for r in rows
        }


def end_walks(
    engine: Engine,
    site: str,
    spider: str,
    pages_read: dict[str, int],
    completed: Iterable[str],
) -> None:
    """Record how deep each listing's walk got in this crawl, and which walks
    it completed."""
    now = datetime.now(UTC)
    done = set(completed)
    with engine.begin() as conn:
        for listing in set(pages_read) | done:
            row = conn.execute(
                select(ListingWalkRow.pages_read).where(
                    ListingWalkRow.site == site,
                    ListingWalkRow.spider == spider,
                    ListingWalkRow.listing == listing,
                )
            ).first()
            if row is None:
                continue  # a walk this process did not begin nor read (not tracked)
            values: dict[str, object] = {
                "updated_at": now,
                "pages_read": max(row.pages_read, pages_read.get(listing, 0)),
            }
            if listing in done:
                values.update(completed_at=now, last_completed_at=now)
            conn.execute(
                update(ListingWalkRow)
                .where(
                    ListingWalkRow.site == site,
                    ListingWalkRow.spider == spider,
                    ListingWalkRow.listing == listing,
                )
                .values(**values)
            )


@dataclass(frozen=True)
class WalkStatus:
    site: str
    spider: str
    listings: int
    incomplete: int
    # The oldest incomplete walk's start, its crawls so far and pages read.
    incomplete_since: datetime | None
    crawls: int
    pages_read: int


def walk_status(engine: Engine, site: str | None = None) -> dict[tuple[str, str], WalkStatus]:
    """Per site and spider: how many listings are walked, how many walks are
    incomplete (the next crawl continues them)."""
    stmt = select(WALKS).order_by(ListingWalkRow.started_at)
    if site is not None:
        stmt = stmt.where(ListingWalkRow.site == site)
    status: dict[tuple[str, str], WalkStatus] = {}
    with engine.connect() as conn:
        for r in conn.execute(stmt):
            pair = (r.site, r.spider)
            old = status.get(pair) or WalkStatus(r.site, r.spider, 0, 0, None, 0, 0)
            open_walk = r.completed_at is None
            status[pair] = WalkStatus(
                r.site,
                r.spider,
                old.listings + 1,
                old.incomplete + open_walk,
                old.incomplete_since or (r.started_at if open_walk else None),
                max(old.crawls, r.crawls if open_walk else 0),
                max(old.pages_read, r.pages_read if open_walk else 0),
            )
    return status
