"""Saved article pages of several house styles and what their site definitions give.

Each folder of ``tests/fixtures/extraction/`` is one case: ``page.html`` (a full
page as the site served it), ``expected.json`` (the cleaned article) and either
``site.yaml`` (a site definition written for that page) or, in ``expected.json``,
``"site": "<name>"`` naming a bundled definition of ``settings/sites/``.

Pages of the bundled sites are checked whole in tests/test_site_fixtures.py
(``tests/fixtures/sites/``). Two of them are linked here (``demo-seed``,
``panarmenian-reconstructed``, symbolic links to their folders there) for the
generic extraction tests and the benchmark, which read every layout of this
folder; they are not cases of this file.

``expected.json`` keys: ``url``, ``title``, ``body_starts``, ``body_ends``,
``paragraphs`` (count of paragraphs in the body), ``body_excludes`` (page text
that must not reach the body), ``author``, ``section``, ``tags``,
``published_at`` (ISO-8601 in UTC) and ``sources`` (field -> rule kind that
filled it). ``null`` means the page does not have the field.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import pytest

from crawler.extraction.cleaning import clean_article
from crawler.extraction.rules import extract_article
from crawler.items import Article
from crawler.sites.definitions import BUNDLED_SITES_DIR, Site, load_site_file

FIXTURES = Path(__file__).parent / "fixtures" / "extraction"
CASES = sorted(path.parent for path in FIXTURES.glob("*/expected.json"))
EXPECTED_KEYS = {
    "url",
    "title",
    "body_starts",
    "body_ends",
    "paragraphs",
    "body_excludes",
    "author",
    "section",
    "tags",
    "published_at",
    "sources",
}


def _expected(case: Path) -> dict[str, Any]:
    return json.loads((case / "expected.json").read_text(encoding="utf-8"))


def _site(case: Path, expected: dict[str, Any]) -> Site:
    if "site" in expected:
        assert not (case / "site.yaml").exists(), "give site.yaml or a bundled site, not both"
        site = load_site_file(BUNDLED_SITES_DIR / f"{expected['site']}.yaml")
        assert site.name == expected["site"]
        return site
    return load_site_file(case / "site.yaml")


def _page(case: Path) -> str:
    return (case / "page.html").read_text(encoding="utf-8")


def _extract(case: Path) -> tuple[Article, dict[str, Any]]:
    expected = _expected(case)
    site = _site(case, expected)
    article = extract_article(_page(case), expected["url"], site)
    return clean_article(article, site), expected


cases = pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])


def test_cases_are_found() -> None:
    assert len(CASES) >= 5


@cases
def test_expected_file_is_complete(case: Path) -> None:
    expected = _expected(case)
    assert EXPECTED_KEYS <= expected.keys(), f"missing: {EXPECTED_KEYS - expected.keys()}"
    assert set(expected) - EXPECTED_KEYS <= {"site"}


@cases
def test_page_is_a_full_saved_page(case: Path) -> None:
    raw = (case / "page.html").read_bytes()
    # Real-looking pages carry a CMS's weight.
    assert 15_000 <= len(raw) <= 60_000
    page = raw.decode("utf-8").lower()
    assert "<head" in page and "</html>" in page


@cases
def test_boilerplate_is_on_the_page(case: Path) -> None:
    # The exclusion checks below mean something only if the page has the text.
    text = html.unescape(_page(case))
    missing = [s for s in _expected(case)["body_excludes"] if s not in text]
    assert not missing, f"not on the page: {missing}"


@cases
def test_extraction_matches_expected(case: Path) -> None:
    article, expected = _extract(case)
    body = article.body or ""
    paragraphs = body.split("\n\n")
    got = {
        "title": article.title,
        "author": article.author,
        "section": article.section,
        "tags": article.tags,
        "published_at": article.published_at.isoformat() if article.published_at else None,
        "body_starts": paragraphs[0][: len(expected["body_starts"])],
        "body_ends": paragraphs[-1][-len(expected["body_ends"]) :],
        "paragraphs": len(paragraphs),
        "body_excludes": [s for s in expected["body_excludes"] if s in body],
        "sources": {field: article.sources.get(field) for field in expected["sources"]},
    }
    want = {
        "title": expected["title"],
        "author": expected["author"],
        "section": expected["section"],
        "tags": expected["tags"] or [],
        "published_at": expected["published_at"],
        "body_starts": expected["body_starts"],
        "body_ends": expected["body_ends"],
        "paragraphs": expected["paragraphs"],
        "body_excludes": [],
        "sources": expected["sources"],
    }
    assert got == want
    assert body.startswith(expected["body_starts"])
    assert body.endswith(expected["body_ends"])
