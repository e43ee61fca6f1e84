"""The keys top reads: arrows named, sequences it does not know left out."""

from __future__ import annotations

import os
import pty

from treadle.cli._keys import Keyboard, split


def test_keys_are_named_and_unknown_sequences_dropped() -> None:
    assert split(b"\x1b[Ajq\x1b[B\x1bOA\r") == ["up", "j", "q", "down", "up", "enter"]
    assert split(b"\x1b[15~r\x1bOPp\x1b") == ["r", "p", "escape"]


def test_a_terminal_gives_keys_as_pressed_and_is_restored() -> None:
    master, slave = pty.openpty()
    try:
        import termios

        before = termios.tcgetattr(slave)
        with Keyboard(slave) as keys:
            assert keys.live
            assert keys.read(0) is None
            os.write(master, b"\x1b[Bq")  # no Enter needed: cbreak
            assert keys.read(5) == "down"
            assert keys.read(5) == "q"
        assert termios.tcgetattr(slave) == before
    finally:
        os.close(master)
        os.close(slave)


def test_no_terminal_gives_no_keys() -> None:
    read, write = os.pipe()
    try:
        os.write(write, b"q")
        with Keyboard(read) as keys:
            assert not keys.live
            assert keys.read(0) is None
    finally:
        os.close(read)
        os.close(write)
