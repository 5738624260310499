"""Full-text search over article titles and bodies; an index for top stories
at a moment.

SQLite: an FTS5 table ``articles_fts`` (external content: it indexes
``articles`` without a second copy of the text), kept in sync by three
triggers on ``articles`` and filled from the existing rows on upgrade. The
``unicode61`` tokenizer with ``remove_diacritics 2`` folds case and accents in
every script and stems nothing, because the archive is multilingual.

PostgreSQL: a stored generated column ``articles.search_vector`` (title
weighted A, body B) with a GIN index. Adding the column computes it for every
existing row. The text search configuration is ``simple`` (lower-cased words,
no stemming, no stop words): the same for every language, so a word is found
as written whatever the site's language is.

Neither object is in the SQLAlchemy models: they are derived from title and
body, exist on one engine each, and are only read by
``crawler/storage/search.py`` (``crawler.storage.search.is_search_index``
keeps them out of autogenerate comparisons).

Both engines: ``ix_top_stories_site_page_url_captured_at``, so the latest
snapshot of a page at or before a time is one index lookup however many
snapshots the archive holds (``newscrawl top-stories --at``).

A later migration that rebuilds ``articles`` on SQLite (batch mode "move and
copy") drops the triggers with the old table: it must create them again.

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-29
"""

from alembic import op

TOP_STORIES_INDEX = "ix_top_stories_site_page_url_captured_at"

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None

SQLITE_UPGRADE = [
    """
    CREATE VIRTUAL TABLE articles_fts USING fts5(
        title, body,
        content="articles", content_rowid="id",
        tokenize="unicode61 remove_diacritics 2"
    )
    """,
    """
    CREATE TRIGGER articles_fts_after_insert AFTER INSERT ON articles BEGIN
        INSERT INTO articles_fts (rowid, title, body) VALUES (new.id, new.title, new.body);
    END
    """,
    """
    CREATE TRIGGER articles_fts_after_delete AFTER DELETE ON articles BEGIN
        INSERT INTO articles_fts (articles_fts, rowid, title, body)
        VALUES ('delete', old.id, old.title, old.body);
    END
    """,
    # Only a change of the indexed text re-indexes a row: a crawl touching
    # last_seen_at costs nothing here.
    """
    CREATE TRIGGER articles_fts_after_update AFTER UPDATE OF id, title, body ON articles BEGIN
        INSERT INTO articles_fts (articles_fts, rowid, title, body)
        VALUES ('delete', old.id, old.title, old.body);
        INSERT INTO articles_fts (rowid, title, body) VALUES (new.id, new.title, new.body);
    END
    """,
    # Backfill: index the articles stored before this revision.
    "INSERT INTO articles_fts (rowid, title, body) SELECT id, title, body FROM articles",
]

SQLITE_DOWNGRADE = [
    "DROP TRIGGER IF EXISTS articles_fts_after_update",
    "DROP TRIGGER IF EXISTS articles_fts_after_delete",
    "DROP TRIGGER IF EXISTS articles_fts_after_insert",
    "DROP TABLE IF EXISTS articles_fts",
]

POSTGRESQL_UPGRADE = [
    # A stored generated column is computed for every existing row as it is
    # added: that is the backfill.
    """
    ALTER TABLE articles ADD COLUMN search_vector tsvector
    GENERATED ALWAYS AS (
        setweight(to_tsvector('simple'::regconfig, coalesce(title, '')), 'A')
        || setweight(to_tsvector('simple'::regconfig, coalesce(body, '')), 'B')
    ) STORED
    """,
    "CREATE INDEX ix_articles_search_vector ON articles USING gin (search_vector)",
]

POSTGRESQL_DOWNGRADE = [
    "DROP INDEX IF EXISTS ix_articles_search_vector",
    "ALTER TABLE articles DROP COLUMN IF EXISTS search_vector",
]


def _run(statements_by_dialect: dict[str, list[str]]) -> None:
    for statement in statements_by_dialect.get(op.get_bind().dialect.name, []):
        op.execute(statement)


def upgrade() -> None:
    _run({"sqlite": SQLITE_UPGRADE, "postgresql": POSTGRESQL_UPGRADE})
    op.create_index(TOP_STORIES_INDEX, "top_stories", ["site", "page_url", "captured_at"])


def downgrade() -> None:
    op.drop_index(TOP_STORIES_INDEX, table_name="top_stories")
    _run({"sqlite": SQLITE_DOWNGRADE, "postgresql": POSTGRESQL_DOWNGRADE})
