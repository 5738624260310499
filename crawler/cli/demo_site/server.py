"""A local HTTP server for DemoNews (stdlib ``http.server``, one thread per request).

Routes::

    /                                      home page (Top stories + 10 newest)
    /eng/news/                             all articles, newest first, page 1
    /eng/news/page/N/                      page N >= 2 (page 1 -> 301 to /eng/news/)
    /eng/news/section/<slug>/              one section, page 1
    /eng/news/section/<slug>/page/N/       page N >= 2 (page 1 -> 301 to the section)
    /eng/news/<id>/                        an article (/eng/news/<id> -> 301 to it)
    /robots.txt                            disallows /private/
    /private/...                           200, so tests can check robots.txt is obeyed
    anything else                          404

Usage::

    with DemoSiteServer() as site:          # random free port on 127.0.0.1
        urlopen(site.url + "/eng/news/")
        site.request_log                    # [("GET", "/eng/news/"), ...]

A correction (``DemoSiteServer(corrections=True)``, as ``newscrawl demo`` and
``newscrawl demo-site`` serve it): one article (``CORRECTED_ARTICLE_ID``,
301058) is served as first published, one figure wrong, until its page has
been served once; from then on it is served corrected. The home page's Top
stories block lists it fifth, by its short URL ``/eng/news/301058``, which
redirects to the article. A crawl that stored the article from the listing
has not followed that link yet, so the ``top_stories`` spider fetches the
article again and stores the corrected text as version 2. (The revisit
policy would not fetch it: DemoNews's articles date from 2021, long past
their last revisit.) Without ``corrections`` every page is always the same,
as tests that share one server need.
"""

from __future__ import annotations

import re
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from . import pages
from .content import CORRECTED_ARTICLE_ID, SECTION_NAMES, get_article

HTML_TYPE = "text/html; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"

_ARTICLE = re.compile(r"/eng/news/([1-9][0-9]{0,8})(/?)")
_LISTING_PAGE = re.compile(r"/eng/news/page/([1-9][0-9]{0,5})/")
_SECTION = re.compile(r"/eng/news/section/([a-z]+)/(?:page/([1-9][0-9]{0,5})/)?")


@dataclass(frozen=True)
class DemoResponse:
    status: int
    body: bytes
    content_type: str = HTML_TYPE
    location: str | None = None


def _html(status: int, text: str) -> DemoResponse:
    return DemoResponse(status, text.encode("utf-8"))


def _redirect(location: str, query: str) -> DemoResponse:
    if query:
        location = f"{location}?{query}"
    return DemoResponse(301, pages.render_redirect(location).encode("utf-8"), location=location)


class Correction:
    """The state of the correction: has the first edition been served yet?"""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._served = False

    def first_edition(self, serve: bool = True) -> bool:
        """Is the first edition due? ``serve``: it is being served (a GET),
        so every later request gets the corrected article."""
        with self._lock:
            due = not self._served
            self._served = self._served or serve
            return due


def _article(
    article_id: int, slash: str, query: str, correction: Correction | None, serve: bool
) -> DemoResponse:
    """``/eng/news/<id>/``, or with no ``slash`` a redirect to it."""
    if not slash:
        if get_article(article_id) is None:
            raise pages.PageNotFound(f"unknown article {article_id}")
        return _redirect(pages.article_url(article_id), query)
    first = (
        article_id == CORRECTED_ARTICLE_ID
        and correction is not None
        and correction.first_edition(serve)
    )
    return _html(200, pages.render_article(article_id, first_edition=first))


def resolve(target: str, correction: Correction | None = None, serve: bool = True) -> DemoResponse:
    """The response for a request target (path with optional query).

    With ``correction`` (see the module's docstring), the home page lists the
    corrected article and the article's first edition is served once; a
    request with ``serve=False`` (HEAD) leaves it due.
    """
    parts = urlsplit(target)
    path, query = parts.path or "/", parts.query
    try:
        if path == "/":
            return _html(200, pages.render_home(correction is not None))
        if path == "/robots.txt":
            return DemoResponse(200, pages.ROBOTS_TXT.encode("utf-8"), TEXT_TYPE)
        if path.startswith("/private/"):
            return _html(200, pages.render_private(path))
        if path == "/eng/news/":
            return _html(200, pages.render_listing(1))
        match = _LISTING_PAGE.fullmatch(path)
        if match:
            page = int(match[1])
            if page == 1:
                return _redirect(pages.listing_url(1), query)
            return _html(200, pages.render_listing(page))
        match = _SECTION.fullmatch(path)
        if match:
            slug, page = match[1], int(match[2] or 1)
            if match[2] and page == 1 and slug in SECTION_NAMES:
                return _redirect(pages.section_url(slug), query)
            return _html(200, pages.render_section(slug, page))
        match = _ARTICLE.fullmatch(path)
        if match:
            return _article(int(match[1]), match[2], query, correction, serve)
    except pages.PageNotFound:
        pass
    return _html(404, pages.render_not_found(path))


class RequestLog(list):
    """A thread-safe list of ``(method, path_with_query)`` tuples, in arrival order.

    Iterating, indexing and comparing work on a consistent snapshot, so tests can
    read it while the server is still answering requests.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def append(self, entry: tuple[str, str]) -> None:
        with self._lock:
            super().append(entry)

    def clear(self) -> None:
        with self._lock:
            super().clear()

    def snapshot(self) -> list[tuple[str, str]]:
        with self._lock:
            return list.copy(self)

    def paths(self, method: str | None = None) -> list[str]:
        """The logged paths, optionally only those requested with ``method``."""
        return [p for m, p in self.snapshot() if method is None or m == method]

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.snapshot())

    def __len__(self) -> int:
        with self._lock:
            return super().__len__()

    def __getitem__(self, index):
        with self._lock:
            return super().__getitem__(index)

    def __contains__(self, entry: object) -> bool:
        with self._lock:
            return super().__contains__(entry)

    def __eq__(self, other: object) -> bool:
        return self.snapshot() == other

    def __repr__(self) -> str:
        return f"RequestLog({self.snapshot()!r})"


class _Handler(BaseHTTPRequestHandler):
    server: _DemoHTTPServer
    server_version = "DemoNews/1.0"
    sys_version = ""
    timeout = 30

    def parse_request(self) -> bool:
        ok = super().parse_request()
        if ok:
            self.server.request_log.append((self.command, self.path))
        return ok

    def do_GET(self) -> None:
        self._respond(with_body=True)

    def do_HEAD(self) -> None:
        self._respond(with_body=False)

    def _respond(self, with_body: bool) -> None:
        response = resolve(self.path, self.server.correction, serve=with_body)
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        if response.location is not None:
            self.send_header("Location", response.location)
        self.end_headers()
        if with_body:
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: object) -> None:
        if self.server.verbose:
            super().log_message(format, *args)


class _DemoHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], verbose: bool, corrections: bool) -> None:
        self.verbose = verbose
        self.request_log = RequestLog()
        self.correction = Correction() if corrections else None
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def handle_error(self, request, client_address) -> None:
        # A client hanging up early is normal for a crawler under test; stay quiet.
        if isinstance(sys.exc_info()[1], ConnectionError) and not self.verbose:
            return
        super().handle_error(request, client_address)


class DemoSiteServer:
    """DemoNews on a local port: in a background thread (``start``) or the foreground.

    The socket is bound in the constructor, so :attr:`url` is known (with the real
    port when ``port=0``) before serving starts. With ``corrections``, one
    article is corrected once it has been served (see the module's docstring).
    """

    POLL_INTERVAL = 0.05

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        verbose: bool = False,
        corrections: bool = False,
    ) -> None:
        self._httpd = _DemoHTTPServer((host, port), verbose, corrections)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._serving = False
        self._closed = False

    @property
    def request_log(self) -> RequestLog:
        return self._httpd.request_log

    @property
    def corrections(self) -> bool:
        return self._httpd.correction is not None

    @property
    def host(self) -> str:
        return str(self._httpd.server_address[0])

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, without a trailing slash."""
        host = self.host
        if host == "0.0.0.0":
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def _claim(self) -> None:
        if self._closed:
            raise RuntimeError("DemoSiteServer has been stopped")
        if self._serving:
            raise RuntimeError("DemoSiteServer is already serving")
        self._serving = True

    def start(self) -> DemoSiteServer:
        """Serve in a daemon thread; returns ``self``."""
        with self._lock:
            self._claim()
            self._thread = threading.Thread(
                target=self._run, name=f"demo-site-{self.port}", daemon=True
            )
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self._httpd.serve_forever(poll_interval=self.POLL_INTERVAL)
        finally:
            with self._lock:
                self._serving = False

    def serve_forever(self) -> None:
        """Serve in the calling thread until :meth:`stop` (or Ctrl-C); then close."""
        with self._lock:
            self._claim()
        try:
            self._httpd.serve_forever(poll_interval=self.POLL_INTERVAL)
        finally:
            with self._lock:
                self._serving = False
            self.stop()

    def stop(self) -> None:
        """Stop serving and close the socket. Safe to call more than once."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            serving = self._serving
            thread = self._thread
        if serving:
            self._httpd.shutdown()
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        self._httpd.server_close()

    def __enter__(self) -> DemoSiteServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("serving" if self._serving else "ready")
        return f"<DemoSiteServer {self.url} {state}>"
