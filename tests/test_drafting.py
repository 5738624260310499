"""Drafting's drop rules (crawler/cli/drafting.py) on small constructed
pages: a block inside the drafted body element that is not the article on
every sample is dropped; the article's own parts and small blocks are not."""

from __future__ import annotations

from crawler.cli.drafting import agrees, drop_rules
from crawler.extraction.page import Page

STORY = [
    "The harbour plan was approved by the council on Tuesday after a long debate.",
    "Work on the new quay starts in spring, and the ferry keeps running meanwhile.",
]
RELATED = (
    '<div class="related-posts"><h3>Related</h3>'
    + "".join(
        f'<div class="related-post"><a href="/{n}">Story {n} about the valley</a>'
        f"<p>An excerpt of story {n}, which readers of this one may also like to read.</p></div>"
        for n in (1, 2, 3)
    )
    + "</div>"
)


def sample(n: int, related: str = RELATED) -> tuple[Page, str]:
    paragraphs = [f"{p} ({n})" for p in STORY]
    html = (
        '<html><body><div class="entry-content">'
        + "".join(f"<p>{p}</p>" for p in paragraphs)
        + '<div class="byline">By Sam Writer</div>'
        + related
        + "</div></body></html>"
    )
    return Page(html, f"https://gazette.example/{n}"), "\n\n".join(paragraphs)


def test_a_related_posts_block_inside_the_body_element_is_dropped():
    samples = [sample(n) for n in (1, 2, 3)]
    assert drop_rules(samples, "div.entry-content") == ["div.related-posts"]


def test_a_block_missing_from_one_sample_is_not_dropped():
    samples = [sample(1), sample(2), sample(3, related="")]
    assert drop_rules(samples, "div.entry-content") == []


def test_an_author_rule_agrees_only_with_the_same_names():
    page = Page('<div class="when">01 May 2024, 10:35 · Jane Doe</div>', "https://g.example/1")
    assert not agrees(page, "author", "div.when", "Jane Doe")
    assert agrees(page, "author", "div.when", "01 May 2024, 10:35 · Jane Doe")
