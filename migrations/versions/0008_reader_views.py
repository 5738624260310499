"""Four SQL views for reading the archive: ``article_list``, ``top_story_spans``,
``corrections`` and ``crawl_history`` (docs/schema.md), on SQLite and
PostgreSQL alike, with the same columns and the same rows. ``newscrawl
browse`` opens on them; ``sqlite3`` and ``psql`` read them as tables.

They hold no data: each reads the tables when queried, so they are current
at once and cost nothing to create on an archive of any size.

A later migration that rebuilds one of the tables they read (SQLite's batch
mode copies a table, drops it and renames the copy) or changes the type of a
column they use (PostgreSQL) drops the views first and creates them again
after: SQLite refuses to rename a table while a view names a missing one,
PostgreSQL to change a column a view depends on.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-10
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

VIEWS = ("article_list", "top_story_spans", "corrections", "crawl_history")

# The excerpt: the body on one line, its first 200 characters cut after the
# last whole word and the punctuation before it (when that keeps at least 100
# of them; text without spaces is cut at 200), then "…". ``cut``: the first
# 201 characters without the word the 201st is part of (SQLite: rtrim by
# every character of the text but the space; PostgreSQL: a regular expression).
# ``flat`` is the body's first 600 characters on one line: enough for 200 (a
# blank line becomes one space, so 600 give at least 300), and a body longer
# than 600 has more than 200 on one line. Flattening the whole body (used five
# times over) made the view six times as slow.
EXCERPT_HEAD = 600
EXCERPT_CHARS = 200
EXCERPT_MIN = 100

ARTICLE_LIST = """
CREATE VIEW article_list AS
SELECT id, site, published_at, title, author, section, tags,
       CASE WHEN length(flat) <= {chars} THEN flat
            WHEN length(cut) >= {min} THEN rtrim(cut, ' ,;:.') || '…'
            ELSE substr(flat, 1, {chars}) || '…' END AS excerpt,
       url
FROM (
    SELECT id, site, published_at, title, author, section, tags, url, flat, {cut} AS cut
    FROM (
        SELECT id, site, published_at, title, author, section, tags, url,
               replace(replace(substr(body, 1, {head}), {nl} || {nl}, ' '), {nl}, ' ') AS flat
        FROM articles
        WHERE duplicate_of IS NULL
    ) AS one_line
) AS cut_bodies
"""
SQLITE_CUT = "rtrim(substr(flat, 1, 201), replace(substr(flat, 1, 201), ' ', ''))"
POSTGRESQL_CUT = "regexp_replace(substr(flat, 1, 201), '[^ ]*$', '')"

# Per site, day (UTC) and story: its best rank, first and last snapshot that
# day, the seconds between them, how many snapshots, and the headline of the
# last one (of its rows there, the best ranked). The headline is looked up
# per row after grouping, so that a condition on site and day narrows the
# grouping first (a window function over every snapshot took 90 times as long
# for one site and day of 144,000 rows).
TOP_STORY_SPANS = """
CREATE VIEW top_story_spans AS
WITH spans AS (
    SELECT site, {day} AS day, url,
           min(rank) AS best_rank,
           min(captured_at) AS first_seen_at,
           max(captured_at) AS last_seen_at,
           count(*) AS snapshots,
           max(article_id) AS article_id
    FROM top_stories
    GROUP BY site, {day}, url
)
SELECT site, day, best_rank,
       (SELECT t.title FROM top_stories t
        WHERE t.site = spans.site AND t.url = spans.url AND t.captured_at = spans.last_seen_at
        ORDER BY t.rank LIMIT 1) AS title,
       first_seen_at, last_seen_at,
       {seconds} AS span_seconds,
       snapshots, article_id, url
FROM spans
ORDER BY day DESC, site, best_rank, first_seen_at, url
"""
SQLITE_DAY = "date(captured_at)"
POSTGRESQL_DAY = "(captured_at AT TIME ZONE 'UTC')::date"
SQLITE_SECONDS = "CAST(round((julianday({end}) - julianday({start})) * 86400) AS INTEGER)"
POSTGRESQL_SECONDS = "CAST(round(extract(epoch FROM {end} - {start})) AS INTEGER)"

# Per revision: the state it was (old) and the one that replaced it (new: the
# next revision, or the article as it is), and the paragraphs (separated by a
# blank line) of each that the other does not have, in their order.
CORRECTIONS = """
CREATE VIEW corrections AS
SELECT changed_at, site, old_title, new_title,
       {old_only} AS old_paragraphs,
       {new_only} AS new_paragraphs,
       article_id, old_version, new_version, url
FROM (
    SELECT r.captured_at AS changed_at, a.site, r.article_id,
           r.version AS old_version, r.version + 1 AS new_version,
           r.title AS old_title, coalesce(n.title, a.title) AS new_title,
           r.body AS old_body, coalesce(n.body, a.body) AS new_body, a.url
    FROM article_revisions r
    JOIN articles a ON a.id = r.article_id
    LEFT JOIN article_revisions n ON n.article_id = r.article_id AND n.version = r.version + 1
) AS versions
"""
# SQLite: a body as a JSON array of its paragraphs, for json_each. The blank
# lines become U+FDD0 (a noncharacter, which json_quote leaves alone and no
# text carries), then the separators of a JSON array.
SQLITE_PARAGRAPHS = (
    "'[' || replace(json_quote(replace({body}, char(10) || char(10), char(64976))), "
    "char(64976), '\",\"') || ']'"
)
SQLITE_ONLY_IN = (
    "(SELECT group_concat(p.value, char(10) || char(10)) FROM json_each({this}) AS p "
    "WHERE p.value NOT IN (SELECT q.value FROM json_each({other}) AS q))"
)
POSTGRESQL_ONLY_IN = (
    "(SELECT string_agg(p.part, E'\\n\\n' ORDER BY p.n) "
    "FROM unnest(string_to_array({this}, E'\\n\\n')) WITH ORDINALITY AS p(part, n) "
    "WHERE p.part <> ALL (string_to_array({other}, E'\\n\\n')))"
)

CRAWL_HISTORY = """
CREATE VIEW crawl_history AS
SELECT id, started_at, site, spider, status,
       {seconds} AS duration_seconds,
       pages_fetched, articles_new, articles_updated, articles_unchanged,
       items_rejected, top_story_snapshots, errors, finish_reason, health_warnings,
       pages_skipped_known, trigger, finished_at
FROM crawl_runs
"""


def article_list(cut: str, newline: str) -> str:
    return ARTICLE_LIST.format(
        chars=EXCERPT_CHARS, min=EXCERPT_MIN, head=EXCERPT_HEAD, cut=cut, nl=newline
    )


def sqlite_views() -> list[str]:
    paragraphs = {side: SQLITE_PARAGRAPHS.format(body=f"{side}_body") for side in ("old", "new")}
    return [
        article_list(SQLITE_CUT, "char(10)"),
        TOP_STORY_SPANS.format(
            day=SQLITE_DAY,
            seconds=SQLITE_SECONDS.format(start="first_seen_at", end="last_seen_at"),
        ),
        CORRECTIONS.format(
            old_only=SQLITE_ONLY_IN.format(this=paragraphs["old"], other=paragraphs["new"]),
            new_only=SQLITE_ONLY_IN.format(this=paragraphs["new"], other=paragraphs["old"]),
        ),
        CRAWL_HISTORY.format(seconds=SQLITE_SECONDS.format(start="started_at", end="finished_at")),
    ]


def postgresql_views() -> list[str]:
    return [
        article_list(POSTGRESQL_CUT, "chr(10)"),
        TOP_STORY_SPANS.format(
            day=POSTGRESQL_DAY,
            seconds=POSTGRESQL_SECONDS.format(start="first_seen_at", end="last_seen_at"),
        ),
        CORRECTIONS.format(
            old_only=POSTGRESQL_ONLY_IN.format(this="old_body", other="new_body"),
            new_only=POSTGRESQL_ONLY_IN.format(this="new_body", other="old_body"),
        ),
        CRAWL_HISTORY.format(
            seconds=POSTGRESQL_SECONDS.format(start="started_at", end="finished_at")
        ),
    ]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in postgresql_views() if dialect == "postgresql" else sqlite_views():
        op.execute(statement)


def downgrade() -> None:
    for name in reversed(VIEWS):
        op.execute(f"DROP VIEW IF EXISTS {name}")
