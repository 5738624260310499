"""Authors read without rules: the names in a page's author fields, without
labels, addresses, credits or descriptions; the visible byline when the
fields name only the publication."""

from __future__ import annotations

import pytest

from crawler.extraction.bylines import author_names
from crawler.extraction.generic import GenericPage
from crawler.extraction.page import Page


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["Elena Oberholzer (obe)", "Oliver Maksan (oma)"], ["Elena Oberholzer", "Oliver Maksan"]),
        (["Autor Monika Bolliger, Anna Trechsel"], ["Monika Bolliger", "Anna Trechsel"]),
        (["By Jane Doe"], ["Jane Doe"]),
        (["Brazil, Rachel"], ["Rachel Brazil"]),
        (["d.kuckelkorn@boersen-zeitung.de"], []),
        (["105092"], []),
        (["Emma Mackenzie, (Image: Getty Images)"], ["Emma Mackenzie"]),
        (
            ["Jo Lee, professor at the faculty of human and social studies of the university"],
            ["Jo Lee"],
        ),
        (["Anne de Vries"], ["Anne de Vries"]),
    ],
)
def test_author_names(values, expected):
    assert author_names(values) == expected


PAGE = """<html><head><meta property="og:site_name" content="STERN.de">
<script type="application/ld+json">{"@type": "NewsArticle", "author": {"@type": "Organization",
"name": "STERN.de"}}</script></head><body><h1>Headline of the story</h1>
<div class="authors"><span class="author-socials">Twitter Facebook</span>
<span class="author">von Jemima Kelly</span></div><p>Text.</p>
<div class="comment-author">Some Reader</div></body></html>"""


def test_a_byline_replaces_the_publication_given_as_author():
    page = Page(PAGE, "https://www.stern.de/a/1.html")
    found = GenericPage(page, PAGE).author()
    assert found is not None and (found.value, found.source) == ("Jemima Kelly", "generic")


def test_the_publication_stays_the_author_when_no_byline_names_a_person():
    html = PAGE.replace("von Jemima Kelly", "red")
    found = GenericPage(Page(html, "https://www.stern.de/a/1.html"), html).author()
    assert found is not None and found.value == "STERN.de"
