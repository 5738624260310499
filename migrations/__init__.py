"""Alembic migrations of the archive schema (run by `newscrawl db upgrade`)."""
