"""The dashboard page in a real headless Chromium, against a real ``treadle up`` running
real processes: the tree live from the event stream, a crash and its restart, a control
action with the token, at laptop and at phone size."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from ._browser_support import (
    CHROMIUM,
    TOKEN,
    chromium,
    free_port,
    keep,
    page_problems,
    screenshot_on_failure,
    treadle_up,
    write_project,
)

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"no {CHROMIUM} (apt-get install chromium chromium-driver)"
)

expect.set_options(timeout=10_000)  # a loaded machine: more than the default 5 s, never a sleep

# Every state the crasher's state cell shows, in order: its crash and restart are too quick
# to catch by polling the page.
RECORD_STATES = """cell => {
    window.crasherStates = [cell.textContent];
    new MutationObserver(() => window.crasherStates.push(cell.textContent))
        .observe(cell, {childList: true, characterData: true, subtree: true});
}"""
CRASHED_AND_BACK = """() => {
    const s = window.crasherStates, down = s.findIndex(x => x === "failed" || x === "backoff");
    return down >= 0 && s.indexOf("running", down) > down;
}"""
UNLABELLED_BUTTONS = """() => [...document.querySelectorAll("button")]
    .filter(b => !(b.getAttribute("aria-label") || b.textContent.trim())).map(b => b.outerHTML)"""


def watch_the_crasher(page: Page) -> None:
    expect(page.get_by_test_id("child-crasher")).to_be_visible()
    page.get_by_test_id("state-crasher").evaluate(RECORD_STATES)
    page.wait_for_function(CRASHED_AND_BACK, timeout=20_000)
    expect(page.get_by_test_id("restarts-crasher")).to_have_text(re.compile(r"^[1-9]\d*$"))
    expect(page.get_by_test_id("rate-crasher")).not_to_contain_text("0.0 restarts/min")
    stderr = page.locator('[data-testid="logs"] li[data-stream="stderr"]')
    expect(stderr.filter(has_text="going down").first).to_be_attached()


def restart_with_the_token(page: Page) -> None:
    """The first action asks for the token; a wrong one is refused and asked for again."""
    pid = page.get_by_test_id("pid-healthy")
    expect(pid).to_have_text(re.compile(r"^\d+$"))
    before = pid.inner_text()
    page.get_by_test_id("restart-healthy").click()
    dialog = page.get_by_test_id("token-dialog")
    expect(dialog).to_be_visible()
    page.get_by_test_id("token-input").fill("not-the-token")
    page.get_by_test_id("token-submit").click()
    expect(dialog).to_contain_text("refused")
    page.get_by_test_id("token-input").fill(TOKEN)
    page.get_by_test_id("token-input").press("Enter")
    expect(dialog).to_be_hidden()
    expect(page.get_by_test_id("notice")).to_contain_text("restart healthy")
    expect(pid).not_to_have_text(before)
    expect(pid).to_have_text(re.compile(r"^\d+$"))
    expect(page.get_by_test_id("state-healthy")).to_have_text("running")
    assert page.evaluate("localStorage.getItem('treadle.dashboard.token')") == TOKEN
    assert TOKEN not in page.content()


def pause_and_resume_from_the_keyboard(page: Page) -> None:
    """The stored token serves again: no dialog; the focused button keeps its focus."""
    pause = page.get_by_test_id("pause-healthy")
    pause.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("state-healthy")).to_have_text("paused")
    expect(pause).to_have_text("Resume")
    expect(pause).to_be_focused()
    page.keyboard.press("Space")
    expect(page.get_by_test_id("state-healthy")).to_have_text("running")
    expect(page.get_by_test_id("token-dialog")).to_be_hidden()


def open_the_traceback(page: Page) -> None:
    page.get_by_test_id("error-crasher").click()
    expect(page.get_by_test_id("traceback")).to_contain_text("exit 3")
    page.get_by_test_id("traceback-close").click()
    expect(page.get_by_test_id("traceback-dialog")).to_be_hidden()


def scale_the_pool(page: Page) -> None:
    """Over its bound the scale is refused, with the reason; within it, a member appears."""
    replicas = page.get_by_test_id("scale-input-pool")
    expect(replicas).to_have_value("1")
    replicas.fill("3")
    replicas.press("Enter")
    expect(page.get_by_test_id("notice")).to_contain_text("at most 2, got 3")
    replicas.fill("2")
    page.get_by_test_id("scale-pool").click()
    expect(page.get_by_test_id("state-pool[1]")).to_have_text("running")
    expect(page.get_by_test_id("pool-pool")).to_contain_text("2 replicas")


@pytest.mark.timeout(90)
def test_the_dashboard_shows_the_tree_live_and_steers_it(tmp_path: Path) -> None:
    port = free_port()
    write_project(tmp_path, port)
    with treadle_up(tmp_path, port) as url, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        # Chromium logs the answers to the wrong token and to the refused scale: expected.
        problems = page_problems(page, expected_statuses=(401, 409))
        with screenshot_on_failure(page, "dashboard-failed.png"):
            page.goto(url)
            expect(page.get_by_test_id("conn")).to_have_text("live")
            expect(page.get_by_test_id("child-healthy")).to_be_visible()
            expect(page.get_by_test_id("state-healthy")).to_have_text("running")
            watch_the_crasher(page)
            restart_with_the_token(page)
            pause_and_resume_from_the_keyboard(page)
            open_the_traceback(page)
            scale_the_pool(page)
            managers = page.get_by_test_id("managers")
            expect(managers.get_by_text("active")).to_have_count(1)  # the fleet: this one
            expect(managers.get_by_text("yes")).to_have_count(1)  # and it leads
            assert page.evaluate(UNLABELLED_BUTTONS) == []
        keep(page, "dashboard.png")
        assert problems == []

        phone = browser.new_page(
            viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
        )
        problems = page_problems(phone)
        phone.goto(url)
        expect(phone.get_by_test_id("conn")).to_have_text("live")
        expect(phone.get_by_test_id("restart-crasher")).to_be_visible()
        expect(phone.get_by_test_id("restarts-crasher")).to_have_text(re.compile(r"^[1-9]\d*$"))
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        keep(phone, "dashboard-phone.png")
        assert problems == []
