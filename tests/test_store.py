"""The store on a real SQLite file: schema from migrations, idempotent upserts,
revisions, top-story links, rejected items."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select

from crawler.items import Article, TopStoriesSnapshot, TopStory
from crawler.storage.database import current_revision, head_revision
from crawler.storage.models import ArticleRevisionRow, ArticleRow, Base, TopStoryRow
from crawler.storage.search import include_in_schema_comparison
from crawler.storage.store import Store

T0 = datetime(2024, 3, 5, 12, 0, tzinfo=UTC)


def article(url="https://news.example/a/1/", title="A title", body="A body. " * 30, **kw):
    return Article(url=url, site="example", title=title, body=body, **kw)


def test_migrations_create_the_documented_schema(any_database_url):
    url = any_database_url
    store = Store.open(url)
    assert current_revision(url) == head_revision()
    columns = {
        t: {c["name"] for c in inspect(store.engine).get_columns(t)}
        for t in ("articles", "article_revisions", "top_stories", "crawl_runs", "rejected_items")
    }
    assert {
        "id",
        "site",
        "url",
        "title",
        "body",
        "author",
        "section",
        "tags",
        "language",
        "published_at",
        "first_seen_at",
        "last_seen_at",
        "content_hash",
        "version",
        "duplicate_of",
    } <= columns["articles"]
    assert {"article_id", "version", "title", "body", "content_hash", "captured_at"} <= columns[
        "article_revisions"
    ]
    assert {"site", "captured_at", "rank", "title", "url", "article_id", "page_url"} <= columns[
        "top_stories"
    ]
    assert {
        "id",
        "site",
        "spider",
        "started_at",
        "finished_at",
        "status",
        "pages_fetched",
        "articles_new",
        "articles_updated",
        "articles_unchanged",
        "items_rejected",
        "finish_reason",
    } <= columns["crawl_runs"]
    assert {"run_id", "site", "url", "stage", "reason", "item", "created_at"} <= columns[
        "rejected_items"
    ]
    # The migrations and the models describe the same schema (the full-text
    # index of migration 0004 is deliberately not in the models).
    with store.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_name": include_in_schema_comparison}
        )
        assert compare_metadata(context, Base.metadata) == []


def test_storing_twice_adds_no_rows_and_touches_last_seen(any_database_url):
    store = Store.open(any_database_url)
    published = datetime(2021, 9, 21, 19, 40, tzinfo=UTC)
    first = store.save_articles([article(published_at=published, tags=["x", "y"])], now=T0)
    assert (first.new, first.updated, first.unchanged) == (1, 0, 0)
    again = store.save_articles([article(published_at=published)], now=T0 + timedelta(hours=1))
    assert (again.new, again.updated, again.unchanged) == (0, 0, 1)
    with store.engine.connect() as conn:
        rows = conn.execute(select(ArticleRow)).all()
    assert len(rows) == 1
    row = rows[0]
    assert row.published_at == published  # aware UTC back from SQLite
    assert row.first_seen_at == T0 and row.last_seen_at == T0 + timedelta(hours=1)
    assert row.tags == ["x", "y"] and row.version == 1


def test_changed_article_gets_a_new_version_and_keeps_the_old(any_database_url):
    store = Store.open(any_database_url)
    store.save_articles([article(body="Old text. " * 20)], now=T0)
    whitespace_only = store.save_articles([article(body="Old  text.\n\n" * 20)], now=T0)
    assert whitespace_only.unchanged == 1
    counts = store.save_articles([article(body="New text. " * 20)], now=T0 + timedelta(hours=2))
    assert counts.updated == 1
    with store.engine.connect() as conn:
        current = conn.execute(select(ArticleRow)).one()
        revisions = conn.execute(select(ArticleRevisionRow)).all()
    assert current.version == 2 and current.body.startswith("New text.")
    assert [(r.version, r.body[:9], r.captured_at) for r in revisions] == [
        (1, "Old text.", T0 + timedelta(hours=2))
    ]


def test_top_stories_link_to_articles_stored_before_or_after(any_database_url):
    store = Store.open(any_database_url)
    store.save_articles([article(url="https://news.example/a/1/")], now=T0)
    snapshot = TopStoriesSnapshot(
        site="example",
        page_url="https://news.example/",
        captured_at=T0,
        entries=[
            TopStory(1, "One", "https://news.example/a/1/"),
            TopStory(2, "Two", "https://news.example/a/2/"),
        ],
    )
    assert store.save_top_stories(snapshot) == 2
    store.save_articles([article(url="https://news.example/a/2/")], now=T0)
    with store.engine.connect() as conn:
        rows = conn.execute(select(TopStoryRow).order_by(TopStoryRow.rank)).all()
        ids = dict(conn.execute(select(ArticleRow.url, ArticleRow.id)).all())
    assert [(r.rank, r.article_id) for r in rows] == [
        (1, ids["https://news.example/a/1/"]),
        (2, ids["https://news.example/a/2/"]),
    ]


def test_runs_and_rejects_are_recorded(any_database_url):
    store = Store.open(any_database_url)
    run_id = store.start_run("example", "articles", {"pages": "2"})
    store.save_rejected(
        [
            {
                "run_id": run_id,
                "site": "example",
                "url": "https://news.example/a/9/",
                "stage": "validate",
                "reason": "no body found",
                "item": {"url": "https://news.example/a/9/", "title": "x"},
                "created_at": T0,
            }
        ]
    )
    store.finish_run(run_id, "finished", {"pages_fetched": 3, "items_rejected": 1}, "finished")
    from crawler.storage.models import CrawlRunRow, RejectedItemRow

    with store.engine.connect() as conn:
        run = conn.execute(select(CrawlRunRow)).one()
        reject = conn.execute(select(RejectedItemRow)).one()
    assert (run.status, run.pages_fetched, run.items_rejected, run.arguments) == (
        "finished",
        3,
        1,
        {"pages": "2"},
    )
    assert run.finished_at is not None and run.finished_at.tzinfo is UTC
    assert (reject.run_id, reject.stage, reject.item["title"]) == (run_id, "validate", "x")


def test_new_rows_on_sqlite_are_stored_as_sqlalchemy_would_store_them(tmp_path):
    """The store writes its INSERT of new rows out itself on SQLite: each
    value must be the text or number SQLAlchemy's own INSERT would write."""
    import sqlite3

    from sqlalchemy import insert

    from crawler.storage.store import _article_values

    new = article(
        published_at=datetime(2021, 9, 21, 19, 40, 5, 120, tzinfo=UTC),
        published_tz_known=True,
        tags=["Ünïcode", "x"],
        sources={"title": "css", "body": "generic"},
        author=None,
    )
    by_store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    by_store.save_articles([new], now=T0)
    by_orm = Store.open(f"sqlite:///{tmp_path / 'orm.db'}")
    with by_orm.engine.begin() as conn:
        conn.execute(insert(ArticleRow), [_article_values(new, T0)])

    def raw(name: str) -> list[tuple]:
        with sqlite3.connect(tmp_path / name) as conn:
            return conn.execute("select * from articles").fetchall()

    assert raw("store.db") == raw("orm.db")
    assert len(raw("store.db")) == 1


def test_the_stores_of_one_database_in_a_process_share_their_duplicate_finder(tmp_path):
    """A crawl host runs many crawls, each with a store: the near-duplicate
    SimHashes are loaded once for the process, and an article stored by one
    crawl is found as the original of another crawl's copy."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    first, second = Store.open(url), Store.open(url)
    other = Store.open(f"sqlite:///{tmp_path / 'other.db'}")
    assert first.duplicates is second.duplicates
    assert other.duplicates is not first.duplicates
    body = " ".join(f"Sentence {n} of the council's budget story." for n in range(40))
    first.save_articles([article(url="https://a.example/1/", body=body)])
    second.save_articles([article(url="https://b.example/1/", body=body + " Updated.")])
    with second.engine.connect() as conn:
        rows = dict(conn.execute(select(ArticleRow.url, ArticleRow.duplicate_of)).all())
        ids = dict(conn.execute(select(ArticleRow.url, ArticleRow.id)).all())
    assert rows["https://b.example/1/"] == ids["https://a.example/1/"]


def test_a_batch_longer_than_one_in_list_on_sqlite(tmp_path, monkeypatch):
    """On SQLite the batch's lookups are written out with one ``?`` per value,
    a few hundred at a time: a batch longer than that finds every stored URL
    and every earlier copy of a body, whichever part of the list it is in."""
    from crawler.storage import database

    monkeypatch.setattr(database, "SQLITE_IN_VALUES", 7)
    store = Store.open(f"sqlite:///{tmp_path / 'long.db'}")
    bodies = [f"Story {n}: " + f"the {n} council budget vote. " * 12 for n in range(20)]
    first = [article(url=f"https://news.example/a/{n}/", body=bodies[n]) for n in range(20)]
    assert store.save_articles(first, now=T0).new == 20
    # The same 20 again, 5 of them changed, and 20 new whose bodies repeat the first ones'.
    again = [
        article(url=a.url, body=a.body if n % 4 else a.body + " Update.")
        for n, a in enumerate(first)
    ]
    copies = [article(url=f"https://copy.example/{n}/", body=bodies[n]) for n in range(20)]
    counts = store.save_articles(again + copies, now=T0 + timedelta(hours=1))
    assert (counts.new, counts.updated, counts.unchanged, counts.duplicates) == (20, 5, 15, 20)
    with store.engine.connect() as conn:
        ids = dict(conn.execute(select(ArticleRow.url, ArticleRow.id)).all())
        duplicate_of = dict(conn.execute(select(ArticleRow.url, ArticleRow.duplicate_of)).all())
    assert all(
        duplicate_of[f"https://copy.example/{n}/"] == ids[f"https://news.example/a/{n}/"]
        for n in range(20)
    )


def _objects(path) -> tuple:
    """What a SQLite file holds of its schema: every object's SQL in order,
    its tables' kinds, the full-text index's configuration, the revision."""
    import sqlite3

    with sqlite3.connect(path) as conn:
        found = (
            conn.execute(
                "select type, name, tbl_name, sql from sqlite_master order by rowid"
            ).fetchall(),
            sorted(conn.execute("pragma table_list").fetchall()),
            conn.execute("select * from articles_fts_config").fetchall(),
            conn.execute("select version_num from alembic_version").fetchall(),
        )
    conn.close()
    return found


def test_a_new_sqlite_file_gets_the_schema_the_migrations_make(tmp_path, monkeypatch):
    """A new SQLite file gets its schema from migrations/sqlite_schema.json,
    without running the migrations: the same objects in the same order as
    running them makes, at the newest revision."""
    import json

    from crawler.storage import database

    snapshot = json.loads(database.SQLITE_SNAPSHOT.read_text(encoding="utf-8"))
    assert snapshot["revision"] == database.newest_migration(), (
        "migrations/sqlite_schema.json is not of the newest migration: run make schema-snapshot"
    )
    database.upgrade(f"sqlite:///{tmp_path / 'migrated.db'}")

    def no_migrations(*args, **kwargs):
        raise AssertionError("a new SQLite file ran the migrations")

    monkeypatch.setattr(database, "upgrade", no_migrations)
    database.ensure_schema(f"sqlite:///{tmp_path / 'new.db'}")
    assert _objects(tmp_path / "new.db") == _objects(tmp_path / "migrated.db")
    store = Store.open(f"sqlite:///{tmp_path / 'new.db'}")
    assert store.save_articles([article()], now=T0).new == 1


def test_a_snapshot_that_fails_leaves_nothing_half_made(tmp_path, monkeypatch, caplog):
    """A statement of the snapshot that fails rolls back all the others, and
    the migrations make the schema instead, with a warning."""
    import json

    from crawler.storage import database

    real = json.loads(database.SQLITE_SNAPSHOT.read_text(encoding="utf-8"))
    broken = {
        "revision": real["revision"],
        "statements": [*real["statements"][:6], "CREATE TABLE ("],
    }
    monkeypatch.setattr(database, "_sqlite_snapshot", lambda: broken)
    database.upgrade(f"sqlite:///{tmp_path / 'migrated.db'}")
    database.ensure_schema(f"sqlite:///{tmp_path / 'new.db'}")
    assert "the schema snapshot sqlite_schema.json failed" in caplog.text
    assert _objects(tmp_path / "new.db") == _objects(tmp_path / "migrated.db")


# What a PostgreSQL database holds of its schema (its current schema's objects).
POSTGRES_CATALOGUE = {
    "columns": """select table_name, column_name, ordinal_position, data_type, udt_name,
        is_nullable, column_default, is_generated, generation_expression,
        character_maximum_length from information_schema.columns
        where table_schema = current_schema() order by 1, 3""",
    "indexes": """select tablename, indexname, indexdef from pg_indexes
        where schemaname = current_schema() order by 2""",
    "constraints": """select conrelid::regclass::text, conname, pg_get_constraintdef(oid)
        from pg_constraint where connamespace = current_schema()::regnamespace
        order by 1, 2""",
    "views": """select viewname, definition from pg_views
        where schemaname = current_schema() order by 1""",
    "functions": """select proname, pg_get_functiondef(oid) from pg_proc
        where pronamespace = current_schema()::regnamespace order by 1""",
    "triggers": """select tgrelid::regclass::text, tgname, pg_get_triggerdef(oid)
        from pg_trigger where not tgisinternal order by 1, 2""",
    "sequences": """select sequence_name, data_type, start_value, increment
        from information_schema.sequences where sequence_schema = current_schema()
        order by 1""",
    "revision": "select version_num from alembic_version",
}


def _postgres_objects(url: str) -> dict:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {k: conn.execute(text(q)).all() for k, q in POSTGRES_CATALOGUE.items()}
    finally:
        engine.dispose()


@pytest.fixture
def second_postgres_url(postgres_admin):
    import uuid

    from sqlalchemy import text

    from tests.conftest import POSTGRES_ADMIN_URL

    name = f"newscrawl_test_{uuid.uuid4().hex[:12]}"
    with postgres_admin.connect() as conn:
        conn.execute(text(f'create database "{name}"'))
    yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    from crawler.storage.database import dispose_engines

    dispose_engines()
    with postgres_admin.connect() as conn:
        conn.execute(text(f'drop database if exists "{name}" with (force)'))


def test_a_new_postgres_database_gets_the_schema_the_migrations_make(
    postgres_url, second_postgres_url, monkeypatch
):
    """A new PostgreSQL database gets its schema from
    migrations/postgresql_schema.json, without running the migrations: the
    same columns, indexes, constraints, views, functions and revision."""
    import json

    from crawler.storage import database

    snapshot = json.loads(database.POSTGRES_SNAPSHOT.read_text(encoding="utf-8"))
    assert snapshot["revision"] == database.newest_migration(), (
        "migrations/postgresql_schema.json is not of the newest migration: run make schema-snapshot"
    )
    database.upgrade(second_postgres_url)

    def no_migrations(*args, **kwargs):
        raise AssertionError("a new PostgreSQL database ran the migrations")

    monkeypatch.setattr(database, "upgrade", no_migrations)
    database.ensure_schema(postgres_url)
    made, migrated = _postgres_objects(postgres_url), _postgres_objects(second_postgres_url)
    assert made == migrated
    assert made["columns"] and made["views"] and made["functions"]
    assert Store.open(postgres_url).save_articles([article()], now=T0).new == 1


def test_a_postgres_snapshot_that_fails_leaves_nothing_half_made(
    postgres_url, second_postgres_url, monkeypatch, caplog
):
    import json

    from crawler.storage import database

    real = json.loads(database.POSTGRES_SNAPSHOT.read_text(encoding="utf-8"))
    broken = {
        "revision": real["revision"],
        "statements": [*real["statements"][:6], "CREATE TABLE ("],
    }
    monkeypatch.setattr(database, "_postgres_snapshot", lambda: broken)
    database.upgrade(second_postgres_url)
    database.ensure_schema(postgres_url)
    assert "the schema snapshot postgresql_schema.json failed" in caplog.text
    assert _postgres_objects(postgres_url) == _postgres_objects(second_postgres_url)
