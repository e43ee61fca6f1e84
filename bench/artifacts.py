"""Resolving a cached artifact: what every process start that names one pays.

Run: ``python -m bench.artifacts``. A 4 MiB artifact is downloaded once from a server on
127.0.0.1 into a temporary cache; then, in one run, many ``resolve()`` calls that find it
in the cache (the build directories, empty, searched first), beside a bare ``os.stat``
of the file and, for scale, one sha256 of it (what the fast path leaves out). Target:
resolve's p99 under 2 ms.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from treadle.artifacts import Artifact, Origin, platform_tag, resolve

from ._util import quantiles_us, row

N = 20_000
SIZE = 4 << 20
TARGET_US = 2000.0


def _serve(body: bytes) -> tuple[http.server.ThreadingHTTPServer, threading.Thread]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    return httpd, thread


def _samples(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    clock = time.perf_counter
    for _ in range(n):
        start = clock()
        fn()
        out.append(clock() - start)
    return out


def main() -> int:
    body = b"#!/bin/sh\nexit 0\n" + os.urandom(SIZE)
    httpd, thread = _serve(body)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env = {"XDG_CACHE_HOME": str(Path(tmp, "xdg")), "HOME": tmp}
            artifact = Artifact(
                "bench-tool",
                "v1",
                url=f"http://127.0.0.1:{httpd.server_address[1]}/{{name}}",
                sha256={platform_tag(): hashlib.sha256(body).hexdigest()},
            )
            first = resolve(artifact, root=tmp, environ=env)
            assert first.origin is Origin.DOWNLOAD
            path = str(first.path)

            def cached() -> None:
                assert resolve(artifact, root=tmp, environ=env).origin is Origin.CACHE

            def digest() -> None:
                with open(path, "rb") as f:
                    hashlib.file_digest(f, "sha256")

            for fn in (cached, lambda: os.stat(path)):  # warm up
                _samples(fn, 1000)
            stat_med, stat_p99 = quantiles_us(_samples(lambda: os.stat(path), N))
            med, p99 = quantiles_us(_samples(cached, N))
            hash_med, _ = quantiles_us(_samples(digest, 20))
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
    print(f"resolving a cached artifact: {N:,} resolutions ({SIZE >> 20} MiB file)")
    print(f"  python {sys.version.split()[0]}")
    row("", "median µs", "p99 µs")
    row("os.stat of the cached file (baseline)", f"{stat_med:.1f}", f"{stat_p99:.1f}")
    row("resolve() from the cache", f"{med:.1f}", f"{p99:.1f}")
    row("sha256 of the file (left out of resolve)", f"{hash_med:.0f}", "")
    ok = p99 < TARGET_US
    print(f"  target p99 < {TARGET_US:.0f} µs: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
