"""The manager a cold ``treadle run`` starts (:mod:`treadle._autostart`): the one
``treadle worker start`` gives, up when it says so, and none when one is alive."""

from __future__ import annotations

import os
from collections.abc import Iterator

import psutil
import pytest

from tests.cli._support import gone
from tests.manager._support import manager
from treadle import _autostart
from treadle.client import Client


@pytest.fixture
def client(broker_path: str) -> Iterator[Client]:
    with Client(broker_path) as c:
        yield c


def test_the_manager_is_registered_and_logs_under_its_tid_when_it_says_it_is_up(
    client: Client,
) -> None:
    started = _autostart.start(client.url.location)
    assert started is not None
    tid, pid = started
    try:
        [record] = client.managers()  # registered before it said so: nothing to wait for
        assert (record.tid, record.pid) == (tid, pid)
        assert psutil.Process(pid).cmdline()[1:3] == ["-m", "treadle.manager"]
        assert "--idle-timeout" in psutil.Process(pid).cmdline()
        assert psutil.Process(pid).ppid() == psutil.Process().pid  # reparented when we exit
        assert os.getsid(pid) == pid  # its own session, as `treadle worker start` gives
        logs = client.url.state_dir / "managers"
        assert [p.name for p in logs.iterdir()] == [f"manager-{tid}.log"]
    finally:
        client.stop_manager(tid)
        gone(pid)


def test_none_is_started_when_a_manager_is_alive(client: Client) -> None:
    with manager(client) as (record, _):
        assert _autostart.start(client.url.location) is None
        assert [r.tid for r in client.managers()] == [record.tid]
        logs = client.url.state_dir / "managers"
        assert [p.name for p in logs.iterdir()] == [f"manager-{record.tid}.log"]
