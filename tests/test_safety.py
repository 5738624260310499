"""Safety: site definitions are data and never run code; downloaded content
is never executed or allowed to reach local files; the database password
never appears in logs or command output; sizes, depths and request counts
have limits with documented defaults (docs/robustness.md)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from support.processes import scrapy_crawl
from support.sites import article_html, listing_html, paragraphs, site_definition

from crawler.cli.main import main as cli_main
from crawler.scheduling.runner import PROJECT_ROOT
from crawler.sites.definitions import SiteConfigError, load_site_file

FAST = ("-s", "AUTOTHROTTLE_ENABLED=False")


def newscrawl(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "crawler.cli", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


# --------------------------------------------------------------------------- site definitions

CODE_TAGS = [
    "!!python/object/apply:os.system ['touch {marker}']",
    "!!python/object/new:subprocess.Popen [['touch', '{marker}']]",
    "!!python/name:os.system",
    "!!python/module:os",
]


@pytest.mark.parametrize("tag", CODE_TAGS)
def test_yaml_tags_are_refused_and_never_run(tmp_path, tag):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.yaml"
    path.write_text(
        "name: evil\nbase_url: http://127.0.0.1:9/\n"
        f"listing: {{start_urls: [/], article_links: {tag.format(marker=marker)}}}\n"
        "article: {body: p}\n"
    )
    with pytest.raises(SiteConfigError):
        load_site_file(path)
    assert not marker.exists()


def test_a_definition_with_a_code_tag_stops_the_crawl(site, tmp_path, database_url):
    marker = tmp_path / "ran"
    (site.sites_dir / "evil.yaml").write_text(
        site_definition("evil", site.url, ["/news/"]).replace(
            "article:\n",
            f"article:\n  author: !!python/object/apply:os.system ['touch {marker}']\n",
        )
    )
    proc = scrapy_crawl("articles", "-a", "site=evil", *FAST)
    assert proc.returncode == 2
    assert "evil.yaml" in proc.stderr and "not valid YAML" in proc.stderr
    assert not marker.exists()
    assert site.fetched() == []


def test_code_in_definition_strings_is_only_ever_text(site, tmp_path, archive):
    marker = tmp_path / "ran"
    code = f"__import__('os').system('touch {marker}')"
    site.page("/news/", listing_html(["/a/1"]))
    site.page("/a/1", article_html("A story", [code + " stays text.", *paragraphs(1)]))
    (site.sites_dir / "plain.yaml").write_text(
        site_definition("plain", site.url, ["/news/"]).replace(
            "article:\n",
            # Regular expressions and a meta name: matched as patterns, never evaluated.
            f'article:\n  drop_paragraphs: ["{code}"]\n  section: {{meta: "{code}"}}\n',
        )
    )
    proc = scrapy_crawl("articles", "-a", "site=plain", *FAST)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not marker.exists()
    row = archive.rows("select body, section from articles")[0]
    assert row["section"] is None
    assert row["body"].startswith(code + " stays text.")


# --------------------------------------------------------------------------- downloaded content

SCRIPTED = """<html><head><title>Scripts and templates</title>
<script>document.write("SCRIPT-RAN"); fetch("/a/beacon")</script>
<script type="application/ld+json">{"@type": "NewsArticle",
 "headline": "!!python/object/apply:os.system ['touch MARKER']",
 "author": {"name": "{{7*7}}"}}</script>
<meta http-equiv="refresh" content="0; url=file:///etc/passwd">
</head><body onload="fetch('/a/beacon')"><h1>Scripts and templates</h1>
<div class="story">
<p>Templates stay text: {{7*7}} ${7*7} #{7*7} <%= 7*7 %> and <?php echo 7*7; ?>.</p>
<p>A second paragraph, long enough for the minimum body length of the site.</p>
<img src="/a/beacon" onerror="fetch('/a/beacon')"></div></body></html>"""


def test_downloaded_content_is_never_executed(site, tmp_path, archive):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOKEN-9f2c1")
    site.page("/news/", listing_html(["/a/scripted", "/a/to-file", "file:///etc/passwd"]))
    site.page("/a/scripted", SCRIPTED.replace("MARKER", str(tmp_path / "ran")))
    site.redirect("/a/to-file", "file:///etc/hostname", 302)
    # A sitemap whose entity would read a local file into a URL, if entities were resolved.
    site.page(
        "/sitemap.xml",
        f'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY secret SYSTEM "file://{secret}">]>'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{site.url}/a/from-sitemap-&secret;</loc></url></urlset>",
        **{"Content-Type": "application/xml"},
    )
    (site.sites_dir / "scripted.yaml").write_text(
        site_definition("scripted", site.url, ["/news/"], sitemaps="[/sitemap.xml]")
    )
    proc = scrapy_crawl("articles", "-a", "site=scripted", *FAST)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # Nothing listens for code to run in the crawl either.
    assert "scrapy.extensions.logstats.LogStats" in proc.stderr  # the list of extensions
    for extension in ("remote_control.RemoteControl", "telnet.TelnetConsole"):
        assert f"scrapy.extensions.{extension}" not in proc.stderr
    assert "Remote control HTTP server" not in proc.stderr

    fetched = site.fetched()
    assert "/a/beacon" not in fetched  # nothing in a page ran
    assert not [p for p in fetched if "TOKEN" in p]  # no local file was read
    assert not (tmp_path / "ran").exists()
    rows = archive.rows("select url, title, body, author from articles")
    assert [r["url"] for r in rows] == [f"{site.url}/a/scripted"]
    body = rows[0]["body"]
    assert body.startswith("Templates stay text: {{7*7}} ${7*7} #{7*7}")
    assert "SCRIPT-RAN" not in body and "49" not in body
    assert "TOKEN" not in str(archive.rows("select * from articles"))


# --------------------------------------------------------------------------- the password

PASSWORD = "Pa55-never-shown-8c1e"


def test_database_password_never_in_logs_or_output(site, postgres_url, capsys):
    user_host = postgres_url.split("://", 1)[1]
    secret_url = postgres_url.replace(user_host, user_host.replace("@", f":{PASSWORD}@", 1))
    assert PASSWORD in secret_url
    site.page("/news/", listing_html(["/a/1", "/a/2"]))
    site.page("/a/1", article_html("One", paragraphs(1)))
    site.page("/a/2", "<html><body>no story here</body></html>")  # rejected, and logged
    (site.sites_dir / "paper.yaml").write_text(site_definition("paper", site.url, ["/news/"]))
    env = dict(os.environ)
    outputs = []

    # newscrawl, with the URL as an option.
    for args in (["db", "upgrade"], ["status"], ["summary"]):
        assert cli_main([*args, "--database", secret_url]) == 0
        captured = capsys.readouterr()
        outputs.append(captured.out + captured.err)
    assert "postgres:***@" in outputs[0]
    proc = newscrawl("crawl", "paper", "--database", secret_url, "--log-level", "DEBUG", env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "run 1: paper/articles finished" in proc.stdout
    outputs.append(proc.stdout + proc.stderr)

    # scrapy crawl, with the URL as a setting on the command line, at DEBUG level.
    def scrapy(url: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "scrapy",
                "crawl",
                "articles",
                "-a",
                "site=paper",
                "-a",
                "refetch=true",
                "-s",
                f"NEWSCRAWL_DATABASE_URL={url}",
                "-s",
                "LOG_LEVEL=DEBUG",
                *FAST,
            ],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    proc = scrapy(secret_url)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "run 2 finished" in proc.stderr
    outputs.append(proc.stdout + proc.stderr)

    # A database that cannot be reached: the error names it without its password.
    proc = scrapy(re.sub(r"@[^/]+/", "@127.0.0.1:9/", secret_url))
    assert proc.returncode == 1
    assert "cannot use the database postgresql+psycopg://postgres:***@127.0.0.1:9/" in proc.stderr
    outputs.append(proc.stdout + proc.stderr)

    for output in outputs:
        assert PASSWORD not in output


# --------------------------------------------------------------------------- limits

ROBUSTNESS = PROJECT_ROOT / "docs" / "robustness.md"


def documented_limits() -> dict[str, str]:
    """The limits table of docs/robustness.md: setting -> default as written."""
    text = ROBUSTNESS.read_text(encoding="utf-8")
    table = text.split("## Limits", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"^\| `([A-Za-z_.]+)` \| `([^`]+)`", table, re.MULTILINE))


def test_limits_have_documented_defaults():
    from scrapy.settings import Settings

    from crawler.sites.definitions import ListingRules, TopStoriesRules

    settings = Settings()
    settings.setmodule("settings.scrapy_settings")
    documented = documented_limits()
    for name in (
        "DOWNLOAD_MAXSIZE",
        "DOWNLOAD_WARNSIZE",
        "DOWNLOAD_TIMEOUT",
        "RETRY_TIMES",
        "REDIRECT_MAX_TIMES",
        "CLOSESPIDER_PAGECOUNT",
        "CONCURRENT_REQUESTS_PER_DOMAIN",
        "STORE_OUTAGE_WAIT",
    ):
        assert name in documented, f"{name} is not in the limits table of {ROBUSTNESS}"
        assert int(documented[name].replace("_", "").replace(",", "")) == settings.getint(name), (
            name
        )
    assert int(documented["listing.max_pages"]) == ListingRules(start_urls=["/"]).max_pages
    assert documented["top_stories.max_entries"] == "all"
    assert TopStoriesRules(pages=["/"], entries="li").max_entries is None


def test_request_count_limit_ends_the_crawl(site, archive):
    links = [f"/a/{n}" for n in range(60)]
    site.page("/news/", listing_html(links))
    for n, link in enumerate(links):
        site.page(link, article_html(f"Story {n}", paragraphs(n)))
    (site.sites_dir / "big.yaml").write_text(site_definition("big", site.url, ["/news/"]))
    proc = scrapy_crawl("articles", "-a", "site=big", *FAST, "-s", "CLOSESPIDER_PAGECOUNT=10")
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = archive.rows("select * from crawl_runs")[0]
    assert (run["status"], run["finish_reason"]) == ("finished", "closespider_pagecount")
    # Requests already on their way when the limit is reached still arrive.
    assert run["pages_fetched"] >= 10
    assert len(site.fetched()) < 2 + 60
    assert archive.scalar("select count(*) from articles") < 60


def test_endless_pagination_stops_at_max_pages(site, archive):
    for n in range(1, 20):  # a listing whose every page links to one more
        site.page(f"/news/{n}", listing_html([f"/a/{n}"], next_page=f"/news/{n + 1}"))
        site.page(f"/a/{n}", article_html(f"Story {n}", paragraphs(n)))
    (site.sites_dir / "deep.yaml").write_text(
        site_definition("deep", site.url, ["/news/1"], max_pages=3)
    )
    proc = scrapy_crawl("articles", "-a", "site=deep", *FAST)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [p for p in site.fetched() if p.startswith("/news/")] == [
        "/news/1",
        "/news/2",
        "/news/3",
    ]
    assert archive.scalar("select count(*) from articles") == 3
    run = archive.rows("select * from crawl_runs")[0]
    assert (run["status"], run["finish_reason"]) == ("finished", "finished")


def test_requests_at_a_time_per_site_hold_without_autothrottle(site, archive):
    # Scrapy 2.19 alone starts every waiting request at once when there is no
    # download delay (crawler/middlewares/downloader.py); the limit must hold anyway.
    links = [f"/a/{n}" for n in range(8)]
    site.page("/news/", listing_html(links))
    for n, link in enumerate(links):
        site.slow(link, article_html(f"Story {n}", paragraphs(n)), delay=0.3)
    (site.sites_dir / "busy.yaml").write_text(site_definition("busy", site.url, ["/news/"]))
    proc = scrapy_crawl(
        "articles", "-a", "site=busy", *FAST, "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2"
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert archive.scalar("select count(*) from articles") == 8
    assert site.most_in_flight == 2
