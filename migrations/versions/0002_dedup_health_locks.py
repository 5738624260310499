"""Dedup, extraction health and crawl locks.

articles: published_tz_known, simhash. crawl_runs: pages_skipped_known,
field_fill_rates, health_warnings, host, pid, trigger. New tables
article_aliases (other URLs that led to a stored article: redirects,
rel=canonical) and crawl_locks (one lease per site and spider, so two
processes never crawl the same thing).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("published_tz_known", sa.Boolean))
        batch.add_column(sa.Column("simhash", sa.BigInteger))
    with op.batch_alter_table("crawl_runs") as batch:
        batch.add_column(
            sa.Column("pages_skipped_known", sa.Integer, nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("field_fill_rates", sa.JSON))
        batch.add_column(sa.Column("health_warnings", sa.JSON))
        batch.add_column(sa.Column("host", sa.Text))
        batch.add_column(sa.Column("pid", sa.Integer))
        batch.add_column(
            sa.Column("trigger", sa.String(16), nullable=False, server_default="manual")
        )
    op.create_table(
        "article_aliases",
        sa.Column("url", sa.Text, primary_key=True),
        sa.Column(
            "article_id",
            sa.Integer,
            sa.ForeignKey("articles.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("seen_at", UTC_TIME, nullable=False),
    )
    op.create_table(
        "crawl_locks",
        sa.Column("site", sa.String(64), primary_key=True),
        sa.Column("spider", sa.String(32), primary_key=True),
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("host", sa.Text, nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("acquired_at", UTC_TIME, nullable=False),
        sa.Column("expires_at", UTC_TIME, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("crawl_locks")
    op.drop_table("article_aliases")
    with op.batch_alter_table("crawl_runs") as batch:
        for column in (
            "trigger",
            "pid",
            "host",
            "health_warnings",
            "field_fill_rates",
            "pages_skipped_known",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("simhash")
        batch.drop_column("published_tz_known")
