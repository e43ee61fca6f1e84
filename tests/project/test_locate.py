"""The locator finds every kind of key the format uses, and falls back to the header."""

from __future__ import annotations

import textwrap
import tomllib

import pytest

from treadle.project._locate import KeyPath, Locator

TEXT = textwrap.dedent(
    """\
    # a comment
    [project]
    name = "shop"   # trailing comment

    [loops.poller]
    target = "shop.jobs:Poller"
    backoff = { initial = 0.5, max = 60, jitter = "equal" }
    options = { url = "http://x?a=1,b=2", "odd key" = { deep = [1, { x = 2 }] } }
    depends_on = [
      "web",  # why
      'db',
    ]
    'quoted'.bare = 1

    [processes."web.v2"]
    command = \"\"\"
    gunicorn "app" \\
      -b ${PORT}\"\"\"
    health.http = "http://127.0.0.1/health"
    literal = '''x = 1
    [not.a.table]'''
    after = true

    [[hooks]]
    run = "a"
    [[hooks]]
    run = "b"
    [hooks.env]
    X = "1"
    """
)


def test_the_text_is_valid_toml() -> None:
    tomllib.loads(TEXT)


@pytest.mark.parametrize(
    ("path", "position"),
    [
        (("project",), (2, 1)),
        (("project", "name"), (3, 1)),
        (("loops",), (5, 1)),
        (("loops", "poller"), (5, 1)),
        (("loops", "poller", "target"), (6, 1)),
        (("loops", "poller", "backoff"), (7, 1)),
        (("loops", "poller", "backoff", "initial"), (7, 13)),
        (("loops", "poller", "backoff", "jitter"), (7, 38)),
        (("loops", "poller", "options", "url"), (8, 13)),
        (("loops", "poller", "options", "odd key"), (8, 39)),
        (("loops", "poller", "options", "odd key", "deep", 1, "x"), (8, 66)),
        (("loops", "poller", "depends_on", 0), (10, 3)),
        (("loops", "poller", "depends_on", 1), (11, 3)),
        (("loops", "poller", "quoted", "bare"), (13, 10)),
        (("processes", "web.v2"), (15, 1)),
        (("processes", "web.v2", "command"), (16, 1)),
        (("processes", "web.v2", "health", "http"), (19, 8)),
        (("processes", "web.v2", "literal"), (20, 1)),
        (("processes", "web.v2", "after"), (22, 1)),
        (("hooks", 0, "run"), (25, 1)),
        (("hooks", 1), (26, 1)),
        (("hooks", 1, "run"), (27, 1)),
        (("hooks", 1, "env", "X"), (29, 1)),
    ],
)
def test_keys_are_found_where_they_are(path: KeyPath, position: tuple[int, int]) -> None:
    assert Locator.scan(TEXT).exact(path) == position


def test_a_missing_key_falls_back_to_its_table_header() -> None:
    locator = Locator.scan(TEXT)
    assert locator.exact(("loops", "poller", "interval")) is None
    assert locator.locate(("loops", "poller", "interval")) == (5, 1)
    assert locator.locate(("loops", "poller", "backoff", "max", 3)) == (7, 28)
    assert locator.locate(("nowhere",)) is None


def test_text_it_cannot_follow_keeps_what_came_before() -> None:
    locator = Locator.scan("[a]\nb = 1\n= oops\n[c]\n")
    assert locator.exact(("a", "b")) == (2, 1)
    assert locator.exact(("c",)) is None
