"""Generic body extraction on small constructed pages: which text the body
is made of when a page offers several (JSON-LD ``articleBody``, the news
extractor's reading, the densest block) and what is pruned from it."""

from __future__ import annotations

import json

from crawler.cli.onboarding import generic_site
from crawler.extraction.cleaning import clean_article
from crawler.extraction.generic import declared_paragraphs
from crawler.extraction.rules import extract_article

URL = "https://gazette.example/news/1"


def generic(html: str, url: str = URL):
    site = generic_site(url)
    return clean_article(extract_article(html, url, site), site)


def jsonld_page(article_body: str, visible: str = "") -> str:
    data = {"@type": "NewsArticle", "headline": "Harbour plan", "articleBody": article_body}
    return (
        '<html><head><script type="application/ld+json">'
        + json.dumps(data)
        + f"</script></head><body><main>{visible}</main></body></html>"
    )


LEAD = "The harbour plan was approved by the council on Tuesday after a long debate."
SECOND = "Work on the new quay starts in spring, and the ferry keeps running meanwhile."


def test_jsonld_body_written_as_html_is_read_as_html():
    markup = f'<p>{LEAD}</p>\n<h3>The quay</h3><p>{SECOND} <a href="/x">More</a>.</p>'
    assert declared_paragraphs(markup) == [LEAD, "The quay", f"{SECOND} More."]
    article = generic(jsonld_page(markup * 3))
    assert "<p>" not in article.body and "href" not in article.body
    assert article.body.split("\n\n")[:3] == [LEAD, "The quay", f"{SECOND} More."]
    assert article.sources["body"] == "jsonld"


def test_jsonld_body_with_entities_escaped_twice_is_decoded():
    assert declared_paragraphs("&ccedil;ıktı &amp; yangın") == ["çıktı & yangın"]
    # In the page's script: "&amp;ccedil;", an entity escaped twice.
    text = "Yangın &amp;ccedil;ıktı ve ekipler m&amp;uuml;dahale etti. " * 8
    article = generic(jsonld_page(text))
    assert "&" not in article.body
    assert article.body.startswith("Yangın çıktı ve ekipler müdahale etti.")


def test_plain_jsonld_body_keeps_its_lines_as_paragraphs():
    assert declared_paragraphs(f"{LEAD}\n\n{SECOND}\nA third line.") == [
        LEAD,
        SECOND,
        "A third line.",
    ]
