"""PostgreSQL's full-text index sees words as SQLite's does: without the
accents of Latin letters, and split at every punctuation mark.

Before, ``search_vector`` was ``to_tsvector('simple', ...)`` of the raw text:
``Café`` stayed ``café`` (``cafe`` did not find it), and PostgreSQL's parser
kept ``U.S``, ``9/11`` and ``3.5`` whole and read ``covid-19`` as ``covid``
and ``-19``, where FTS5's unicode61 tokenizer (migration 0004) has ``u s``,
``9 11``, ``3 5`` and ``covid 19``. Now it is computed from
``newscrawl_search_text(text)``, a function created here: text with an
accented Latin letter is decomposed, the combining marks after an ASCII
letter removed and the rest composed again; Greek's final sigma becomes σ
(FTS5 folds it with case); every run of separator characters (punctuation,
symbols, emoji: the class below, not the space) becomes one space. The
body's words also start 102 positions after the title's, so that no phrase
or NEAR reaches from the title into the body (FTS5 keeps them in two
columns). ``crawler.storage.search.search_text`` is the same function in
Python, which ``newscrawl search`` applies to the query; a test compares the
two. The function needs a UTF8 database (``normalize()``), as a multilingual
archive does anyway, and no extension (not ``unaccent``).

Dropping and adding the generated column computes it again for every row (a
rewrite of ``articles``, then the GIN index is built again), the table
locked meanwhile: measured, 1.8 ms per article of 3 KB of text (1.6 ms with
migration 0004's definition), some half an hour per million articles.

SQLite: nothing changes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-09
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# Copies of crawler.storage.search's SEPARATOR_CLASS, LATIN_ACCENTED,
# LATIN_ACCENTS and FINAL_SIGMA as of this revision (a migration does not
# follow later code). PostgreSQL's regular expressions read \uXXXX and
# \UXXXXXXXX as Python's do.
SEPARATOR_CLASS = (
    r"[\u0001-\u001f\u0021-\u002f\u003a-\u0040\u005b-\u0060\u007b-\u00a9\u00ab-\u00b1"
    r"\u00b4\u00b6-\u00b8\u00bb\u00bf\u00d7\u00f7\u1680\u2000-\u206f\u20a0-\u20cf"
    r"\u2190-\u245f\u2500-\u2775\u2794-\u2bff\u2e00-\u2e2e\u2e30-\u2e7f"
    r"\u3000-\u3004\u3008-\u3020\u3030\u3036\u3037\u303d-\u303f\ufe10-\ufe19"
    r"\ufe30-\ufe6f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65"
    r"\U0001f000-\U0001f0ff\U0001f10d-\U0001faff]"
)
LATIN_ACCENTED = r"[\u00c0-\u024f\u1e00-\u1eff\u0300-\u036f]"
LATIN_ACCENTS = r"([A-Za-z])[\u0300-\u036f]+"
FINAL_SIGMA = ("ς", "σ")

CREATE_FUNCTION = f"""
CREATE FUNCTION newscrawl_search_text(input text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN regexp_replace(
    translate(
        CASE WHEN input ~ '{LATIN_ACCENTED}'
        THEN normalize(regexp_replace(normalize(input, NFD), '{LATIN_ACCENTS}', '\\1', 'g'), NFC)
        ELSE input END,
        '{FINAL_SIGMA[0]}', '{FINAL_SIGMA[1]}'
    ),
    '{SEPARATOR_CLASS}+', ' ', 'g'
)
"""


# Positions between the title's words and the body's, so that no phrase or
# NEAR (at most 100 words apart in crawler/storage/search.py) reaches from one
# into the other, as none does in FTS5's two columns: a lexeme that folded
# text cannot hold (it has a dot), 102 times, removed again by ts_delete().
TITLE_BODY_GAP = 102
GAP = f"to_tsvector('simple'::regconfig, repeat('x.x ', {TITLE_BODY_GAP}))"

NEW_SEARCH_VECTOR = f"""
    ALTER TABLE articles ADD COLUMN search_vector tsvector
    GENERATED ALWAYS AS (
        ts_delete(
            setweight(to_tsvector('simple'::regconfig,
                                  newscrawl_search_text(coalesce(title, ''))), 'A')
            || {GAP}
            || setweight(to_tsvector('simple'::regconfig,
                                     newscrawl_search_text(coalesce(body, ''))), 'B'),
            'x.x'::text
        )
    ) STORED
    """

# As migration 0004 made it.
OLD_SEARCH_VECTOR = """
    ALTER TABLE articles ADD COLUMN search_vector tsvector
    GENERATED ALWAYS AS (
        setweight(to_tsvector('simple'::regconfig, coalesce(title, '')), 'A')
        || setweight(to_tsvector('simple'::regconfig, coalesce(body, '')), 'B')
    ) STORED
    """

DROP_SEARCH_VECTOR = [
    "DROP INDEX IF EXISTS ix_articles_search_vector",
    "ALTER TABLE articles DROP COLUMN IF EXISTS search_vector",
]
CREATE_INDEX = "CREATE INDEX ix_articles_search_vector ON articles USING gin (search_vector)"

POSTGRESQL_UPGRADE = [
    CREATE_FUNCTION,
    *DROP_SEARCH_VECTOR,
    NEW_SEARCH_VECTOR,
    CREATE_INDEX,
]

POSTGRESQL_DOWNGRADE = [
    *DROP_SEARCH_VECTOR,
    OLD_SEARCH_VECTOR,
    CREATE_INDEX,
    "DROP FUNCTION IF EXISTS newscrawl_search_text(text)",
]


def _run(statements: list[str]) -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in statements:
            op.execute(statement)


def upgrade() -> None:
    _run(POSTGRESQL_UPGRADE)


def downgrade() -> None:
    _run(POSTGRESQL_DOWNGRADE)
