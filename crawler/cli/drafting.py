"""Drafting the listing part of a site definition from its pages, and
keeping only article rules that agree with generic extraction on several
articles. Used by ``newscrawl sites new`` (crawler/cli/onboarding.py).

Each drafted rule is tried with the crawl's own functions before it is
written: the article URL pattern on the home page's links, the next-page
rule on the home page and on the page it leads to, an article rule on every
sampled article.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from crawler.extraction.dates import parse_date
from crawler.extraction.discovery import looks_like_article_url
from crawler.extraction.navigation import next_page, page_number
from crawler.extraction.page import Page
from crawler.extraction.rules import extract_links, rule_paragraphs, rule_texts
from crawler.extraction.text import element_paragraphs
from crawler.sites.definitions import FieldRule

# --------------------------------------------------------------------------- URL pattern


def _segment_shape(segment: str) -> str:
    if segment.isdigit():
        return r"\d+"
    stem = re.sub(r"\.(s?html?|php\d?|aspx?|jsp|cfm)$", "", segment)
    if "-" in stem or "_" in stem:
        tail = segment[len(stem) :]
        head = r"\d+[-_]" if re.match(r"^\d+[-_]", stem) else ""
        return head + r"[^/]+" if not tail else head + r"[^/]+" + re.escape(tail)
    return re.escape(segment)


def _query_shape(query: str) -> str:
    for name, value in parse_qsl(query, keep_blank_values=True):
        if value.isdigit() and looks_like_article_url(f"http://h/x.php?{name}={value}"):
            return rf"\?(?:[^#]*&)?{re.escape(name)}=\d+(?:&|$)"
    return ""


def url_shape(url: str) -> tuple[list[str], str, bool]:
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    return (
        [_segment_shape(s) for s in segments],
        _query_shape(parts.query),
        parts.path.endswith("/"),
    )


def guess_url_pattern(urls: list[str]) -> str | None:
    """A regex matching the article URLs of the commonest shape: per path
    segment, digits become ``\\d+``, slugs ``[^/]+``, and a literal segment
    that differs between the URLs (a section name) ``[^/]+``."""
    shapes = [url_shape(u) for u in urls]
    if not shapes:
        return None

    def skeleton(shape: tuple[list[str], str, bool]) -> tuple:
        return (
            tuple("L" if s == re.escape(s) and s != r"\d+" else s for s in shape[0]),
            shape[1],
        )

    key, count = Counter(skeleton(s) for s in shapes).most_common(1)[0]
    if count < 2 and len(urls) > 2:
        return None
    group = [s for s in shapes if skeleton(s) == key]
    segments = []
    for i, kind in enumerate(key[0]):
        values = {s[0][i] for s in group}
        segments.append(values.pop() if kind != "L" or len(values) == 1 else r"[^/]+")
    path = "/" + "/".join(segments)
    if key[1]:
        return path + key[1]
    return path + ("/?$" if any(s[2] for s in group) else "$")


# --------------------------------------------------------------------------- article links


def _ancestors(selector: Any) -> list[Any]:
    return list(selector.root.iterancestors())


def article_links_rule(
    page: Page, pattern: str, selector_of: Callable[[Page, Any], str | None]
) -> str:
    """A CSS rule for the article links: the innermost element holding at
    least 90% of the page's links that fit ``pattern`` (``main a::attr(href)``),
    else every link."""
    regex = re.compile(pattern)
    links = [
        a
        for a in page.selector.xpath("//a[@href]")
        if regex.search(_absolute(page, a.attrib["href"]))
    ]
    if len(links) < 3:
        return "a::attr(href)"
    counts: Counter = Counter()
    for a in links:
        for el in _ancestors(a):
            counts[el] += 1
    needed = 0.9 * len(links)
    holders = [el for el, n in counts.items() if n >= needed and el.tag not in ("html", "body")]
    # The innermost: the one with the fewest descendants.
    for element in sorted(holders, key=lambda el: sum(1 for _ in el.iter())):
        css = selector_of(page, element)
        if css and len(page.selector.css(f"{css} a::attr(href)")) >= needed:
            return f"{css} a::attr(href)"
    return "a::attr(href)"


def _absolute(page: Page, href: str) -> str:
    from urllib.parse import urljoin

    return urljoin(page.url, href.strip())


# --------------------------------------------------------------------------- next page


def next_page_rules(page: Page, selector_of: Callable[[Page, Any], str | None]) -> list[str]:
    """CSS rules that find the page after ``page`` as generic discovery
    finds it (crawler/extraction/navigation.py), best first."""
    target = next_page(page.selector, page.url)
    if target is None:
        return []
    rules = ["link[rel=next]::attr(href)", "a[rel=next]::attr(href)"]
    for a in page.selector.xpath("//a[@href]"):
        if _absolute(page, a.attrib["href"]).split("#")[0] != target:
            continue
        text = " ".join(a.xpath("string(.)").get("").split())
        if text and "'" not in text and len(text) <= 40:
            rules.append(f"xpath://a[normalize-space(.)='{text}']/@href")
        own = selector_of(page, a.root)
        if own and own != "a":
            rules.append(f"{own}::attr(href)")
        parent = a.root.getparent()
        css = selector_of(page, parent) if parent is not None else None
        if css:
            marker = a.root.getprevious()
            if marker is not None and isinstance(marker.tag, str) and marker.tag != "a":
                rules.append(f"{css} > {marker.tag} + a::attr(href)")  # after the current page
            rules.append(f"{css} a::attr(href)")
    return [r for r in dict.fromkeys(rules) if _finds_first(page, r, target)]


def link_rule(spec: str) -> FieldRule:
    """A drafted link rule: CSS, or XPath when written ``xpath:EXPR``."""
    if spec.startswith("xpath:"):
        return FieldRule.model_validate({"xpath": spec.removeprefix("xpath:")})
    return FieldRule.model_validate({"css": spec})


def _finds_first(page: Page, css: str, target: str) -> bool:
    rule = link_rule(css)
    found = extract_links(page.selector, [rule], page.url, first_rule_only=True)
    return bool(found) and found[0] == target


def agrees_on_next(rule: str, page: Page) -> bool:
    """Does ``rule`` find this page's next page as generic discovery does
    (nothing on the last page)?"""
    target = next_page(page.selector, page.url)
    if target is None:
        found = extract_links(page.selector, [link_rule(rule)], page.url)
        return not found
    return _finds_first(page, rule, target)


def page_template(url: str) -> tuple[str, int] | None:
    """``(page_url_template, first_template_page)`` for a numbered page URL
    (``/news?pg=2`` gives ``/news?pg={page}``, 2); None for offsets."""
    found = page_number(url)
    if found is None or found[0][3] in ("start", "offset", "from", "skip"):
        return None
    parts = urlsplit(url)
    number = str(found[1])
    tail = parts.path + (f"?{parts.query}" if parts.query else "")
    index = tail.rfind(number)
    template = tail[:index] + "{page}" + tail[index + len(number) :]
    return template.replace("{", "{{").replace("}", "}}").replace("{{page}}", "{page}"), found[1]


# --------------------------------------------------------------------------- agreement


def words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.casefold()))


def overlap(text: str, reference: set[str]) -> float:
    found = words(text)
    common = len(found & reference)
    if not common:
        return 0.0
    precision, recall = common / len(found), common / len(reference)
    return 2 * precision * recall / (precision + recall)


def agrees(page: Page, field: str, spec: str | dict[str, str], generic: Any) -> bool:
    """Does the rule ``spec`` give, on ``page``, what generic extraction gives
    (``generic``: the field's generic value, or None)?"""
    if generic is None:
        return False
    rule = FieldRule.model_validate({"css": spec} if isinstance(spec, str) else spec)
    if field == "body":
        return overlap(" ".join(rule_paragraphs(page, rule, where=field)), words(generic)) >= 0.95
    values = rule_texts(page, rule, where=field)
    if not values:
        return False
    if field == "title":
        return " ".join(values[0].split()) == " ".join(str(generic).split())
    if field == "published":
        found = parse_date(values[0], [], "UTC")
        expected = parse_date(str(generic), [], "UTC")
        return found is not None and expected is not None and found == expected
    # The author as the crawl stores what the rule finds: its values joined.
    return ", ".join(dict.fromkeys(" ".join(v.split()) for v in values)) == str(generic)


# --------------------------------------------------------------------------- drop rules

_BLOCKS = ("div", "section", "aside", "ul", "ol", "nav", "figure", "form", "footer")
MIN_DROP_WORDS = 20  # smaller blocks (a byline, a date line, a caption) may hold other fields


def _foreign(element: Any, body: str) -> bool:
    """A block of some size whose text is not in the body: fewer than a tenth
    of its characters are in paragraphs the body also has."""
    paragraphs = element_paragraphs(element)
    size = sum(len(p) for p in paragraphs)
    if sum(len(p.split()) for p in paragraphs) < MIN_DROP_WORDS:
        return False
    return sum(len(p) for p in paragraphs if p in body) < 0.1 * size


def drop_rules(samples: list[tuple[Page, str]], body_css: str) -> list[str]:
    """Selectors of the blocks inside the drafted body element that are not
    the article on any sample (a related-posts box, share buttons with their
    text, a newsletter form): on every sample ``(page, generic body)``, each
    selector finds at least one block inside the body element, and only
    blocks of 20 words or more whose text is not in generic extraction's
    body (less than a tenth of it). The outermost such blocks; their tag and one of their
    classes."""
    found: list[str] = []
    first_page, first_body = samples[0]
    container = first_page.selector.css(body_css)
    if not container:
        return []
    for element in container[0].root.iter(*_BLOCKS):
        if element is container[0].root or not _foreign(element, first_body):
            continue
        for css in (f"{element.tag}.{c}" for c in (element.get("class") or "").split()):
            if css not in found and _drops_only_foreign(css, body_css, samples):
                found.append(css)
                break
    # The outermost: a selector whose blocks all sit inside another's is left out.
    return [css for css in found if not _inside_other(css, found, first_page)]


def _drops_only_foreign(css: str, body_css: str, samples: list[tuple[Page, str]]) -> bool:
    if not re.fullmatch(r"[a-z]+\.[A-Za-z_][\w-]*", css):
        return False
    for page, body in samples:
        container = page.selector.css(body_css)
        matched = container[0].css(css) if container else []
        if not matched or not all(_foreign(m.root, body) for m in matched):
            return False
    return True


def _inside_other(css: str, selectors: list[str], page: Page) -> bool:
    mine = [m.root for m in page.selector.css(css)]
    for other in selectors:
        if other == css:
            continue
        outer = [m.root for m in page.selector.css(other)]
        if mine and all(any(o in el.iterancestors() for o in outer) for el in mine):
            return True
    return False
