"""Every kind of configuration error, with its exact file:line:column, field and suggestion."""

from __future__ import annotations

from pathlib import Path

import pytest

from .test_load import error, where

CASES = [
    pytest.param(
        """
        [supervisr]
        strategy = "one_for_one"
        """,
        (1, 1, "supervisr"),
        "unknown key",
        "supervisor",
        id="unknown-table",
    ),
    pytest.param(
        """
        [processes.web]
        command = "serve"
        stop_timout = 3
        """,
        (3, 1, "processes.web.stop_timout"),
        "unknown key",
        "stop_timeout",
        id="unknown-key",
    ),
    pytest.param(
        """
        [processes.web]
        command = "serve"
        health = { tcp = 8000, intervl = 2 }
        """,
        (3, 24, "processes.web.health.intervl"),
        "unknown key",
        "interval",
        id="unknown-key-in-inline-table",
    ),
    pytest.param(
        """
        [supervisor]
        strategy = "one_for_al"
        """,
        (2, 1, "supervisor.strategy"),
        'must be one of one_for_one, one_for_all, rest_for_one; got "one_for_al"',
        "one_for_all",
        id="bad-choice",
    ),
    pytest.param(
        """
        [supervisor]
        intensity = "many"
        """,
        (2, 1, "supervisor.intensity"),
        'must be an integer, got "many"',
        None,
        id="bad-type",
    ),
    pytest.param(
        """
        [loops.poller]
        target = "m:Poller"
        step = 5
        """,
        (3, 1, "loops.poller.step"),
        "unknown key (the target's own arguments go in `options = { step = ... }`)",
        None,
        id="a-target-option-outside-options",
    ),
    pytest.param(
        """
        [loops.poller]
        target = "m:Poller"
        interval = true
        """,
        (3, 1, "loops.poller.interval"),
        "must be a duration, got true",
        None,
        id="a-value-spelled-as-toml-spells-it",
    ),
    pytest.param(
        """
        [loops.poller]
        interval = 5
        """,
        (1, 1, "loops.poller.target"),
        "required, but missing",
        None,
        id="missing-key-at-header",
    ),
    pytest.param(
        """
        [loops.poller]
        target = "shop.jobs.Poller"
        """,
        (2, 1, "loops.poller.target"),
        'must be "module:attribute" (e.g. "shop.jobs:Poller"), got "shop.jobs.Poller"',
        None,
        id="bad-target",
    ),
    pytest.param(
        """
        [processes.web]
        command = "serve"

        [loops.poller]
        target = "a:B"
        depends_on = ["web", "wbe"]
        """,
        (6, 22, "loops.poller.depends_on[1]"),
        "unknown child 'wbe'",
        "web",
        id="unknown-dependency",
    ),
    pytest.param(
        """
        [loops.a]
        target = "m:A"
        depends_on = ["b"]
        [loops.b]
        target = "m:B"
        depends_on = ["healthy:c"]
        [loops.c]
        target = "m:C"
        depends_on = ["state:ready", "a"]
        """,
        (9, 30, "loops.c.depends_on[1]"),
        "dependency cycle: a → b → c → a",
        None,
        id="dependency-cycle",
    ),
    pytest.param(
        """
        [loops.a]
        target = "m:A"
        depends_on = ["a"]
        """,
        (3, 15, "loops.a.depends_on[0]"),
        "'a' cannot depend on itself",
        None,
        id="self-dependency",
    ),
    pytest.param(
        """
        [loops.poller]
        target = "m:A"
        depends_on = ["web"]
        [processes.web]
        command = "serve"
        [supervisors.background]
        children = ["poller"]
        """,
        (3, 15, "loops.poller.depends_on[0]"),
        "'web' is under the root supervisor but 'poller' is under supervisor 'background': "
        "depends_on orders children of one supervisor",
        None,
        id="dependency-not-a-sibling",
    ),
    pytest.param(
        """
        [loops.poller]
        target = "m:A"
        [supervisors.background]
        children = ["poler"]
        """,
        (4, 13, "supervisors.background.children[0]"),
        "unknown child 'poler'",
        "poller",
        id="unknown-supervised-child",
    ),
    pytest.param(
        """
        [loops.poller]
        target = "m:A"
        [supervisors.one]
        children = ["poller"]
        [supervisors.two]
        children = ["poller"]
        """,
        (6, 13, "supervisors.two.children[0]"),
        "'poller' already belongs to supervisor 'one'",
        None,
        id="child-claimed-twice",
    ),
    pytest.param(
        """
        [supervisors.one]
        children = ["two"]
        [supervisors.two]
        children = ["one"]
        """,
        (2, 1, "supervisors.one.children"),
        "supervisors contain each other: one → two → one",
        None,
        id="supervisors-in-each-other",
    ),
    pytest.param(
        """
        [loops.web]
        target = "m:A"
        [processes.web]
        command = "serve"
        """,
        (3, 1, "processes.web"),
        "'web' is already declared in [loops.web]: a name may be used once across loops, "
        "processes and supervisors",
        None,
        id="name-used-twice",
    ),
    pytest.param(
        """
        [processes.treadle]
        command = "serve"
        """,
        (1, 1, "processes.treadle"),
        "'treadle' is treadle's own name (its log is .treadle/logs/treadle.log): choose another",
        None,
        id="a-reserved-name",
    ),
    pytest.param(
        """
        [processes."web server"]
        command = "serve"
        """,
        (1, 1, 'processes."web server"'),
        "'web server' is not a valid child name: use letters, digits, '_' and '-'",
        None,
        id="bad-name",
    ),
    pytest.param(
        """
        [processes.web]
        cwd = "web"
        """,
        (1, 1, "processes.web.command"),
        "give command (a command line or list) or function",
        None,
        id="neither-command-nor-function",
    ),
    pytest.param(
        """
        [processes.web]
        command = "serve"
        function = "app:main"
        """,
        (3, 1, "processes.web.function"),
        "give command or function, not both",
        None,
        id="both-command-and-function",
    ),
    pytest.param(
        """
        [processes.web]
        command = ["serve", "--fast"]
        shell = true
        """,
        (3, 1, "processes.web.shell"),
        "shell = true needs command as one string",
        None,
        id="shell-with-a-list",
    ),
    pytest.param(
        """
        [processes.web]
        command = "serve"
        replicas = 0
        """,
        (3, 1, "processes.web.replicas"),
        "must be >= 1, got 0",
        None,
        id="replicas-below-one",
    ),
    pytest.param(
        """
        [processes.web]
        command = "serve"
        scale = { min = 4, max = 2 }
        """,
        (3, 11, "processes.web.scale.min"),
        "min (4) is more than max (2)",
        None,
        id="scale-min-above-max",
    ),
    pytest.param(
        """
        [processes.web]
        command = "serve"
        replicas = 9
        scale = { max = 8 }
        """,
        (3, 1, "processes.web.replicas"),
        "9 is outside scale (0 to 8)",
        None,
        id="replicas-outside-scale",
    ),
    pytest.param(
        """
        [processes.web]
        command = "serve"
        [processes.web.health]
        http = "http://127.0.0.1/"
        tcp = "127.0.0.1:80"
        """,
        (5, 1, "processes.web.health.tcp"),
        "give one check, not both http and tcp",
        None,
        id="two-health-checks",
    ),
    pytest.param(
        """
        [processes.web]
        command = "serve"
        health = { file = "beat" }
        """,
        (3, 1, "processes.web.health.max_age"),
        "a file check needs max_age (how stale is too stale)",
        None,
        id="file-check-without-max-age",
    ),
    pytest.param(
        """
        [processes.web]
        command = "serve"
        health = { tcp = "localhost:http" }
        """,
        (3, 12, "processes.web.health.tcp"),
        'must be "host:port" or a port number, got "localhost:http"',
        None,
        id="bad-tcp-address",
    ),
    pytest.param(
        """
        [processes.web]
        command = "serve"
        stop_signal = "SIGSTOPP"
        """,
        (3, 1, "processes.web.stop_signal"),
        '"SIGSTOPP" is not a signal (e.g. "SIGTERM", "SIGINT")',
        None,
        id="bad-signal",
    ),
    pytest.param(
        """
        [processes.web]
        command = "serve"
        backoff = { initial = "2s", max = "1s" }
        """,
        (3, 29, "processes.web.backoff.max"),
        "must be >= initial (2.0), got 1.0",
        None,
        id="backoff-max-below-initial",
    ),
    pytest.param(
        """
        [limiters]
        io = 0
        """,
        (2, 1, "limiters.io"),
        "must be >= 1, got 0",
        None,
        id="limiter-capacity",
    ),
    pytest.param(
        """
        [dashboard]
        enabled = true
        host = "0.0.0.0"
        """,
        (1, 1, "dashboard.token"),
        "binding 0.0.0.0 needs dashboard.token (anyone who can reach it could control the "
        "tree); set one, or bind 127.0.0.1",
        None,
        id="dashboard-open-without-token",
    ),
    pytest.param(
        """
        [processes.web]
        command = "serve"
        memory_limit = "lots"
        stop_timout = 1
        """,
        (3, 1, "processes.web.memory_limit"),
        '"lots" is not a size: write bytes, or a number with a unit (B, KB, MB, GB, TB, '
        'KiB, MiB, GiB, TiB) such as "10MB" or "512MiB"',
        None,
        id="the-first-of-several-errors-in-the-file",
    ),
]


@pytest.mark.parametrize(("text", "at", "message", "suggestion"), CASES)
def test_errors_point_at_the_key(
    tmp_path: Path,
    text: str,
    at: tuple[int, int, str],
    message: str,
    suggestion: str | None,
) -> None:
    exc = error(tmp_path, text)
    assert where(exc) == ("treadle.toml", *at)
    assert exc.message == message
    assert exc.suggestion == suggestion
    hint = f" (did you mean {suggestion!r}?)" if suggestion else ""
    line, column, field = at
    assert str(exc) == f"{tmp_path / 'treadle.toml'}:{line}:{column}: {field}: {message}{hint}"


def test_a_token_makes_a_public_dashboard_fine(tmp_path: Path) -> None:
    from .test_load import load

    text = '[dashboard]\nhost = "0.0.0.0"\ntoken = "${TOKEN:-}"\n'
    assert load(tmp_path, text, environ={"TOKEN": "t"}).dashboard.host == "0.0.0.0"
    exc = error(tmp_path, text)  # TOKEN unset: the empty default is no token
    assert where(exc) == ("treadle.toml", 3, 1, "dashboard.token")
