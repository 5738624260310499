"""Pruning of a generic body (crawler/extraction/pruning.py) on small
constructed pages: stories appended below the article, repeated furniture,
credits, embed signatures and links to other stories go; the article stays."""

from __future__ import annotations

from lxml import html as lxml_html

from crawler.cli.onboarding import generic_site
from crawler.extraction.cleaning import clean_article
from crawler.extraction.pruning import prune_body
from crawler.extraction.rules import extract_article

URL = "https://gazette.example/news/harbour"
STORY = [
    "The harbour plan was approved by the council on Tuesday after a long debate.",
    "Work on the new quay starts in spring, and the ferry keeps running meanwhile.",
    "Fishermen asked for a second slipway, which the council promised to study.",
    "The port authority said the works would be paid for by the mooring fees.",
]
OTHER = [
    "The football club signed a new goalkeeper from the league's bottom side.",
    "He had been the second choice there for three seasons, his agent said.",
    "The club's supporters greeted him at the station on Monday morning.",
]


def root(markup: str):  # type: ignore[no-untyped-def]
    return lxml_html.fromstring(f"<html><body>{markup}</body></html>")


def test_a_story_appended_below_the_article_is_dropped():
    own = "".join(f"<p>{p}</p>" for p in STORY)
    other = "".join(f"<p>{p}</p>" for p in OTHER)
    page = (
        f"<html><head><title>Harbour plan</title></head><body><main>"
        f"<article><h1>Harbour plan approved</h1>{own}</article>"
        f'<div class="next"><article><h1>Club signs goalkeeper</h1>{other}</article></div>'
        f"</main></body></html>"
    )
    assert prune_body(STORY + OTHER, root(page)) == STORY
    site = generic_site(URL)
    body = clean_article(extract_article(page, URL, site), site).body
    assert STORY[0] in body and STORY[-1] in body
    assert not any(p in body for p in OTHER)


def test_without_a_second_headline_the_article_is_left_whole():
    # Several <article> elements but only one <h1>: teasers, not a second story.
    page = "<article><h1>Harbour plan</h1><p>%s</p></article><article><h2>Teaser</h2></article>"
    paragraphs = [*STORY, "A paragraph the extractor found outside the article element."]
    assert prune_body(paragraphs, root(page % STORY[0])) == paragraphs


def test_short_paragraphs_repeated_three_times_are_dropped_everywhere():
    notice = "External content unavailable"
    paragraphs = [STORY[0], notice, STORY[1], notice, STORY[2], notice, STORY[3]]
    assert prune_body(paragraphs, root("")) == STORY
    # Twice (a label of a chart and its legend) is kept once, as is a long paragraph.
    twice = [STORY[0], "Machines", STORY[1], "Machines"]
    assert prune_body(twice, root("")) == [STORY[0], "Machines", STORY[1]]
    assert prune_body([STORY[0], STORY[1], STORY[0]], root("")) == STORY[:2]


def test_credits_and_embed_signatures_are_dropped():
    paragraphs = [
        STORY[0],
        "Jane Doe/AFP via Getty Images",
        "Foto: NTB",
        STORY[1],
        "Crowds wait near the quay to see the first ferry (Picture: PA)",
        "— Harbour Watch (@harbourwatch) July 18, 2026",
        STORY[2],
    ]
    assert prune_body(paragraphs, root("")) == STORY[:3]
    # A sentence that names an agency is text, not a credit.
    quoted = "The agency Reuters reported that the quay will open in May, a year late."
    assert prune_body([quoted], root("")) == [quoted]


def test_links_to_other_stories_are_dropped():
    related = "Ferry timetable changes for the summer season"
    page = f'<article><p>{STORY[0]}</p><ul><li><a href="/f">{related}</a></li></ul></article>'
    paragraphs = [
        STORY[0],
        f"- {related}",
        "- A list item of the article that is not a link",
        "Read also: New lighthouse keeper appointed",
        "Lesen Sie auch: Der neue Leuchtturmwärter",
        related,
        f"MORE NEWS | {related}",
        "Harbour museum reopens Harbour museum reopens",
        STORY[1],
    ]
    assert prune_body(paragraphs, root(page)) == [
        STORY[0],
        "- A list item of the article that is not a link",
        STORY[1],
    ]


def test_a_jsonld_body_loses_its_captions_credits_and_repeats():
    from crawler.extraction.pruning import without_furniture

    declared = [
        STORY[0],
        "Crowds wait near the quay to see the first ferry (Picture: PA)",
        STORY[1],
        "Read also: New lighthouse keeper appointed",
        STORY[2],
        STORY[0],
    ]
    assert without_furniture(declared) == STORY[:3]


def test_the_subscription_prompt_after_a_preview_cut_short_is_dropped():
    preview = [STORY[0], STORY[1], STORY[2] + " " + STORY[3] + " The council will then…"]
    prompt = [
        "This article is for subscribers.",
        "- Read every article",
        "- The e-paper every morning",
        "Already a subscriber? Log in",
    ]
    assert prune_body(preview + prompt, root("")) == preview
    # One line after a sentence ending "..." is the article's end, not a prompt.
    ending = [STORY[0], f"{STORY[1]} and so on...", "The council meets again in May."]
    assert prune_body(ending, root("")) == ending


def test_an_article_cut_into_containers_of_one_kind_is_read_whole():
    from crawler.extraction.continued import with_continuation

    def part(paragraphs: list[str], heading: str = "", extra: str = "") -> str:
        blocks = "".join(f'<p class="block paragraph">{p}</p>' for p in paragraphs)
        head = f'<h2 class="block header">{heading}</h2>' if heading else ""
        return f'<div class="row"><div class="body articleBody {extra}">{head}{blocks}</div></div>'

    teaser = '<div class="row teaser"><p class="lead">The ferry timetable changes in May.</p></div>'
    markup = part(STORY[:3], extra="spaced") + teaser + part(STORY[3:], "Who pays") + teaser
    read = STORY[:3] + ["The ferry timetable changes in May."]
    assert with_continuation(read, root(markup)) == [*STORY[:3], "Who pays", STORY[3], read[3]]
    # The next story appended below, after its own headline, is not added.
    next_story = "<h1>Club signs goalkeeper</h1>" + part(OTHER)
    assert with_continuation(read, root(markup + next_story)) == [
        *STORY[:3],
        "Who pays",
        STORY[3],
        read[3],
    ]
    # On a page that is one container, nothing is added.
    single = root(part(STORY) + part(OTHER).replace("block paragraph", "teaser"))
    assert with_continuation(STORY, single) == STORY
    # Three generated containers, crawled as a user would read them.
    long = [f"{p} {p.lower()}" for p in STORY[:3]]
    page = "<html><head><title>Harbour plan</title></head><body><h1>Harbour plan</h1>"
    page += part(long) + teaser + part(STORY[3:], "Who pays") + part(OTHER[:1]) + "</body></html>"
    body = clean_article(extract_article(page, URL, generic_site(URL)), generic_site(URL)).body
    assert STORY[3] in body and OTHER[0] in body


def test_boxes_the_page_marks_as_furniture_and_an_emphasized_note_at_the_end_go():
    bio = "Ann Reed covers the harbour and the islands for the paper since 2019."
    promo = "Follow us on the social networks for the latest news from the harbour."
    note = "First published in the weekend edition."
    text = STORY + OTHER + [p.lower() for p in STORY]
    markup = (
        "<article>"
        + "".join(f"<p>{p}</p>" for p in text)
        + f'<div class="author-box"><p>{bio}</p></div>'
        + f"<p><strong><em>{promo}</em></strong></p><p><i>{note}</i></p></article>"
    )
    assert prune_body([*text, bio, promo, note], root(markup)) == text
    # A quotation in italics ending the text (a quarter of it) is text; so is
    # a box named like furniture that holds the whole article.
    quoted = "".join(f"<p>{p}</p>" for p in STORY[:3]) + f"<p><em>{STORY[3]}</em></p>"
    assert prune_body(STORY, root(quoted)) == STORY
    whole = root(f'<div class="post-author">{"".join(f"<p>{p}</p>" for p in STORY)}</div>')
    assert prune_body(STORY, whole) == STORY


def test_an_embedded_social_post_and_the_contributors_ending_a_story_go():
    post = "Huge crowds at the quay this morning, what a sight! pic.example/abc"
    credit = "Reporting by Ann Reed in Portsmouth; Editing by Tom Hill"
    text = STORY + OTHER
    markup = "".join(f"<p>{p}</p>" for p in text[:4])
    markup += f'<blockquote class="twitter-tweet"><p>{post}</p></blockquote>'
    markup += "".join(f"<p>{p}</p>" for p in text[4:]) + f"<p>{credit}</p>"
    assert prune_body([*text[:4], post, *text[4:], credit], root(markup)) == text
    # The same words inside the text, or far from its end, are the story's.
    inside = "The reporting by the harbour office, with reports from the pilots, was clear."
    lines = [inside, *STORY]
    assert prune_body(lines, root("".join(f"<p>{p}</p>" for p in lines))) == lines


def test_placeholders_for_content_not_shown_and_newsletter_lines_go():
    lines = [
        "To view this video please enable JavaScript, and consider upgrading your browser.",
        "Ich bin damit einverstanden, dass mir der externe Inhalt angezeigt wird.",
        "Get our weekly harbour newsletter in your inbox.",
        "Sendung: Radio Harbour, 24.04.2024, 15:10 Uhr",
    ]
    text = [*STORY[:2], *lines[:2], *STORY[2:], *lines[2:]]
    assert prune_body(text, root("".join(f"<p>{p}</p>" for p in text))) == STORY
    # A story about a newsletter keeps its paragraphs about it.
    about = (
        "The harbour office started a newsletter for boat owners last year, and by now more"
        " than two thousand people read it every week, the harbour master told the council."
    )
    text = [*STORY, about]
    assert prune_body(text, root("".join(f"<p>{p}</p>" for p in text))) == text


def test_byline_and_date_lines_heading_the_body_go_not_text_that_looks_like_them():
    from crawler.extraction.pruning import without_head_meta

    long = [f"{p} {p.lower()}" for p in STORY]  # over 15 words each
    head = ["Harbour plan approved", "Posted: 05.03.2024 14:30 | Views: 1843 |", "By Jane Doe"]
    assert without_head_meta(head + long) == ["Harbour plan approved", *long]
    assert without_head_meta(["Von Anna Müller und Jan Weber", *long]) == long
    assert without_head_meta(["2024-03-05 | Local", *long]) == long
    # A caption ending in its credit goes wherever it is.
    caption = "The new quay seen from the ferry. Photo: Harbour Board"
    assert without_head_meta([long[0], caption, long[1]]) == long[:2]
    # Text: a sentence opening with "By", a short line with a date and no
    # label, lines after the body has begun, a date line past the first three.
    kept = [
        "By the time the council met, the plan had changed.",
        "Work starts on 05.03.2024 at the quay.",
    ]
    assert without_head_meta(kept + long) == kept + long
    after = [long[0], "By Jane Doe", *long[1:]]
    assert without_head_meta(after) == after
    # Crawled as a user would read it: an old layout without <h1> or metadata.
    page = (
        "<html><head><title>Gazette - Harbour plan approved</title></head><body><table><tr>"
        "<td><b>Harbour plan approved</b><br>Posted: 05.03.2024 14:30 | Views: 1843 |"
        "<br>By Jane Doe"
        + "".join(f"<p>{p}</p>" for p in long)
        + "</td></tr></table></body></html>"
    )
    body = clean_article(extract_article(page, URL, generic_site(URL)), generic_site(URL)).body
    assert body.split("\n\n") == long
