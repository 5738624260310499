"""Scrapy's meta-refresh redirects, without decoding every page whole.

Scrapy's ``MetaRefreshMiddleware`` looks for ``<meta http-equiv="refresh">``
in the first 4,096 characters of each HTML page, which it reads from
``response.text``: the whole body decoded, in the crawl's reactor thread,
for every page (article pages are read in extraction processes: the crawl
process has no other use for their text). Here those characters are
decoded from the first bytes of the body alone when the page's charset
decodes byte by byte, at most four bytes to a character (UTF-8 and the
one-byte charsets): the same characters, a fraction of the work. A page
that has a refresh, or another charset, goes through Scrapy's own code.
"""

from __future__ import annotations

import codecs
from typing import Any

from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware as ScrapyMetaRefresh
from scrapy.http import HtmlResponse, Request, Response
from scrapy.utils.httpobj import urlparse_cached
from w3lib import html
from w3lib.encoding import http_content_type_encoding, read_bom, to_unicode

HEAD_CHARACTERS = 4096  # what Scrapy reads (scrapy.utils.response.get_meta_refresh)
_HEAD_BYTES = 4 * HEAD_CHARACTERS + 4  # no character of those takes more than 4 bytes
# Charsets whose characters decode from their own bytes alone (Python codec names).
_BYTE_BY_BYTE = frozenset(
    ["utf-8", "ascii", "iso8859-1", "iso8859-15"]
    + [f"cp{n}" for n in range(1250, 1259)]
    + ["koi8-r", "koi8-u"]
)


def _codec(encoding: str) -> str | None:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        return None


class MetaRefreshMiddleware(ScrapyMetaRefresh):
    def process_response(self, request: Request, response: Response, *args: Any) -> Any:
        text = self._head(request, response)
        if text is not None:
            base = html.get_base_url(text, response.url, response.encoding)
            _, url = html.get_meta_refresh(
                text, base, response.encoding, ignore_tags=self._ignore_tags
            )
            if not url:
                return response  # as Scrapy's would: no refresh on the page
        return super().process_response(request, response, *args)

    def _head(self, request: Request, response: Response) -> str | None:
        """The page's first HEAD_CHARACTERS characters as ``response.text``
        has them, or None where Scrapy's own code is left to decide."""
        if (
            request.meta.get("dont_redirect", False)
            or request.method == "HEAD"
            or not isinstance(response, HtmlResponse)
            or urlparse_cached(request).scheme not in {"http", "https"}
            or len(response.body) <= _HEAD_BYTES
        ):
            return None
        # As response.text decodes the body (w3lib's html_to_unicode): a
        # byte-order mark first (left to Scrapy), else the response's encoding.
        encoding = http_content_type_encoding(f"charset={response.encoding}")
        if encoding is None or _codec(encoding) not in _BYTE_BY_BYTE:
            return None
        head = response.body[:_HEAD_BYTES]
        if read_bom(head)[0] is not None:
            return None
        return to_unicode(head, encoding)[:HEAD_CHARACTERS]
