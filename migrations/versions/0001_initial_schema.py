"""Initial schema: articles, article_revisions, top_stories, crawl_runs, rejected_items.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "crawl_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("spider", sa.String(32), nullable=False),
        sa.Column("started_at", UTC_TIME, nullable=False),
        sa.Column("finished_at", UTC_TIME),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("pages_fetched", sa.Integer, nullable=False),
        sa.Column("articles_new", sa.Integer, nullable=False),
        sa.Column("articles_updated", sa.Integer, nullable=False),
        sa.Column("articles_unchanged", sa.Integer, nullable=False),
        sa.Column("items_rejected", sa.Integer, nullable=False),
        sa.Column("top_story_snapshots", sa.Integer, nullable=False),
        sa.Column("errors", sa.Integer, nullable=False),
        sa.Column("finish_reason", sa.Text),
        sa.Column("arguments", sa.JSON, nullable=False),
    )
    op.create_index(
        "ix_crawl_runs_site_spider_started_at", "crawl_runs", ["site", "spider", "started_at"]
    )
    op.create_table(
        "articles",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("url", sa.Text, nullable=False, unique=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("author", sa.Text),
        sa.Column("section", sa.Text),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("language", sa.String(16)),
        sa.Column("published_at", UTC_TIME),
        sa.Column("published_raw", sa.Text),
        sa.Column("first_seen_at", UTC_TIME, nullable=False),
        sa.Column("last_seen_at", UTC_TIME, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("duplicate_of", sa.Integer, sa.ForeignKey("articles.id")),
        sa.Column("sources", sa.JSON, nullable=False),
    )
    op.create_index("ix_articles_site", "articles", ["site"])
    op.create_index("ix_articles_content_hash", "articles", ["content_hash"])
    op.create_index("ix_articles_site_published_at", "articles", ["site", "published_at"])
    op.create_table(
        "article_revisions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "article_id",
            sa.Integer,
            sa.ForeignKey("articles.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("captured_at", UTC_TIME, nullable=False),
        sa.UniqueConstraint("article_id", "version"),
    )
    op.create_table(
        "top_stories",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("captured_at", UTC_TIME, nullable=False),
        sa.Column("rank", sa.Integer, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("article_id", sa.Integer, sa.ForeignKey("articles.id", ondelete="SET NULL")),
        sa.Column("page_url", sa.Text, nullable=False),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("crawl_runs.id", ondelete="SET NULL")),
    )
    op.create_index("ix_top_stories_url", "top_stories", ["url"])
    op.create_index("ix_top_stories_site_captured_at", "top_stories", ["site", "captured_at"])
    op.create_table(
        "rejected_items",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("crawl_runs.id", ondelete="SET NULL")),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("url", sa.Text),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("item", sa.JSON, nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
    )


def downgrade() -> None:
    for table in ("rejected_items", "top_stories", "article_revisions", "articles", "crawl_runs"):
        op.drop_table(table)
