"""Alembic environment: runs on the connection newscrawl hands it, or on a URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from crawler.storage.database import database_url
from crawler.storage.models import Base
from crawler.storage.search import include_in_schema_comparison

config = context.config
target_metadata = Base.metadata


def run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        # The full-text index (migration 0004) is not in the models: autogenerate
        # must not propose to drop it.
        include_name=include_in_schema_comparison,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    engine = engine_from_config(
        {"sqlalchemy.url": database_url(config.get_main_option("sqlalchemy.url"))},
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.begin() as conn:
        run(conn)
