"""A small news site for tests, served on 127.0.0.1: every path's response is
set by the test and can change between crawls; every request is logged.

Besides ordinary pages it can misbehave the way real servers do: answer
late, reset the connection, send raw bytes with any headers (or none),
redirect in chains and loops, stream a huge body with or without a
Content-Length, and answer a path differently on each request (500, then 200).

``NewsSite`` publishes numbered stories on a ``ScriptedSite``, newest first.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

CHUNK = 64 * 1024


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before anything is sent
    reset: bool = False  # drop the connection (TCP RST) instead of answering
    length: bool = True  # send Content-Length; without it the body ends when the connection closes
    default_type: bool = True  # add Content-Type: text/html; charset=utf-8 unless headers name one
    size: int = 0  # when set: a body of this many bytes, generated while it is sent


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 drops connections a crawl opens at once

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that hang up early (timeouts, size limits) are expected here


class ScriptedSite:
    def __init__(self) -> None:
        self.replies: dict[str, Reply | list[Reply]] = {
            "/robots.txt": Reply(200, b"User-agent: *\n")
        }
        self.request_log: list[str] = []
        self.agents: list[tuple[str, str | None]] = []  # (path, User-Agent) of every request
        self.in_flight = 0
        self.most_in_flight = 0  # the most requests the site was answering at once
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                with site._lock:
                    site.agents.append((self.path, self.headers.get("User-Agent")))
                    site.in_flight += 1
                    site.most_in_flight = max(site.most_in_flight, site.in_flight)
                try:
                    self._answer()
                finally:
                    with site._lock:
                        site.in_flight -= 1

            def _answer(self) -> None:
                reply = site._next_reply(self.path)
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.reset:
                    # SO_LINGER with a zero timeout: close() sends RST, not FIN.
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.connection.close()
                    self.close_connection = True
                    return
                self.send_response(reply.status)
                headers = dict(reply.headers)
                if reply.default_type and not any(k.lower() == "content-type" for k in headers):
                    headers["Content-Type"] = "text/html; charset=utf-8"
                if reply.length:
                    headers["Content-Length"] = str(reply.size or len(reply.body))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                try:
                    if reply.size:
                        for start in range(0, reply.size, CHUNK):
                            self.wfile.write(b"x" * min(CHUNK, reply.size - start))
                    else:
                        self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading

            def log_message(self, *args: object) -> None:
                pass

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()

    def _next_reply(self, path: str) -> Reply:
        with self._lock:
            self.request_log.append(path)
            reply = self.replies.get(path)
            if isinstance(reply, list):
                # A sequence: each request takes the next reply; the last one stays.
                reply = reply.pop(0) if len(reply) > 1 else reply[0]
        return reply or Reply(404, b"<html><body>Not found</body></html>")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def reply(self, path: str, *replies: Reply) -> None:
        """Answer ``path`` with these replies in turn, the last one from then on."""
        with self._lock:
            self.replies[path] = list(replies) if len(replies) > 1 else replies[0]

    def page(self, path: str, html: str, status: int = 200, **headers: str) -> None:
        self.reply(path, Reply(status, html.encode("utf-8"), headers))

    def raw(self, path: str, body: bytes, headers: dict[str, str], status: int = 200) -> None:
        """Exactly these bytes and headers (plus Content-Length), no Content-Type added."""
        self.reply(path, Reply(status, body, dict(headers), default_type=False))

    def redirect(self, path: str, to: str, status: int = 301) -> None:
        self.reply(path, Reply(status, b"", {"Location": to}))

    def redirect_chain(self, *paths: str, status: int = 301) -> None:
        """Each path redirects to the next; for a loop, end with the first path again."""
        for here, there in zip(paths, paths[1:], strict=False):
            self.redirect(here, there, status)

    def slow(self, path: str, html: str, delay: float) -> None:
        self.reply(path, Reply(200, html.encode("utf-8"), delay=delay))

    def reset(self, path: str) -> None:
        self.reply(path, Reply(reset=True))

    def huge(self, path: str, size: int, declared: bool = True) -> None:
        """A body of ``size`` bytes, with its Content-Length or (``declared=False``) without."""
        self.reply(path, Reply(200, size=size, length=declared))

    def fetched(self, since: int = 0) -> list[str]:
        with self._lock:
            return list(self.request_log[since:])

    def count(self, path: str) -> int:
        with self._lock:
            return self.request_log.count(path)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# --------------------------------------------------------------------------- pages

WORDS = (
    "council harbour budget vote river school library road market hospital tram bridge "
    "station festival museum park housing water energy police court mayor report plan "
    "district residents project funding minister agreement talks border region season"
).split()


def host(server: ScriptedSite, folder: Path, monkeypatch: Any) -> ScriptedSite:
    """Point newscrawl at ``server``: a sites folder for its definition
    (``server.sites_dir``) and a spool under ``folder``."""
    sites = folder / "sites"
    sites.mkdir()
    monkeypatch.setenv("NEWSCRAWL_SITES_DIR", str(sites))
    monkeypatch.setenv("NEWSCRAWL_SPOOL_DIR", str(folder / "spool"))
    server.sites_dir = sites  # type: ignore[attr-defined]
    return server


def paragraphs(seed: int, count: int = 3, words: int = 40) -> list[str]:
    """``count`` paragraphs of text unique to ``seed``."""
    import random

    rng = random.Random(seed)
    return [
        " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "." for _ in range(count)
    ]


def article_html(title: str, body: list[str], head: str = "") -> str:
    text = "".join(f"<p>{p}</p>" for p in body)
    return (
        f"<html><head><title>{title}</title>{head}</head>"
        f'<body><h1>{title}</h1><div class="story">{text}</div></body></html>'
    )


def listing_html(links: list[str], next_page: str | None = None) -> str:
    items = "".join(f'<li><a href="{href}">story</a></li>' for href in links)
    nxt = f'<a rel="next" href="{next_page}">Next</a>' if next_page else ""
    return f'<html><body><ul class="news">{items}</ul>{nxt}</body></html>'


def site_definition(name: str, base_url: str, start_urls: list[str], **listing: object) -> str:
    """A site whose listing pages are ``listing_html`` and articles ``article_html``."""
    extra = "".join(f"  {key}: {value}\n" for key, value in listing.items())
    return (
        f"name: {name}\nbase_url: {base_url}/\n"
        f"listing:\n  start_urls: {start_urls}\n"
        f"  article_links: 'ul.news a::attr(href)'\n"
        f"  next_page: 'a[rel=\"next\"]::attr(href)'\n{extra}"
        f"article:\n  body: 'div.story'\n  min_body_length: 50\n"
    )


class NewsSite:
    """``ScriptedSite`` publishing numbered stories (``/a/N``), newest first on
    listing pages of ``per_page`` links (``/news/``, ``/news/2``, ...)."""

    def __init__(self, server: ScriptedSite, delay: float, per_page: int = 20) -> None:
        self.server = server
        self.delay = delay
        self.per_page = per_page
        self.published = 0

    def publish(self, count: int) -> None:
        first = self.published + 1
        self.published += count
        for n in range(first, self.published + 1):
            html = article_html(f"Story {n}", paragraphs(n))
            self.server.reply(f"/a/{n}", Reply(200, html.encode(), delay=self.delay))
        newest_first = [f"/a/{n}" for n in range(self.published, 0, -1)]
        pages = [
            newest_first[i : i + self.per_page] for i in range(0, len(newest_first), self.per_page)
        ]
        for number, links in enumerate(pages, start=1):
            path = "/news/" if number == 1 else f"/news/{number}"
            following = f"/news/{number + 1}" if number < len(pages) else None
            self.server.page(path, listing_html(links, next_page=following))

    def set_delay(self, delay: float) -> None:
        """Article pages answered after ``delay`` seconds from now on."""
        self.delay = delay
        for n in range(1, self.published + 1):
            html = article_html(f"Story {n}", paragraphs(n))
            self.server.reply(f"/a/{n}", Reply(200, html.encode(), delay=delay))

    def articles_fetched(self, since: int = 0) -> list[str]:
        return [p for p in self.server.fetched(since) if p.startswith("/a/")]
