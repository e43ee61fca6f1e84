"""The fast path of a bare ``treadle down``: the standard library and the local socket.

Owns finding, without the project package, the project a bare ``treadle down`` means
when that is plain (a ``treadle.toml`` here or above, no ``broker`` of its own, no
``$TREADLE_BROKER``), and asking the manager that serves its broker's submit address to
stop if it hosts that file (``{"down": FILE}``: see :mod:`treadle.manager._local`); the
answer comes when the manager has stopped, so nothing polls. Anything less plain (an
option, a pyproject.toml, a manager that does not serve the address or hosts another
file, no manager at all) goes to the full command (:mod:`treadle.cli._up`), which says
the same things through the broker.
"""

from __future__ import annotations

import os
import sys

from . import _paths, _wire

__all__ = ["fast_down"]

_TIMEOUT = 60.0  # `treadle down --timeout`'s default


def fast_down(args: list[str]) -> int | None:
    """Stop the project's manager; the exit status, or None for the full command."""
    if args:
        return None
    found = _project()
    if found is None:
        return None
    source, name = found
    address = _paths.submit_address(os.path.join(os.path.dirname(source), ".treadle", "broker.db"))
    if address is None:
        return None
    try:
        submission = _wire.Submission(address)
    except OSError:
        return None  # nobody serves it (is it up at all?), or not this user's manager
    with submission:
        try:
            answer = submission.request({"down": source})
        except OSError:
            return None
        if "stopping" not in answer:
            return None  # the manager that serves the address does not host the project
        try:
            ended = submission.final(_TIMEOUT)
        except TimeoutError:
            tid = answer["stopping"]
            print(f"treadle: manager {tid} did not stop within {_TIMEOUT}s", file=sys.stderr)
            return 4  # cli._app.Exit.TIMEOUT
        except KeyboardInterrupt:
            return 130
    print(f"{name}: {ended.get('down', 'dead')}")
    return 0


def _project() -> tuple[str, str] | None:
    """The project file a bare ``treadle down`` means and its name, when that is plain."""
    if os.environ.get(_paths.BROKER_ENV):
        return None
    here = os.path.realpath(os.getcwd())
    while True:
        candidate = os.path.join(here, "treadle.toml")
        if os.path.isfile(candidate):
            break
        if os.path.isfile(os.path.join(here, "pyproject.toml")):
            return None  # it may hold a [tool.treadle] table: the project package decides
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent
    import tomllib  # the file must still parse: a broken one is the full command's to report

    try:
        with open(candidate, "rb") as f:
            section = tomllib.load(f).get("project", {})
    except (OSError, ValueError):
        return None
    if not isinstance(section, dict) or "broker" in section:
        return None
    name = section.get("name", os.path.basename(here))
    if not isinstance(name, str) or not name or "$" in name:
        return None
    return candidate, name
