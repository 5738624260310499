"""Full-text search over article titles and bodies: one query language,
run by each engine's own index with the same hits.

The query (words, "phrases", prefix*, OR, AND, NOT / -word, parentheses,
title: / body:, NEAR) is parsed here into a small tree (:func:`parse_query`)
and written out in each engine's terms, every word quoted, so no user text is
ever read as the engine's own syntax. Text that is not a valid query is
searched as plain words; :class:`SearchQueryError` only when nothing in it
can be searched for. docs/querying.md#search describes the language.

Both engines see words the same way: runs of letters and digits, lower case,
without the accents of Latin letters. SQLite: the FTS5 table ``articles_fts``
(migration 0004, tokenizer ``unicode61 remove_diacritics 2``) queried with
``MATCH``, ranked by ``bm25()`` with the title weighted above the body, a body
excerpt from ``snippet()``. PostgreSQL: the generated column
``articles.search_vector`` (title weight A, body B) over
``newscrawl_search_text()`` of the text (migration 0007: the same folding as
:func:`search_text`), queried with ``to_tsquery('simple', ...)``, ranked by
``ts_rank_cd()`` with the same title weighting, the excerpt made here
(:func:`excerpt`) so that folded words are marked too.

The query is always a bound parameter.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import combinations

from sqlalchemy import Engine, Float, bindparam, column, func, literal_column, select, table
from sqlalchemy.exc import OperationalError

from crawler.exceptions import SearchQueryError
from crawler.storage.models import ArticleRow
from crawler.storage.queries import ArticleFilters

SQLITE_FTS_TABLE = "articles_fts"
POSTGRESQL_SEARCH_COLUMN = "search_vector"
POSTGRESQL_SEARCH_INDEX = "ix_articles_search_vector"
# The text search configuration of search_vector (see migrations 0004 and 0007).
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

# ---------------------------------------------------------------- words

# The characters that end a word besides the space, as a regular expression
# class that Python and PostgreSQL read alike: ASCII punctuation and control
# characters, Latin-1 punctuation and symbols, general punctuation (dashes,
# quotation marks, ellipsis, spaces), currency signs, arrows, mathematical and
# technical symbols, box drawing, dingbats, CJK and fullwidth punctuation,
# emoji. No letter, digit or mark is in it: FTS5's unicode61 tokenizer keeps
# the same characters in words. (Not the space itself: every engine splits
# there anyway, and replacing each one makes PostgreSQL's regexp_replace()
# five times slower.) Migration 0007 holds a copy of these three for
# newscrawl_search_text() (a test compares them): change all or none.
SEPARATOR_CLASS = (
    r"[\u0001-\u001f\u0021-\u002f\u003a-\u0040\u005b-\u0060\u007b-\u00a9\u00ab-\u00b1"
    r"\u00b4\u00b6-\u00b8\u00bb\u00bf\u00d7\u00f7\u1680\u2000-\u206f\u20a0-\u20cf"
    r"\u2190-\u245f\u2500-\u2775\u2794-\u2bff\u2e00-\u2e2e\u2e30-\u2e7f"
    r"\u3000-\u3004\u3008-\u3020\u3030\u3036\u3037\u303d-\u303f\ufe10-\ufe19"
    r"\ufe30-\ufe6f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65"
    r"\U0001f000-\U0001f0ff\U0001f10d-\U0001faff]"
)
# Text with an accented Latin letter (Latin-1, Latin Extended-A and -B,
# Vietnamese) or a combining accent is decomposed (é = e + U+0301), the
# accents after an ASCII letter are removed, and it is composed again. Other
# scripts keep their marks, as in FTS5 (й, ά); text without any is left as it
# is, which spares PostgreSQL's slow normalize() on most articles.
LATIN_ACCENTED = r"[\u00c0-\u024f\u1e00-\u1eff\u0300-\u036f]"
LATIN_ACCENTS = r"([A-Za-z])[\u0300-\u036f]+"
# Greek's final sigma, which FTS5 folds into σ as it folds case.
FINAL_SIGMA = ("ς", "σ")

_SEPARATORS = re.compile(SEPARATOR_CLASS + "+")
_LATIN_ACCENTED = re.compile(LATIN_ACCENTED)
_LATIN_ACCENTS = re.compile(LATIN_ACCENTS)
_TEXT_WORD = re.compile(r"[^\s" + SEPARATOR_CLASS[1:-1] + "]+")


def search_text(text: str) -> str:
    """``text`` as the indexes see it: Latin letters without their accents,
    final sigma as σ, separators as spaces (case is left to each engine).
    The same function as PostgreSQL's ``newscrawl_search_text()`` (migration
    0007), which search_vector is computed from."""
    # NUL too, which PostgreSQL's text cannot hold and FTS5 reads as the end.
    text = text.replace("\0", " ")
    if _LATIN_ACCENTED.search(text):
        decomposed = unicodedata.normalize("NFD", text)
        text = unicodedata.normalize("NFC", _LATIN_ACCENTS.sub(r"\1", decomposed))
    return _SEPARATORS.sub(" ", text.replace(*FINAL_SIGMA))


def search_words(text: str) -> tuple[str, ...]:
    """The words of ``text`` as search_text() cuts it, those with a letter or digit."""
    return tuple(w for w in search_text(text).split() if any(c.isalnum() for c in w))


# ---------------------------------------------------------------- the query language

DEFAULT_NEAR_DISTANCE = 10
# Migration 0007 keeps the title's and the body's words this far apart (and
# two more positions) in search_vector: change both or neither.
MAX_NEAR_DISTANCE = 100
MAX_NEAR_TERMS = 4
MAX_NESTING = 32
# More words make a slow search (an OR of thousands of words takes seconds),
# and PostgreSQL runs out of memory on tens of thousands.
MAX_QUERY_WORDS = 1000
COLUMNS = {"title": "A", "body": "B"}  # column -> its weight in search_vector


@dataclass(frozen=True)
class Term:
    """A word or a phrase: its words in order (a word with punctuation, like
    covid-19, is the phrase of its parts), the last one a prefix if
    ``prefix``, in ``column`` (title, body) or in either."""

    words: tuple[str, ...]
    prefix: bool = False
    column: str | None = None


@dataclass(frozen=True)
class Near:
    """Words or phrases at most ``distance`` words apart, in any order; of
    more than two, every two of them."""

    terms: tuple[Term, ...]
    distance: int = DEFAULT_NEAR_DISTANCE


@dataclass(frozen=True)
class AllOf:
    include: tuple[Query, ...]
    exclude: tuple[Query, ...] = ()


@dataclass(frozen=True)
class AnyOf:
    options: tuple[Query, ...]


Query = Term | Near | AllOf | AnyOf


@dataclass(frozen=True)
class _Token:
    kind: str  # "term", "or", "and", "not", "(", ")", "near"
    text: str = ""
    prefix: bool = False
    negated: bool = False
    column: str | None = None
    terms: tuple[_Token, ...] = ()  # of a NEAR
    distance: int = DEFAULT_NEAR_DISTANCE


_OPERATORS = {"OR": "or", "or": "or", "AND": "and", "NOT": "not"}
_COLUMN = re.compile(r"(title|body):(?=[^\s:])", re.IGNORECASE)
_WORD_END = re.compile(r'[\s"()]')
_NEAR_DISTANCE = re.compile(r",\s*(\d+)\s*$")
_STARS = re.compile(r"\**")


def _lex(text: str, near: bool = True) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        start = pos
        while pos < len(text) and text[pos] == "-":
            pos += 1
        negated = pos > start
        if pos == len(text) or text[pos].isspace():
            continue  # a minus sign on its own
        column = None
        if match := _COLUMN.match(text, pos):
            column, pos = match.group(1).lower(), match.end()
        token, pos = _lex_one(text, pos, near)
        if token.kind in ("or", "and", "not") and (negated or column):
            token = _Token("term", token.text)  # -OR, title:NOT: words
        column = column if token.kind == "term" else None
        tokens.append(replace(token, negated=negated, column=column))
    return tokens


def _lex_one(text: str, pos: int, near: bool) -> tuple[_Token, int]:
    char = text[pos]
    if char in "()":
        return _Token(char), pos + 1
    if char == '"':
        end = text.find('"', pos + 1)
        end = len(text) if end < 0 else end  # an unclosed quote runs to the end
        stars = _STARS.match(text, min(end + 1, len(text)))
        return _Token("term", text[pos + 1 : end], prefix=stars.end() > stars.start()), stars.end()
    if near and text.startswith("NEAR(", pos):
        return _lex_near(text, pos + len("NEAR("))
    match = _WORD_END.search(text, pos)
    end = match.start() if match else len(text)
    word = text[pos:end]
    if word in _OPERATORS:
        return _Token(_OPERATORS[word], word), end
    bare = word.rstrip("*")
    return _Token("term", bare or word, prefix=bool(bare) and bare != word), end


def _lex_near(text: str, pos: int) -> tuple[_Token, int]:
    end, quoted = pos, False
    while end < len(text) and (quoted or text[end] != ")"):
        quoted ^= text[end] == '"'
        end += 1
    inner = text[pos:end]
    distance = DEFAULT_NEAR_DISTANCE
    if match := _NEAR_DISTANCE.search(inner):
        distance, inner = int(match.group(1)), inner[: match.start()]
    terms = tuple(
        _Token("term", t.text, prefix=t.prefix)
        for t in _lex(inner, near=False)
        if t.kind not in ("(", ")")
    )
    token = _Token("near", "NEAR", terms=terms, distance=min(distance, MAX_NEAR_DISTANCE))
    return token, min(end + 1, len(text))


class _Invalid(Exception):
    """The text is not a valid query: it is searched as plain words."""


class _Parser:
    """Recursive descent: OR binds loosest, then AND (a space or the word
    AND), then NOT / a leading minus."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.depth = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def any_of(self) -> Query | None:
        options = [self.all_of()]
        while (token := self.peek()) is not None and token.kind == "or":
            self.pos += 1
            options.append(self.all_of())
        if len(options) == 1:
            return options[0]
        if None in options:
            raise _Invalid("OR with nothing on one side")
        return AnyOf(tuple(o for o in options if o is not None))

    def all_of(self) -> Query | None:
        include: list[Query] = []
        exclude: list[Query] = []
        pending = None  # AND or NOT waiting for what follows
        while (token := self.peek()) is not None and token.kind != "or":
            if token.kind == ")" and self.depth:
                break  # the end of this group
            self.pos += 1
            if token.kind == ")":
                continue  # a closing parenthesis without its opening one
            if token.kind in ("and", "not"):
                if pending or (token.kind == "and" and not (include or exclude)):
                    raise _Invalid(f"{token.text} with nothing to apply to")
                pending = token.kind
                continue
            node = self.primary(token)
            negative = token.negated or pending == "not"
            pending = None
            if node is not None:
                (exclude if negative else include).append(node)
        if pending or (exclude and not include):
            raise _Invalid("nothing to search for but excluded words")
        if not include:
            return None
        if len(include) == 1 and not exclude:
            return include[0]
        return AllOf(tuple(include), tuple(exclude))

    def primary(self, token: _Token) -> Query | None:
        if token.kind == "term":
            return _term(token.text, token.prefix, token.column)
        if token.kind == "near":
            return _near(token)
        if self.depth >= MAX_NESTING:
            raise _Invalid("parentheses nested too deep")
        self.depth += 1
        node = self.any_of()
        self.depth -= 1
        if (after := self.peek()) is not None and after.kind == ")":
            self.pos += 1  # else the group is closed by the end of the text
        return node


def _term(text: str, prefix: bool = False, column: str | None = None) -> Term | None:
    words = search_words(text)
    return Term(words, prefix, column) if words else None


def _near(token: _Token) -> Query | None:
    terms = [t for t in (_term(x.text, x.prefix) for x in token.terms) if t is not None]
    if len(terms) > MAX_NEAR_TERMS:
        raise _Invalid(f"NEAR of more than {MAX_NEAR_TERMS} words or phrases")
    if len(terms) < 2:
        return terms[0] if terms else None
    return Near(tuple(terms), token.distance)


def _plain_words(tokens: list[_Token]) -> Query | None:
    """Every word and phrase of the text, operator words included, all required."""
    texts: list[str] = []
    for token in tokens:
        if token.kind == "near":
            texts += [token.text, *(t.text for t in token.terms)]
        elif token.kind not in ("(", ")"):
            texts.append(token.text)
    terms = tuple(t for t in map(_term, texts) if t is not None)
    if len(terms) > 1:
        return AllOf(terms)
    return terms[0] if terms else None


def parse_query(text: str) -> Query:
    """The query ``text`` as a tree, the same for both engines. Text that is
    not a valid query is searched as plain words; SearchQueryError when there
    is no word at all to search for."""
    tokens = _lex(text)
    try:
        query = _Parser(tokens).any_of()
    except _Invalid:
        query = None
    query = query or _plain_words(tokens)
    if query is None:
        raise SearchQueryError("it has no letter or digit to search for")
    if (count := _word_count(query)) > MAX_QUERY_WORDS:
        raise SearchQueryError(f"it has {count} words; at most {MAX_QUERY_WORDS} can be searched")
    return query


def _word_count(query: Query) -> int:
    if isinstance(query, Term):
        return len(query.words)
    if isinstance(query, Near):
        return sum(map(_word_count, query.terms))
    if isinstance(query, AnyOf):
        return sum(map(_word_count, query.options))
    return sum(map(_word_count, query.include + query.exclude))


def fts5_query(query: Query) -> str:
    """The query in FTS5 syntax, every word in double quotes."""
    if isinstance(query, Term):
        phrase = _fts5_phrase(query)
        return f"{{{query.column}}} : {phrase}" if query.column else phrase
    if isinstance(query, Near):
        pairs = [
            f"NEAR({_fts5_phrase(a)} {_fts5_phrase(b)}, {query.distance})"
            for a, b in combinations(query.terms, 2)
        ]
        return pairs[0] if len(pairs) == 1 else "(" + " AND ".join(pairs) + ")"
    if isinstance(query, AnyOf):
        return "(" + " OR ".join(map(fts5_query, query.options)) + ")"
    text = "(" + " AND ".join(map(fts5_query, query.include)) + ")"
    if query.exclude:  # one NOT of an OR: FTS5 nests each NOT one level deeper
        text += " NOT (" + " OR ".join(map(fts5_query, query.exclude)) + ")"
    return f"({text})" if query.exclude else text


def _fts5_phrase(term: Term) -> str:
    words = " ".join(w.replace('"', '""') for w in term.words)
    return f'"{words}"' + ("*" if term.prefix else "")


def tsquery_text(query: Query) -> str:
    """The query in PostgreSQL's tsquery syntax (for to_tsquery), every word quoted."""
    if isinstance(query, Term):
        return _tsquery_phrase(query)
    if isinstance(query, Near):
        pairs = []
        for a, b in combinations(query.terms, 2):
            first, second = _tsquery_phrase(a), _tsquery_phrase(b)
            pairs.append(
                _balanced(
                    " | ",
                    [
                        f"{x} <{gap}> {y}"
                        for x, y in ((first, second), (second, first))
                        for gap in range(1, query.distance + 2)
                    ],
                )
            )
        return _balanced(" & ", pairs)
    if isinstance(query, AnyOf):
        return _balanced(" | ", [tsquery_text(q) for q in query.options])
    parts = [tsquery_text(q) for q in query.include]
    return _balanced(" & ", parts + [f"!{tsquery_text(q)}" for q in query.exclude])


def _tsquery_phrase(term: Term) -> str:
    weight = COLUMNS.get(term.column or "", "")
    lexemes = []
    for position, word in enumerate(term.words, 1):
        star = "*" if term.prefix and position == len(term.words) else ""
        label = f":{star}{weight}" if star or weight else ""
        lexemes.append("'" + word.replace("\\", "\\\\").replace("'", "''") + "'" + label)
    return lexemes[0] if len(lexemes) == 1 else "(" + " <-> ".join(lexemes) + ")"


def _balanced(operator: str, parts: list[str]) -> str:
    """``parts`` joined by ``operator`` as a balanced tree: a long query stays shallow."""
    if len(parts) == 1:
        return parts[0]
    middle = len(parts) // 2
    left, right = _balanced(operator, parts[:middle]), _balanced(operator, parts[middle:])
    return f"({left}{operator}{right})"


def datasette_match(text: str) -> str:
    """The FTS5 query Datasette's search box runs for ``text`` (``newscrawl
    browse`` puts it in place of Datasette's escape_fts): the same language as
    ``newscrawl search``; a query matching nothing when there is no word."""
    try:
        return fts5_query(parse_query(text))
    except SearchQueryError:
        return '""'


# ---------------------------------------------------------------- running it


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
    parsed = parse_query(query)
    if engine.dialect.name == "sqlite":
        return _search_sqlite(engine, parsed, filters, limit)
    if engine.dialect.name == "postgresql":
        return _search_postgresql(engine, parsed, filters, limit)
    raise NotImplementedError(f"no full-text search on {engine.dialect.name}")


def count_matches(engine: Engine, query: str, filters: ArticleFilters) -> int:
    """How many articles ``query`` matches with ``filters`` (what ``--limit``
    left out of :func:`search_articles`)."""
    parsed = parse_query(query)
    stmt = select(func.count()).select_from(ArticleRow).where(*filters.conditions())
    if engine.dialect.name == "sqlite":
        fts_table = table(SQLITE_FTS_TABLE, column("rowid"))
        match = literal_column(SQLITE_FTS_TABLE).op("MATCH")(bindparam("query", fts5_query(parsed)))
        stmt = stmt.join(fts_table, ArticleRow.id == fts_table.c.rowid).where(match)
    else:
        vector = literal_column(f"articles.{POSTGRESQL_SEARCH_COLUMN}")
        config = literal_column(f"'{POSTGRESQL_TEXT_SEARCH_CONFIG}'::regconfig")
        stmt = stmt.where(
            vector.op("@@")(func.to_tsquery(config, bindparam("query", tsquery_text(parsed))))
        )
    with engine.connect() as conn:
        return conn.execute(stmt).scalar_one()


def _hit_columns() -> list:
    a = ArticleRow
    return [a.id, a.site, a.url, a.title, a.published_at, a.author, a.section, a.duplicate_of]


def _search_sqlite(
    engine: Engine, query: Query, filters: ArticleFilters, limit: int | None
) -> list[SearchHit]:
    fts_table = table(SQLITE_FTS_TABLE, column("rowid"))
    fts = literal_column(SQLITE_FTS_TABLE)  # FTS5's hidden column named after its table
    match = fts.op("MATCH")(bindparam("query", fts5_query(query)))
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
        # Not expected: every word is quoted. Said plainly rather than a traceback.
        message = str(exc.orig)
        if message.startswith(_FTS5_SYNTAX_ERRORS):
            raise SearchQueryError(message) from None
        raise
    return [SearchHit(**row, snippet=snippets.get(row["id"], "")) for row in rows]


def _search_postgresql(
    engine: Engine, query: Query, filters: ArticleFilters, limit: int | None
) -> list[SearchHit]:
    vector = literal_column(f"articles.{POSTGRESQL_SEARCH_COLUMN}")
    config = literal_column(f"'{POSTGRESQL_TEXT_SEARCH_CONFIG}'::regconfig")
    tsquery = func.to_tsquery(config, bindparam("query", tsquery_text(query)))
    # ts_rank_cd's weights of D, C, B (body) and A (title) lexemes: the same
    # title-to-body ratio as bm25() on SQLite.
    body = BODY_WEIGHT / TITLE_WEIGHT
    weights = literal_column(f"'{{{body}, {body}, {body}, 1.0}}'::float4[]")
    score = func.ts_rank_cd(weights, vector, tsquery, type_=Float)
    ranked = (
        select(*_hit_columns(), ArticleRow.body, score.label("score"))
        .where(vector.op("@@")(tsquery), *filters.conditions())
        .order_by(score.desc(), ArticleRow.id)
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = conn.execute(ranked).mappings().all()
    return [
        SearchHit(
            **{k: v for k, v in row.items() if k != "body"},
            snippet=excerpt(row["body"] or "", query),
        )
        for row in rows
    ]


def excerpt(body: str, query: Query, words: int = SNIPPET_WORDS) -> str:
    """About ``words`` words of ``body`` around the most matches of ``query``,
    each match of a word or phrase between MATCH_START and MATCH_END, as
    FTS5's ``snippet()`` marks them. Made here for PostgreSQL, whose
    ts_headline() parses the text without search_text()'s folding (it would
    miss Café for cafe, and the 19 of covid-19)."""
    spans = [m.span() for m in _TEXT_WORD.finditer(body)]
    tokens = [_folded_word(body[start:end]) for start, end in spans]
    found = _phrase_matches(tokens, _highlighted_terms(query))
    first = 0
    if found:
        firsts = [match[0] for match in found]
        starts = [max(0, f - words // 4) for f in firsts]
        counts = [bisect_left(firsts, s + words) - bisect_left(firsts, s) for s in starts]
        first = starts[counts.index(max(counts))]
    last = min(first + words, len(spans))
    if first >= last:
        return ""
    # As snippet(): from the start of the text if it shows the first word, to
    # its end if it shows the last, else an ellipsis.
    pieces, cursor = [ELLIPSIS if first else ""], spans[first][0] if first else 0
    for match_first, match_last in found:
        if first <= match_first < last:
            match_last = min(match_last, last - 1)
            start, end = spans[match_first][0], spans[match_last][1]
            pieces += [body[cursor:start], MATCH_START, body[start:end], MATCH_END]
            cursor = end
    if last < len(spans):
        return "".join([*pieces, body[cursor : spans[last - 1][1]], ELLIPSIS])
    return "".join([*pieces, body[cursor:]])


def _folded_word(word: str) -> str:
    # An ASCII word of the text is letters and digits only (see _TEXT_WORD).
    return word.lower() if word.isascii() else search_text(word).lower()


def _highlighted_terms(query: Query) -> set[tuple[tuple[str, ...], bool]]:
    """(words in lower case, prefix) of every term wanted in the body."""
    if isinstance(query, Term):
        if query.column == "title":
            return set()
        return {(tuple(w.lower() for w in query.words), query.prefix)}
    terms = query.terms if isinstance(query, Near) else ()
    terms += query.options if isinstance(query, AnyOf) else ()
    terms += query.include if isinstance(query, AllOf) else ()
    return set().union(*map(_highlighted_terms, terms)) if terms else set()


def _phrase_matches(
    tokens: list[str], terms: set[tuple[tuple[str, ...], bool]]
) -> list[tuple[int, int]]:
    """The (first, last) token of every match of a term, overlaps merged."""
    found = set()
    for words, prefix in terms:
        *head, tail = words
        for i in range(len(tokens) - len(head)):
            word = tokens[i + len(head)]
            if not (word.startswith(tail) if prefix else word == tail):
                continue
            if all(tokens[i + j] == w for j, w in enumerate(head)):
                found.add((i, i + len(head)))
    merged: list[tuple[int, int]] = []
    for first, last in sorted(found):
        if merged and first <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(last, merged[-1][1]))
        else:
            merged.append((first, last))
    return merged


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
