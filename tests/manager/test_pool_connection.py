"""The pool's socket on a real abstract-namespace socket: a worker's hello, then its
replies, a line each however they are cut; a stranger is hung up on."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

from treadle.manager._pool import Pool
from treadle.manager._pooled import Connection


async def test_a_stranger_is_hung_up_on(tmp_path: Path) -> None:
    pool = Pool(1)
    await pool.start(str(tmp_path))
    try:
        for hello in (b"1:not-its-token\n", b"x" * 1000):  # a wrong hello, an endless one
            reader, writer = await asyncio.open_unix_connection("\0" + pool.address[1:])
            writer.write(hello)
            await writer.drain()
            assert await reader.read() == b""  # EOF: the pool closed it
            writer.close()
    finally:
        await pool.aclose()


class Listener:
    """A stand-in for the worker a hello names: what its connection hands it."""

    def __init__(self) -> None:
        self.lines: list[bytes | None] = []
        self.changed = asyncio.Event()

    def replied(self, line: bytes | None) -> None:
        self.lines.append(line)
        self.changed.set()


async def test_replies_arrive_whole_and_in_order_however_they_are_cut() -> None:
    listener = Listener()
    hellos: list[bytes] = []

    def hello(line: bytes, transport: asyncio.Transport) -> Listener:
        hellos.append(line)
        return listener

    address = f"\0treadle-test-{secrets.token_hex(8)}"
    loop = asyncio.get_running_loop()
    server = await loop.create_unix_server(lambda: Connection(hello), address)  # type: ignore[arg-type]
    try:
        _, writer = await asyncio.open_unix_connection(address)
        for chunk in (b"1:tok", b'en\n{"seq": 1,', b' "ok": true}\n{"seq"', b": 2}\n"):
            writer.write(chunk)
            await writer.drain()
        while len(listener.lines) < 2:
            listener.changed.clear()
            await listener.changed.wait()
        writer.close()
        while len(listener.lines) < 3:
            listener.changed.clear()
            await listener.changed.wait()
    finally:
        server.close()
    assert hellos == [b"1:token\n"]
    assert listener.lines == [b'{"seq": 1, "ok": true}\n', b'{"seq": 2}\n', None]  # None: EOF
