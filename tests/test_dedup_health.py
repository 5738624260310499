"""Revisit schedule, duplicate detection in the store, extraction health."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from crawler.extraction import fingerprints
from crawler.extraction.fingerprints import (
    NEAR_DUPLICATE_BITS,
    SimHashIndex,
    hamming,
    jaccard,
    simhash,
)
from crawler.extraction.health import fill_rates, health_warnings
from crawler.items import Article
from crawler.sites.revisit import is_due
from crawler.storage.database import dispose_engines, get_engine, upgrade
from crawler.storage.models import ArticleRow
from crawler.storage.store import Store, _article_values

H = 3600.0
AGES = [1 * H, 6 * H, 24 * H, 72 * H]
P = datetime(2024, 3, 5, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("last_seen", "now", "due"),
    [
        (P + timedelta(minutes=10), P + timedelta(minutes=50), False),  # before the 1 h check
        (P + timedelta(minutes=10), P + timedelta(hours=2), True),  # 1 h check passed since
        (P + timedelta(hours=2), P + timedelta(hours=5), False),  # checked after 1 h, 6 h not yet
        (P + timedelta(hours=2), P + timedelta(hours=7), True),
        (P + timedelta(hours=2), P + timedelta(days=30), True),  # several missed: once
        (P + timedelta(days=4), P + timedelta(days=30), False),  # after the last: never
    ],
)
def test_revisit_schedule_backs_off_then_stops(last_seen, now, due):
    assert is_due(P, P, last_seen, now, AGES) is due


def test_undated_articles_count_from_first_seen():
    seen = P
    assert is_due(None, seen, seen, seen + timedelta(hours=2), AGES)
    assert not is_due(None, seen, seen, seen + timedelta(minutes=30), AGES)


def text(seed: int, words: int = 200) -> str:
    rng = random.Random(seed)
    vocabulary = [f"w{i}" for i in range(400)]
    return " ".join(rng.choice(vocabulary) for _ in range(words))


def test_simhash_is_close_for_small_edits_and_far_otherwise():
    a = text(1)
    edited = "Wire copy. " + a
    assert hamming(simhash(a), simhash(edited)) <= 6
    assert jaccard(a, edited) > 0.95
    assert hamming(simhash(a), simhash(text(2))) > 12
    assert simhash("too short to judge") is None


def test_simhash_index_finds_exactly_what_a_bit_by_bit_comparison_finds(monkeypatch):
    rng = random.Random(7)
    values = [rng.getrandbits(64) - (1 << 63) for _ in range(3000)]  # signed, as stored
    # Near copies: a few bits flipped, some within the limit and some beyond it.
    for n in range(0, 3000, 10):
        flips = rng.sample(range(64), rng.choice([1, 3, NEAR_DUPLICATE_BITS, 7, 12]))
        flipped = (values[n] & ((1 << 64) - 1)) ^ sum(1 << bit for bit in flips)
        values.append(flipped - (1 << 64) if flipped >= 1 << 63 else flipped)
    index = SimHashIndex()
    for article_id, value in enumerate(values, start=1):
        index.add(article_id, value)
    assert len(index) == len(values)  # grown past its first 1,024 places
    with_copies = 0
    for probe in [*range(1, 3001, 37), *range(3001, len(values) + 1)]:  # every copy
        value = values[probe - 1]
        expected = [
            other
            for other, stored_value in enumerate(values[: probe - 1], start=1)
            if hamming(stored_value, value) <= NEAR_DUPLICATE_BITS
        ]
        assert index.close_to(value, below=probe) == expected
        with_copies += bool(expected)
    assert with_copies >= 100
    # A batch at once, in groups small enough to take several operations.
    probes = list(range(2900, len(values) + 1))
    one_by_one = [index.close_to(values[p - 1], below=p) for p in probes]
    monkeypatch.setattr(fingerprints, "_COMPARED_AT_ONCE", 7 * len(index))
    assert index.close_to_each([values[p - 1] for p in probes], probes) == one_by_one
    assert any(one_by_one)
    assert SimHashIndex().close_to(values[0], below=10) == []
    # Loading rows again adds only those not held yet.
    extra = len(values) + 1
    index.add_new([(3000, values[2999]), (extra, values[0])], above=2000)
    assert len(index) == extra
    assert index.close_to(values[0], below=extra + 1)[-1] == extra


def stored(url: str, body: str, site: str = "one") -> Article:
    return Article(url=url, site=site, title=url, body=body)


def test_store_marks_exact_and_near_duplicates_across_sites(any_database_url):
    store = Store.open(any_database_url)
    original, other = text(1), text(2)
    store.save_articles([stored("https://one.example/1", original)])
    counts = store.save_articles(
        [
            stored("https://one.example/2", other),
            stored("https://one.example/3", original),  # exact copy, same site
            stored(
                "https://two.example/9", "Agency intro line. " + original, "two"
            ),  # near, other site
            stored(
                "https://two.example/10", original[: len(original) // 2], "two"
            ),  # half: distinct
        ]
    )
    assert (counts.new, counts.duplicates) == (4, 2)
    with store.engine.connect() as conn:
        rows = dict(conn.execute(select(ArticleRow.url, ArticleRow.duplicate_of)).all())
        first = conn.execute(select(ArticleRow.id).where(ArticleRow.url.like("%/1"))).scalar()
    assert rows == {
        "https://one.example/1": None,
        "https://one.example/2": None,
        "https://one.example/3": first,
        "https://two.example/9": first,
        "https://two.example/10": None,
    }
    # A fresh store (another process) finds duplicates of what is already stored.
    again = Store.open(any_database_url)
    assert (
        again.save_articles([stored("https://three.example/x", original + " Update.")]).duplicates
        == 1
    )


def test_a_near_copy_of_a_story_another_writer_stored_between_two_batches(any_database_url):
    """A store that has seen every article so far adds its next batch to its
    SimHashes without asking the database; an article another writer stored
    in between must still be found."""
    store, other = Store.open(any_database_url), Store.open(any_database_url)
    store.save_articles([stored("https://one.example/0", text(3))])  # the index is loaded
    assert store.save_articles([stored("https://one.example/1", text(2))]).new == 1
    original = text(1)
    other.save_articles([stored("https://two.example/1", original, "two")])
    copy = stored("https://one.example/9", "Agency intro line. " + original)
    assert store.save_articles([copy, stored("https://one.example/10", text(4))]).duplicates == 1
    # And its own batches, one after another, find copies of each other.
    later = stored("https://one.example/11", text(4) + " Update.")
    assert store.save_articles([later]).duplicates == 1


def test_a_near_copy_of_a_story_another_writer_committed_late_is_found(postgres_url):
    """On PostgreSQL a writer's ids are drawn when it inserts, and its batch may
    commit after a later one has been seen."""
    store = Store.open(postgres_url)
    store.save_articles([stored("https://one.example/0", text(3))])  # the index is loaded
    original = text(1)
    with get_engine(postgres_url).connect() as other:  # a second writer's connection
        late = other.begin()
        other.execute(
            insert(ArticleRow).values(
                **_article_values(stored("https://one.example/1", original), datetime.now(UTC))
            )
        )
        # Meanwhile this store writes a batch with higher ids and looks again.
        assert store.save_articles([stored("https://one.example/2", text(2))]).new == 1
        late.commit()
    copy = stored("https://two.example/9", "Agency intro line. " + original, "two")
    assert store.save_articles([copy]).duplicates == 1


def test_upgrade_recomputes_simhashes_of_an_earlier_version(any_database_url):
    """Migration 0005: SimHashes stored by the earlier function are computed
    again, so a near copy crawled after the upgrade still finds its original."""
    url = any_database_url
    upgrade(url, "0004")
    original = text(3)
    with get_engine(url).begin() as conn:
        conn.execute(
            insert(ArticleRow.__table__),
            [
                {
                    "site": "old",
                    "url": f"https://old.example/{n}",
                    "title": f"Story {n}",
                    "body": body,
                    "tags": [],
                    "first_seen_at": datetime.now(UTC),
                    "last_seen_at": datetime.now(UTC),
                    "content_hash": f"{n:064d}",
                    "version": 1,
                    "sources": {},
                    "simhash": 12345,  # a value of the earlier function
                }
                for n, body in enumerate([original, "Too short."])
            ],
        )
    dispose_engines()
    upgrade(url)
    with get_engine(url).connect() as conn:
        values = conn.execute(select(ArticleRow.simhash).order_by(ArticleRow.id)).scalars().all()
    assert values == [simhash(original), None]
    store = Store.open(url)
    copy = stored("https://new.example/1", "Agency intro line. " + original, "new")
    assert store.save_articles([copy]).duplicates == 1


def test_health_warns_when_a_field_collapses():
    history = [fill_rates(20, {"title": 20, "body": 20, "author": 19, "published_at": 20})] * 3
    broken = fill_rates(20, {"title": 20, "body": 20, "author": 1, "published_at": 20})
    warnings = health_warnings("demo", broken, history)
    assert warnings == [
        "site demo: field author found in 5% of 20 articles, down from 95% in recent runs "
        "(a selector may be broken)"
    ]
    # A field the site rarely has, a small run, or no history: no warning.
    assert health_warnings("demo", broken, history[:1]) == []
    assert health_warnings("demo", fill_rates(3, {"title": 3}), history) == []
    assert health_warnings("demo", history[0], history) == []
