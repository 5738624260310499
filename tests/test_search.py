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
from support.archive import CrawledArchive, build_archive

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
    name = f"newscrawl_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'create database "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    try:
        yield build_archive(url, folder, demo_site, full=False)
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
    assert lines[0].split() == ["#", "id", "published", "(UTC)", "site", "title", "url"]
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
    # Each engine's own syntax: FTS5 has NOT, web search a minus sign.
    negation = "river NOT museum" if engine_of(archive) == "sqlite" else "river -museum"
    assert paths(archive, hits(capsys, archive, negation, "--site", "paper")) == ["/a/3"]
    either = hits(capsys, archive, "museum OR tram", "--site", "paper")
    assert sorted(paths(archive, either)) == ["/a/1", "/a/2", "/a/4"]


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


@pytest.mark.parametrize("query", ['"unclosed', "AND AND", "' OR 1=1 --", "%", "title:"])
def test_a_malformed_query_is_a_clear_message(capsys, archive, query):
    before = article_count(archive)
    code, out, err = search(capsys, archive, query)
    if engine_of(archive) == "sqlite":
        assert code == 2 and out == ""
        assert err.startswith(f"newscrawl search: cannot read the query {query!r}: ")
        assert len(err.strip().splitlines()) == 1
    else:
        # websearch_to_tsquery reads any text: no error, and nothing injected.
        assert code == 0, err
    assert "Traceback" not in err
    assert article_count(archive) == before


@pytest.mark.parametrize(
    "query", ["DROP TABLE articles", "x'); DELETE FROM articles; --", "Robert'); --"]
)
def test_sql_in_a_query_is_searched_for_as_text(capsys, archive, query):
    before = article_count(archive)
    code, _, err = search(capsys, archive, query, "--json")
    if engine_of(archive) == "sqlite" and "'" in query:
        assert code == 2 and "cannot read the query" in err  # FTS5 has no ' in its syntax
    else:
        assert code == 0, err
    # In double quotes FTS5 reads anything as words: every engine runs it.
    quoted = '"' + query.replace('"', "") + '"'
    assert hits(capsys, archive, quoted) == []
    assert article_count(archive) == before


def test_an_empty_query_is_refused(capsys, archive):
    code, _, err = search(capsys, archive, "   ")
    assert code == 2 and "the query is empty" in err


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


def test_upgrading_an_existing_archive_indexes_its_articles(capsys, any_database_url):
    url = any_database_url
    upgrade(url, "0002")  # an archive from before full-text search
    with get_engine(url).begin() as conn:
        for n, (title, body) in enumerate(
            [
                ("Lighthouse keeper retires", "After forty years on the cliff. " * 5),
                ("Ferry timetable changes", "The lighthouse road closes at night. " * 5),
            ]
        ):
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
