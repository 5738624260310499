"""The reader views of migration 0008 (``article_list``, ``top_story_spans``,
``corrections``, ``crawl_history``): the same rows on SQLite and PostgreSQL,
from the ``sqlite3`` command line too, created on an existing archive and
dropped by a downgrade; and what ``newscrawl browse``'s Datasette makes of
them, in process: the first screen, hidden tables, facets, the rendered
cells, the search box. (The pages in a real browser: tests/test_browser.py.)"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import sqlite3
import subprocess
from datetime import UTC, date, datetime, timedelta
from importlib import util

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, text, update

from crawler.items import Article, TopStoriesSnapshot, TopStory
from crawler.storage.database import (
    MIGRATIONS_DIR,
    dispose_engines,
    ensure_schema,
    get_engine,
    upgrade,
)
from crawler.storage.models import CrawlRunRow
from crawler.storage.store import Store

T0 = datetime(2024, 3, 5, 12, 0, tzinfo=UTC)
VIEWS = {"article_list", "top_story_spans", "corrections", "crawl_history"}

# 80 words of 6 or 7 characters: over 200 characters, cut after a word.
LONG = " ".join(f"word{n:02d}," for n in range(80))
CJK = "新闻" * 150  # no spaces: cut at 200 characters
FILLER = "Officials said more details would follow in the coming weeks. " * 3
OLD = ["The council met on Monday.", "Tickets cost 45,000 drams.", "The hall opens at nine."]
NEW = ["The council met on Monday.", "Tickets cost 4,500 drams.", "The hall opens at nine."]


def article(path: str, title: str, body: str, **fields) -> Article:
    site = fields.pop("site", "paper")
    return Article(url=f"https://{site}.example{path}", site=site, title=title, body=body, **fields)


def fill(url: str) -> None:
    """Articles (one long, one short in two paragraphs, one without spaces, a
    copy on another site), a correction, snapshots over two days and a run."""
    store = Store.open(url)
    run = store.start_run("paper", "articles")
    dated = {"published_at": T0 - timedelta(days=1), "author": "Ani Petrosyan"}
    store.save_articles(
        [
            article("/long", "Long story", LONG, section="City", tags=["tram", "harbour"], **dated),
            # A tag given twice counts once in the facet.
            article("/short", "Short", "Two short paragraphs.\n\nThe second.", tags=["tram"] * 2),
            article("/cjk", "新闻", CJK, section="World"),
            article("/fixed", "Ticket prices", "\n\n".join([*OLD, FILLER]), section="City"),
            article("/copy", "Wire copy", LONG, site="wire"),
        ],
        now=T0,
        run_id=run,
    )
    store.save_articles(
        [article("/fixed", "Ticket prices corrected", "\n\n".join([*NEW, FILLER]), section="City")],
        now=T0 + timedelta(hours=1),
    )
    stories = {"a": "https://paper.example/long", "b": "https://paper.example/fixed"}
    for minutes, order in [(0, "ab"), (90, "ba"), (13 * 60, "b")]:  # the last: the next day
        store.save_top_stories(
            TopStoriesSnapshot(
                "paper",
                "https://paper.example/",
                T0 + timedelta(minutes=minutes),
                [
                    TopStory(n + 1, f"Headline {key} at {minutes}", stories[key])
                    for n, key in enumerate(order)
                ],
            )
        )
    store.finish_run(run, "finished", {"pages_fetched": 7}, "finished")
    with store.engine.begin() as conn:
        conn.execute(
            update(CrawlRunRow).values(started_at=T0, finished_at=T0 + timedelta(seconds=90))
        )


def plain(value: object) -> object:
    """A value as both backends can be compared: times as text to the second,
    JSON lists as lists."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and len(value) == 26 and value[4] == "-" and value[10] == " ":
        return value[:19]  # SQLite's stored time
    if isinstance(value, str) and value.startswith("["):
        return json.loads(value)
    return value


def view_rows(url: str, sql: str) -> list[dict]:
    with get_engine(url).connect() as conn:
        return [{k: plain(v) for k, v in row.items()} for row in conn.execute(text(sql)).mappings()]


def test_the_views_give_the_same_rows_on_both_databases(any_database_url):
    url = any_database_url
    fill(url)

    articles = {a["url"].rsplit("/", 1)[1]: a for a in view_rows(url, "select * from article_list")}
    assert set(articles) == {"long", "short", "cjk", "fixed"}  # not the copy
    long, short, cjk, fixed = (articles[key] for key in ("long", "short", "cjk", "fixed"))
    assert list(long) == [
        "id", "site", "published_at", "title", "author", "section", "tags", "excerpt", "url"
    ]  # fmt: skip
    assert long["published_at"] == "2024-03-04 12:00:00" and long["tags"] == ["tram", "harbour"]
    # The first 200 characters, cut after the last whole word and its comma.
    assert long["excerpt"] == LONG[:200].rsplit(" ", 1)[0].rstrip(",") + "…"
    assert len(long["excerpt"]) <= 201 and long["excerpt"].endswith("word23, word24…")
    assert short["excerpt"] == "Two short paragraphs. The second."  # one line, not cut
    assert cjk["excerpt"] == CJK[:200] + "…"
    assert fixed["title"] == "Ticket prices corrected"

    spans = view_rows(url, "select * from top_story_spans")
    assert [(s["day"], s["best_rank"], s["url"][-5:]) for s in spans] == [
        ("2024-03-06", 1, "fixed"),  # the newest day first, then best rank, first seen, URL
        ("2024-03-05", 1, "fixed"),
        ("2024-03-05", 1, "/long"),
    ]
    next_day, fixed_span, long_span = spans
    assert (long_span["first_seen_at"], long_span["last_seen_at"]) == (
        "2024-03-05 12:00:00",
        "2024-03-05 13:30:00",
    )
    assert (long_span["span_seconds"], long_span["snapshots"]) == (5400, 2)
    assert long_span["title"] == "Headline a at 90"  # the latest headline that day
    assert fixed_span["article_id"] == fixed["id"] and next_day["span_seconds"] == 0

    [correction] = view_rows(url, "select * from corrections")
    assert (correction["old_version"], correction["new_version"]) == (1, 2)
    assert (correction["old_title"], correction["new_title"]) == (
        "Ticket prices",
        "Ticket prices corrected",
    )
    # Only the paragraph that changed, on each side.
    assert correction["old_paragraphs"] == "Tickets cost 45,000 drams."
    assert correction["new_paragraphs"] == "Tickets cost 4,500 drams."
    assert correction["changed_at"] == "2024-03-05 13:00:00"

    [run] = view_rows(url, "select * from crawl_history")
    assert (run["status"], run["duration_seconds"], run["pages_fetched"]) == ("finished", 90, 7)
    assert run["articles_new"] == 5


def test_paragraphs_added_or_removed_and_several_corrections(any_database_url):
    url = any_database_url
    store = Store.open(url)
    body = ["First paragraph stays.", "Second goes away.", FILLER]
    store.save_articles([article("/a", "T", "\n\n".join(body))], now=T0)
    later = ["First paragraph stays.", FILLER, 'A new "quoted" paragraph with a \\ backslash.']
    store.save_articles([article("/a", "T", "\n\n".join(later))], now=T0 + timedelta(hours=1))
    last = ["First paragraph stays.", FILLER]
    store.save_articles([article("/a", "T2", "\n\n".join(last))], now=T0 + timedelta(hours=2))

    rows = view_rows(url, "select * from corrections order by old_version")
    assert [(r["old_version"], r["old_paragraphs"], r["new_paragraphs"]) for r in rows] == [
        (1, "Second goes away.", 'A new "quoted" paragraph with a \\ backslash.'),
        (2, 'A new "quoted" paragraph with a \\ backslash.', None),
    ]
    assert [(r["old_title"], r["new_title"]) for r in rows] == [("T", "T"), ("T", "T2")]


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def view_names(url: str) -> set[str]:
    return set(inspect(get_engine(url)).get_view_names()) & VIEWS


def test_an_existing_archive_gets_the_views_and_a_downgrade_drops_them(any_database_url):
    url = any_database_url
    upgrade(url, "0007")  # an archive from before the views
    dispose_engines()
    assert view_names(url) == set()
    fill(url)  # Store.open brings it to the head first, as every command does
    assert view_names(url) == VIEWS
    assert len(view_rows(url, "select * from article_list")) == 4

    with get_engine(url).begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "0007")
    dispose_engines()
    assert view_names(url) == set()
    assert len(view_rows(url, "select * from articles")) == 5  # the data stays
    ensure_schema(url)
    assert view_names(url) == VIEWS


def test_the_views_read_from_the_sqlite3_command_line(tmp_path):
    if shutil.which("sqlite3") is None:
        pytest.skip("no sqlite3 command line here (Debian: apt-get install sqlite3)")
    path = tmp_path / "archive.db"
    fill(f"sqlite:///{path}")
    out = subprocess.run(
        [
            "sqlite3",
            str(path),
            "select old_paragraphs, new_paragraphs from corrections;"
            "select best_rank, span_seconds from top_story_spans where day = '2024-03-05';"
            "select excerpt from article_list where title = 'Short';",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.splitlines()
    assert out == [
        "Tickets cost 45,000 drams.|Tickets cost 4,500 drams.",
        "1|5400",
        "1|5400",
        "Two short paragraphs. The second.",
    ]


# --------------------------------------------------------------------------- Datasette


@pytest.fixture
def datasette(tmp_path):
    """``newscrawl browse``'s Datasette on a filled SQLite archive, in process:
    its metadata, templates and both plugins."""
    app_module = pytest.importorskip("datasette.app")
    from datasette.plugins import pm

    from crawler.cli import browse, browse_pages

    path = tmp_path / "news.db"
    fill(f"sqlite:///{path}")
    pm.register(browse.search_plugin(), name=browse.SEARCH_PLUGIN)
    pm.register(browse_pages.reader_plugin(), name=browse_pages.READER_PLUGIN)
    try:
        yield app_module.Datasette(
            [str(path)],
            metadata=browse.datasette_metadata("news"),
            template_dir=str(browse_pages.TEMPLATES),
            settings={"suggest_facets": False, "trace_debug": True},
        )
    finally:
        pm.unregister(name=browse.SEARCH_PLUGIN)
        pm.unregister(name=browse_pages.READER_PLUGIN)


def get(app, path: str, **params: str):
    response = asyncio.run(app.client.get(path, params=params or None))
    assert response.status_code == 200, (path, response.status_code, response.text[:500])
    return response


def test_the_first_screen_leads_to_the_views_and_hides_the_machinery(datasette):
    for page in ("/", "/news"):
        html = get(datasette, page).text
        assert '<form class="nc-search" action="/news/article_list"' in html
        assert 'name="_search"' in html
        for view in ("article_list", "top_story_spans?day=2024-03-06", "corrections"):
            assert f'href="/news/{view}"' in html
        assert 'href="/news/crawl_history"' in html
        assert '<p class="nc-figure">4</p>' in html  # articles, the copy left out
        assert 'href="/news/article_list?site=paper">paper</a>' in html
    home = get(datasette, "/").text
    for internal in ("alembic_version", "crawl_locks", "listing_walks", "articles_fts"):
        assert internal not in home
    tables = get(datasette, "/news.json").json()["tables"]
    hidden = {t["name"] for t in tables if t["hidden"]}
    assert {"alembic_version", "crawl_locks", "listing_walks", "articles_fts_data"} <= hidden
    assert {"articles", "top_stories", "crawl_runs"}.isdisjoint(hidden)
    css = get(datasette, "/-/newscrawl.css")
    assert css.headers["content-type"].startswith("text/css") and ".nc-home" in css.text


def test_the_article_list_has_facets_tags_as_an_array_and_titles_linking_the_article(datasette):
    data = get(datasette, "/news/article_list.json", _facet_size="max").json()
    facets = data["facet_results"]
    assert set(facets) == {"site", "section", "author", "tags"}
    tags = {f["value"]: f["count"] for f in facets["tags"]["results"]}
    assert tags == {"tram": 2, "harbour": 1}
    assert "body" not in data["columns"] and "content_hash" not in data["columns"]

    for filters, expected in [
        ({"site": "paper"}, {"tram": 2, "harbour": 1}),
        ({"_search": "word27"}, {"tram": 1, "harbour": 1}),
        ({"site": "wire"}, {}),
    ]:
        narrowed = get(datasette, "/news/article_list.json", **filters).json()
        results = narrowed["facet_results"].get("tags", {"results": []})["results"]
        assert {f["value"]: f["count"] for f in results} == expected, filters
    # Counted over each row's number and its tags alone, not over whole rows.
    traced = get(datasette, "/news/article_list.json", _trace="1").json()["_trace"]["traces"]
    facet_sql = [t["sql"] for t in traced if "json_each([inner].tags)" in t["sql"]]
    assert len(facet_sql) == 1
    assert "select row_number() over () as newscrawl_row, tags from article_list" in facet_sql[0]

    html = get(datasette, "/news/article_list").text
    long_id = next(r for r in data["rows"] if r[3] == "Long story")[0]
    assert f'<a href="/news/articles/{long_id}" class="nc-title">Long story</a>' in html
    assert "tags__arraycontains=harbour" in html
    assert LONG[:200] not in html and "word24…" in html  # the excerpt, not the body

    article = get(datasette, f"/news/articles/{long_id}").text
    assert '<h2 class="nc-headline">Long story</h2>' in article
    assert "<p>" + LONG + "</p>" in article  # the whole body, in paragraphs


def test_corrections_show_the_changed_words_and_spans_a_bar(datasette):
    html = get(datasette, "/news/corrections").text
    assert "<del>45,000</del>" in html and "<ins>4,500</ins>" in html
    assert "The hall opens at nine." not in html  # an unchanged paragraph is not shown
    assert "<del>Ticket</del>" not in html and "<ins>corrected</ins>" in html

    spans = get(datasette, "/news/top_story_spans", site="paper", day="2024-03-05").text
    assert spans.count('class="nc-bar"') == 2
    assert "1h 30m" in spans and "12:00–13:30 UTC" in spans
    runs = get(datasette, "/news/crawl_history").text
    assert "1m 30s" in runs and 'class="nc-status nc-finished"' in runs


def test_the_search_box_takes_any_news_text(datasette):
    for query, expected in [
        ("harbour", set()),  # a tag, not a word of the text
        ("word27", {"Long story"}),
        ('covid-19 "U.S." O\'Brien', set()),
        ('"unclosed', set()),
        ("tram OR", set()),
        ("prices corrected", {"Ticket prices corrected"}),
    ]:
        rows = get(datasette, "/news/article_list.json", _search=query, _shape="array").json()
        assert {r["title"] for r in rows} == expected, query
    page = get(datasette, "/news/article_list", _search='covid-19 "U.S." O\'Brien').text
    assert "0 rows" in page


def expected_excerpt(body: str) -> str:
    """The excerpt as docs/schema.md describes it."""
    flat = body.replace("\n\n", " ").replace("\n", " ")
    if len(flat) <= 200:
        return flat
    cut = re.sub(r"[^ ]*$", "", flat[:201])
    return cut.rstrip(" ,;:.") + "…" if len(cut) >= 100 else flat[:200] + "…"


def test_the_excerpt_is_cut_after_a_whole_word():
    """The SQLite view's excerpt on text of every kind, in memory."""
    spec = util.spec_from_file_location(
        "reader_views", MIGRATIONS_DIR / "versions" / "0008_reader_views.py"
    )
    assert spec is not None and spec.loader is not None
    module = util.module_from_spec(spec)
    spec.loader.exec_module(module)
    conn = sqlite3.connect(":memory:")
    conn.execute(
        "create table articles (id, site, published_at, title, author, section, tags, url, "
        "body, duplicate_of)"
    )
    bodies = [
        "x" * 200,  # exactly 200: whole
        "x" * 201,
        "a " * 40 + "b" * 200,  # a cut after a word would leave fewer than 100
        "Ends a sentence. " * 20,
        "One paragraph.\n\nAnother one, " + "with a long tail of words " * 10,
        "Ереван: новый мост открыт через реку Раздан. " * 8,
        "word " * 40,  # the 201st character is a space
        "",
        "x\n\n" * 400,  # long, and half of it blank lines
        "Short paragraph.\n\n" * 100,
        "One line " * 100,
    ]
    for n, body in enumerate(bodies):
        conn.execute("insert into articles (id, body) values (?, ?)", (n, body))
    conn.execute(module.sqlite_views()[0])
    excerpts = dict(conn.execute("select id, excerpt from article_list"))
    assert [excerpts[n] for n in range(len(bodies))] == [expected_excerpt(b) for b in bodies]
    assert excerpts[3] == ("Ends a sentence. " * 20)[:187] + "Ends a…"
    assert excerpts[2] == ("a " * 40 + "b" * 200)[:200] + "…"
