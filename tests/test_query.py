"""The query commands (articles, show, top-stories, runs, export, browse) on a
SQLite archive filled by real crawls of sites served on 127.0.0.1, run through
the command line's entry point and asserted on their tables and JSON."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from support.archive import CrawledArchive

from crawler.cli.demo_site import ARTICLES
from crawler.cli.main import main
from crawler.scheduling.runner import PROJECT_ROOT
from crawler.storage.database import get_engine
from crawler.storage.queries import article_columns

PAPER_ARTICLES = 6
WIRE_ARTICLES = 1
ALL_ARTICLES = len(ARTICLES) + PAPER_ARTICLES + WIRE_ARTICLES

# Filter values that would change a query if they were pasted into its SQL.
HOSTILE = [
    "'",
    '"',
    "%",
    "_",
    ";",
    "' OR 1=1 --",
    "paper' OR site = 'demo",
    "DROP TABLE articles; --",
    "%' UNION SELECT url FROM articles --",
]


@pytest.fixture
def archive(crawled_archive) -> CrawledArchive:
    return crawled_archive


def sql(archive: CrawledArchive, statement: str, **params: object) -> list[dict]:
    with get_engine(archive.url).connect() as conn:
        return [dict(r) for r in conn.execute(text(statement), params).mappings()]


def newscrawl(capsys, archive: CrawledArchive, *args: str) -> tuple[int, str, str]:
    """``newscrawl ARGS --database URL`` through the real entry point."""
    capsys.readouterr()
    code = main([*args, "--database", archive.url])
    out, err = capsys.readouterr()
    return code, out, err


def as_json(capsys, archive: CrawledArchive, *args: str) -> list | dict:
    code, out, err = newscrawl(capsys, archive, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def paper(archive: CrawledArchive, n: int) -> str:
    return f"{archive.paper_url}/a/{n}"


def article_id(archive: CrawledArchive, url: str) -> int:
    return sql(archive, "select id from articles where url = :u", u=url)[0]["id"]


def utc(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    assert moment.utcoffset() == timedelta(0), value
    return moment


# --------------------------------------------------------------------------- articles


def test_articles_newest_first_as_a_table_and_as_json(capsys, archive):
    code, out, _ = newscrawl(capsys, archive, "articles", "--limit", "3")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["id", "published", "(UTC)", "site", "title", "url"]
    # The paper's articles (2024) are newer than the demo site's (2021).
    assert "2024-03-06T09:00:00Z  paper  Ереван: новый мост открыт" in lines[2]
    assert lines[2].endswith(paper(archive, 6))
    assert "Mayor opens new library in the Old Town" in lines[3]
    assert len(lines) == 2 + 3

    rows = as_json(capsys, archive, "articles", "--limit", "0")
    # Every article but the wire's copy of the bridge story.
    assert len(rows) == ALL_ARTICLES - WIRE_ARTICLES
    assert all(r["duplicate_of"] is None for r in rows)
    times = [utc(r["published_at"]) for r in rows]
    assert times == sorted(times, reverse=True)
    assert rows[0]["url"] == paper(archive, 6) and rows[0]["tags"] == []
    assert {"id", "site", "title", "url", "author", "section", "first_seen_at"} <= set(rows[0])
    assert len(as_json(capsys, archive, "articles")) == 20  # the default limit


def test_articles_filters(capsys, archive):
    def urls(*args: str) -> list[str]:
        return [r["url"] for r in as_json(capsys, archive, "articles", "--limit", "0", *args)]

    assert len(urls("--site", "demo")) == len(ARTICLES)
    # A date as --until includes that whole day (UTC).
    assert urls("--site", "paper", "--since", "2024-03-03", "--until", "2024-03-05") == [
        paper(archive, n) for n in (5, 4, 3)
    ]
    assert urls("--site", "paper", "--since", "2024-03-03", "--until", "2024-03-05T08:59Z") == [
        paper(archive, n) for n in (4, 3)
    ]
    # An offset is honoured: 13:00 in Yerevan is 09:00 UTC.
    assert urls("--site", "paper", "--since", "2024-03-06T13:00:00+04:00") == [paper(archive, 6)]
    assert urls("--site", "paper", "--section", "city") == [paper(archive, n) for n in (5, 3, 1)]
    assert urls("--author", "PETROSYAN") == [paper(archive, n) for n in (3, 1)]
    assert urls("--site", "wire") == []
    assert urls("--site", "wire", "--include-duplicates") == [f"{archive.paper_url}/wire/s/1"]

    code, out, _ = newscrawl(capsys, archive, "articles", "--site", "nowhere")
    assert (code, out) == (0, "No articles match.\n")


@pytest.mark.parametrize(
    "args",
    [
        ["articles", "--since", "yesterday"],
        ["articles", "--until", "2024-13-01"],
        ["search", "tram", "--since", "03/05/2024"],
        ["top-stories", "--at", "noon"],
        ["top-stories", "--from", "2024-03-05T25:00"],
        ["top-stories", "--to", "last week"],
        ["export", "--since", "2024"],
    ],
)
def test_a_bad_time_names_the_option_and_the_expected_form(capsys, archive, args):
    with pytest.raises(SystemExit) as exit_info:
        newscrawl(capsys, archive, *args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    option = next(a for a in args if a.startswith("--"))
    assert f"argument {option}: expected a date YYYY-MM-DD or an ISO-8601 time" in err
    assert repr(args[-1]) in err


def test_the_installed_command_reports_a_bad_time_without_a_traceback(archive):
    proc = subprocess.run(
        [sys.executable, "-m", "crawler.cli", "articles", "--since", "soon"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, "NEWSCRAWL_DATABASE_URL": archive.url},
        timeout=60,
    )
    assert proc.returncode == 2
    assert "newscrawl articles: error: argument --since: expected a date YYYY-MM-DD" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("value", HOSTILE)
def test_filter_values_are_bound_as_text(capsys, archive, value):
    before = sql(archive, "select count(*) as n from articles")[0]["n"]
    for option in ("--site", "--section", "--author"):
        assert as_json(capsys, archive, "articles", option, value) == []
        assert as_json(capsys, archive, "search", "library", option, value) == []
    assert as_json(capsys, archive, "runs", "--site", value) == []
    assert as_json(capsys, archive, "top-stories", "--site", value) == []
    assert as_json(capsys, archive, "top-stories", "--site", value, "--from", "2000-01-01") == []
    code, out, err = newscrawl(capsys, archive, "export", "--site", value)
    assert (code, out) == (0, "")
    assert "exported 0 articles" in err
    code, _, err = newscrawl(capsys, archive, "show", value)
    assert code == 1 and f"no article with the id or URL {value!r}" in err
    assert sql(archive, "select count(*) as n from articles")[0]["n"] == before == ALL_ARTICLES


def test_a_query_never_creates_a_database(capsys, tmp_path):
    missing = tmp_path / "missing.db"
    capsys.readouterr()
    assert main(["articles", "--database", f"sqlite:///{missing}"]) == 1
    assert f"no archive at {missing}" in capsys.readouterr().err
    assert not missing.exists()


# --------------------------------------------------------------------------- show


def test_show_an_article_with_its_versions_and_diff(capsys, archive):
    library = article_id(archive, paper(archive, 5))
    code, out, _ = newscrawl(capsys, archive, "show", str(library))
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Mayor opens new library in the Old Town"
    assert f"url          {paper(archive, 5)}" in lines
    assert "author       Davit Hakobyan" in lines
    assert "published    2024-03-05T09:00:00Z  (page: '2024-03-05T09:00:00+00:00')" in lines
    assert "version      2" in lines
    assert "The mayor opened the new library on Friday. It holds sixty thousand books." in lines
    versions = lines[lines.index("Versions:") + 1 :]
    assert versions[0].startswith("  1  until ") and versions[0].endswith("Mayor opens new library")
    assert versions[1].startswith("  2  current since ")
    assert "Changes from" not in out

    # By URL, as a user would paste it: tracking parameters and fragment included.
    code, by_url, _ = newscrawl(capsys, archive, "show", paper(archive, 5) + "?utm_source=x#top")
    assert (code, by_url) == (0, out)

    code, diff, _ = newscrawl(capsys, archive, "show", str(library), "--diff")
    assert code == 0
    diff_part = diff[diff.index("Changes from version 1 to 2") :].splitlines()
    assert "-Mayor opens new library" in diff_part
    assert "+Mayor opens new library in the Old Town" in diff_part
    assert "-It holds forty thousand books." in diff_part
    assert "+It holds sixty thousand books." in diff_part
    assert " The mayor opened the new library on Friday." in diff_part  # context, unchanged

    document = as_json(capsys, archive, "show", str(library), "--diff")
    assert document["id"] == library and document["version"] == 2
    assert set(article_columns()) <= set(document)
    assert [r["version"] for r in document["revisions"]] == [1]
    assert document["revisions"][0]["title"] == "Mayor opens new library"
    assert "forty thousand" in document["revisions"][0]["body"]
    utc(document["revisions"][0]["captured_at"])
    [change] = document["diffs"]
    assert (change["from_version"], change["to_version"]) == (1, 2)
    assert "+It holds sixty thousand books." in change["body_diff"].splitlines()


def test_show_a_duplicate_names_the_original(capsys, archive):
    original = article_id(archive, paper(archive, 3))
    code, out, _ = newscrawl(capsys, archive, "show", f"{archive.paper_url}/wire/s/1")
    assert code == 0
    assert f"duplicate of {original}  Old bridge shut for repairs" in out.splitlines()
    code, _, err = newscrawl(capsys, archive, "show", "999999")
    assert code == 1 and "no article with the id or URL '999999'" in err


# --------------------------------------------------------------------------- top stories


def snapshot_times(archive: CrawledArchive) -> list[datetime]:
    rows = sql(
        archive,
        "select distinct captured_at from top_stories where site = 'paper' order by captured_at",
    )
    return [datetime.fromisoformat(r["captured_at"]).replace(tzinfo=UTC) for r in rows]


def test_top_stories_at_a_moment(capsys, archive):
    first, second = snapshot_times(archive)
    v1 = [paper(archive, n) for n in (1, 2, 3)]
    v2 = [paper(archive, n) for n in (3, 1, 5)]

    def at(*args: str) -> list[str]:
        rows = as_json(capsys, archive, "top-stories", "--site", "paper", *args)
        assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
        return [r["url"] for r in rows]

    assert at() == v2  # now
    assert at("--at", first.isoformat()) == v1  # at or before: the snapshot itself
    assert at("--at", (first + (second - first) / 2).isoformat()) == v1
    assert at("--at", second.strftime("%Y-%m-%dT%H:%M:%S.%fZ")) == v2
    assert at("--at", "2000-01-01") == []

    rows = as_json(capsys, archive, "top-stories", "--at", first.isoformat())
    assert {r["site"] for r in rows} == {"demo", "paper"}  # every site's latest snapshot
    assert utc(rows[0]["captured_at"]) <= first

    code, out, _ = newscrawl(capsys, archive, "top-stories", "--site", "paper")
    lines = out.splitlines()
    assert lines[0].startswith("Top stories at ")
    assert lines[1].split() == ["snapshot", "(UTC)", "site", "rank", "title", "url"]
    assert lines[3].split()[1:4] == ["paper", "1", "Old"]
    assert second.strftime("%Y-%m-%dT%H:%M:%SZ") in lines[3]
    code, out, _ = newscrawl(capsys, archive, "top-stories", "--at", "2000-01-01")
    assert out == "No top-stories snapshot at or before 2000-01-01T00:00:00Z.\n"


def test_top_stories_over_a_range(capsys, archive):
    first, second = snapshot_times(archive)
    rows = as_json(
        capsys, archive, "top-stories", "--site", "paper",
        "--from", first.isoformat(), "--to", second.isoformat(),
    )  # fmt: skip
    by_url = {r["url"]: r for r in rows}
    bridge = by_url[paper(archive, 3)]
    assert (bridge["best_rank"], bridge["snapshots"]) == (1, 2)
    assert (utc(bridge["first_seen"]), utc(bridge["last_seen"])) == (first, second)
    assert bridge["span_seconds"] == int((second - first).total_seconds())
    budget = by_url[paper(archive, 2)]
    assert (budget["best_rank"], budget["snapshots"]) == (2, 1)
    # The latest headline a story had in the range.
    assert by_url[paper(archive, 5)]["title"] == "Mayor opens new library in the Old Town"
    assert [r["best_rank"] for r in rows] == sorted(r["best_rank"] for r in rows)
    assert set(by_url) == {paper(archive, n) for n in (1, 2, 3, 5)}

    later = as_json(capsys, archive, "top-stories", "--site", "paper", "--from", second.isoformat())
    assert [(r["url"], r["snapshots"]) for r in later] == [
        (paper(archive, n), 1) for n in (3, 1, 5)
    ]
    # Dates: --to DATE includes the whole day.
    today = second.date().isoformat()
    whole_day = as_json(capsys, archive, "top-stories", "--from", today, "--to", today)
    stories_that_day = sql(
        archive,
        "select distinct site, url from top_stories where date(captured_at) = :day",
        day=today,
    )
    assert {(r["site"], r["url"]) for r in whole_day} == {
        (r["site"], r["url"]) for r in stories_that_day
    }
    assert {paper(archive, n) for n in (1, 2, 3, 5)} <= {r["url"] for r in whole_day}

    code, out, _ = newscrawl(capsys, archive, "top-stories", "--site", "paper", "--from", today)
    lines = out.splitlines()
    assert lines[0].split() == [
        "best", "site", "title", "first", "seen", "(UTC)", "last", "seen", "(UTC)", "span",
        "snapshots", "url",
    ]  # fmt: skip
    assert lines[2].split()[:2] == ["1", "paper"]

    code, _, err = newscrawl(capsys, archive, "top-stories", "--at", today, "--from", today)
    assert code == 2 and "--at cannot be combined with --from/--to" in err


# --------------------------------------------------------------------------- runs


def test_runs_with_counts_and_extraction_health(capsys, archive):
    code, out, _ = newscrawl(capsys, archive, "runs")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == [
        "id", "site", "spider", "started", "(UTC)", "took", "status", "pages", "skipped", "new",
        "updated", "same", "rejected", "errors", "health",
    ]  # fmt: skip
    assert lines[2].split()[:2] == ["9", "down"]  # newest first
    assert "    failed: no page could be fetched" in out
    warning = next(line for line in lines if line.startswith("    warning: "))
    assert "site paper" in warning and "author" in warning and "0% of 6 articles" in warning
    assert any(line.split()[:2] == ["7", "paper"] and line.endswith("1 warning") for line in lines)

    failed = as_json(capsys, archive, "runs", "--status", "failed")
    assert [(r["site"], r["status"]) for r in failed] == [("down", "failed")]
    assert "no page could be fetched" in failed[0]["finish_reason"]

    demo = as_json(capsys, archive, "runs", "--site", "demo")
    assert [(r["spider"], r["status"]) for r in demo] == [
        ("top_stories", "finished"),
        ("articles", "finished"),
    ]
    articles_run = demo[1]
    assert articles_run["articles_new"] == len(ARTICLES)
    assert demo[0]["pages_skipped_known"] == 4  # the top stories were stored already
    assert articles_run["field_fill_rates"]["articles"] == len(ARTICLES)
    assert articles_run["health_warnings"] is None
    assert utc(articles_run["started_at"]) <= utc(articles_run["finished_at"])

    spiders = {r["spider"] for r in as_json(capsys, archive, "runs", "--spider", "top_stories")}
    assert spiders == {"top_stories"}
    assert len(as_json(capsys, archive, "runs", "--limit", "2")) == 2
    with pytest.raises(SystemExit) as exit_info:
        newscrawl(capsys, archive, "runs", "--status", "broken")
    assert exit_info.value.code == 2


# --------------------------------------------------------------------------- export


def test_export_json_lines_with_every_column(capsys, archive, tmp_path):
    target = tmp_path / "articles.jsonl"
    code, out, err = newscrawl(capsys, archive, "export", "--format", "jsonl", "-o", str(target))
    assert (code, out) == (0, "")
    assert f"exported {ALL_ARTICLES} articles to {target}" in err
    lines = target.read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    assert len(rows) == ALL_ARTICLES  # duplicates included: duplicate_of says which
    assert all(list(r) == article_columns() for r in rows)
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)
    library = next(r for r in rows if r["url"] == paper(archive, 5))
    assert library["version"] == 2 and library["body"].startswith("The mayor opened")
    assert utc(library["published_at"]) == datetime(2024, 3, 5, 9, tzinfo=UTC)
    assert utc(library["first_seen_at"]) <= utc(library["last_seen_at"])
    assert isinstance(library["sources"], dict)
    tagged = next(r for r in rows if r["site"] == "demo" and r["tags"])
    assert isinstance(tagged["tags"], list)
    assert sum(r["duplicate_of"] is not None for r in rows) == WIRE_ARTICLES
    assert not list(tmp_path.glob("*.partial"))

    code, out, _ = newscrawl(capsys, archive, "export", "--exclude-duplicates")
    assert len(out.splitlines()) == ALL_ARTICLES - WIRE_ARTICLES


def test_export_csv_to_stdout_with_filters(capsys, archive):
    code, out, err = newscrawl(
        capsys, archive, "export", "--format", "csv", "--site", "demo", "--since", "2021-09-21"
    )
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    since = datetime(2021, 9, 21, tzinfo=UTC)
    expected = [a for a in ARTICLES if a.published >= since]
    assert len(rows) == len(expected) and f"exported {len(rows)} articles" in err
    assert list(rows[0]) == article_columns()
    by_url = {r["url"]: r for r in rows}
    stored = as_json(capsys, archive, "articles", "--site", "demo", "--limit", "0")
    for article in stored:
        if article["url"] in by_url:
            row = by_url[article["url"]]
            assert row["tags"] == ";".join(article["tags"])  # tags joined with ;
            assert utc(row["published_at"]) == utc(article["published_at"])
            assert row["title"] == article["title"]
    assert all(r["duplicate_of"] == "" for r in rows)  # null is empty
    assert {r["published_tz_known"] for r in rows} <= {"true", "false", ""}
    assert "\n\n" in rows[0]["body"]  # paragraphs survive the quoting


# --------------------------------------------------------------------------- browse


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def test_browse_serves_the_archive_in_datasette(archive, tmp_path):
    first, _ = snapshot_times(archive)
    port = free_port()
    base = f"http://127.0.0.1:{port}/archive"
    log = tmp_path / "browse.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "crawler.cli", "browse", "--no-open", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env={**os.environ, "NEWSCRAWL_DATABASE_URL": archive.url},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                fetch_json(f"http://127.0.0.1:{port}/-/versions.json")
                break
            except OSError:
                assert server.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "Datasette did not start"
                time.sleep(0.3)

        at = urllib.parse.quote(first.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
        stories = fetch_json(f"{base}/top_stories_at.json?at={at}&_shape=array")
        assert [s["url"] for s in stories if s["site"] == "paper"] == [
            paper(archive, n) for n in (1, 2, 3)
        ]
        assert [s["rank"] for s in stories if s["site"] == "paper"] == [1, 2, 3]

        latest = fetch_json(f"{base}/latest_articles.json?_shape=array")
        assert latest[0]["url"] == paper(archive, 6)
        assert "published (UTC)" in latest[0]  # readable column names

        [correction] = fetch_json(f"{base}/recent_corrections.json?_shape=array")
        assert correction["old title"] == "Mayor opens new library"
        assert correction["current title"] == "Mayor opens new library in the Old Town"

        # Full-text search on the articles table, FTS5 syntax.
        query = urllib.parse.quote('"river bridge closed"')
        found = fetch_json(f"{base}/articles.json?_search={query}&_shape=array")
        assert sorted(r["url"] for r in found) == sorted(
            [paper(archive, 3), f"{archive.paper_url}/wire/s/1"]
        )
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        finally:
            if server.poll() is None:
                server.kill()
    with socket.socket() as sock:  # Datasette stopped with it
        assert sock.connect_ex(("127.0.0.1", port)) != 0
    assert f"with Datasette at http://127.0.0.1:{port}/archive" in log.read_text()


def test_browse_writes_metadata_and_explains_postgresql(capsys, archive, tmp_path):
    target = tmp_path / "metadata.json"
    code, out, _ = newscrawl(capsys, archive, "browse", "--write-metadata", str(target))
    assert code == 0 and str(target) in out
    metadata = json.loads(target.read_text())
    articles = metadata["databases"]["archive"]["tables"]["articles"]
    assert (articles["fts_table"], articles["fts_pk"], articles["searchmode"]) == (
        "articles_fts", "id", "raw",
    )  # fmt: skip
    assert articles["columns"]["published_at"] == "Publication time (UTC)"
    queries = metadata["databases"]["archive"]["queries"]
    assert {"latest_articles", "top_stories_at", "recent_corrections"} <= set(queries)
    assert ":at" in queries["top_stories_at"]["sql"]

    capsys.readouterr()
    code = main(["browse", "--database", "postgresql+psycopg://reader:secret@db.invalid/news"])
    err = capsys.readouterr().err
    assert code == 2
    assert "docs/schema.md" in err and "secret" not in err


@pytest.mark.e2e
def test_help_lists_the_query_commands():
    proc = subprocess.run(
        [sys.executable, "-m", "crawler.cli", "--help"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=60,
    )
    assert proc.returncode == 0
    for command in ("articles", "show", "search", "top-stories", "runs", "export", "browse"):
        assert command in proc.stdout
    assert Path(PROJECT_ROOT, "docs", "querying.md").exists()
