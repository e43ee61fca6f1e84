"""A real HTTP server on 127.0.0.1 for the artifact tests (and tests/compat's): it serves
files from a dict, counts every GET, and can misbehave on purpose.

Also the artifacts themselves: tiny ``#!/bin/sh`` scripts that really run.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.server
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field


def script(marker: str, *, sleep: float | None = None) -> bytes:
    """A shell script that writes its arguments to ``marker`` (in its cwd), then sleeps
    for ``sleep`` seconds if given (a long-running binary's stand-in)."""
    body = f'#!/bin/sh\necho "$@" > "{marker}.tmp" && mv "{marker}.tmp" "{marker}"\n'
    if sleep is not None:
        body += f"exec sleep {sleep}\n"
    return body.encode()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Served:
    """One path's answer: ``body``, cut short after ``truncate_at`` bytes (with the full
    Content-Length sent), or ``status`` other than 200; ``delay`` seconds before it;
    only to a request with Basic credentials ``auth`` ("user:password"), if given; or a
    302 to ``redirect``."""

    body: bytes = b""
    status: int = 200
    truncate_at: int | None = None
    delay: float = 0.0
    auth: str | None = None
    redirect: str | None = None


@dataclass
class Server:
    """The running server: put answers in ``files``, read ``gets`` (and the
    Authorization header of every GET, None when there was none, in ``auths``)."""

    port: int
    files: dict[str, Served] = field(default_factory=dict)
    gets: Counter[str] = field(default_factory=Counter)
    auths: list[str | None] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def count(self, path: str) -> int:
        with self.lock:
            return self.gets[path]


def _handler(server: Server) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with server.lock:
                server.gets[self.path] += 1
                server.auths.append(self.headers.get("Authorization"))
            served = server.files.get(self.path)
            if served is None:
                self.send_error(404, "no such artifact")
                return
            time.sleep(served.delay)
            if served.redirect is not None:
                self.send_response(302)
                self.send_header("Location", served.redirect)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if served.auth is not None:
                sent = self.headers.get("Authorization", "")
                if sent != "Basic " + base64.b64encode(served.auth.encode()).decode():
                    self.send_error(401, "bad credentials")
                    return
            if served.status != 200:
                self.send_error(served.status)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(served.body)))
            self.end_headers()
            cut = served.truncate_at
            self.wfile.write(served.body if cut is None else served.body[:cut])
            self.wfile.flush()
            self.close_connection = True  # and the socket closes: the body ends early

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextlib.contextmanager
def serving() -> Iterator[Server]:
    """A server on 127.0.0.1 (an ephemeral port) in a thread, for the block's duration."""
    state = Server(port=0)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, name="artifact-server", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)
