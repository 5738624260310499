"""Generic extraction: fields from structured data, metadata and news
extractors when a site's rules give nothing; body quality against trafilatura."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import trafilatura

from crawler.cli.onboarding import generic_site
from crawler.extraction.cleaning import clean_article
from crawler.extraction.evaluation import token_score
from crawler.extraction.rules import extract_article
from crawler.sites.definitions import Site, load_site_file

FIXTURES = Path(__file__).parent / "fixtures" / "extraction"
# House-style pages, and the bundled sites' whole-item fixtures that have a hand-checked body.
CASES = sorted(p.parent for p in Path(__file__).parent.glob("fixtures/*/**/expected_body.txt"))


def load(case: Path) -> tuple[str, dict, str]:
    return (
        (case / "page.html").read_text(encoding="utf-8"),
        json.loads((case / "expected.json").read_text(encoding="utf-8")),
        (case / "expected_body.txt").read_text(encoding="utf-8"),
    )


def generic(html: str, url: str):
    site = generic_site(url)
    return clean_article(extract_article(html, url, site), site)


@pytest.mark.parametrize("case", CASES, ids=[f"{c.parent.name}/{c.name}" for c in CASES])
def test_generic_body_is_at_least_as_good_as_trafilatura(case):
    html, expected, body = load(case)
    ours = token_score(generic(html, expected["url"]).body, body)
    theirs = token_score(trafilatura.extract(html, url=expected["url"]), body)
    assert ours.recall >= 0.95
    assert ours.f1 >= theirs.f1 - 0.01, (ours, theirs)


def test_generic_beats_trafilatura_over_all_layouts():
    ours, theirs = [], []
    for case in CASES:
        html, expected, body = load(case)
        ours.append(token_score(generic(html, expected["url"]).body, body).f1)
        theirs.append(token_score(trafilatura.extract(html, url=expected["url"]), body).f1)
    assert sum(ours) / len(ours) > sum(theirs) / len(theirs)
    assert min(ours) >= 0.9


JSONLD_ONLY = """<html><head><script type="application/ld+json">
{"@context": "https://schema.org", "@graph": [
 {"@type": "WebPage", "name": "Home | Gazette", "datePublished": "2001-01-01"},
 {"@type": "NewsArticle", "headline": "Tram line &amp; depot approved",
  "datePublished": "2024-03-05T14:30:00+01:00",
  "author": [{"@type": "Person", "name": "A. Writer"}],
  "articleSection": "City", "keywords": "tram, depot",
  "articleBody": "%s"}]}
</script></head><body><div id="app"></div></body></html>"""
BODY = "The council approved the tram line after a long debate. " * 8


def test_jsonld_only_page_fills_every_field_from_jsonld():
    article = generic(JSONLD_ONLY % BODY.strip(), "https://gazette.example/a/1")
    assert article.title == "Tram line & depot approved"
    assert article.body == BODY.strip()
    assert article.published_at.isoformat() == "2024-03-05T13:30:00+00:00"
    assert (article.author, article.section, article.tags) == (
        "A. Writer",
        "City",
        ["tram", "depot"],
    )
    assert article.sources == {
        "title": "jsonld",
        "body": "jsonld",
        "published_at": "jsonld",
        "author": "jsonld",
        "section": "jsonld",
        "tags": "jsonld",
    }


OPENGRAPH_ONLY = """<html><head>
<meta property="og:title" content="Harbour vote delayed">
<meta property="og:site_name" content="Gazette">
<meta property="article:published_time" content="2024-03-05T09:00:00Z">
<meta name="author" content="B. Reporter">
<meta property="article:section" content="Politics">
<meta property="article:tag" content="harbour"><meta property="article:tag" content="vote, council">
</head><body><div class="x"><p>%s</p><p>%s</p></div></body></html>"""


def test_opengraph_only_page_fills_fields_from_meta():
    para = "The harbour vote was delayed by a week after councillors asked for more figures."
    article = generic(OPENGRAPH_ONLY % (para, para.replace("week", "month")), "https://g.example/x")
    assert article.title == "Harbour vote delayed"
    assert article.published_at.isoformat() == "2024-03-05T09:00:00+00:00"
    assert (article.author, article.section) == ("B. Reporter", "Politics")
    assert article.tags == ["harbour", "vote, council"]  # several values: one tag each
    assert article.sources["title"] == article.sources["author"] == "meta"
    assert article.sources["body"] == "generic"
    assert "delayed by a week" in article.body


def test_stale_selectors_fall_back_and_say_so():
    html, expected, body = load(FIXTURES / "wordpress-theme")
    site = load_site_file(FIXTURES / "wordpress-theme" / "site.yaml")
    stale = site.model_copy(
        update={
            "article": site.article.model_copy(
                update={
                    "body": Site.model_validate(
                        {"name": "x", "base_url": "http://x/", "article": {"body": "div.gone"}}
                    ).article.body
                }
            )
        }
    )
    article = clean_article(extract_article(html, expected["url"], stale), stale)
    assert article.sources["body"] == "generic"
    assert article.fallbacks == ["body"]
    assert token_score(article.body, body).f1 > 0.95
    no_fallback = stale.model_copy(
        update={"article": stale.article.model_copy(update={"fallback": False})}
    )
    assert (
        clean_article(extract_article(html, expected["url"], no_fallback), no_fallback).body is None
    )


def test_a_page_with_nothing_gives_empty_fields():
    article = generic(
        "<html><head><title></title></head><body><nav>Home</nav></body></html>",
        "https://e.example/",
    )
    assert (article.title, article.body, article.published_at, article.author) == (
        None,
        None,
        None,
        None,
    )
    assert article.sources == {}


def newscrawl(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "crawler.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.e2e
def test_extract_command_reads_files_and_standard_input():
    page = FIXTURES / "jsonld-modern" / "page.html"
    proc = newscrawl("extract", str(page))
    assert proc.returncode == 0, proc.stderr
    assert "A community energy co-operative in Valdor County has signed" in proc.stdout
    assert "Comments are open" not in proc.stdout
    proc = newscrawl(
        "extract", "-", "--json", "--url", "https://x.example/a", stdin=page.read_text()
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["fields"]["author"] == {
        "value": "Priya Ostrander, Tomas Vell",
        "source": "jsonld",
    }
    assert result["url"] == "https://x.example/a"
    proc = newscrawl(
        "extract",
        str(FIXTURES.parent / "sites" / "demo" / "seed" / "page.html"),
        "--site",
        "demo",
        "--json",
    )
    fields = json.loads(proc.stdout)["fields"]
    assert fields["title"]["value"].startswith("Blinken, Cavusoglu hold")
    assert fields["body"]["source"] == "selector"
    assert newscrawl("extract", "/nonexistent.html").returncode == 2
