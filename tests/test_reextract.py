"""``newscrawl reextract`` (docs/archive.md): articles crawled with a site
definition whose body selector misses the last paragraph, the definition
fixed, then extracted again from the archive's WARC records: every article
gains the paragraph as a new version (the old text kept with the reason
``re-extraction``), nothing is fetched, and a second run changes nothing."""

from __future__ import annotations

import pytest
from support.archive import Archive
from support.processes import newscrawl_cli, scrapy_crawl
from support.sites import NewsSite, ScriptedSite, paragraphs, site_definition

ARTICLES = 12
MISSES_LAST = "div.story p:not(:last-child)"


@pytest.fixture
def paper(tmp_path, monkeypatch):
    server = ScriptedSite()
    folder = tmp_path / "sites"
    folder.mkdir()
    monkeypatch.setenv("NEWSCRAWL_SITES_DIR", str(folder))
    monkeypatch.setenv("NEWSCRAWL_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.setenv("NEWSCRAWL_ARCHIVE_DIR", str(tmp_path / "warc"))
    site = NewsSite(server, delay=0.0, per_page=50)
    site.publish(ARTICLES)
    server.definition = folder / "paper.yaml"  # type: ignore[attr-defined]
    yield server
    server.close()


def define(server: ScriptedSite, body: str) -> None:
    text = site_definition("paper", server.url, [server.url + "/news/"])
    server.definition.write_text(text.replace("body: 'div.story'", f"body: '{body}'"))  # type: ignore[attr-defined]


def test_a_fixed_selector_gives_every_article_its_last_paragraph_without_fetching(
    paper, any_database_url, monkeypatch
):
    database_url = any_database_url  # SQLite and PostgreSQL
    monkeypatch.setenv("NEWSCRAWL_DATABASE_URL", database_url)
    define(paper, MISSES_LAST)
    crawl = scrapy_crawl("articles", "-a", "site=paper")
    assert crawl.returncode == 0, crawl.stderr[-2000:]
    archive = Archive(database_url)
    stored = archive.rows("select id, url, body, version from articles order by id")
    assert len(stored) == ARTICLES
    last = {row["url"]: paragraphs(int(row["url"].rsplit("/", 1)[1]))[-1] for row in stored}
    assert not any(last[row["url"]] in row["body"] for row in stored)

    define(paper, "div.story")
    requests_before = len(paper.request_log)
    dry = newscrawl_cli("reextract", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"{ARTICLES} would change" in dry.stdout
    assert "+" + next(iter(last.values()))[:30] in dry.stdout or "(re-extracted)" in dry.stdout
    assert archive.scalar("select count(*) from article_revisions") == 0  # wrote nothing

    done = newscrawl_cli("reextract", "--site", "paper", "--processes", "2")
    assert done.returncode == 0, done.stderr
    assert f"{ARTICLES} changed" in done.stdout
    after = archive.rows("select id, url, body, version from articles order by id")
    assert all(last[row["url"]] in row["body"] and row["version"] == 2 for row in after)
    revisions = archive.rows("select article_id, version, body, reason from article_revisions")
    assert len(revisions) == ARTICLES
    assert {r["reason"] for r in revisions} == {"re-extraction"}
    old = {row["id"]: row["body"] for row in stored}
    assert all(r["body"] == old[r["article_id"]] and r["version"] == 1 for r in revisions)
    assert len(paper.request_log) == requests_before  # nothing fetched

    again = newscrawl_cli("reextract")
    assert again.returncode == 0, again.stderr
    assert f"{ARTICLES} read with this definition already" in again.stdout
    assert " 0 read again" in again.stdout
    assert archive.rows("select id, url, body, version from articles order by id") == after
    assert archive.scalar("select count(*) from article_revisions") == ARTICLES

    shown = newscrawl_cli("show", str(after[0]["id"]))
    assert "re-extraction" in shown.stdout and "Captures:" in shown.stdout


def test_one_article_and_a_crawl_after_a_reextraction(paper, database_url, tmp_path):
    """``--article`` reads one article; a crawl that later fetches the same
    unchanged page finds it unchanged (the crawl and reextract read alike)."""
    define(paper, MISSES_LAST)
    assert scrapy_crawl("articles", "-a", "site=paper").returncode == 0
    define(paper, "div.story")
    archive = Archive(database_url)
    first = archive.scalar("select min(id) from articles")
    # Its WARC file not there (not gathered yet): failed, and tried again later.
    warc = tmp_path / "warc"
    warc.rename(tmp_path / "elsewhere")
    missing = newscrawl_cli("reextract", "--article", str(first), "--processes", "1")
    assert missing.returncode == 0, missing.stderr
    assert "1 failed" in missing.stdout and "cannot read" in missing.stdout
    assert archive.scalar("select version from articles where id = :id", id=first) == 1
    (tmp_path / "elsewhere").rename(warc)
    one = newscrawl_cli("reextract", "--article", str(first), "--processes", "1")
    assert one.returncode == 0, one.stderr
    assert "1 articles with captures" in one.stdout and "1 changed" in one.stdout
    assert archive.scalar("select count(*) from articles where version = 2") == 1

    crawl = scrapy_crawl("articles", "-a", "site=paper", "-a", "refetch=true")
    assert crawl.returncode == 0, crawl.stderr[-2000:]
    versions = archive.rows("select id, version from articles order by id")
    assert versions[0]["version"] == 2  # the re-extracted one: unchanged by the crawl
    assert all(row["version"] == 2 for row in versions[1:])  # the others: changed by it
    reasons = archive.rows("select reason, count(*) as n from article_revisions group by reason")
    assert {r["reason"]: r["n"] for r in reasons} == {
        "re-extraction": 1,
        "revisit": ARTICLES - 1,
    }
