"""Generic body extraction on small constructed pages: which text the body
is made of when a page offers several (JSON-LD ``articleBody``, the news
extractor's reading, the densest block) and what is pruned from it."""

from __future__ import annotations

import json

from crawler.cli.onboarding import generic_site
from crawler.extraction.cleaning import clean_article
from crawler.extraction.generic import (
    GenericPage,
    declared_paragraphs,
    paragraphs_agreeing,
    with_lead,
    without_trailing,
)
from crawler.extraction.page import Page
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
    # Long enough to be taken: two more paragraphs (the same one three times
    # would be dropped as repeated furniture).
    article = generic(jsonld_page(f"{markup}<p>{LEAD.upper()}</p><p>{SECOND.lower()}</p>"))
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


def paragraphs(*texts: str) -> str:
    return "\n\n".join(texts)


BIO = "Sam Writer has covered the harbour for twenty years and lives by the sea."
PROMO = "Sign in to our newsletter for the best stories of the week, every Friday."


def test_extracted_paragraphs_are_kept_where_the_jsonld_body_agrees():
    summary = "In short: the quay is coming."
    extracted = paragraphs(summary, LEAD, SECOND, PROMO)
    assert paragraphs_agreeing(extracted, f"{LEAD} {SECOND}") == paragraphs(summary, LEAD, SECOND)
    # When they share too little, the extractor's text stays as it is.
    assert paragraphs_agreeing(paragraphs(LEAD, PROMO), f"{LEAD} {SECOND}") == paragraphs(
        LEAD, PROMO
    )


def test_text_around_the_main_block_is_pruned():
    first, second = f"{LEAD} {SECOND}", f"{SECOND} {LEAD}"
    dense = paragraphs(first, "The quay", second)
    lead = "A lead the block does not hold, set apart above the article in larger type."
    menu = ["HOME", "LOCAL", "Tuesday, 5 March 2024 · 9°C, cloudy", "By Sam Writer"]
    extracted = paragraphs(*menu, lead, first, second, BIO, PROMO)
    # Short lines before the block (a menu, a date line) go; a lead stays.
    assert without_trailing(extracted, dense) == paragraphs(lead, first, second)
    # A main block holding less than half of the text prunes nothing.
    long_tail = paragraphs(LEAD, BIO * 3, PROMO * 3)
    assert without_trailing(long_tail, LEAD) == long_tail


SECTIONS = """<html><body><nav><a href="/">Home</a> <a href="/news">News</a></nav>
<article><h1>Harbour plan</h1>
<section><p>%s</p><p>%s</p><p>%s</p></section>
<section><h2>The ferry</h2><p>%s</p><p>%s</p></section>
</article><aside><p>%s</p></aside></body></html>"""


def test_an_article_in_several_sections_is_one_block():
    more = "The ferry keeps its timetable, with two extra crossings on Saturdays, said the port."
    html = SECTIONS % (LEAD, SECOND, LEAD.upper(), more, more.lower(), PROMO)
    page = GenericPage(Page(html, URL), html)
    assert [el.tag for el in page.densest_blocks] == ["section", "section"]
    body = page.densest_block_body
    assert "The ferry" in body and more in body and PROMO not in body


def test_the_lead_the_jsonld_body_leaves_out_is_kept_before_it():
    lead = "A lead set apart above the article, in larger type, that the publisher left out."
    caption = "The new quay seen from the ferry, with the old harbour office behind. Photo: Ann Lee"
    declared = paragraphs(LEAD, SECOND)
    extracted = paragraphs("Harbour plan", lead, caption, LEAD, SECOND)
    # The headline (short) and the caption stay out; the lead comes first.
    assert with_lead(declared, extracted) == paragraphs(lead, LEAD, SECOND)
    # An extractor's text that shares no paragraph with the declared one adds nothing.
    assert with_lead(declared, paragraphs(lead, BIO)) == declared


def scripted_page(content_html: str) -> str:
    """A page rendered in the browser: its markup has the headline and no
    paragraph of the article, which is HTML in a script's JSON payload."""
    state = {"article": {"id": 7, "title": "Harbour plan", "contentHtml": content_html}}
    return (
        "<html><head><title>Harbour plan</title></head><body><div id='app'>"
        "<h1>Harbour plan</h1><nav><a href='/'>Home</a></nav></div>"
        f"<script>window.__STATE__ = window.__STATE__ || [];"
        f"window.__STATE__.push({json.dumps(state)});</script>"
        '<script>var banner = "<p>We use cookies.</p><p>Accept them.</p>";</script>'
        "</body></html>"
    )


def test_an_article_held_only_in_a_scripts_json_is_read_there():
    content = (
        "<div class='img-box'><img src='q.jpg'><div class='caption'><p>The quay at dawn."
        f" Photo by the harbour office</p></div></div><p class='editor-p'>{LEAD}</p>"
        f"<h3>The quay</h3><p class='editor-p'>{SECOND}</p><figure><img src='f.jpg'>"
        f"<figcaption>The ferry in winter</figcaption></figure><p>{LEAD.upper()}</p>"
    )
    article = generic(scripted_page(content))
    assert article.body.split("\n\n") == [LEAD, "The quay", SECOND, LEAD.upper()]
    assert article.sources["body"] == "generic"


def test_html_in_a_script_is_not_read_when_the_markup_has_the_article():
    visible = "".join(f"<p>{p}</p>" for p in (LEAD, SECOND, LEAD.upper(), SECOND.upper()))
    page = scripted_page(f"<p>{SECOND.lower()}</p><p>{LEAD.lower()}</p>" * 4).replace(
        "<nav>", f"<article>{visible}</article><nav>"
    )
    body = generic(page).body
    assert body.startswith(LEAD) and SECOND.lower() not in body


def test_a_label_and_a_links_text_inside_the_jsonld_body_go():
    teaser = "Ferry fares to rise in May after the fuel bill doubled"
    declared = "\n\n".join([LEAD, f"READ THE OTHER STORY HERE | {teaser}", SECOND, LEAD.upper()])
    page = jsonld_page(declared, f'<p>{LEAD}</p><aside><a href="/fares">{teaser}</a></aside>')
    body = generic(page).body
    assert body.split("\n\n") == [LEAD, SECOND, LEAD.upper()]


def standfirst_page(shown: str) -> str:
    description = "The council approved the harbour plan; work on the quay starts in spring."
    story = "".join(
        f"<p>{p}</p>" for p in (LEAD, SECOND, LEAD.upper(), SECOND.upper(), LEAD.lower())
    )
    return (
        f'<html><head><title>Harbour plan</title><meta property="og:description"'
        f' content="{description}"></head><body><header><h1>Harbour plan</h1>{shown}'
        f"</header><article>{story}</article></body></html>"
    )


def test_the_standfirst_the_page_shows_and_the_extractor_leaves_out_leads_the_body():
    description = "The council approved the harbour plan; work on the quay starts in spring."
    body = generic(standfirst_page(f'<p class="standfirst">{description}</p>')).body
    assert body.split("\n\n")[:2] == [description, LEAD]
    # A description the page does not show (written for search engines) is not added.
    assert generic(standfirst_page("")).body.split("\n\n")[0] == LEAD
    linked = f'<a href="/harbour">{description}</a>'
    assert generic(standfirst_page(linked)).body.split("\n\n")[0] == LEAD
