"""Full-text search over article titles and bodies, in each engine's own terms.

SQLite: the FTS5 table ``articles_fts`` (migration 0004), queried with
``MATCH`` in FTS5 query syntax, ranked by ``bm25()`` with the title weighted
above the body, a body excerpt from ``snippet()``. PostgreSQL: the generated
``articles.search_vector`` column (title weight A, body B) and its GIN index,
queried with ``websearch_to_tsquery('simple', ...)``, ranked by
``ts_rank_cd()`` with the same title weighting, an excerpt from ``ts_headline()``.

The query text is always a bound parameter. A query FTS5 cannot parse raises
:class:`SearchQueryError` with SQLite's reason; ``websearch_to_tsquery``
accepts any text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, Float, bindparam, column, func, literal_column, select, table
from sqlalchemy.exc import OperationalError

from crawler.exceptions import SearchQueryError
from crawler.storage.models import ArticleRow
from crawler.storage.queries import ArticleFilters

SQLITE_FTS_TABLE = "articles_fts"
POSTGRESQL_SEARCH_COLUMN = "search_vector"
POSTGRESQL_SEARCH_INDEX = "ix_articles_search_vector"
# The text search configuration of search_vector (see migration 0004).
POSTGRESQL_TEXT_SEARCH_CONFIG = "simple"

# Ranking weights, bm25() on SQLite, ts_rank_cd() on PostgreSQL: a word in the
# title counts as much as ten in the body.
TITLE_WEIGHT = 10.0
BODY_WEIGHT = 1.0
SNIPPET_WORDS = 24
SNIPPET_BATCH = 500

# Where the engine marks a matched word in a snippet. Private-use characters,
# so they cannot collide with article text; split_snippet() removes them.
MATCH_START = "\ue000"
MATCH_END = "\ue001"
ELLIPSIS = "…"

_FTS5_SYNTAX_ERRORS = ("fts5:", "unterminated string", "no such column", "unknown special query")


@dataclass(frozen=True)
class SearchHit:
    id: int
    site: str
    url: str
    title: str
    published_at: datetime | None
    author: str | None
    section: str | None
    duplicate_of: int | None
    score: float
    snippet: str  # with MATCH_START / MATCH_END around matched words


def is_search_index(name: str | None, type_: str, parent_names: dict) -> bool:
    """Whether a reflected schema object belongs to the full-text index.

    The FTS5 table (and its shadow tables) and the tsvector column with its
    index are created by migration 0004 and deliberately left out of the
    models, so schema comparisons skip them.
    """
    if name is None:
        return False
    if type_ == "table":
        return name == SQLITE_FTS_TABLE or name.startswith(SQLITE_FTS_TABLE + "_")
    if type_ == "column":
        return parent_names.get("table_name") == "articles" and name == POSTGRESQL_SEARCH_COLUMN
    if type_ == "index":
        return name == POSTGRESQL_SEARCH_INDEX
    return False


def include_in_schema_comparison(name: str | None, type_: str, parent_names: dict) -> bool:
    """An Alembic ``include_name`` hook: everything but the full-text index."""
    return not is_search_index(name, type_, parent_names)


def search_articles(
    engine: Engine, query: str, filters: ArticleFilters, limit: int | None = 20
) -> list[SearchHit]:
    """Articles matching ``query``, best first; ``limit`` None for all."""
    if not query.strip():
        raise SearchQueryError("the query is empty")
    if engine.dialect.name == "sqlite":
        return _search_sqlite(engine, query, filters, limit)
    if engine.dialect.name == "postgresql":
        return _search_postgresql(engine, query, filters, limit)
    raise NotImplementedError(f"no full-text search on {engine.dialect.name}")


def _hit_columns() -> list:
    a = ArticleRow
    return [a.id, a.site, a.url, a.title, a.published_at, a.author, a.section, a.duplicate_of]


def _search_sqlite(
    engine: Engine, query: str, filters: ArticleFilters, limit: int | None
) -> list[SearchHit]:
    fts_table = table(SQLITE_FTS_TABLE, column("rowid"))
    fts = literal_column(SQLITE_FTS_TABLE)  # FTS5's hidden column named after its table
    match = fts.op("MATCH")(bindparam("query", query))
    bm25 = func.bm25(fts, TITLE_WEIGHT, BODY_WEIGHT, type_=Float)
    ranked = (
        select(*_hit_columns(), (-bm25).label("score"))
        .select_from(fts_table)
        .join(ArticleRow, ArticleRow.id == fts_table.c.rowid)
        .where(match, *filters.conditions())
        .order_by(bm25, ArticleRow.id)
        .limit(limit)
    )
    try:
        with engine.connect() as conn:
            rows = conn.execute(ranked).mappings().all()
            # Excerpts of the shown rows only: SQLite would compute snippet()
            # for every match before sorting them.
            snippet = func.snippet(fts, 1, MATCH_START, MATCH_END, ELLIPSIS, SNIPPET_WORDS)
            ids = [row["id"] for row in rows]
            snippets: dict[int, str] = {}
            for start in range(0, len(ids), SNIPPET_BATCH):  # within SQLite's variable limit
                batch = ids[start : start + SNIPPET_BATCH]
                stmt = select(fts_table.c.rowid, snippet).where(match, fts_table.c.rowid.in_(batch))
                snippets.update({rowid: text for rowid, text in conn.execute(stmt)})
    except OperationalError as exc:
        message = str(exc.orig)
        if message.startswith(_FTS5_SYNTAX_ERRORS):
            raise SearchQueryError(message) from None
        raise
    return [SearchHit(**row, snippet=snippets.get(row["id"], "")) for row in rows]


def _search_postgresql(
    engine: Engine, query: str, filters: ArticleFilters, limit: int | None
) -> list[SearchHit]:
    vector = literal_column(f"articles.{POSTGRESQL_SEARCH_COLUMN}")
    config = literal_column(f"'{POSTGRESQL_TEXT_SEARCH_CONFIG}'::regconfig")
    tsquery = func.websearch_to_tsquery(config, bindparam("query", query))
    # ts_rank_cd's weights of D, C, B (body) and A (title) lexemes: the same
    # title-to-body ratio as bm25() on SQLite.
    body = BODY_WEIGHT / TITLE_WEIGHT
    weights = literal_column(f"'{{{body}, {body}, {body}, 1.0}}'::float4[]")
    score = func.ts_rank_cd(weights, vector, tsquery, type_=Float)
    # Rank and limit first: ts_headline re-parses the body, so it runs on the
    # shown rows only.
    ranked = (
        select(*_hit_columns(), ArticleRow.body, score.label("score"))
        .where(vector.op("@@")(tsquery), *filters.conditions())
        .order_by(score.desc(), ArticleRow.id)
        .limit(limit)
        .subquery()
    )
    options = (
        f"StartSel={MATCH_START}, StopSel={MATCH_END}, MaxWords={SNIPPET_WORDS}, "
        f'MinWords={SNIPPET_WORDS // 2}, MaxFragments=2, FragmentDelimiter=" {ELLIPSIS} "'
    )
    headline = func.ts_headline(config, ranked.c.body, tsquery, options)
    stmt = select(
        *(ranked.c[c.key] for c in _hit_columns()),
        ranked.c.score,
        headline.label("snippet"),
    ).order_by(ranked.c.score.desc(), ranked.c.id)
    with engine.connect() as conn:
        rows = conn.execute(stmt).mappings().all()
    return [SearchHit(**row) for row in rows]


def split_snippet(snippet: str) -> tuple[str, list[tuple[int, int]]]:
    """The snippet as plain text, and the [start, end) offsets of matched words."""
    plain: list[str] = []
    spans: list[tuple[int, int]] = []
    length = 0
    start: int | None = None
    for char in snippet:
        if char == MATCH_START:
            start = length
        elif char == MATCH_END:
            if start is not None:
                spans.append((start, length))
            start = None
        else:
            plain.append(char)
            length += 1
    return "".join(plain), spans


def mark_snippet(snippet: str, start: str = "[", end: str = "]") -> str:
    """The snippet with matched words between ``start`` and ``end``."""
    return snippet.replace(MATCH_START, start).replace(MATCH_END, end)
