"""A real ``treadle up`` serving its dashboard, and Debian's Chromium driven by Playwright
(never a downloaded browser)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from playwright.sync_api import Browser, ConsoleMessage, Error, Page, sync_playwright

from ..cli._support import TREADLE

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "artifacts"
TOKEN = "test-token"

PROJECT = """
[project]
name = "board"

[supervisor]
intensity = 100  # the crasher restarts all through the test: never give it up
period = "1m"

[dashboard]
enabled = true
host = "127.0.0.1"
port = {port}
token = "{token}"

[processes.healthy]
command = ["sh", "-c", "echo healthy up; while true; do echo tick; sleep 1; done"]

[processes.pool]
command = ["sleep", "60"]
scale = {{ min = 1, max = 2 }}

[processes.crasher]
command = ["sh", "-c", "echo going down >&2; sleep 1; exit 3"]
backoff = {{ initial = "1s", max = "1s" }}
"""


def free_port() -> int:
    """A port nothing listens on now (bound to 0, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def write_project(root: Path, port: int) -> None:
    text = PROJECT.format(port=port, token=TOKEN)
    (root / "treadle.toml").write_text(textwrap.dedent(text).lstrip())


@contextlib.contextmanager
def treadle_up(root: Path, port: int, timeout: float = 30) -> Iterator[str]:
    """``treadle up`` in ``root`` (in the foreground, as a person runs it) until its
    dashboard answers; the dashboard's URL. Stopped with SIGINT (Ctrl-C) afterwards."""
    env = {k: v for k, v in os.environ.items() if k != "TREADLE_BROKER"}
    output = root / "up.out"
    with output.open("w") as out:
        proc = subprocess.Popen(
            [TREADLE, "up"], cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            assert proc.poll() is None, f"treadle up exited: {output.read_text()}"
            assert time.monotonic() < deadline, f"no dashboard on {url}: {output.read_text()}"
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/api/status", timeout=2).status_code == 200:
                    break
            time.sleep(0.1)  # polling a server that is starting: there is nothing to wait on
        yield url
    except BaseException:
        print(f"treadle up said:\n{output.read_text()}")  # shown with the failure
        raise
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
    assert code == 0, f"treadle up ended with {code}: {output.read_text()}"


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def screenshot_on_failure(page: Page, name: str) -> Iterator[None]:
    """What the page showed when an assertion failed, in build/artifacts/NAME."""
    try:
        yield
    except BaseException:
        with contextlib.suppress(Error):
            page.screenshot(path=ARTIFACTS / name, full_page=True)
        raise


def keep(page: Page, name: str) -> None:
    """A full-page screenshot in build/artifacts/NAME, and in $TREADLE_SCREENSHOTS/NAME too
    where that is set (`make screenshots`: the docs' pictures of the dashboard)."""
    page.screenshot(path=ARTIFACTS / name, full_page=True)
    docs = os.environ.get("TREADLE_SCREENSHOTS")
    if docs:
        Path(docs).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=Path(docs) / name, full_page=True)


def page_problems(page: Page, *, expected_statuses: tuple[int, ...] = ()) -> list[str]:
    """A list that fills with the page's uncaught errors and console warnings or errors;
    Chromium's own line for a response with one of ``expected_statuses`` is left out."""
    problems: list[str] = []
    expected = tuple(f"the server responded with a status of {s} " for s in expected_statuses)

    def console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning") and not any(e in message.text for e in expected):
            problems.append(f"console {message.type}: {message.text}")

    def error(exc: Error) -> None:
        problems.append(f"page error: {exc}")

    page.on("console", console)
    page.on("pageerror", error)
    return problems
