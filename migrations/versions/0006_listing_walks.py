"""The ``listing_walks`` table: how far each listing's walk got, so that an
interrupted crawl is continued by the next one (docs/robustness.md).

Existing archives start with no rows: the first crawl of each listing after
the upgrade walks it to its end once (to ``max_pages`` or the last page),
fetching only the articles that are not stored, which also brings in what
earlier interrupted crawls missed.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "listing_walks",
        sa.Column("site", sa.String(64), primary_key=True),
        sa.Column("spider", sa.String(32), primary_key=True),
        sa.Column("listing", sa.Text(), primary_key=True),
        sa.Column("started_at", UTC_TIME, nullable=False),
        sa.Column("completed_at", UTC_TIME, nullable=True),
        sa.Column("last_completed_at", UTC_TIME, nullable=True),
        sa.Column("crawls", sa.Integer(), nullable=False),
        sa.Column("pages_read", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", UTC_TIME, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("listing_walks")
