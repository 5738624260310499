"""The ``captures`` table: every article page and top-stories page a crawl
fetched, kept as a WARC record in the archive directory (docs/archive.md),
with where its record is (file, offset, length) and its payload digest; and
``article_revisions.reason``, why a version ended: ``revisit`` (the page had
changed when fetched again, the meaning of every existing row) or
``re-extraction`` (``newscrawl reextract`` read its capture again with a
changed site definition).

Existing archives start with no captures: articles stored before the upgrade
have none until a crawl fetches them again.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "captures",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column(
            "article_id",
            sa.Integer(),
            sa.ForeignKey("articles.id", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("fetched_at", UTC_TIME, nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=False),
        sa.Column("payload_digest", sa.String(64), nullable=False),
        sa.Column("record_type", sa.String(16), nullable=False),
        sa.Column("warc_file", sa.Text(), nullable=False),
        sa.Column("warc_offset", sa.BigInteger(), nullable=False),
        sa.Column("warc_length", sa.Integer(), nullable=False),
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column(
            "run_id",
            sa.Integer(),
            sa.ForeignKey("crawl_runs.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("extracted_with", sa.String(64), nullable=True),
    )
    op.create_index("ix_captures_article_id", "captures", ["article_id"])
    op.create_index("ix_captures_url", "captures", ["url"])
    # A plain ADD COLUMN (no table copy on SQLite): the reader views of 0008 stay.
    op.add_column(
        "article_revisions",
        sa.Column("reason", sa.String(32), nullable=False, server_default="revisit"),
    )


def downgrade() -> None:
    op.drop_column("article_revisions", "reason")
    op.drop_index("ix_captures_url", table_name="captures")
    op.drop_index("ix_captures_article_id", table_name="captures")
    op.drop_table("captures")
