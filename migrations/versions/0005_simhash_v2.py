"""SimHash of stored bodies recomputed with the faster function.

``crawler.extraction.fingerprints.simhash`` now hashes each word once and mixes the
three word hashes of a shingle (computed on arrays) instead of hashing every
shingle's text. Values of the earlier function cannot be compared with the
new ones, so every stored article's ``simhash`` is computed again from its
body, 500 rows at a time. No column changes. About 0.5 ms per article: a
minute per 100,000 articles.

Downgrading leaves the values as they are: the earlier code reads them as
SimHashes that do not match its own, so near duplicates between articles
stored before and after the downgrade are not found (exact copies still are).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

from crawler.extraction.fingerprints import simhash

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BATCH = 500

articles = sa.table(
    "articles",
    sa.column("id", sa.Integer),
    sa.column("body", sa.Text),
    sa.column("simhash", sa.BigInteger),
)


def upgrade() -> None:
    bind = op.get_bind()
    last = 0
    while True:
        rows = bind.execute(
            sa.select(articles.c.id, articles.c.body)
            .where(articles.c.id > last)
            .order_by(articles.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        bind.execute(
            articles.update()
            .where(articles.c.id == sa.bindparam("row_id"))
            .values(simhash=sa.bindparam("value")),
            [{"row_id": r.id, "value": simhash(r.body or "")} for r in rows],
        )
        last = rows[-1].id


def downgrade() -> None:
    pass
