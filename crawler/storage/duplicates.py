"""Duplicate detection of newly stored articles: each new article that repeats
an earlier one (the same content fingerprint, or a SimHash within
NEAR_DUPLICATE_BITS and a close Jaccard similarity) points at the story's
first copy through ``duplicate_of``.

The store (``crawler.storage.store``) runs it inside each batch's
transaction; the SimHashes of recent articles are kept in memory between
batches and refreshed from the database before each look.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

from sqlalchemy import bindparam, func, select, update

from crawler.extraction.fingerprints import NEAR_DUPLICATE_JACCARD, SimHashIndex, jaccard
from crawler.storage.database import sqlite_select_in
from crawler.storage.models import ArticleRow, UTCDateTime
from crawler.storage.runs import utcnow

# Near duplicates are looked for among articles first stored this recently
# (exact copies, by content fingerprint, among all).
NEAR_DUPLICATE_WINDOW = timedelta(days=30)
# SimHashes are loaded by id. On PostgreSQL a concurrent writer's transaction
# can commit ids lower than some already seen, so each refresh looks this many
# ids back (10 writers' batches of 100). SQLite has one writer at a time, and
# its ids are committed in order.
SIMHASH_LOOKBACK = 1000


# The first article with each of ``hashes``, built once (it runs every batch).
_FIRST_WITH_HASH = (
    select(ArticleRow.content_hash, func.min(ArticleRow.id))
    .where(ArticleRow.content_hash.in_(bindparam("hashes", expanding=True)))
    .group_by(ArticleRow.content_hash)
)

# The same as SQL written out for SQLite (crawler.storage.database.sqlite_select_in):
# the hashes are distinct, so each is in one chunk of the IN list.
_SQLITE_FIRST_WITH_HASH = (
    "SELECT content_hash, min(id) FROM articles WHERE content_hash IN ({marks})"
    " GROUP BY content_hash"
)

# The SimHashes of the articles stored after ``since`` and at or after ``cutoff``.
_SIMHASHES_SINCE = (
    select(ArticleRow.id, ArticleRow.simhash)
    .where(
        ArticleRow.id > bindparam("since"),
        ArticleRow.simhash.is_not(None),
        ArticleRow.first_seen_at >= bindparam("cutoff", type_=UTCDateTime()),
    )
    .order_by(ArticleRow.id)
)


@dataclass(frozen=True)
class NewRow:
    """What duplicate detection needs of an article just inserted."""

    id: int
    content_hash: str
    simhash: int | None
    body: str


class DuplicateFinder:
    """Marks the duplicates among new articles. One per database engine in a
    process (:meth:`of`): the crawls of a crawl host share its SimHashes,
    loaded once and then only what was stored since, instead of each crawl
    loading the whole window again."""

    _of_engine: ClassVar[weakref.WeakKeyDictionary[Any, DuplicateFinder]] = (
        weakref.WeakKeyDictionary()
    )
    _of_engine_lock = threading.Lock()

    def __init__(self) -> None:
        # SimHashes of the articles stored in the near-duplicate window, loaded
        # on the first batch of new articles.
        self._near: SimHashIndex | None = None
        self._indexed_up_to = 0
        self._lock = threading.RLock()  # stores of many crawls, in their threads

    @classmethod
    def of(cls, engine: Any) -> DuplicateFinder:
        """The finder of this engine's database in this process."""
        with cls._of_engine_lock:
            finder = cls._of_engine.get(engine)
            if finder is None:
                finder = cls._of_engine[engine] = cls()
            return finder

    def forget(self) -> None:
        """Drop the SimHashes loaded so far (they may hold rows rolled back)."""
        with self._lock:
            self._near = None
            self._indexed_up_to = 0

    def mark(self, conn: Any, rows: list[NewRow]) -> int:
        """Point each new article that repeats an earlier one at the earliest copy:
        the same content fingerprint, or a SimHash within NEAR_DUPLICATE_BITS."""
        if not rows:
            return 0
        with self._lock:
            return self._mark(conn, rows)

    def _mark(self, conn: Any, rows: list[NewRow]) -> int:
        rows = sorted(rows, key=lambda r: r.id)
        hashes = list({r.content_hash for r in rows})
        if conn.dialect.name == "sqlite":
            found = sqlite_select_in(conn, _SQLITE_FIRST_WITH_HASH, hashes)
        else:
            found = conn.execute(_FIRST_WITH_HASH, {"hashes": hashes}).all()
        first_with_hash = dict(found)
        near = self._refresh_index(conn, rows)
        exact = {}
        for row in rows:
            original = first_with_hash.get(row.content_hash)
            exact[row.id] = None if original == row.id else original
        # The near duplicates' candidates of the whole batch in one lookup.
        probe = [r for r in rows if exact[r.id] is None and r.simhash is not None]
        candidates = dict(
            zip(
                [r.id for r in probe],
                near.close_to_each([r.simhash for r in probe], [r.id for r in probe]),
                strict=True,
            )
        )
        marked = 0
        for row in rows:
            original = exact[row.id]
            if original is None and candidates.get(row.id):
                original = _near_duplicate(conn, candidates[row.id], row.body)
            if original is not None:
                _point_at_first_copy(conn, row.id, original)
                marked += 1
        return marked

    def _refresh_index(self, conn: Any, inserted: list[NewRow]) -> SimHashIndex:
        """Load the SimHashes stored since the last look, by this or another
        process: the batch just inserted included."""
        if self._near is None:
            self._near = SimHashIndex()
        elif conn.dialect.name == "sqlite" and _follows(inserted, self._indexed_up_to):
            # SQLite writes one transaction at a time and numbers rows in
            # order: ids right after the last one seen mean nobody else has
            # stored an article since, and the batch is all there is to add.
            self._near.add_new(
                [(r.id, r.simhash) for r in inserted if r.simhash is not None],
                above=self._indexed_up_to,
            )
            self._indexed_up_to = inserted[-1].id
            return self._near
        lookback = 0 if conn.dialect.name == "sqlite" else SIMHASH_LOOKBACK
        since = max(self._indexed_up_to - lookback, 0)
        window = {"since": since, "cutoff": utcnow() - NEAR_DUPLICATE_WINDOW}
        rows = conn.execute(_SIMHASHES_SINCE, window).all()
        self._near.add_new(rows, above=since)
        last = max([self._indexed_up_to, *(r.id for r in inserted)])
        self._indexed_up_to = max(last, rows[-1][0] if rows else 0)
        return self._near


def _follows(rows: list[NewRow], last: int) -> bool:
    """Whether ``rows`` (ascending ids) are numbered ``last + 1``, ``last + 2``…"""
    return bool(rows) and rows[0].id == last + 1 and rows[-1].id == last + len(rows)


def _near_duplicate(conn: Any, candidates: list[int], body: str) -> int | None:
    """The earliest of ``candidates`` (ids of close SimHashes, ascending) whose
    body this one repeats with small changes."""
    for other in candidates:
        other_body = conn.execute(select(ArticleRow.body).where(ArticleRow.id == other)).scalar()
        if other_body and jaccard(body, other_body) >= NEAR_DUPLICATE_JACCARD:
            return other
    return None


def _point_at_first_copy(conn: Any, article_id: int, original: int) -> None:
    """Mark the article a duplicate of the story's first copy, not of another
    repeat of it."""
    root = conn.execute(select(ArticleRow.duplicate_of).where(ArticleRow.id == original)).scalar()
    conn.execute(
        update(ArticleRow).where(ArticleRow.id == article_id).values(duplicate_of=root or original)
    )
