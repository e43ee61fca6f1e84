"""What a new user met in the dashboard, in Debian's Chromium against a real ``treadle up``
of a project of their own: a loop's ``print()`` and logging in the log pane, under its
name; the "last 5 min" charts drawn from before the page was opened; a child that
crash-looped shown degraded, its error its own last stderr lines; TIDs exactly as the
broker has them; managers that stopped folded away."""

from __future__ import annotations

import json
import re
import textwrap
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from ..cli._support import gone, treadle
from ._browser_support import (
    ARTIFACTS,
    CHROMIUM,
    TOKEN,
    chromium,
    free_port,
    page_problems,
    screenshot_on_failure,
    treadle_up,
)

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"no {CHROMIUM} (apt-get install chromium chromium-driver)"
)

expect.set_options(timeout=10_000)

PROJECT = """
[project]
name = "mine"

[dashboard]
enabled = true
port = {port}
token = "{token}"

[loops.ticker]
target = "jobs:ticker"
interval = "200ms"

# fails its first three runs (as a service whose database is not up yet), then stays up
[processes.flaky]
command = ["sh", "-c", '''
n=$(cat runs 2>/dev/null || echo 0); echo $((n + 1)) > runs
if [ "$n" -ge 3 ]; then exec sleep 60; fi
echo "connecting to the database"; echo "cannot reach the database" >&2; exit 3
''']
backoff = {{ initial = "50ms", max = "50ms" }}
"""

JOBS = """
import logging

from treadle import loop


@loop(interval=0.2)
async def ticker() -> None:
    print("tick from the loop")
    logging.getLogger("jobs").warning("the loop warns")
"""


def write(root: Path, port: int) -> None:
    (root / "treadle.toml").write_text(textwrap.dedent(PROJECT.format(port=port, token=TOKEN)))
    (root / "jobs.py").write_text(textwrap.dedent(JOBS).lstrip())


def a_stopped_manager(root: Path) -> str:
    """A manager of this project's broker that ran and stopped (as after `treadle down`)."""
    broker = str(root / ".treadle" / "broker.db")
    started = treadle("worker", "start", "--json", "--broker", broker)
    assert started.returncode == 0, started.stderr
    record = json.loads(started.stdout)
    assert treadle("worker", "stop", record["tid"], "--broker", broker).returncode == 0
    gone(record["pid"])
    return str(record["tid"])


def settled(url: str) -> dict[str, object]:
    """flaky's row once it has failed three times and runs (polling the HTTP API)."""
    deadline = time.monotonic() + 30
    while True:
        rows = {c["name"]: c for c in httpx.get(f"{url}/api/status").json()["children"]}
        flaky: dict[str, object] = rows.get("flaky", {})
        if flaky.get("restarts") == 3 and flaky.get("state") == "running":
            return flaky
        assert time.monotonic() < deadline, f"flaky never settled: {flaky}"
        time.sleep(0.1)


@pytest.mark.timeout(90)
def test_what_a_new_user_meets_in_the_dashboard(tmp_path: Path) -> None:
    port = free_port()
    write(tmp_path, port)
    stopped = a_stopped_manager(tmp_path)
    with treadle_up(tmp_path, port) as url, chromium() as browser:
        flaky = settled(url)
        assert flaky["health"] == "degraded"
        [active] = [m for m in httpx.get(f"{url}/api/managers").json() if m["status"] == "active"]
        listed = json.loads(
            treadle(
                "worker", "list", "--json", "--broker", str(tmp_path / ".treadle" / "broker.db")
            ).stdout
        )
        assert [m["tid"] for m in listed] == [active["tid"]]  # the same text, whole
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        problems = page_problems(page)
        with screenshot_on_failure(page, "dashboard-newuser-failed.png"):
            page.goto(url)
            expect(page.get_by_test_id("conn")).to_have_text("live")
            # its three restarts happened before the page was opened: drawn all the same
            expect(page.get_by_test_id("rate-flaky")).to_contain_text("0.6 restarts/min")
            expect(page.get_by_test_id("restarts-flaky")).to_have_text("3")
            expect(page.get_by_test_id("health-flaky")).to_have_text("degraded")
            row = page.get_by_test_id("child-flaky")
            expect(row).to_contain_text("crash-looping: 3 restarts in the last 5 min")

            page.get_by_test_id("error-flaky").click()
            traceback = page.get_by_test_id("traceback")
            expect(traceback).to_contain_text("process 'flaky' exit 3")
            expect(traceback).to_contain_text("cannot reach the database")
            expect(traceback).not_to_contain_text("raise ProcessExited")
            page.get_by_test_id("traceback-close").click()

            logs = page.locator('[data-testid="logs"] li[data-child="ticker"]')
            expect(logs.filter(has_text="tick from the loop").first).to_be_attached()
            warned = logs.filter(has_text="WARNING jobs: the loop warns").first
            expect(warned).to_have_attribute("data-stream", "stderr")

            managers = page.get_by_test_id("managers")
            expect(page.get_by_test_id(f"tid-{active['tid']}")).to_have_text(active["tid"])
            expect(page.get_by_test_id(f"manager-{stopped}")).to_have_count(0)  # folded
            fold = page.get_by_test_id("managers-fold")
            expect(fold).to_have_text("Show 1 stopped manager")
            fold.click()
            expect(page.get_by_test_id(f"tid-{stopped}")).to_have_text(stopped)
            expect(managers.get_by_text("stopped", exact=True)).to_have_count(1)
            expect(page.get_by_test_id("managers-fold")).to_have_attribute("aria-expanded", "true")
        page.screenshot(path=ARTIFACTS / "dashboard-newuser.png", full_page=True)
        assert re.fullmatch(r"\d{19}", active["tid"])
        assert problems == []
