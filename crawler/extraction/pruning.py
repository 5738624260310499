"""Pruning of a generic body: the page furniture a recall-oriented extractor
takes in with the article, removed paragraph by paragraph.

The news extractor is run for recall (it misses less of the article), then
:func:`prune_body` removes what, on any site, is not the article's text:

- **stories appended below it**: when the headline's ``<h1>`` is inside an
  ``<article>`` and the page has another ``<article>`` with its own ``<h1>``
  (pages that load the next story underneath), paragraphs that are not in
  the headline's article are dropped;
- **repeated furniture**: a short paragraph (up to 12 words) that comes back
  three times or more (a consent notice at every embed, "Specs:", a photo
  credit under each picture) is dropped everywhere; any other paragraph
  repeated is kept once;
- **credits and embed signatures**: a short line naming a picture agency or
  marked as a credit (``STR/AFP via Getty Images``, ``Foto: NTB``,
  ``(Picture: PA)`` ending a caption), the signature line of an embedded
  post (``— Name (@handle) July 18, 2026``);
- **links to other stories**: a paragraph or list item (up to 30 words) that
  is entirely the text of one link of the page, or a label and one link's
  text (related stories, "more on this", ``More news | Headline``), a
  teaser card's text written twice (its picture's text, then its headline),
  and a paragraph led by a "read also" marker in the usual languages;
- **boxes the page marks as furniture**: a paragraph inside an element
  (holding less than a third of the body) whose class or id names an
  author's biography, a disclaimer, a call to subscribe or to send
  feedback, a consent placeholder, what shows without JavaScript or an
  embedded social post (``author-box``, ``disclaimer``, ``single-cta``,
  ``vjs-no-js``, ``twitter-tweet``); and the paragraphs ending the body
  that are wholly in italics or bold (an editor's note, "Follow us on
  ..."), when they are under 15% of it;
- **placeholders**: a line of up to 60 words standing for content not shown
  (consent to external content, "enable JavaScript") or naming the
  broadcast a story was in (``Sendung: ...``), and one of up to 25 words
  naming or offering a newsletter;
- **contributors**: a line among the last three naming who reported,
  wrote or edited the story (``Reporting by ...; Editing by ...``,
  ``... contributed to this report``, ``With reports from ...``).

A preview cut short (``...``) for readers who do not subscribe loses the
short lines of the subscription prompt after it. A body the page's own text
gave (not a JSON-LD ``articleBody``) loses the byline and date lines among
its first three lines and captions ending in a credit
(:func:`without_head_meta`): the metadata holds them.

A publisher's JSON-LD ``articleBody`` loses the same repeats, credits,
signatures, "read also" lines, links' texts and contributors
(:func:`without_furniture`).

Pure functions over paragraph strings and the parsed page; imports only
``crawler.extraction.text``.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from crawler.extraction.text import elements_by_text, normalize_text

MAX_FURNITURE_WORDS = 12
MAX_LINK_WORDS = 30  # a paragraph that is one link's text, up to this long, is a link
_LINK_LABEL = re.compile(r"^[^:|]{1,40}[:|]\s*")
MIN_REPEATS = 3  # a short paragraph this many times is furniture (twice may be a chart's labels)
_AGENCIES = (
    r"getty ?images|shutterstock|imago|picture[ -]alliance|dpa|afp|reuters|ap photo|epa|"
    r"ntb|anp|ansa|efe|keystone|sipa|alamy|istock|pa wire|pa media"
)
_CREDIT = re.compile(
    rf"^(?:[\w .,'’&-]*/\s*)?(?:[\w .'’&-]*\bvia\s+)?(?:{_AGENCIES})(?:\s*/\s*[\w .'’&-]+)*\.?$"
    r"|^(?:photo|foto|bild|picture|image|credit|fotos|photos|kuva|zdjęcie|фото)\s*(?:\[[^\]]*\])?"
    r"\s*:\s*[^.!?]{1,80}$",
    re.IGNORECASE,
)
_CAPTION_CREDIT = re.compile(
    r"\((?:picture|photo|image|foto|bild|credit)s?\s*:\s*[^()]{1,80}\)\s*$"
    r"|[.!?]\s+(?:picture|photo|image|foto|bild|credit)s?\s*:\s*[^.!?:]{1,60}$",
    re.IGNORECASE,
)
_EMBED_SIGNATURE = re.compile(r"^[—–-]\s*.{1,80}\(@\w{1,30}\)\s+\w+\.? \d{1,2}, \d{4}$")
_READ_ALSO = re.compile(
    r"^(?:also read|read also|read more|see also|les også|lesen sie auch|lesen sie mehr|"
    r"mehr zum thema|auch interessant|à lire aussi|lire aussi|a lire aussi|lea también|"
    r"leer más|leia também|leia mais|leggi anche|czytaj (?:więcej|też|także)|läs också|"
    r"læs også|lees ook|lue myös|читайте также)\b\s*[:|»>-]?",
    re.IGNORECASE,
)


def prune_body(paragraphs: list[str], root: Any) -> list[str]:
    """``paragraphs`` without the furniture the module describes; ``root`` is
    the page's parsed tree (lxml)."""
    kept = _in_headline_article(paragraphs, root)
    kept = _without_marked(_without_repeats(kept), root)
    links = _link_texts(root)
    kept = _without_paywall_tail([p for p in kept if not _furniture(p, links)])
    return _without_contributors(kept)


def without_furniture(paragraphs: list[str], root: Any = None) -> list[str]:
    """A publisher's own text (JSON-LD ``articleBody``) without the furniture
    it may hold too: repeats, credits and captions' credits, embed
    signatures, "read also" lines, the names of contributors ending it, and
    given the page (``root``), a line that is a label and the text of one
    of its links (``Read more | Headline``). Its paragraphs are not the
    page's elements, so appended stories and marked boxes are not looked
    for."""
    links = _link_texts(root) if root is not None else set()
    kept = [p for p in _without_repeats(paragraphs) if not _furniture(p, links)]
    return _without_contributors(kept)


# What a page says in place of content it does not show (consent to external
# content, JavaScript), a newsletter's name or sign-up, the broadcast a story
# was in.
_PLACEHOLDER = re.compile(
    r"\bexterne[nr]? inhalte?\b|\bexternal content\b|\benable javascript\b|"
    r"\bprivatsphäre-einstellungen\b|\bprivacy settings\b|"
    r"^(?:sendung|dieses thema im programm)\s*:",
    re.IGNORECASE,
)
MAX_PLACEHOLDER_WORDS = 60
# A line naming or offering a newsletter; longer, it may be a story about one.
_NEWSLETTER = re.compile(r"\bnewsletters?\b", re.IGNORECASE)
MAX_NEWSLETTER_WORDS = 25


def _furniture(paragraph: str, links: set[str]) -> bool:
    words = len(paragraph.split())
    if words <= MAX_PLACEHOLDER_WORDS and _PLACEHOLDER.search(paragraph):
        return True
    if words <= MAX_NEWSLETTER_WORDS and _NEWSLETTER.search(paragraph):
        return True
    if _READ_ALSO.match(paragraph) and words <= 30:
        return True
    if _EMBED_SIGNATURE.match(paragraph):
        return True
    if words <= MAX_FURNITURE_WORDS and _CREDIT.match(paragraph):
        return True
    if _CAPTION_CREDIT.search(paragraph) and words <= 40:
        return True
    if words <= MAX_LINK_WORDS:
        text = paragraph.removeprefix("- ").casefold()
        # A teaser card: its picture's text, then the same as its headline.
        half = text[: len(text) // 2]
        if text == f"{half} {half}" or text in links:
            return True
        labelled = _LINK_LABEL.match(text)
        return labelled is not None and text[labelled.end() :] in links
    return False


# The lines heading a body that the page's metadata already holds: a byline
# (``By Jane Doe``) and a date line (``Posted: 05.03.2024 14:30 | Views: 18``).
_BYLINE = re.compile(
    r"^(?:by|von|par|por|di|door|af|av|przez)\s+[A-ZÀ-ÝĀ-Ž][\w'’.-]*"
    r"(?:(?:\s+|\s*,\s*)(?:[A-ZÀ-ÝĀ-Ž][\w'’.-]*|and|und|et|y|e|i|og|och|en))*$",
    re.IGNORECASE,
)
_DATE = re.compile(r"\b\d{1,2}[./-]\d{1,2}[./-]\d{2,4}\b|\b\d{4}-\d{2}-\d{2}\b")
_META_LABEL = re.compile(r"(?:^|\|)\s*[^\W\d][\w ]{0,20}:\s|\|")
MAX_HEAD_LINES = 3  # looked for among the body's first lines
MAX_META_WORDS = 15


def without_head_meta(paragraphs: list[str]) -> list[str]:
    """Without the byline and date lines among the first MAX_HEAD_LINES
    lines of the body (before its first paragraph of more than
    MAX_META_WORDS words), and captions ending in a credit. A byline's
    names start with capitals (``By the time ...`` is text); a date line
    holds a date and a label or a bar (``Posted: 05.03.2024 | Views: 1843``)."""
    paragraphs = [p for p in paragraphs if not (_CAPTION_CREDIT.search(p) and len(p.split()) <= 40)]
    kept = []
    for n, line in enumerate(paragraphs):
        words = len(line.split())
        if n >= MAX_HEAD_LINES or words > MAX_META_WORDS:
            return kept + paragraphs[n:]
        byline = words <= 8 and _BYLINE.match(line) is not None and line[:1].isupper()
        dated = _DATE.search(line) is not None and _META_LABEL.search(line) is not None
        if not (byline or dated):
            kept.append(line)  # a headline or a kicker the extractor took in
    return kept


# Who reported, wrote or edited a wire story, in a line ending it.
_CONTRIBUTORS = re.compile(
    r"\b(?:contributed to this report|additional reporting|reporting by|editing by|"
    r"writing by|with reports? from|reported from)\b",
    re.IGNORECASE,
)
MAX_CONTRIBUTOR_WORDS = 60
CONTRIBUTOR_LINES = 3  # looked for among the body's last lines


def _without_contributors(paragraphs: list[str]) -> list[str]:
    """Without the lines among the last three that name who reported, wrote
    or edited the story (``Reporting by ...; Editing by ...``, ``AP writer
    X contributed to this report.``, ``With reports from ...``)."""
    head = paragraphs[:-CONTRIBUTOR_LINES]
    tail = [
        p
        for p in paragraphs[-CONTRIBUTOR_LINES:]
        if len(p.split()) > MAX_CONTRIBUTOR_WORDS or not _CONTRIBUTORS.search(p)
    ]
    return [*head, *tail] if head or tail else paragraphs


_CUT_SHORT = re.compile(r"(\.\.\.|…)$")
MAX_PROMPT_LINE = 120  # characters: a line of a subscription prompt
MIN_PROMPT_LINES = 3  # a notice and what subscribing gives; fewer may be the article's end


def _without_paywall_tail(paragraphs: list[str]) -> list[str]:
    """Without the lines after a text cut short (``...``) for readers who do
    not subscribe, when they are three or more short lines, less than half
    as long as the text before them: the subscription prompt that follows a
    preview."""
    for i in range(len(paragraphs) - 2, -1, -1):
        if not _CUT_SHORT.search(paragraphs[i]):
            continue
        tail, text = paragraphs[i + 1 :], paragraphs[: i + 1]
        short = len(tail) >= MIN_PROMPT_LINES and max(map(len, tail)) <= MAX_PROMPT_LINE
        if short and sum(map(len, tail)) < 0.5 * sum(map(len, text)):
            return text
        break
    return paragraphs


# Words of a class or id naming a box beside the article's text, not the text:
# an author's biography, a disclaimer, a call to subscribe or to send
# feedback, what a page shows without JavaScript, a consent placeholder,
# the broadcast a story was in, an embedded social post. (Fact boxes and bylines are not among them:
# a fact box may be the article's own list, and a byline's box may hold the
# standfirst.)
_BOX_WORDS = frozenset(
    """author authors bio disclaimer cta feedback newsletter promo consent privacy
    gdpr signup subscribe subscription additionalinfo nojs tweet twitter instagram tiktok""".split()
)
_CLASS_WORD = re.compile(r"[a-z0-9]+")
_EMPHASIS = frozenset({"em", "i", "strong", "b"})
MAX_BOX_SHARE = 1 / 3  # a box holds less than this share of the body's text
MAX_NOTE_SHARE = 0.15  # emphasized paragraphs ending the body, more than this are text


def _without_marked(paragraphs: list[str], root: Any) -> list[str]:
    """Without the paragraphs the page marks as furniture: those inside an
    element (holding less than a third of the body) whose class or id names
    a box beside the text (:data:`_BOX_WORDS`), and the paragraphs ending
    the body that are wholly in italics or bold (an editor's note, a call
    to subscribe, the author's biography) when they are less than 15% of
    it (a longer run is quoted text)."""
    elements = _paragraph_elements(paragraphs, root)
    if not elements:
        return paragraphs
    limit = MAX_BOX_SHARE * sum(map(len, paragraphs))
    sizes: dict[Any, int] = {}
    kept = [p for p in paragraphs if p not in elements or not _in_box(elements[p], limit, sizes)]
    end = len(kept)
    while end and kept[end - 1] in elements and _emphasized(elements[kept[end - 1]]):
        end -= 1
    if sum(map(len, kept[end:])) <= MAX_NOTE_SHARE * sum(map(len, kept)):
        kept = kept[:end]
    return kept if kept else paragraphs


def _paragraph_elements(paragraphs: list[str], root: Any) -> dict[str, Any]:
    """The ``<p>`` and ``<li>`` elements whose text is one of ``paragraphs``."""
    wanted = {p.removeprefix("- "): p for p in paragraphs}
    found = elements_by_text(root, ("p", "li"), wanted)
    return {wanted[text]: element for text, element in found.items()}


def _in_box(element: Any, limit: float, sizes: dict[Any, int]) -> bool:
    """Is ``element`` inside (or itself) the nearest element named like a box,
    when that holds less text than ``limit``? (An element above holds more.)
    ``sizes`` keeps each box's text length for the next paragraphs."""
    for box in (element, *element.iterancestors()):
        marks = f"{box.get('class') or ''} {box.get('id') or ''}".lower().replace("no-js", "nojs")
        if _BOX_WORDS.intersection(_CLASS_WORD.findall(marks)):
            if box not in sizes:
                sizes[box] = sum(len(t.strip()) for t in box.itertext())
            return sizes[box] < limit
    return False


def _emphasized(element: Any) -> bool:
    """Is all of the element's text inside ``<em>``, ``<i>``, ``<strong>`` or ``<b>``?"""
    if (element.text or "").strip():
        return False
    for child in element:
        if child.tag not in _EMPHASIS or (child.tail or "").strip():
            return False
    return len(element) > 0


def _without_repeats(paragraphs: list[str]) -> list[str]:
    counts = Counter(paragraphs)
    seen: set[str] = set()
    kept = []
    for p in paragraphs:
        short = len(p.split()) <= MAX_FURNITURE_WORDS
        if (short and counts[p] >= MIN_REPEATS) or p in seen:
            continue
        seen.add(p)
        kept.append(p)
    return kept


def _link_texts(root: Any) -> set[str]:
    texts = set()
    for a in root.iter("a"):
        raw = "".join(a.itertext())
        if len(raw) >= 15:  # normalising only shortens it
            text = normalize_text(raw)
            if len(text) >= 15:
                texts.add(text.casefold())
    return texts


def _in_headline_article(paragraphs: list[str], root: Any) -> list[str]:
    """The paragraphs inside the ``<article>`` of the page's first ``<h1>``,
    when another ``<article>`` outside it has an ``<h1>`` of its own."""
    h1 = next(root.iter("h1"), None)
    if h1 is None:
        return paragraphs
    own = next((a for a in h1.iterancestors("article")), None)
    if own is None:
        return paragraphs
    others = [
        a
        for a in root.iter("article")
        if a is not own and own not in a.iterancestors() and a not in own.iterancestors()
    ]
    if not any(next(a.iter("h1"), None) is not None for a in others):
        return paragraphs
    text = normalize_text("".join(own.itertext()))
    kept = [p for p in paragraphs if p.removeprefix("- ") in text]
    return kept if kept else paragraphs
