"""``newscrawl summary``: the counts per site, the newest articles, the current
top stories and the recent corrections, as aligned tables (measured by display
width, whatever the site names hold) or as one JSON document."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import insert, text
from support.archive import CrawledArchive
from wcwidth import wcswidth

from crawler.cli.main import main
from crawler.storage.database import ensure_schema, get_engine
from crawler.storage.models import ArticleRow, CrawlRunRow

NOTE = "newscrawl summary --limit N for more, --limit 0 for all"


def newscrawl(capsys, database: str, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([*args, "--database", database])
    out, err = capsys.readouterr()
    return code, out, err


def listed_articles(archive: CrawledArchive) -> int:
    """The articles `articles` lists: copies of earlier stories left out."""
    with get_engine(archive.url).connect() as conn:
        query = "select count(*) from articles where duplicate_of is null"
        return conn.execute(text(query)).scalar_one()


def test_summary_as_json(capsys, crawled_archive):
    archive = crawled_archive
    code, out, err = newscrawl(capsys, archive.url, "summary", "--json")
    assert code == 0
    document = json.loads(out)  # stdout is the document alone
    assert err == f"showing 10 of {listed_articles(archive)}; {NOTE}\n"
    assert list(document) == [
        "database", "sites", "newest_articles", "top_stories", "recent_corrections",
    ]  # fmt: skip
    assert document["database"] == archive.url
    sites = {row["site"]: row for row in document["sites"]}
    assert set(sites) == {"demo", "paper", "wire", "down"}
    assert sites["paper"]["articles"] == 6 and sites["down"] == {
        "site": "down", "articles": 0, "top_story_rows": 0, "runs": 1, "rejected": 0,
    }  # fmt: skip
    newest = document["newest_articles"]
    assert len(newest) == 10
    assert newest[0]["url"] == f"{archive.paper_url}/a/6"
    assert newest[0]["published_at"] == "2024-03-06T09:00:00Z"
    paper_top = [s for s in document["top_stories"] if s["site"] == "paper"]
    assert [s["url"] for s in paper_top] == [f"{archive.paper_url}/a/{n}" for n in (3, 1, 5)]
    assert all(s["captured_at"].endswith("Z") for s in document["top_stories"])
    [correction] = document["recent_corrections"]
    assert correction["url"] == f"{archive.paper_url}/a/5"
    assert correction["title"] == "Mayor opens new library in the Old Town"
    assert correction["version"] == 2
    assert datetime.fromisoformat(correction["corrected_at"]) <= datetime.now(UTC)

    code, out, err = newscrawl(capsys, archive.url, "summary", "--site", "paper", "--json")
    document = json.loads(out)
    assert [row["site"] for row in document["sites"]] == ["paper"]
    assert {a["site"] for a in document["newest_articles"]} == {"paper"}
    assert {s["site"] for s in document["top_stories"]} == {"paper"}
    assert err == ""  # the six paper articles: nothing left out


def test_summary_as_tables(capsys, crawled_archive):
    archive = crawled_archive
    code, out, err = newscrawl(capsys, archive.url, "summary", "--limit", "3")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[:2] == [f"Database: {archive.url}", ""]
    assert lines[2].split() == ["site", "articles", "top-story", "rows", "runs", "rejected"]
    assert [line.split()[0] for line in lines[4:8]] == ["demo", "down", "paper", "wire"]

    newest = lines.index("Newest articles:")
    assert lines[newest + 1].split() == ["id", "published", "site", "title", "url"]
    assert "  2024-03-06 09:00 UTC  paper  Ереван: новый мост открыт  " in lines[newest + 3]
    assert lines[newest + 6] == f"showing 3 of {listed_articles(archive)}; {NOTE}"

    top = lines.index("Current top stories (the latest snapshot of each page):")
    assert lines[top + 1].split() == ["snapshot", "site", "rank", "title", "url"]
    assert any(" UTC  paper     1  Old bridge shut for repairs  " in line for line in lines[top:])

    corrections = lines.index("Recent corrections:")
    assert lines[corrections + 1].split() == ["id", "corrected", "site", "version", "title"]
    row = lines[corrections + 3]
    assert row.endswith(" UTC  paper        2  Mayor opens new library in the Old Town")
    assert lines[corrections + 4] == "What changed: newscrawl show ID --diff"


LONG = "a-site-with-a-name-much-longer-than-sixteen-characters"
WIDE = "東京新聞"


def small_archive(tmp_path) -> str:
    """An archive written directly: sites whose names are long or wide."""
    url = f"sqlite:///{tmp_path / 'small.db'}"
    ensure_schema(url)
    now = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    articles = [
        {
            "site": site,
            "url": f"https://{n}.example/a",
            "title": title,
            "body": "Text.",
            "published_at": now,
            "first_seen_at": now,
            "last_seen_at": now,
            "content_hash": f"{n:064d}",
        }
        for n, (site, title) in enumerate(
            [(LONG, "A long name"), (WIDE, "地震速報 🌋 津波の心配なし")]
        )
    ]
    runs = [{"site": site, "spider": "articles", "started_at": now} for site in (LONG, WIDE, WIDE)]
    with get_engine(url).begin() as conn:
        conn.execute(insert(ArticleRow), articles)
        conn.execute(insert(CrawlRunRow), runs)
    return url


def test_long_and_wide_site_names_keep_the_columns_apart(capsys, tmp_path):
    code, out, _ = newscrawl(capsys, small_archive(tmp_path), "summary")
    assert code == 0
    lines = out.splitlines()
    header, rule, long_row, wide_row = lines[2:6]
    # Numbers right-aligned under their headers: every line as wide as the rule.
    assert {wcswidth(line) for line in (header, long_row, wide_row)} == {wcswidth(rule)}
    assert long_row.split() == [LONG, "1", "0", "1", "0"]
    assert wide_row.split() == [WIDE, "1", "0", "2", "0"]
    assert long_row.startswith(f"{LONG}  ")  # never run together
    newest = lines[lines.index("Newest articles:") + 1 :]
    rule = newest[1]
    assert {wcswidth(line) for line in newest[2:4]} <= {wcswidth(rule)}
    title_column = wcswidth(newest[0][: newest[0].index("title")])
    wide_line = next(line for line in newest if "地震" in line)
    assert wcswidth(wide_line[: wide_line.index("地震")]) == title_column


def test_an_empty_archive(capsys, tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    ensure_schema(url)
    code, out, _ = newscrawl(capsys, url, "summary")
    assert (code, out) == (0, f"Database: {url}\nNothing stored yet.\n")
    code, out, _ = newscrawl(capsys, url, "summary", "--json")
    assert json.loads(out) == {
        "database": url,
        "sites": [],
        "newest_articles": [],
        "top_stories": [],
        "recent_corrections": [],
    }
