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


def author_of(html: str, url: str = "https://hg.example/news/1") -> str | None:
    found = GenericPage(Page(html, url), html).author()
    return found.value if found is not None else None


def article_page(head: str = "", body: str = "") -> str:
    paragraphs = "".join(
        f"<p>The harbour plan was approved on Tuesday, paragraph {i} of the report says.</p>"
        for i in range(4)
    )
    return (
        '<html><head><meta property="og:site_name" content="Harbour Gazette">'
        f"{head}</head><body><article><h1>Harbour plan</h1>{body}{paragraphs}</article>"
        "</body></html>"
    )


def jsonld_author(*names: str) -> str:
    authors = ", ".join(f'{{"@type": "Person", "name": "{n}"}}' for n in names)
    return (
        '<script type="application/ld+json">{"@type": "NewsArticle", '
        f'"headline": "Harbour plan", "author": [{authors}]}}</script>'
    )


def test_a_role_after_the_name_and_the_publication_beside_people_are_left_out():
    assert author_names(["김하늘 기자"]) == ["김하늘"]
    head = (
        '<meta name="author" content="Harbour Gazette"><meta name="author" content="김하늘 기자">'
    )
    assert author_of(article_page(head)) == "김하늘"
    assert author_of(article_page(jsonld_author("Jo Lee", "hg.example"))) == "Jo Lee"


def test_the_byline_under_a_label_or_behind_an_author_link_replaces_the_publication():
    # "Harbour Gazette" on hg.example: its initials are the host's name.
    head = '<meta name="author" content="Harbour Gazette (www.hg.example)">'
    label = "<ul><li><strong>Autorin/Autor</strong> Sam Writer</li></ul>"
    assert author_of(article_page(head, label)) == "Sam Writer"
    link = '<p>von <a href="/autoren/name/sam-writer">Dr. Sam Writer</a></p>'
    assert author_of(article_page(head, link)) == "Dr. Sam Writer"
    # A link to the list of all authors names nobody.
    listing = '<p><a href="/articles/authors">Alle Autoren</a></p>'
    assert author_of(article_page(head, listing)) == "Harbour Gazette"


def test_names_in_bold_on_a_line_of_the_text_are_the_byline():
    head = '<meta name="author" content="Harbour Gazette">'
    byline = "<p><strong>Sam Writer/Jo Lee</strong></p>"
    assert author_of(article_page(head, byline)) == "Sam Writer, Jo Lee"
    # Not set apart in bold: words in capitals, not a byline.
    assert author_of(article_page(head, "<p>Harbour News</p>")) == "Harbour Gazette"


def test_authors_beside_the_declared_one_in_the_byline_are_added():
    byline = (
        '<div class="bylines"><div class="byline">Sam Writer</div>'
        '<div class="byline">Jo Lee</div></div>'
    )
    html = article_page(jsonld_author("Jo Lee"), byline)
    assert author_of(html) == "Jo Lee, Sam Writer"
    # Without siblings the declared name stays alone.
    alone = article_page(jsonld_author("Jo Lee"), '<div class="byline">Jo Lee</div>')
    assert author_of(alone) == "Jo Lee"
