"""A small news site for tests, served on 127.0.0.1: every path's response is
set by the test and can change between crawls; every request is logged."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class ScriptedSite:
    def __init__(self) -> None:
        self.replies: dict[str, Reply] = {"/robots.txt": Reply(200, b"User-agent: *\n")}
        self.request_log: list[str] = []
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                with site._lock:
                    site.request_log.append(self.path)
                    reply = site.replies.get(self.path)
                if reply is None:
                    reply = Reply(404, b"<html><body>Not found</body></html>")
                self.send_response(reply.status)
                headers = {"Content-Type": "text/html; charset=utf-8", **reply.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def page(self, path: str, html: str, status: int = 200, **headers: str) -> None:
        with self._lock:
            self.replies[path] = Reply(status, html.encode("utf-8"), headers)

    def redirect(self, path: str, to: str, status: int = 301) -> None:
        with self._lock:
            self.replies[path] = Reply(status, b"", {"Location": to})

    def fetched(self, since: int = 0) -> list[str]:
        with self._lock:
            return list(self.request_log[since:])

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
