"""Site definitions' regular expressions run with a time bound
(crawler/sites/patterns.py): a pattern that backtracks without end on some page gets
that page rejected with the reason, and the crawl goes on and finishes.

The crawls are real: Scrapy in a child process against a scripted site on
127.0.0.1. A crawl that hangs fails the test when its generous time runs out.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import subprocess
import sys

import pytest
from support.sites import ScriptedSite, article_html, listing_html, paragraphs, site_definition

from crawler.cli.main import main
from crawler.extraction.cleaning import clean_body
from crawler.extraction.processes import PageReader
from crawler.extraction.rules import extract_article
from crawler.scheduling.runner import PROJECT_ROOT, crawl_env
from crawler.sites.definitions import Site, SiteConfigError, load_sites, site_patterns
from crawler.sites.patterns import (
    TIMEOUT,
    BoundedPattern,
    PatternTimeout,
    compile_pattern,
    nested_quantifiers,
)

# On a run of a's that ends otherwise, these backtrack for longer than the
# bound: the regex package, like Python's re, tries every way to split the run.
SLOW = "(a|aa)+$"
SLOW_TEXT = "a" * 40 + "!"
# The pattern of the report: exponential under Python's re (a run of 40 a's
# never ends), quick under the regex package, which sees through it.
REPORTED = "(a+)+$"
HANG_GUARD = 240  # seconds: a crawl of three pages that is still going then has hung
FINE_TITLE = "Harbour budget agreed after long talks"


def crawl(name: str, *settings: str) -> str:
    """``scrapy crawl articles -a site=NAME`` in a child process; fails (rather
    than hangs) when the crawl does not end."""
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "scrapy", "crawl", "articles", "-a", f"site={name}"]
            + ["-s", "AUTOTHROTTLE_ENABLED=False", *settings],
            cwd=PROJECT_ROOT,
            env=crawl_env(os.environ["NEWSCRAWL_DATABASE_URL"]),
            capture_output=True,
            text=True,
            timeout=HANG_GUARD,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the crawl of {name} did not end within {HANG_GUARD} s")
    assert proc.returncode == 0, proc.stderr[-3000:]
    for crash in ("Spider error processing", "Error processing", "Error caught on signal handler"):
        assert crash not in proc.stderr, proc.stderr[-3000:]
    return proc.stderr


def define(site: ScriptedSite, name: str, links: list[str], article: str = "", **listing) -> None:
    site.page("/news/", listing_html(links))
    text = site_definition(name, site.url, ["/news/"], **listing) + article
    (site.sites_dir / f"{name}.yaml").write_text(text)


def outcome(archive) -> tuple[dict, dict[str, dict], dict[str, dict]]:
    """The run, the stored articles and the rejected items, by URL path."""
    run = archive.rows("select * from crawl_runs order by id desc limit 1")[0]
    stored = {r["url"].split("/", 3)[3]: r for r in archive.rows("select * from articles")}
    rejected = {
        r["url"].split("/", 3)[3]: r
        for r in archive.rows("select url, stage, reason from rejected_items")
    }
    return run, stored, rejected


# --------------------------------------------------------------------------- crawls


@pytest.mark.parametrize("processes", ["0", "1"], ids=["crawl-process", "extraction-process"])
def test_a_title_regex_that_runs_too_long_rejects_the_page(site, archive, processes):
    site.page("/a/bad", article_html(SLOW_TEXT, paragraphs(1)))
    site.page("/a/fine", article_html(FINE_TITLE, paragraphs(2)))
    define(
        site,
        "regexy",
        ["/a/bad", "/a/fine"],
        article=f"  title: {{css: h1, regex: '{SLOW}'}}\n",
    )
    if processes == "1":
        # Time for the extraction process to start before the article pages
        # come (they are read in the crawl process until it is ready);
        # test_a_timeout_in_an_extraction_process_crosses_over checks it without a clock.
        site.slow("/news/", listing_html(["/a/bad", "/a/fine"]), delay=3)

    stderr = crawl("regexy", "-s", f"EXTRACTION_PROCESSES={processes}")

    run, stored, rejected = outcome(archive)
    assert run["status"] == "finished"
    assert sorted(stored) == ["a/fine"]
    assert stored["a/fine"]["title"] == FINE_TITLE
    reason = f"regex '{SLOW}' of title took longer than {TIMEOUT:g} s"
    assert {path: (r["stage"], r["reason"]) for path, r in rejected.items()} == {
        "a/bad": ("extract", reason)
    }
    assert run["items_rejected"] == 1
    assert f"{reason}: {site.url}/a/bad" in stderr


def test_the_reported_title_regex_no_longer_holds_the_crawl(site, archive):
    # Under Python's re this page pinned a CPU for good and the run stayed running.
    site.page("/a/bad", article_html(SLOW_TEXT, paragraphs(1)))
    site.page("/a/fine", article_html(FINE_TITLE, paragraphs(2)))
    define(
        site,
        "reported",
        ["/a/bad", "/a/fine"],
        article=f"  title: {{css: h1, regex: '{REPORTED}'}}\n",
    )

    crawl("reported", "-s", "EXTRACTION_PROCESSES=0")

    run, stored, rejected = outcome(archive)
    assert run["status"] == "finished"
    assert stored["a/fine"]["title"] == FINE_TITLE
    # Quick under the regex package (no match, so the title falls back to the
    # page's); rejected with the reason if a version of it ever is not.
    if "a/bad" in rejected:
        assert "took longer than" in rejected["a/bad"]["reason"]
    else:
        assert stored["a/bad"]["title"] == SLOW_TEXT


@pytest.mark.parametrize(
    ("key", "processes"),
    [("strip", "0"), ("drop_paragraphs", "1")],
    ids=["strip-crawl-process", "drop_paragraphs-extraction-process"],
)
def test_a_cleaning_pattern_that_runs_too_long_rejects_the_page(site, archive, key, processes):
    site.page("/a/bad", article_html("Bad story", [*paragraphs(1), SLOW_TEXT]))
    site.page("/a/fine", article_html(FINE_TITLE, paragraphs(2)))
    define(site, "cleany", ["/a/bad", "/a/fine"], article=f"  {key}: ['{SLOW}']\n")

    crawl("cleany", "-s", f"EXTRACTION_PROCESSES={processes}")

    run, stored, rejected = outcome(archive)
    assert run["status"] == "finished"
    assert sorted(stored) == ["a/fine"]
    assert stored["a/fine"]["body"] == "\n\n".join(paragraphs(2))
    assert {path: (r["stage"], r["reason"]) for path, r in rejected.items()} == {
        "a/bad": ("clean", f"regex '{SLOW}' of {key} took longer than {TIMEOUT:g} s")
    }


def _spider_bounds_url_patterns(site_name: str) -> bool:
    from crawler.spiders.articles import ArticlesSpider

    spider = ArticlesSpider(site=load_sites()[site_name])
    return isinstance(spider._include, BoundedPattern)


def test_a_url_pattern_that_runs_too_long_rejects_the_link(site, archive):
    bad = "/a/" + "a" * 40 + "b"
    site.page(bad, article_html("Never fetched", paragraphs(1)))
    site.page("/a/fine", article_html(FINE_TITLE, paragraphs(2)))
    pattern = "/a/(fine|(a|aa)+)$"
    define(site, "linky", [bad, "/a/fine"], article_url_pattern=f"'{pattern}'")
    if not _spider_bounds_url_patterns("linky"):
        pytest.skip("crawler/spiders/articles.py compiles its URL patterns with re")

    crawl("linky")

    run, stored, rejected = outcome(archive)
    assert run["status"] == "finished"
    assert sorted(stored) == ["a/fine"]
    assert {path: (r["stage"], r["reason"]) for path, r in rejected.items()} == {
        bad[1:]: (
            "discover",
            f"regex '{pattern}' of article_url_pattern took longer than {TIMEOUT:g} s",
        )
    }
    assert site.count(bad) == 0


class _Stats:
    def __init__(self) -> None:
        self.values: dict[str, object] = {}

    def set_value(self, key: str, value: object) -> None:
        self.values[key] = value

    def inc_value(self, key: str, count: int = 1) -> None:
        self.values[key] = int(self.values.get(key, 0)) + count  # type: ignore[call-overload]


class _Crawler:
    def __init__(self) -> None:
        self.stats = _Stats()


@pytest.mark.e2e
def test_a_timeout_in_an_extraction_process_crosses_over():
    site = Site.model_validate(
        {
            "name": "crossing",
            "base_url": "http://127.0.0.1:9/",
            "article": {"title": {"css": "h1", "regex": SLOW}, "body": "div.story"},
        }
    )
    page = article_html(SLOW_TEXT, paragraphs(1)).encode()

    async def scenario() -> PatternTimeout:
        reader = PageReader(site, 1, _Crawler())
        reader.open()
        try:
            for _ in range(1200):
                if reader.ready:
                    break
                await asyncio.sleep(0.05)
            assert reader.ready, "the extraction process did not start"
            with pytest.raises(PatternTimeout) as raised:
                await reader.read(page, "utf-8", "http://127.0.0.1:9/a/bad", False, None)
            # The process is still there for the next page.
            assert reader.ready and not reader.broken
            fine = article_html(FINE_TITLE, paragraphs(2)).encode()
            article = await reader.read(fine, "utf-8", "http://127.0.0.1:9/a/fine", False, None)
            assert article is not None and article.title == FINE_TITLE
            assert reader.stats.values["newscrawl/extraction_processes/pages"] == 1
            return raised.value
        finally:
            reader.close()

    error = asyncio.run(scenario())
    assert (str(error), error.stage) == (
        f"regex '{SLOW}' of title took longer than {TIMEOUT:g} s",
        "extract",
    )


# --------------------------------------------------------------------------- sites list


def test_sites_list_warns_about_nested_quantifiers(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "sites"
    folder.mkdir()
    (folder / "risky.yaml").write_text(
        site_definition("risky", "http://127.0.0.1:9", ["/news/"], article_url_pattern=r"'/\d+$'")
        + "  title: [h1, {css: h2, regex: '(a+)+$'}]\n"
        + "  strip: ['^Ad: ', '(\\w+\\s?)*$']\n"
    )
    (folder / "calm.yaml").write_text(
        site_definition("calm", "http://127.0.0.1:9", ["/news/"], article_url_pattern=r"'/\d+$'")
        + "  strip: ['^By [A-Z]\\w+ ']\n"
    )
    monkeypatch.setenv("NEWSCRAWL_SITES_DIR", str(folder))

    assert main(["sites", "list"]) == 0

    out, err = capsys.readouterr()
    assert "calm" in out and "risky" in out
    warnings = err.splitlines()
    assert len(warnings) == 2, err
    assert warnings[0].startswith("warning: site risky: article.title[1].regex '(a+)+$' ")
    assert warnings[1].startswith("warning: site risky: article.strip[1] '(\\\\w+\\\\s?)*$' ")
    assert all("nested quantifiers" in w for w in warnings)


# --------------------------------------------------------------------------- units


@pytest.mark.parametrize(
    "pattern",
    ["(a+)+$", "(a*)*b", r"(\w+\s?)*$", "((a+)b)+", "(a{1,3})+", "(?:x+x+)+y", "(.*,){5}"],
)
def test_nested_quantifiers_are_found(pattern):
    assert nested_quantifiers(pattern)


@pytest.mark.parametrize(
    "pattern",
    [
        r"/eng/news/\d+/?$",
        "(?:ab)+",
        r"(\d{4})+",
        "(a+)?",
        "(https?://)+",
        "[(a+)]+",
        r"\(a+\)+",
        "[]a+]+",
        "(a+)++",
        "^(PanARMENIAN\\.Net|DemoNews) - ",
    ],
)
def test_other_patterns_are_not_flagged(pattern):
    assert not nested_quantifiers(pattern)


def test_a_bounded_pattern_works_like_re_and_raises_its_own_timeout():
    pattern = compile_pattern(r"(?P<value>\d+)-(\w)", "title")
    assert pattern is compile_pattern(r"(?P<value>\d+)-(\w)", "title")  # compiled once
    assert pattern.search("no 12-b here").group("value") == "12"
    assert (pattern.groups, pattern.groupindex) == (2, {"value": 1})
    assert pattern.sub("#", "1-a 2-b") == "# #"
    assert pattern.split("x1-ay") == ["x", "1", "a", "y"]
    assert pattern.findall("1-a 2-b") == [("1", "a"), ("2", "b")]

    slow = compile_pattern(SLOW, "strip", stage="clean")
    with pytest.raises(PatternTimeout) as caught:
        slow.sub("", SLOW_TEXT)
    error = caught.value
    assert str(error) == f"regex '{SLOW}' of strip took longer than {TIMEOUT:g} s"
    assert (error.pattern, error.where, error.stage) == (SLOW, "strip", "clean")
    # It crosses the extraction processes' boundary as itself.
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), str(copy), copy.stage) == (PatternTimeout, str(error), "clean")


def test_extraction_and_cleaning_name_the_key(tmp_path, monkeypatch):
    folder = tmp_path / "sites"
    folder.mkdir()
    (folder / "keys.yaml").write_text(
        site_definition("keys", "http://127.0.0.1:9", ["/news/"])
        + f"  author: {{css: .by, regex: '{SLOW}'}}\n"
        + f"  truncate_at: ['{SLOW}']\n"
    )
    monkeypatch.setenv("NEWSCRAWL_SITES_DIR", str(folder))
    site = load_sites()["keys"]
    html = f'<h1>Title</h1><p class="by">{SLOW_TEXT}</p><div class="story"><p>Body</p></div>'
    with pytest.raises(PatternTimeout, match=r"of author took longer than"):
        extract_article(html, "http://127.0.0.1:9/a/1", site)
    with pytest.raises(PatternTimeout, match=r"of truncate_at took longer than"):
        clean_body(f"First.\n\n{SLOW_TEXT}", site.article)
    assert ("article.truncate_at[0]", SLOW) in site_patterns(site)
    assert ("listing.article_links[0].regex", SLOW) not in site_patterns(site)


def test_an_invalid_pattern_still_stops_the_definition(tmp_path, monkeypatch):
    folder = tmp_path / "sites"
    folder.mkdir()
    (folder / "broken.yaml").write_text(
        site_definition("broken", "http://127.0.0.1:9", ["/news/"]) + "  strip: ['(unclosed']\n"
    )
    monkeypatch.setenv("NEWSCRAWL_SITES_DIR", str(folder))
    with pytest.raises(SiteConfigError, match=r"strip.*invalid regular expression '\(unclosed'"):
        load_sites()
