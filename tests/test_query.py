"""The query commands (articles, show, top-stories, runs, export, browse) on a
SQLite archive filled by real crawls of sites served on 127.0.0.1, run through
the command line's entry point and asserted on their tables and JSON: one time
format for people (``2024-03-06 09:00 UTC``), ISO 8601 with ``Z`` in JSON, a
line under a listing that ``--limit`` cut, a missing archive and an unknown
``--site`` refused."""

from __future__ import annotations

import csv
import io
import json
import os
import re
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
    listed = ALL_ARTICLES - WIRE_ARTICLES  # every article but the wire's copy
    code, out, err = newscrawl(capsys, archive, "articles", "--limit", "3")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == ["id", "published", "site", "title", "url"]
    # The paper's articles (2024) are newer than the demo site's (2021).
    assert "2024-03-06 09:00 UTC  paper  Ереван: новый мост открыт" in lines[2]
    assert lines[2].endswith(paper(archive, 6))
    assert "Mayor opens new library in the Old Town" in lines[3]
    # The list says where it was cut, and how to see the rest.
    assert lines[5:] == [f"showing 3 of {listed}; --limit N for more, --limit 0 for all"]

    code, out, err = newscrawl(capsys, archive, "articles", "--limit", "0", "--json")
    assert (code, err) == (0, "")
    rows = json.loads(out)
    assert len(rows) == listed
    assert all(r["duplicate_of"] is None for r in rows)
    # JSON times: ISO 8601 in UTC with Z.
    assert all(r["published_at"].endswith("Z") for r in rows if r["published_at"])
    assert all(r["first_seen_at"].endswith("Z") for r in rows)
    times = [utc(r["published_at"]) for r in rows]
    assert times == sorted(times, reverse=True)
    assert rows[0]["url"] == paper(archive, 6) and rows[0]["tags"] == []
    assert rows[0]["published_at"] == "2024-03-06T09:00:00Z"
    assert {"id", "site", "title", "url", "author", "section", "first_seen_at"} <= set(rows[0])

    # With --json the note goes to stderr: stdout stays one JSON document.
    code, out, err = newscrawl(capsys, archive, "articles", "--json")
    assert len(json.loads(out)) == 20  # the default limit
    assert err == f"showing 20 of {listed}; --limit N for more, --limit 0 for all\n"
    # A list that holds every match says nothing more.
    code, out, _ = newscrawl(capsys, archive, "articles", "--site", "paper", "--limit", "6")
    assert out.splitlines()[-1].endswith(paper(archive, 1))


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
    code, out, _ = newscrawl(
        capsys, archive, "articles", "--site", "paper", "--since", "2030-01-01"
    )
    assert (code, out) == (0, "No articles match.\n")


def test_one_duplicates_flag_and_the_old_ones_still_read(capsys, archive):
    def urls(*args: str) -> list[str]:
        rows = as_json(capsys, archive, "articles", "--site", "wire", "--limit", "0", *args)
        return [r["url"] for r in rows]

    copy = [f"{archive.paper_url}/wire/s/1"]
    assert urls() == urls("--no-duplicates") == urls("--exclude-duplicates") == []
    assert urls("--duplicates") == urls("--include-duplicates") == copy
    assert urls("--duplicates", "--no-duplicates") == []  # the last one given counts

    def exported(*args: str) -> int:
        code, out, err = newscrawl(capsys, archive, "export", *args)
        assert code == 0 and out.count("\n") == int(err.split()[2])
        return int(err.split()[2])  # "newscrawl: exported N articles"

    assert exported() == exported("--duplicates") == ALL_ARTICLES  # export includes them
    assert exported("--no-duplicates") == exported("--exclude-duplicates") == ALL_ARTICLES - 1
    assert exported("--include-duplicates") == ALL_ARTICLES

    # The help names the one flag and each command's default; the old flags are hidden.
    for command, default in (("articles", "left out"), ("export", "included")):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "--duplicates, --no-duplicates" in text and f"(default: {default})" in text
        assert "--include-duplicates" not in text and "--exclude-duplicates" not in text


def test_since_and_until_read_words(capsys, archive):
    """``--since yesterday``, ``--since "N days ago"``: a day in UTC, from its
    first instant (``--until``: through its last), as a date would be."""
    everything = as_json(capsys, archive, "articles", "--limit", "0")
    # The archive's articles were all published before yesterday.
    assert as_json(capsys, archive, "articles", "--since", "yesterday") == []
    assert as_json(capsys, archive, "articles", "--until", "yesterday", "--limit", "0") == (
        everything
    )
    for _ in range(2):  # again if the day (UTC) changed while it ran
        today = datetime.now(UTC).date()
        days = (today - datetime(2024, 3, 5).date()).days
        rows = as_json(
            capsys, archive, "articles", "--site", "paper", "--since", f"{days} days ago"
        )
        if datetime.now(UTC).date() == today:
            break
    assert [r["url"] for r in rows] == [paper(archive, 6), paper(archive, 5)]
    code, out, _ = newscrawl(capsys, archive, "top-stories", "--from", "2 days ago", "--json")
    assert code == 0 and isinstance(json.loads(out), list)


@pytest.mark.parametrize(
    "args",
    [
        ["articles", "--since", "soon"],
        ["articles", "--until", "2024-02-30"],
        ["search", "tram", "--since", "13/13/2024"],
        ["top-stories", "--at", "next blursday"],
        ["top-stories", "--from", "2024-03-05T25:00"],
        ["top-stories", "--to", "whenever"],
        ["export", "--since", "not a time"],
    ],
)
def test_a_bad_time_names_the_option_and_the_expected_form(capsys, archive, args):
    with pytest.raises(SystemExit) as exit_info:
        newscrawl(capsys, archive, *args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    option = next(a for a in args if a.startswith("--"))
    assert f"argument {option}: expected a date (2024-03-05), an ISO-8601 time" in err
    assert "'yesterday'" in err and repr(args[-1]) in err


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
    assert "newscrawl articles: error: argument --since: expected a date (2024-03-05)" in (
        proc.stderr
    )
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("value", HOSTILE)
def test_filter_values_are_bound_as_text(capsys, archive, value):
    before = sql(archive, "select count(*) as n from articles")[0]["n"]
    for option in ("--section", "--author"):
        assert as_json(capsys, archive, "articles", option, value) == []
        assert as_json(capsys, archive, "search", "library", option, value) == []
        code, out, err = newscrawl(capsys, archive, "export", option, value)
        assert (code, out) == (0, "") and "exported 0 articles" in err
    # A site no definition and no row names is refused, whatever it holds.
    for args in (
        ["articles"], ["summary"], ["runs"], ["top-stories"],
        ["top-stories", "--from", "2000-01-01"], ["export"], ["search", "library"],
    ):  # fmt: skip
        code, out, err = newscrawl(capsys, archive, *args, "--site", value)
        assert (code, out) == (2, "")
        assert err.startswith(f"newscrawl: unknown site {value!r}; known sites: ")
    code, _, err = newscrawl(capsys, archive, "show", value)
    assert code == 1 and f"no article with the id or URL {value!r}" in err
    assert sql(archive, "select count(*) as n from articles")[0]["n"] == before == ALL_ARTICLES


@pytest.mark.parametrize(
    "args",
    [
        ["summary"], ["articles"], ["show", "1"], ["search", "covid-19"], ["top-stories"],
        ["runs"], ["export"], ["browse"],
    ],
)  # fmt: skip
def test_a_query_never_creates_a_database(capsys, tmp_path, args):
    missing = tmp_path / "missing.db"
    capsys.readouterr()
    assert main([*args, "--database", f"sqlite:///{missing}"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    [line] = err.splitlines()
    assert line.startswith(f"newscrawl: no archive at {missing}: crawl a site to create one")
    assert not missing.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "command", [["articles"], ["summary"], ["runs"], ["top-stories"], ["export"], ["search", "x"]]
)
def test_an_unknown_site_lists_the_known_ones(capsys, archive, command):
    code, out, err = newscrawl(capsys, archive, *command, "--site", "papr")
    assert (code, out) == (2, "")
    [line] = err.splitlines()
    assert line.startswith("newscrawl: unknown site 'papr'; known sites: ")
    known = line.split("known sites: ")[1].split(", ")
    # The sites stored in the archive, and those with a definition.
    assert {"demo", "paper", "wire", "down"} <= set(known) and known == sorted(known)


# --------------------------------------------------------------------------- show


def test_show_an_article_with_its_versions_and_diff(capsys, archive):
    library = article_id(archive, paper(archive, 5))
    code, out, _ = newscrawl(capsys, archive, "show", str(library))
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Mayor opens new library in the Old Town"
    # The values line up two columns after the longest name ("duplicate of").
    assert f"url           {paper(archive, 5)}" in lines
    assert "author        Davit Hakobyan" in lines
    assert "published     2024-03-05 09:00 UTC (page: '2024-03-05T09:00:00+00:00')" in lines
    assert "version       2" in lines
    assert "duplicate of  -" in lines
    assert "The mayor opened the new library on Friday. It holds sixty thousand books." in lines
    versions = lines[lines.index("Versions:") + 1 :]
    assert versions[0].startswith("  1  until          20") and versions[0].endswith(
        " UTC  Mayor opens new library"
    )
    assert versions[1].startswith("  2  current since  20")
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
    assert document["revisions"][0]["captured_at"].endswith("Z")
    assert document["published_at"] == "2024-03-05T09:00:00Z"
    [change] = document["diffs"]
    assert (change["from_version"], change["to_version"]) == (1, 2)
    assert "+It holds sixty thousand books." in change["body_diff"].splitlines()


def test_show_a_duplicate_names_the_original(capsys, archive):
    original = article_id(archive, paper(archive, 3))
    code, out, _ = newscrawl(capsys, archive, "show", f"{archive.paper_url}/wire/s/1")
    assert code == 0
    assert f"duplicate of  {original} (Old bridge shut for repairs)" in out.splitlines()
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
    assert lines[0].startswith("Top stories at ") and lines[0].count(" UTC ") == 1
    assert lines[1].split() == ["snapshot", "site", "rank", "title", "url"]
    assert lines[3].startswith(f"{second:%Y-%m-%d %H:%M} UTC  paper     1  Old bridge")
    code, out, _ = newscrawl(capsys, archive, "top-stories", "--at", "2000-01-01")
    assert out == "No top-stories snapshot at or before 2000-01-01 00:00 UTC.\n"

    # --limit cuts the list, and says so.
    code, out, _ = newscrawl(capsys, archive, "top-stories", "--site", "paper", "--limit", "2")
    assert out.splitlines()[-1] == "showing 2 of 3; --limit N for more, --limit 0 for all"
    assert len(out.splitlines()) == 1 + 2 + 2 + 1


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
        "best", "site", "title", "first", "seen", "last", "seen", "span", "snapshots", "url",
    ]  # fmt: skip
    assert lines[2].split()[:2] == ["1", "paper"]
    assert f"{first:%Y-%m-%d %H:%M} UTC  {second:%Y-%m-%d %H:%M} UTC" in lines[2]
    assert len(lines) == 2 + 4

    args = ("top-stories", "--site", "paper", "--from", today, "--limit", "3")
    code, out, err = newscrawl(capsys, archive, *args)
    assert out.splitlines()[-1] == "showing 3 of 4; --limit N for more, --limit 0 for all"
    code, out, err = newscrawl(capsys, archive, *args, "--json")
    assert len(json.loads(out)) == 3 and err.startswith("showing 3 of 4;")

    code, _, err = newscrawl(capsys, archive, "top-stories", "--at", today, "--from", today)
    assert code == 2 and "--at cannot be combined with --from/--to" in err


# --------------------------------------------------------------------------- runs


def test_runs_with_counts_and_extraction_health(capsys, archive):
    code, out, _ = newscrawl(capsys, archive, "runs")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == [
        "id", "site", "spider", "started", "took", "status", "pages", "skipped", "new",
        "updated", "same", "rejected", "errors", "health",
    ]  # fmt: skip
    assert re.match(r" 9  down +articles +\d{4}-\d\d-\d\d \d\d:\d\d UTC  ", lines[2]), lines[2]
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
    runs = len(as_json(capsys, archive, "runs", "--limit", "0"))
    code, out, _ = newscrawl(capsys, archive, "runs", "--site", "paper", "--limit", "1")
    paper_runs = len(as_json(capsys, archive, "runs", "--site", "paper", "--limit", "0"))
    assert out.splitlines()[-1] == (
        f"showing 1 of {paper_runs}; --limit N for more, --limit 0 for all"
    )
    code, out, _ = newscrawl(capsys, archive, "runs", "--limit", str(runs))
    assert "showing" not in out
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

    assert library["published_at"] == "2024-03-05T09:00:00Z"  # ISO 8601 with Z

    code, out, _ = newscrawl(capsys, archive, "export", "--no-duplicates")
    assert len(out.splitlines()) == ALL_ARTICLES - WIRE_ARTICLES


@pytest.mark.parametrize(
    "name, options, written",
    [
        ("out.csv", [], "csv"),
        ("OUT.CSV", [], "csv"),
        ("out.jsonl", [], "jsonl"),
        ("out.txt", [], "jsonl"),
        ("out", [], "jsonl"),
        ("out.csv", ["--format", "jsonl"], "jsonl"),
        ("out.jsonl", ["--format", "csv"], "csv"),
    ],
)
def test_export_writes_the_format_the_file_name_says(
    capsys, archive, tmp_path, name, options, written
):
    target = tmp_path / name
    code, out, err = newscrawl(
        capsys, archive, "export", "--site", "paper", *options, "-o", str(target)
    )
    assert (code, out) == (0, "")
    shown = {"csv": "CSV", "jsonl": "JSON Lines"}[written]
    assert err == f"newscrawl: exported {PAPER_ARTICLES} articles to {target} as {shown}\n"
    content = target.read_text(encoding="utf-8")
    if written == "csv":
        rows = list(csv.DictReader(io.StringIO(content, newline="")))
        assert list(rows[0]) == article_columns()
    else:
        rows = [json.loads(line) for line in content.splitlines()]
        assert list(rows[0]) == article_columns()
    assert len(rows) == PAPER_ARTICLES
    assert {r["published_at"][-1] for r in rows} == {"Z"}


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
    assert (articles["fts_table"], articles["fts_pk"]) == ("articles_fts", "id")
    # No raw FTS5 syntax: the search box reads the language of newscrawl search.
    assert "searchmode" not in articles
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
