"""``newscrawl search`` on SQLite (FTS5) and on PostgreSQL (tsvector), each on
an archive filled by real crawls; and the migration that adds the index to an
existing database."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import JSON, bindparam, inspect, text
from support.archive import CrawledArchive, build_archive, search_template_name, shared_archive

from crawler.cli.main import main
from crawler.storage.database import (
    MIGRATIONS_DIR,
    current_revision,
    dispose_engines,
    get_engine,
    head_revision,
    upgrade,
)
from crawler.storage.models import UTCDateTime
from crawler.storage.search import MATCH_END, MATCH_START


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def archive(request, tmp_path_factory, demo_site):
    if request.param == "sqlite":
        yield request.getfixturevalue("crawled_archive")  # shared with test_query.py
        return
    folder = tmp_path_factory.mktemp(f"search-{request.param}")
    admin = request.getfixturevalue("postgres_admin")

    def create(name: str, template: str = "template1") -> str:
        dispose_engines()  # a template must have no connections
        with admin.connect() as conn:
            conn.execute(text(f'create database "{name}" template "{template}"'))
        return admin.url.set(database=name).render_as_string(hide_password=False)

    name = f"newscrawl_test_{uuid.uuid4().hex[:12]}"
    try:
        if request.getfixturevalue("worker_id") == "master":  # no xdist
            yield build_archive(create(name), folder, demo_site, full=False)
        else:  # built once per run, copied from its template (see conftest.py)
            shared = tmp_path_factory.getbasetemp().parent / "search-postgresql"
            template = search_template_name(tmp_path_factory.getbasetemp().parent)
            yield shared_archive(
                shared, demo_site, lambda: create(template), lambda: create(name, template), False
            )
    finally:
        dispose_engines()
        with admin.connect() as conn:
            conn.execute(text(f'drop database if exists "{name}" with (force)'))


def engine_of(archive: CrawledArchive) -> str:
    return get_engine(archive.url).dialect.name


def search(capsys, archive: CrawledArchive, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["search", *args, "--database", archive.url])
    out, err = capsys.readouterr()
    return code, out, err


def hits(capsys, archive: CrawledArchive, *args: str) -> list[dict]:
    code, out, err = search(capsys, archive, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def paths(archive: CrawledArchive, rows: list[dict]) -> list[str]:
    return [r["url"].removeprefix(archive.paper_url) for r in rows]


def article_count(archive: CrawledArchive) -> int:
    with get_engine(archive.url).connect() as conn:
        return conn.execute(text("select count(*) from articles")).scalar_one()


def test_a_title_match_ranks_above_a_body_only_match(capsys, archive):
    rows = hits(capsys, archive, "tram")
    # /a/1 has "tram" in its headline only, /a/2 in its body only.
    assert paths(archive, rows) == ["/a/1", "/a/2"]
    assert rows[0]["score"] > rows[1]["score"]
    assert [r["rank"] for r in rows] == [1, 2]
    assert rows[0]["title"] == "Harbour tram line approved by council"
    assert datetime.fromisoformat(rows[0]["published_at"]) == datetime(2024, 3, 1, 9, tzinfo=UTC)


def test_the_snippet_highlights_the_matched_words(capsys, archive):
    code, out, _ = search(capsys, archive, "tram", "--site", "paper")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["#", "id", "published", "site", "title", "url"]
    body_hit = lines.index(next(line for line in lines if line.endswith("/a/2")))
    assert "[tram] depot" in lines[body_hit + 1]  # the excerpt under its row
    assert lines[body_hit + 1].startswith("    ")

    [row] = [r for r in hits(capsys, archive, "tram") if r["url"].endswith("/a/2")]
    snippet = row["snippet"]
    assert "tram depot" in snippet
    assert not {"[", "]", MATCH_START, MATCH_END} & set(snippet)  # plain text in JSON
    assert [snippet[start:end] for start, end in row["highlights"]] == ["tram"]


def test_phrase_queries(capsys, archive):
    # /a/4 has the three words, not the phrase; the wire's copy of /a/3 is a duplicate.
    assert paths(archive, hits(capsys, archive, '"river bridge closed"')) == ["/a/3"]
    assert sorted(paths(archive, hits(capsys, archive, "river bridge closed"))) == ["/a/3", "/a/4"]
    with_copies = hits(capsys, archive, '"river bridge closed"', "--include-duplicates")
    assert sorted(paths(archive, with_copies)) == ["/a/3", "/wire/s/1"]
    [original] = [r for r in with_copies if r["site"] == "paper"]
    [copy] = [r for r in with_copies if r["site"] == "wire"]
    assert copy["duplicate_of"] == original["id"]


def test_boolean_queries(capsys, archive):
    # One syntax on both engines: NOT and a minus sign, OR and or.
    for negation in ("river NOT museum", "river -museum", "-museum river"):
        assert paths(archive, hits(capsys, archive, negation, "--site", "paper")) == ["/a/3"]
    for either in ("museum OR tram", "museum or tram"):
        found = hits(capsys, archive, either, "--site", "paper")
        assert sorted(paths(archive, found)) == ["/a/1", "/a/2", "/a/4"]
    grouped = hits(capsys, archive, "(museum OR tram) AND council", "--site", "paper")
    assert sorted(paths(archive, grouped)) == ["/a/1", "/a/2"]
    assert paths(archive, hits(capsys, archive, "title:tram")) == ["/a/1"]
    assert paths(archive, hits(capsys, archive, "body:tram")) == ["/a/2"]
    assert paths(archive, hits(capsys, archive, "NEAR(harbour debate, 4)")) == ["/a/1"]
    assert hits(capsys, archive, "NEAR(harbour debate, 3)") == []


def test_words_in_any_script_and_case(capsys, archive):
    for query in ("мост", "МОСТ", "Ереван"):
        assert paths(archive, hits(capsys, archive, query)) == ["/a/6"], query


def test_a_correction_replaces_the_old_text_in_the_index(capsys, archive):
    assert paths(archive, hits(capsys, archive, "sixty")) == ["/a/5"]
    assert hits(capsys, archive, "forty", "--site", "paper") == []
    assert paths(archive, hits(capsys, archive, '"Old Town"')) == ["/a/5"]


def test_filters_apply_to_search(capsys, archive):
    assert paths(archive, hits(capsys, archive, "tram", "--since", "2024-03-02")) == ["/a/2"]
    assert paths(archive, hits(capsys, archive, "tram", "--until", "2024-03-01")) == ["/a/1"]
    assert paths(archive, hits(capsys, archive, "tram", "--author", "hakobyan")) == ["/a/2"]
    assert hits(capsys, archive, "tram", "--site", "demo") == []
    assert len(hits(capsys, archive, "the", "--limit", "3")) == 3
    demo = hits(capsys, archive, "Karabakh", "--site", "demo")
    assert demo and all(r["site"] == "demo" for r in demo)


def test_search_says_when_limit_cut_the_hits(capsys, archive):
    every = hits(capsys, archive, "the", "--limit", "0")
    assert len(every) > 3
    code, out, _ = search(capsys, archive, "the", "--limit", "3")
    expected = f"showing 3 of {len(every)}; --limit N for more, --limit 0 for all"
    assert code == 0 and out.splitlines()[-1] == expected
    code, out, err = search(capsys, archive, "the", "--limit", "3", "--json")
    assert len(json.loads(out)) == 3 and err.strip() == expected
    code, out, err = search(capsys, archive, "the", "--limit", str(len(every)))
    assert "showing" not in out + err


@pytest.mark.parametrize(
    "query, found",
    [
        ('"unclosed', []),  # a phrase to the end of the text
        ('"river bridge', ["/a/3"]),
        ("AND AND", None),  # not a valid query: the words "and" "and"
        ("' OR 1=1 --", []),
        ("title:", None),  # the word "title"
        ("NEAR(", []),  # the word "near"
        ("tram OR", []),  # the words "tram" and "or"
        ("(tram", ["/a/1", "/a/2"]),  # the group closed by the end of the text
        ("tram)", ["/a/1", "/a/2"]),
    ],
)
def test_text_that_is_not_a_valid_query_is_searched_as_words(capsys, archive, query, found):
    before = article_count(archive)
    code, out, err = search(capsys, archive, query, "--json", "--site", "paper")
    assert code == 0, err
    if found is not None:
        assert sorted(paths(archive, json.loads(out))) == found
    assert article_count(archive) == before


@pytest.mark.parametrize("query", ["*", "-", '""', "%", "()", "-- --", "…", "*.*"])
def test_a_query_without_a_word_is_one_clear_line(capsys, archive, query):
    code, out, err = search(capsys, archive, f"--query={query}")
    assert code == 2 and out == ""
    assert err.startswith(f"newscrawl search: cannot search for {query!r}: ")
    assert "no letter or digit" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "query",
    [
        "DROP TABLE articles",
        "x'); DELETE FROM articles; --",
        "Robert'); DROP TABLE articles;--",
        "tram\x00'; select 1; --",  # a NUL character
        "1; DROP TABLE articles",
        "' || (select body from articles) || '",
        "tram:* | !x & 'y'",  # tsquery syntax is searched as words too
        "{title body} : NEAR(x y) ^tram",  # and FTS5's
    ],
)
def test_sql_in_a_query_is_searched_for_as_text(capsys, archive, query):
    before = article_count(archive)
    code, out, err = search(capsys, archive, f"--query={query}", "--json")
    assert code == 0, err
    assert json.loads(out) == [] or "tram" in query
    assert article_count(archive) == before


def test_a_query_starting_with_a_minus_sign(capsys, archive):
    # After --, or as --query: a leading minus excludes the word.
    capsys.readouterr()
    options = ["--site", "paper", "--json", "--database", archive.url]
    assert main(["search", *options, "--", "-museum", "river"]) == 0
    assert paths(archive, json.loads(capsys.readouterr().out)) == ["/a/3"]
    assert paths(archive, hits(capsys, archive, "--query=-museum river", "--site", "paper")) == [
        "/a/3"
    ]
    # Several words are joined: the shell's quotes are not needed.
    assert paths(archive, hits(capsys, archive, "harbour", "tram")) == ["/a/1"]
    # Only excluded words: not a valid query, searched as words.
    assert paths(archive, hits(capsys, archive, "--query=-sixty")) == ["/a/5"]
    code, _, err = search(capsys, archive, "tram", "--query", "bridge")
    assert code == 2 and err.strip() == (
        "newscrawl search: give the query once, as QUERY or --query"
    )


def test_an_empty_query_is_refused(capsys, archive):
    code, _, err = search(capsys, archive, "   ")
    assert code == 2 and "the query is empty" in err
    code, _, err = search(capsys, archive)
    assert code == 2 and "the query is empty" in err


def test_a_very_long_query(capsys, archive):
    # A pasted paragraph: every word required, so only its article.
    paragraph = (
        "Drivers were told the river bridge closed on Tuesday for at least a month. "
        "Engineers found cracks in two of the arches. "
    ) * 12
    assert paths(archive, hits(capsys, archive, "--query", paragraph)) == ["/a/3"]
    code, out, err = search(capsys, archive, "--query", "tram " * 1001)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "1001 words; at most 1000" in err
    assert "..." in err  # the query is shortened in the message


# --------------------------------------------------------------------------- migration

NEW_ARTICLE = text(
    "insert into articles (site, url, title, body, tags, first_seen_at, last_seen_at, "
    "content_hash, version, sources) "
    "values ('old', :url, :title, :body, :tags, :now, :now, :hash, 1, :sources)"
).bindparams(
    bindparam("now", type_=UTCDateTime()),
    bindparam("tags", type_=JSON()),
    bindparam("sources", type_=JSON()),
)


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def downgrade(url: str, revision: str) -> None:
    config = alembic_config()
    with get_engine(url).begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def search_urls(capsys, url: str, query: str) -> list[str]:
    capsys.readouterr()
    code = main(["search", query, "--json", "--database", url])
    out, err = capsys.readouterr()
    assert code == 0, err
    return [row["url"] for row in json.loads(out)]


def old_archive(url: str, revision: str, articles: list[tuple[str, str]]) -> None:
    """An archive at an older schema ``revision`` holding ``articles`` (title, body)."""
    upgrade(url, revision)
    with get_engine(url).begin() as conn:
        for n, (title, body) in enumerate(articles):
            conn.execute(
                NEW_ARTICLE,
                {
                    "url": f"https://old.example/{n}",
                    "title": title,
                    "body": body,
                    "tags": [],
                    "now": datetime(2024, 1, 1, tzinfo=UTC),
                    "hash": f"{n:064d}",
                    "sources": {},
                },
            )
    dispose_engines()


def test_upgrading_an_existing_archive_indexes_its_articles(capsys, any_database_url):
    url = any_database_url
    old_archive(  # an archive from before full-text search
        url,
        "0002",
        [
            ("Lighthouse keeper retires", "After forty years on the cliff. " * 5),
            ("Ferry timetable changes", "The lighthouse road closes at night. " * 5),
        ],
    )

    upgrade(url)  # to head: the backfill indexes both rows
    assert current_revision(url) == head_revision()
    assert search_urls(capsys, url, "lighthouse") == [
        "https://old.example/0",  # in the headline
        "https://old.example/1",
    ]

    # The index follows later writes: an edit, a new row, a deletion.
    with get_engine(url).begin() as conn:
        conn.execute(
            text("update articles set title = 'Harbour master retires' where url = :u"),
            {"u": "https://old.example/0"},
        )
        conn.execute(text("delete from articles where url = :u"), {"u": "https://old.example/1"})
    assert search_urls(capsys, url, "lighthouse") == []
    assert search_urls(capsys, url, "harbour") == ["https://old.example/0"]

    # Down again: the index goes, the articles stay; up again: indexed again.
    downgrade(url, "0002")
    dispose_engines()
    engine = get_engine(url)
    inspector = inspect(engine)
    assert "articles_fts" not in inspector.get_table_names()
    assert "search_vector" not in {c["name"] for c in inspector.get_columns("articles")}
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from articles")).scalar_one() == 1
    upgrade(url)
    assert search_urls(capsys, url, "harbour") == ["https://old.example/0"]


def test_upgrading_folds_the_words_of_existing_articles(capsys, any_database_url):
    # Migration 0007 (PostgreSQL; nothing to do on SQLite): the index of an
    # archive from before it sees accents and punctuation as SQLite does.
    url = any_database_url
    old_archive(
        url,
        "0006",
        [
            ("Café reopens in the U.S.", "Health officials allowed it. " * 5),
            ("COVID-19 rules end", "The naïve hope of 9/11 survivors. " * 5),
        ],
    )
    for _ in range(2):  # up, and again after going down
        upgrade(url)
        assert search_urls(capsys, url, "cafe") == ["https://old.example/0"]
        assert search_urls(capsys, url, "naive covid-19 9/11") == ["https://old.example/1"]
        assert search_urls(capsys, url, '"U.S. health"') == []  # from title into body
        downgrade(url, "0006")
        dispose_engines()
