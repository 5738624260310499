"""The query language of ``newscrawl search``: parsed once, run by SQLite's
FTS5 and PostgreSQL's tsvector with the same hits (a table of queries on the
same articles stored on both), hostile text searched as words; the folding of
words that both indexes share; Datasette's search box on the same language."""

from __future__ import annotations

import asyncio
import importlib.util
import unicodedata
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from crawler.exceptions import SearchQueryError
from crawler.items import Article
from crawler.storage import search
from crawler.storage.database import MIGRATIONS_DIR, dispose_engines, get_engine
from crawler.storage.queries import ArticleFilters
from crawler.storage.search import (
    MATCH_END,
    MATCH_START,
    AllOf,
    AnyOf,
    Near,
    Term,
    excerpt,
    fts5_query,
    parse_query,
    search_articles,
    search_text,
    tsquery_text,
)
from crawler.storage.store import Store

# --------------------------------------------------------------------------- the language


@pytest.mark.parametrize(
    "query, fts5, tsquery",
    [
        ("tram", '"tram"', "'tram'"),
        ("covid-19", '"covid 19"', "('covid' <-> '19')"),
        ("U.S.", '"U S"', "('U' <-> 'S')"),
        ("O'Brien", '"O Brien"', "('O' <-> 'Brien')"),
        ("Café", '"Cafe"', "'Cafe'"),
        ('"river bridge"', '"river bridge"', "('river' <-> 'bridge')"),
        ("elect*", '"elect"*', "'elect':*"),
        ('"new elect"*', '"new elect"*', "('new' <-> 'elect':*)"),
        ("a b", '("a" AND "b")', "('a' & 'b')"),
        ("a AND b", '("a" AND "b")', "('a' & 'b')"),
        ("a OR b", '("a" OR "b")', "('a' | 'b')"),
        ("a or b", '("a" OR "b")', "('a' | 'b')"),
        ("a b OR c", '(("a" AND "b") OR "c")', "(('a' & 'b') | 'c')"),
        ("a -b", '(("a") NOT ("b"))', "('a' & !'b')"),
        ("a NOT b", '(("a") NOT ("b"))', "('a' & !'b')"),
        ("-b a", '(("a") NOT ("b"))', "('a' & !'b')"),
        ('a -"b c"', '(("a") NOT ("b c"))', "('a' & !('b' <-> 'c'))"),
        ("(a OR b) c", '(("a" OR "b") AND "c")', "(('a' | 'b') & 'c')"),
        ("a -(b OR c)", '(("a") NOT (("b" OR "c")))', "('a' & !('b' | 'c'))"),
        ("title:a", '{title} : "a"', "'a':A"),
        ("BODY:a*", '{body} : "a"*', "'a':*B"),
        ('title:"a b"', '{title} : "a b"', "('a':A <-> 'b':A)"),
        (
            "NEAR(a b, 1)",
            'NEAR("a" "b", 1)',
            "(('a' <1> 'b' | 'a' <2> 'b') | ('b' <1> 'a' | 'b' <2> 'a'))",
        ),
        ("NEAR(a)", '"a"', "'a'"),
        # Not valid: every word searched for, operator words included.
        ("a OR", '("a" AND "OR")', "('a' & 'OR')"),
        ("AND", '"AND"', "'AND'"),
        ("a NOT", '("a" AND "NOT")', "('a' & 'NOT')"),
        ("-a", '"a"', "'a'"),
        ("a OR -b", '("a" AND "OR" AND "b")', "('a' & ('OR' & 'b'))"),
        ("NEAR(", '"NEAR"', "'NEAR'"),
        # Lenient: an unclosed quote or parenthesis ends with the text.
        ('"a b', '"a b"', "('a' <-> 'b')"),
        ("(a OR b", '("a" OR "b")', "('a' | 'b')"),
        ("a) b", '("a" AND "b")', "('a' & 'b')"),
        # Punctuation and symbols are not syntax.
        ("a * b", '("a" AND "b")', "('a' & 'b')"),
        ("'; DROP", '"DROP"', "'DROP'"),
        ("x:* & !y | 'z'", '("x"* AND "y" AND "z")', "('x':* & ('y' & 'z'))"),
        ('"a""b"', '("a" AND "b")', "('a' & 'b')"),
    ],
)
def test_queries_are_written_in_each_engines_syntax(query, fts5, tsquery):
    parsed = parse_query(query)
    assert (fts5_query(parsed), tsquery_text(parsed)) == (fts5, tsquery)


def test_the_query_tree():
    assert parse_query("(budget OR tax) AND vote -strike") == AllOf(
        (AnyOf((Term(("budget",)), Term(("tax",)))), Term(("vote",))), (Term(("strike",)),)
    )
    assert parse_query('NEAR(harbour "tram line"*, 500)') == Near(
        (Term(("harbour",)), Term(("tram", "line"), prefix=True)), distance=100
    )  # at most 100 words apart
    assert parse_query("NOT a b") == AllOf((Term(("b",)),), (Term(("a",)),))


@pytest.mark.parametrize(
    "query", ["*", "-", "--", '""', "%", "()", "( )", "…", "—", "* . *", "🔥", "\0", "' -- '"]
)
def test_text_without_a_word_is_refused(query):
    with pytest.raises(SearchQueryError, match="no letter or digit"):
        parse_query(query)


def test_hostile_text_never_breaks_the_parser():
    for query in [
        "(" * 10_000 + "a",
        ")" * 10_000 + "a",
        "NEAR(" * 900 + "a",
        '"' * 9_999 + "a",
        "-" * 10_000 + "a",
        "title:" * 900 + "a",
        "a OR " * 999 + "b",
        "x" * 100_000,
        "\u0301" * 1000 + "a",
    ]:
        parsed = parse_query(query)
        assert fts5_query(parsed) and tsquery_text(parsed)
    for query in ["a " * 1001, "title:" * 5_000 + "a", "NEAR(" * 5_000]:
        with pytest.raises(SearchQueryError, match=r"\d+ words; at most 1000"):
            parse_query(query)
    # A long OR is a shallow tree in PostgreSQL's syntax: 10 levels for 1000 words.
    depth = deepest = 0
    for char in tsquery_text(parse_query("a OR " * 999 + "b")):
        depth += {"(": 1, ")": -1}.get(char, 0)
        deepest = max(depth, deepest)
    assert deepest == 10


def test_words_are_folded_like_fts5s_unicode61():
    def words(text: str) -> list[str]:
        return search_text(text).split()

    assert (
        words("covid-19 U.S. O’Brien 9/11 3.5 x_y") == "covid 19 U S O Brien 9 11 3 5 x y".split()
    )
    assert words("Café naïve Çavuşoğlu Tiếng Việt") == [
        "Cafe",
        "naive",
        "Cavusoglu",
        "Tieng",
        "Viet",
    ]
    assert words("Cafe\u0301") == ["Cafe"]  # a combining accent
    assert words("λόγος ΛΌΓΟΣ") == ["λόγοσ", "ΛΌΓΟΣ"]  # final sigma, as FTS5 folds it
    assert words("й ά Łódź ß") == ["й", "ά", "Łodz", "ß"]  # FTS5 keeps these
    assert words("«Ереван» — 北京，大学") == ["Ереван", "北京", "大学"]


def test_the_separators_are_no_letter_digit_or_mark():
    import re

    for char in map(chr, range(1, 0x20000)):
        if re.fullmatch(search.SEPARATOR_CLASS, char):
            category = unicodedata.category(char)
            assert category[0] not in "LNM" and category != "Co", (hex(ord(char)), category)


def test_the_migration_folds_with_the_same_expressions():
    path = next(MIGRATIONS_DIR.glob("versions/0007_*.py"))
    spec = importlib.util.spec_from_file_location("migration_0007", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    for name in ("SEPARATOR_CLASS", "LATIN_ACCENTED", "LATIN_ACCENTS", "FINAL_SIGMA"):
        assert getattr(migration, name) == getattr(search, name), name
    assert migration.TITLE_BODY_GAP == search.MAX_NEAR_DISTANCE + 2


def test_the_excerpt_marks_folded_words():
    body = "Before. " * 30 + "The Café on Main St. opened; covid-19 rules apply. " + "After. " * 30
    snippet = excerpt(body, parse_query("cafe covid-19 -closed"), words=12)
    assert snippet.startswith("…") and snippet.endswith("…")
    marked = snippet.replace(MATCH_START, "[").replace(MATCH_END, "]")
    assert "The [Café] on Main St. opened; [covid-19] rules" in marked
    assert excerpt(" Short text. ", parse_query("absent")) == " Short text. "  # as snippet()
    assert excerpt("One two three four", parse_query("two"), words=2) == (
        f"…{MATCH_START}two{MATCH_END} three…"
    )
    assert excerpt("Electoral roll", parse_query("elect*")).startswith(MATCH_START + "Electoral")


# --------------------------------------------------------------------------- both engines

ARTICLES = {
    "covid": (
        "COVID-19 infections rise in the U.S.",
        "Health officials in the U.S. reported new covid-19 cases on Monday. "
        "Hospitals said they were ready for more patients.",
    ),
    "trial": (
        "Covid vaccine trial ends",
        "The trial ran for 19 weeks and enrolled volunteers in three cities.",
    ),
    "flu": (
        "Flu vaccine available at pharmacies",
        "Pharmacies began offering the seasonal flu vaccine this week.",
    ),
    "obrien": ("O'Brien wins the county seat", "Mary O’Brien thanked her volunteers."),
    "jets": (
        "F-35 jets arrive at the base",
        "Two F-35 fighters landed on Friday, the air force said.",
    ),
    "sept": ("Remembering 9/11", "Twenty years after 9/11, the city held a ceremony at noon."),
    "cafe": ("Café opens on the square", "The new café serves coffee and cake."),
    "cafe2": ("Cafe owners protest rent rise", "Owners of coffee shops marched to the town hall."),
    "phrase": ("An exact phrase in a headline", "Quoting an exact phrase finds it."),
    "swapped": ("Word order matters", "This phrase is exact, but its words come in another order."),
    "elections": (
        "Election results are in",
        "Turnout in the elections was high; the electoral commission thanked voters.",
    ),
    "art": ("State-of-the-art hospital opens", "The hospital has modern equipment and a new wing."),
    "yerevan": (
        "Ереван: новый мост открыт",
        "В Ереване открыли новый пешеходный мост через реку Раздан.",
    ),
    "greek": ("Ο λόγος του πρωθυπουργού", "Ο πρωθυπουργός μίλησε στη Βουλή για την οικονομία."),
    "cold": (
        "Cold snap: -19 degrees",
        "Temperatures fell to 19 degrees below zero overnight, colder than in 2012.",
    ),
}

COVID_BODY = ARTICLES["covid"][1]

# query -> the articles it finds, on either engine
QUERIES = {
    "covid-19": {"covid"},
    "covid 19": {"covid", "trial"},
    '"covid 19"': {"covid"},
    "U.S.": {"covid"},
    "O'Brien": {"obrien"},
    "O’Brien": {"obrien"},
    "obrien": set(),
    "F-35": {"jets"},
    "9/11": {"sept"},
    "2012": {"cold"},
    '"exact phrase"': {"phrase"},
    "exact phrase": {"phrase", "swapped"},
    "Café": {"cafe", "cafe2"},
    "cafe": {"cafe", "cafe2"},
    "CAFÉ": {"cafe", "cafe2"},
    "body:café": {"cafe"},
    "title:vaccine": {"trial", "flu"},
    "body:vaccine": {"flu"},
    "-covid vaccine": {"flu"},
    "vaccine NOT covid": {"flu"},
    "vaccine -trial -pharmacies": set(),
    "covid OR café": {"covid", "trial", "cafe", "cafe2"},
    "covid or cafe": {"covid", "trial", "cafe", "cafe2"},
    "(flu OR covid) AND vaccine": {"trial", "flu"},
    "elect*": {"elections"},
    "title:elect*": {"elections"},
    "electi*": {"elections"},
    "state-of-the-art": {"art"},
    "Ереван": {"yerevan"},
    "ЕРЕВАН": {"yerevan"},
    "ереван*": {"yerevan"},
    "λόγος": {"greek"},
    "ΛΌΓΟΣ": {"greek"},
    "NEAR(officials cases, 8)": {"covid"},
    "NEAR(officials cases, 7)": set(),
    'NEAR("new covid" ready, 8)': {"covid"},
    'NEAR("new covid" ready, 7)': set(),
    # The title's last words and the body's first are not adjacent.
    '"U.S. health"': set(),
    "NEAR(infections health, 20)": set(),
    "-19 degrees": set(),
    '"-19 degrees"': {"cold"},
    # Not valid queries: searched as words.
    "AND": {"trial", "cafe", "art"},
    '"exact phrase': {"phrase"},
    "(vaccine OR flu": {"trial", "flu"},
    "NEAR(": set(),
    "-vaccine": {"trial", "flu"},
    "x'); DELETE FROM articles; --": set(),
    "' OR 1=1 --": set(),
    "1; DROP TABLE articles": set(),
    COVID_BODY: {"covid"},  # a pasted paragraph
    (COVID_BODY + " ") * 10: {"covid"},
}


@pytest.fixture(scope="module")
def engines(tmp_path_factory, postgres_admin):
    """The articles above stored by the store, in SQLite and in PostgreSQL."""
    name = f"newscrawl_test_{uuid.uuid4().hex[:12]}"
    with postgres_admin.connect() as conn:
        conn.execute(text(f'create database "{name}"'))
    urls = {
        "sqlite": f"sqlite:///{tmp_path_factory.mktemp('search-queries') / 'archive.db'}",
        "postgresql": postgres_admin.url.set(database=name).render_as_string(hide_password=False),
    }
    articles = [
        Article(url=f"https://news.example/{slug}", site="news", title=title, body=body)
        for slug, (title, body) in ARTICLES.items()
    ]
    try:
        for url in urls.values():
            counts = Store.open(url).save_articles(articles, now=datetime(2024, 3, 1, tzinfo=UTC))
            assert counts.new == len(ARTICLES)
        yield {engine: get_engine(url) for engine, url in urls.items()}
    finally:
        dispose_engines()
        with postgres_admin.connect() as conn:
            conn.execute(text(f'drop database if exists "{name}" with (force)'))


def found(engine, query: str) -> list[str]:
    hits = search_articles(engine, query, ArticleFilters(), limit=None)
    return [hit.url.removeprefix("https://news.example/") for hit in hits]


def test_every_query_finds_the_same_articles_on_both_engines(engines):
    wrong = {}
    for query, expected in QUERIES.items():
        results = {name: found(engine, query) for name, engine in engines.items()}
        if any(set(hits) != expected for hits in results.values()):
            wrong[query[:60]] = (expected, results)
    assert not wrong
    # Nothing was run as SQL.
    for engine in engines.values():
        with engine.connect() as conn:
            assert conn.execute(text("select count(*) from articles")).scalar() == len(ARTICLES)


def test_the_best_match_comes_first_on_both_engines(engines):
    # A word in the title outweighs it in the body, on either engine.
    for query, first in [("vaccine", "flu"), ("cafe", "cafe"), ("hospital", "art")]:
        for engine in engines.values():
            assert found(engine, query)[0] == first, (engine.dialect.name, query)
    for engine in engines.values():
        assert found(engine, "exact phrase")[:1] == ["phrase"]


def test_text_without_a_word_is_refused_on_both_engines(engines):
    for engine in engines.values():
        for query in ("*", "-", '""', "%"):
            with pytest.raises(SearchQueryError):
                search_articles(engine, query, ArticleFilters())


def test_the_excerpts_mark_the_same_words_on_both_engines(engines):
    for query in ("café", "covid-19", "O'Brien", "elect*"):
        marked = {}
        for name, engine in engines.items():
            [hit, *_] = search_articles(engine, query, ArticleFilters(), limit=1)
            marked[name] = {word.split(MATCH_END)[0] for word in hit.snippet.split(MATCH_START)[1:]}
        assert marked["sqlite"] == marked["postgresql"], (query, marked)


def test_postgresql_folds_text_as_search_text_does(engines):
    samples = [
        "covid-19 F-35 U.S. O'Brien 9/11 Café naïve e\u0301 ǿ ά й ë ŞİŞLİ Tiếng λόγος ΛΌΓΟΣ",
        "“quoted” — – … € 🔥x ½ ² 3.5 x_y a\\b it's «Ереван» 北京，大学",
        "".join(map(chr, range(1, 0x3100))),
        "".join(map(chr, range(0xFE00, 0xFFF0))),
        "".join(map(chr, range(0x1F000, 0x1FB00))),
    ]
    with engines["postgresql"].connect() as conn:
        for sample in samples:
            folded = conn.execute(text("select newscrawl_search_text(:s)"), {"s": sample})
            assert folded.scalar() == search_text(sample)


# --------------------------------------------------------------------------- Datasette


def test_datasettes_search_box_reads_the_same_language(engines):
    """``newscrawl browse``'s Datasette, on the SQLite file: a hyphenated word,
    an unclosed quote or a lone operator is a search, never a 400."""
    datasette = pytest.importorskip("datasette.app")
    from datasette.plugins import pm

    from crawler.cli import browse

    path = engines["sqlite"].url.database
    name = browse.database_name(Path(path))
    pm.register(browse.search_plugin(), name=browse.SEARCH_PLUGIN)
    try:
        app = datasette.Datasette([path], metadata=browse.datasette_metadata(name))

        async def search_box(query: str) -> tuple[int, set[str]]:
            response = await app.client.get(
                f"/{name}/articles.json", params={"_search": query, "_shape": "array"}
            )
            if response.status_code != 200:
                return response.status_code, set()
            urls = {row["url"].removeprefix("https://news.example/") for row in response.json()}
            return response.status_code, urls

        for query, expected in [
            ("covid-19", {"covid"}),
            ("Café", {"cafe", "cafe2"}),
            ("-covid vaccine", {"flu"}),
            ("elect*", {"elections"}),
            ("title:vaccine", {"trial", "flu"}),
            ("AND", {"trial", "cafe", "art"}),
            ('"exact', {"phrase", "swapped"}),
            ("*", set()),
            ("x'); DROP TABLE articles; --", set()),
        ]:
            assert asyncio.run(search_box(query)) == (200, expected), query
        page = asyncio.run(app.client.get(f"/{name}/articles", params={"_search": "covid-19"}))
        assert page.status_code == 200
    finally:
        pm.unregister(name=browse.SEARCH_PLUGIN)


def test_without_the_plugin_datasette_searches_words_and_phrases(engines):
    """The metadata alone (``newscrawl browse --write-metadata``, for a
    Datasette run by hand) has no raw search mode: Datasette quotes the words."""
    datasette = pytest.importorskip("datasette.app")

    from crawler.cli import browse

    path = engines["sqlite"].url.database
    name = browse.database_name(Path(path))
    app = datasette.Datasette([path], metadata=browse.datasette_metadata(name))
    for query, expected in [("covid-19", {"covid"}), ('"exact phrase"', {"phrase"})]:
        response = asyncio.run(
            app.client.get(f"/{name}/articles.json", params={"_search": query, "_shape": "array"})
        )
        assert response.status_code == 200
        assert {r["url"].removeprefix("https://news.example/") for r in response.json()} == expected
