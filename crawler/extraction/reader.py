"""Reading an article page: its bytes decoded (the declared charset, else
the page's own declaration or the detected one), parsed once, a guessed
link checked, the article's URL found (``rel=canonical``), the rules and
fallbacks applied, and the article cleaned (crawler/extraction/cleaning.py).

The same functions run in the crawl process and in extraction processes
(crawler/extraction/processes.py).
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import NamedTuple
from urllib.parse import urljoin, urlsplit

from w3lib.encoding import (
    html_body_declared_encoding,
    read_bom,
    resolve_encoding,
    to_unicode,
)

from crawler.exceptions import UndecodablePage
from crawler.extraction.cleaning import clean_article
from crawler.extraction.page import Page
from crawler.extraction.page_kind import page_kind
from crawler.extraction.rules import extract_article
from crawler.items import Article
from crawler.sites.definitions import Site
from crawler.sites.urls import site_canonical_url

logger = logging.getLogger(__name__)


def article_url(page: Page, response_url: str, site: Site) -> str:
    """The article's URL: its ``rel=canonical`` when that stays within the
    site's allowed domains, else the URL it was fetched from (after redirects)."""
    if site.urls.use_rel_canonical:
        href = page.selector.xpath('//link[@rel="canonical"]/@href').get()
        if href:
            absolute = urljoin(response_url, href.strip())
            host = (urlsplit(absolute).hostname or "").lower()
            if absolute.startswith(("http://", "https://")) and any(
                host == d or host.endswith("." + d) for d in site.allowed_domains
            ):
                return site_canonical_url(absolute, site)
    return site_canonical_url(response_url, site)


# --------------------------------------------------------------------------- decoding

# A page whose bytes no charset decodes cleanly is kept, with its bad bytes as
# U+FFFD, while they are at most this share of its text (markup left out);
# beyond it the page is rejected (stage ``fetch``): never replacement-character soup.
MAX_REPLACED_SHARE = 0.01
REPLACEMENT = "\ufffd"
_NOT_TEXT = re.compile(
    r"<script\b.*?</script\s*>|<style\b.*?</style\s*>|<!--.*?-->|<[^>]*>|\s+",
    re.IGNORECASE | re.DOTALL,
)


class Decoded(NamedTuple):
    text: str
    charset: str  # the charset the text was decoded with
    mislabelled: bool  # not the charset the response declared: the page's meta or detected
    replaced: int  # bad bytes replaced by U+FFFD (tolerated, up to MAX_REPLACED_SHARE)


def _strict(body: bytes, charset: str | None) -> str | None:
    if not charset:
        return None
    try:
        return body.decode(charset)
    except (UnicodeDecodeError, LookupError):
        return None


def _replaced_share(html: str) -> float:
    """The share of U+FFFD in the page's text, without its markup and spaces."""
    text = _NOT_TEXT.sub("", html)
    return text.count(REPLACEMENT) / max(1, len(text))


def decode(body: bytes, encoding: str, url: str = "") -> Decoded:
    """A page's text, decoded as Scrapy's ``TextResponse.text`` decodes it once
    its ``encoding`` is known (a byte-order mark first, then that encoding),
    when the bytes are valid in it: the common case, one strict decode.

    Otherwise the charset was mislabelled or the bytes are broken. The page's
    own ``<meta charset>``/``http-equiv`` declaration, when it differs, then
    the charset charset-normalizer detects, are tried in turn; the first that
    decodes the bytes cleanly is used, with a warning. The detector is only
    asked when the declared charset decodes fewer than half of the page's
    non-ASCII characters: a UTF-8 page with a stray byte stays UTF-8 (one
    U+FFFD), not mojibake in some charset that happens to decode every byte.
    When nothing decodes cleanly, the declared charset is used if the bad bytes
    are at most MAX_REPLACED_SHARE of the text; else :class:`UndecodablePage`.
    """
    bom_encoding, bom = read_bom(body)
    if bom_encoding is not None and bom is not None:
        declared: str = bom_encoding
        body = body[len(bom) :]
    else:
        # As html_to_unicode picks it from "charset=ENCODING".
        declared = resolve_encoding(encoding) or html_body_declared_encoding(body) or "utf8"
        if declared in {"utf-16", "utf-32"}:
            declared += "-be"
    text = _strict(body, declared)
    if text is not None:
        return Decoded(text, declared, False, 0)
    return _decode_mislabelled(body, declared, url)


def _decode_mislabelled(body: bytes, declared: str, url: str) -> Decoded:
    """:func:`decode` once the declared charset failed a strict decode."""
    damaged = to_unicode(body, declared)  # as Scrapy decodes it: bad bytes as U+FFFD
    replaced = damaged.count(REPLACEMENT)
    if not replaced:  # only what w3lib decodes more leniently (a GB18030 euro sign)
        return Decoded(damaged, declared, False, 0)
    candidates = []
    meta = html_body_declared_encoding(body)
    if meta and meta != declared:
        candidates.append((meta, "its <meta> declaration"))
    non_ascii = len(damaged) - len(damaged.encode("ascii", "ignore")) - replaced
    if non_ascii < replaced:  # the declared charset is wrong for most of the page
        from charset_normalizer import from_bytes

        match = from_bytes(body).best()
        if match is not None:
            detected = resolve_encoding(match.encoding) or match.encoding
            if detected != declared and detected != meta:
                candidates.append((detected, "detected from its bytes"))
    for charset, source in candidates:
        text = _strict(body, charset)
        if text is not None:
            logger.warning(
                "mislabelled charset: %s declares %s, which does not decode it; decoded as %s (%s)",
                url,
                declared,
                charset,
                source,
            )
            return Decoded(text, charset, True, 0)
    share = _replaced_share(damaged)
    if share > MAX_REPLACED_SHARE:
        raise UndecodablePage(
            f"cannot decode the page: {share:.0%} of its text is not {declared} "
            f"(declared), and no other charset decodes it"
        )
    logger.warning(
        "broken bytes: %s has %d bytes that are not %s (%.2f%% of its text), kept as U+FFFD",
        url,
        replaced,
        declared,
        share * 100,
    )
    return Decoded(damaged, declared, False, replaced)


# What an article page may be served as; other types are not read.
HTML_TYPES = ("", "text/html", "application/xhtml+xml", "text/plain")


def unreadable_reason(content_type: str, body: bytes, is_text: bool, status: int) -> str | None:
    """Why a page at an article link cannot be read as one (a PDF, an image,
    an empty page), or None. ``is_text``: Scrapy made a text response of it."""
    mimetype = content_type.split(";")[0].strip().lower()
    if not is_text or mimetype not in HTML_TYPES:
        return f"not an HTML page ({mimetype or 'no Content-Type'}, {len(body)} bytes)"
    if not body.strip():
        return f"empty page (HTTP {status}, {len(body)} bytes)"
    return None


def is_article_page(page: Page) -> bool:
    """May a page at a guessed article link be stored? Not when its signals
    say it is a listing (crawler/extraction/page_kind.py); when they do not
    decide, when it looks like an article to the generic extractor."""
    from crawler.extraction.generic import GenericPage

    kind = page_kind(page).kind
    if kind == "unknown":
        return GenericPage(page, page.text).looks_like_article()
    return kind == "article"


def read_article_page(
    html: str,
    response_url: str,
    site: Site,
    guessed: bool,
    fetched_at: datetime | None,
) -> Article | None:
    """One article page as a clean :class:`Article`, its fingerprints
    computed; None when the link was only guessed to be an article (by its
    URL's shape) and the page is not one."""
    page = Page(html, response_url)  # parsed once for everything below
    if guessed and not is_article_page(page):
        return None
    article = extract_article(
        page.text, article_url(page, response_url, site), site, fetched_at=fetched_at, page=page
    )
    return clean_article(article, site)
