"""The broker layer over a real SQLite file: targets, typed messages, dead letters."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from treadle import BrokerError
from treadle.broker import (
    AsyncBroker,
    Broker,
    Control,
    DeadLetter,
    TaskSpec,
    names,
    resolve,
)

from ..fleet._support import schema


def test_the_default_broker_is_a_0600_file_in_a_0700_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TREADLE_BROKER", raising=False)
    url = resolve(root=tmp_path)
    assert url.location == str(tmp_path / ".treadle" / "broker.db")
    assert stat.S_IMODE(os.stat(url.location).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / ".treadle").st_mode) == 0o700
    with Broker(url) as broker:
        broker.write("q", "x")
    assert stat.S_IMODE(os.stat(url.location).st_mode) == 0o600


def test_the_broker_is_chosen_by_argument_then_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TREADLE_BROKER", str(tmp_path / "env.db"))
    assert resolve().location == str(tmp_path / "env.db")
    assert resolve(f"sqlite://{tmp_path}/arg.db").location == str(tmp_path / "arg.db")
    assert resolve("postgresql://u:pw@db/x").kind == "postgresql"
    assert str(resolve("postgresql://u:pw@db/x")) == "postgresql://u:***@db/x"
    with pytest.raises(BrokerError, match="redis://x"):
        resolve("redis://x")


def test_messages_round_trip_and_ids_are_ordered(tmp_path: Path) -> None:
    with Broker(tmp_path / "b.db") as broker:
        tids = [broker.timestamp() for _ in range(3)]
        assert tids == sorted(set(tids))
        spec = TaskSpec(tid=tids[0], argv=("echo", "hi"))
        broker.insert(names.SPAWN, [(spec, spec.tid)])
        [(got, mid)] = broker.peek(names.SPAWN, TaskSpec.model_validate_json)
        assert (got, mid) == (spec, spec.tid)
        assert broker.claim(names.SPAWN, TaskSpec.model_validate_json) == (spec, spec.tid)
        assert broker.claim(names.SPAWN, TaskSpec.model_validate_json) is None


def test_what_fails_validation_is_dead_lettered_with_the_error_and_the_text(
    tmp_path: Path,
) -> None:
    with Broker(tmp_path / "b.db") as broker:
        broker.write("ctl", "{not json")
        broker.write("ctl", '{"op": "REBOOT"}')
        broker.write("ctl", '{"op": "PING"}')
        got = broker.claim("ctl", Control.model_validate_json)
        assert got is not None
        assert got[0].op == "PING"
        broker.write("log", '{"op": 1}')
        assert broker.peek("log", Control.model_validate_json) == []
        assert not broker.has_pending("log")  # not tripped over twice
        letters = [d for d, _ in broker.peek(names.DEADLETTER, DeadLetter.model_validate_json)]
    assert [(d.queue, d.raw) for d in letters] == [
        ("ctl", "{not json"),
        ("ctl", '{"op": "REBOOT"}'),
        ("log", '{"op": 1}'),
    ]
    assert "Invalid JSON" in letters[0].error
    assert "op" in letters[1].error
    assert all(d.message_id for d in letters)


def test_a_taskspec_names_exactly_one_target_and_redacts_its_secrets() -> None:
    with pytest.raises(ValueError, match="exactly one of argv, function or loop"):
        TaskSpec(tid=1, argv=("a",), function="m:f")
    with pytest.raises(ValueError, match="exactly one"):
        TaskSpec(tid=1)
    with pytest.raises(ValueError, match="function"):
        TaskSpec(tid=1, function="no-colon")
    with pytest.raises(ValueError, match="extra"):
        TaskSpec.model_validate({"tid": 1, "argv": ["a"], "bogus": 1})
    spec = TaskSpec(tid=1, argv=("a",), env={"DB_PASSWORD": "x", "AWS_SECRET_KEY": "y", "N": "1"})
    assert spec.redacted()["env"] == {"DB_PASSWORD": "***", "AWS_SECRET_KEY": "***", "N": "1"}
    assert "x" not in repr(spec)
    with pytest.raises(ValueError, match="frozen"):
        spec.name = "other"


async def test_the_async_bridge_wakes_on_a_poke_and_polls_nothing_on_sqlite(
    tmp_path: Path,
) -> None:
    path = tmp_path / "b.db"
    async with AsyncBroker(Broker(path)) as ab:
        assert not ab.native
        assert [t.name for t in threading.enumerate() if t.name.startswith("treadle-")] == []
        writer = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            f"from treadle.broker import Broker; Broker({str(path)!r}).write('q', 'hello')",
        )
        assert await writer.wait() == 0
        assert not await ab.changed(0.05)  # another's write wakes nobody: they nudge
        ab.poke()
        assert await ab.changed(10.0)
        assert not await ab.changed(0.0)  # each poke is seen once


async def test_the_async_bridge_wakes_on_a_notified_write_from_another_process(
    tmp_path: Path,
) -> None:
    with schema() as url:
        ab = AsyncBroker(Broker(url))
        await ab.start(watch=("q", "r"))
        try:
            assert ab.native
            await ab.changed(0.5)  # whatever it saw while it started to listen
            for queue, wakes in (("other", False), ("r", True)):
                writer = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-c",
                    f"from treadle.broker import Broker; Broker({url!r}).write({queue!r}, 'x')",
                )
                assert await writer.wait() == 0
                assert await ab.changed(10.0 if wakes else 0.3) is wakes
        finally:
            await ab.aclose()  # the watcher leaves its wait at once (the guard checks it)


async def test_the_calls_of_one_turn_run_in_order_as_one_job_each_with_its_outcome(
    tmp_path: Path,
) -> None:
    threads: set[int] = set()

    def write(text: str) -> int:
        threads.add(threading.get_ident())
        if text == "bad":
            raise ValueError(text)
        return ab.broker.write("q", text)

    async with AsyncBroker(Broker(tmp_path / "b.db")) as ab:
        calls = [ab.call(write, t) for t in ("a", "b", "bad", "c")]
        got = await asyncio.gather(*calls, return_exceptions=True)
        assert isinstance(got[2], ValueError)  # its own error; the others went on
        ids = [i for i in got if isinstance(i, int)]
        assert ids == sorted(ids)  # in the order they were made
        texts = [t for t, _ in await ab.call(ab.broker.peek_raw, "q")]
        assert texts == ["a", "b", "c"]
        assert threading.get_ident() not in threads
        assert len(threads) == 1  # one broker thread ran them all


async def test_a_call_cancelled_before_its_turn_ends_never_runs(tmp_path: Path) -> None:
    async with AsyncBroker(Broker(tmp_path / "b.db")) as ab:
        doomed = asyncio.ensure_future(ab.call(ab.broker.write, "q", "never"))
        kept = asyncio.ensure_future(ab.call(ab.broker.write, "q", "kept"))
        await asyncio.sleep(0)  # both made their calls in this turn
        doomed.cancel()
        assert await kept > 0
        with pytest.raises(asyncio.CancelledError):
            await doomed
        assert [t for t, _ in await ab.call(ab.broker.peek_raw, "q")] == ["kept"]


def test_a_broker_on_a_read_only_filesystem_is_refused_at_once(tmp_path: Path) -> None:
    place, view = tmp_path / "broker", tmp_path / "read-only"
    place.mkdir()
    view.mkdir()
    Broker(place / "broker.db").close()
    bound = subprocess.run(["mount", "--bind", str(place), str(view)], capture_output=True)
    if bound.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {bound.stderr.decode().strip()}")
    try:
        made_ro = subprocess.run(["mount", "-o", "remount,bind,ro", str(view)], capture_output=True)
        if made_ro.returncode != 0:
            pytest.skip(f"cannot make a mount read-only: {made_ro.stderr.decode().strip()}")
        with pytest.raises(BrokerError, match="its filesystem is read-only"):
            Broker(view / "broker.db")
    finally:
        subprocess.run(["umount", str(view)], check=True)


def test_a_file_that_is_not_sqlite_is_refused_at_once(tmp_path: Path) -> None:
    path = tmp_path / "broker.db"
    path.write_bytes(b"not a database, whatever its name says" * 10)
    with pytest.raises(BrokerError, match="it is not a SQLite database"):
        Broker(str(path))
    assert path.read_bytes().startswith(b"not a database")  # left as it was


def test_the_sqlite_sync_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TREADLE_SQLITE_SYNC", "sometimes")
    with pytest.raises(BrokerError, match=r"\$TREADLE_SQLITE_SYNC: must be full or normal"):
        Broker(str(tmp_path / "a.db"))
    for mode, level in (("normal", 1), ("full", 2)):
        monkeypatch.setenv("TREADLE_SQLITE_SYNC", mode)
        with Broker(str(tmp_path / f"{mode}.db")) as broker:
            broker.write("q", "x")
            with broker.db.sidecar() as side:
                assert list(side.run("PRAGMA synchronous", (), fetch=True)) == [(level,)]


def test_a_postgresql_broker_remembers_simplebrokers_statement_rewrites() -> None:
    """simplebroker-pg rewrites each statement's placeholders on every call (a third of a
    PostgreSQL manager's CPU per task): once a PostgreSQL broker is opened, the rewrite
    is remembered, and gives what the rewrite itself gives."""
    from simplebroker_pg import runner

    with schema() as url, Broker(url) as broker:
        broker.write("q", "one")
        adapt = runner._adapt_sql
        assert hasattr(adapt, "cache_info")
        statement = "SELECT '?', ? FROM t WHERE a = ? -- ?\n AND b LIKE '%x' AND c = $$?$$"
        assert adapt(statement) == getattr(adapt, "__wrapped__")(statement)  # noqa: B009
        assert [t for t, _ in broker.peek_raw("q", limit=5)] == ["one"]
        hits = adapt.cache_info().hits
        assert [t for t, _ in broker.peek_raw("q", limit=5)] == ["one"]  # the same statements
        assert adapt.cache_info().hits > hits


MINTER = """
import sys
from treadle.broker import Broker
with Broker(sys.argv[1]) as broker:
    print(" ".join(str(broker.timestamp()) for _ in range(150)))
"""


def test_many_processes_minting_at_once_each_get_unique_timestamps(tmp_path: Path) -> None:
    # simplebroker gives up after six lost compare-and-sets; eight clients and a manager
    # minting at once made it (a client died of IntegrityError, rarely: this does not
    # force it): the broker tries again. Each timestamp is still unique.
    path = str(tmp_path / "broker.db")
    Broker(path).close()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", MINTER, path], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(8)
    ]
    minted: list[int] = []
    for proc in procs:
        out, err = proc.communicate(timeout=50)
        assert proc.returncode == 0, err.decode()
        minted += map(int, out.split())
    assert len(minted) == len(set(minted)) == 1200


def test_a_spec_with_its_tid_mints_none(tmp_path: Path) -> None:
    # With the database locked by another writer, minting a timestamp cannot happen:
    # a spec given its TID (as submit_many's drafts are) must not try.
    from treadle.client import Client

    path = str(tmp_path / "broker.db")
    with Client(path) as client:
        tid = client.broker.timestamp() + 1
        locker = sqlite3.connect(path, isolation_level=None)
        try:
            locker.execute("BEGIN EXCLUSIVE")
            spec = client.spec(tid=tid, argv=["true"])
            locker.execute("ROLLBACK")
        finally:
            locker.close()
    assert spec.tid == tid
