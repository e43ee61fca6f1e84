"""Where a key is in a TOML file: :class:`Locator` maps a key path to (line, column).

tomllib gives values but no positions, so this scans the text once, following what makes
a key: table headers ``[a.b]`` and ``[[a]]`` (each element indexed), dotted keys
``a.b = 1``, quoted keys, inline tables ``x = { y = 1 }`` and arrays (each element
indexed, inline tables inside them too). Values are skipped, strings of all four kinds
with their escapes. It is run on text that tomllib has already accepted, so it is
lenient: anything it does not understand ends the scan with what it found so far.

A path that is not found falls back to its nearest recorded ancestor: a missing key is
reported at its table's header. Owns nothing about what the keys mean.
"""

from __future__ import annotations

import bisect
import contextlib
from collections.abc import Mapping
from typing import Final, TypeAlias

__all__ = ["KeyPath", "Locator"]

KeyPath: TypeAlias = tuple[str | int, ...]
Position: TypeAlias = tuple[int, int]

_BARE: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_ESCAPES: Final = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", '"': '"', "\\": "\\"}


class Locator:
    """Positions of keys, 1-based (line, column), by key path."""

    __slots__ = ("_positions",)

    def __init__(self, positions: Mapping[KeyPath, Position]) -> None:
        self._positions = dict(positions)

    @classmethod
    def scan(cls, text: str) -> Locator:
        """The positions of every key and table in TOML ``text``."""
        scanner = _Scanner(text)
        # Text it does not understand ends the scan (an IndexError): keep what it found.
        with contextlib.suppress(IndexError):
            scanner.document()
        return cls(scanner.positions)

    def locate(self, path: KeyPath) -> Position | None:
        """Where ``path`` is, or its nearest ancestor that was seen; None if neither is."""
        for n in range(len(path), 0, -1):
            found = self._positions.get(path[:n])
            if found is not None:
                return found
        return None

    def exact(self, path: KeyPath) -> Position | None:
        """Where ``path`` itself is; None if it is not in the text."""
        return self._positions.get(path)


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.positions: dict[KeyPath, Position] = {}
        self._line_starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
        self._arrays: dict[tuple[str, ...], int] = {}  # array-of-tables path → current index

    # -- positions ------------------------------------------------------------------------

    def _at(self, offset: int) -> Position:
        line = bisect.bisect_right(self._line_starts, offset)
        return line, offset - self._line_starts[line - 1] + 1

    def _record(self, path: KeyPath, offset: int, *, replace: bool = True) -> None:
        if replace:
            self.positions[path] = self._at(offset)
        else:
            self.positions.setdefault(path, self._at(offset))

    # -- structure ------------------------------------------------------------------------

    def document(self) -> None:
        table: KeyPath = ()
        while True:
            self._skip_blank()
            if self.pos >= len(self.text):
                return
            start = self.pos
            if self.text.startswith("[[", start):
                self.pos += 2
                keys = self._key()
                self._expect("]]")
                table = self._header(keys, start, array=True)
            elif self.text[start] == "[":
                self.pos += 1
                keys = self._key()
                self._expect("]")
                table = self._header(keys, start, array=False)
            else:
                self._keyval(table)

    def _header(self, keys: list[tuple[str, int]], start: int, *, array: bool) -> KeyPath:
        raw = tuple(k for k, _ in keys)
        path: list[str | int] = []
        for i, key in enumerate(raw):
            path.append(key)
            last = i == len(raw) - 1
            if last and array:
                index = self._arrays[raw] = self._arrays.get(raw, -1) + 1
                self._record(tuple(path), start, replace=False)
                path.append(index)
            elif raw[: i + 1] in self._arrays:  # inside the latest element of an array
                path.append(self._arrays[raw[: i + 1]])
            self._record(tuple(path), start, replace=last)
        return tuple(path)

    def _keyval(self, table: KeyPath) -> None:
        keys = self._key()
        self._skip_space()
        self._expect("=")
        self._skip_space()
        path = table
        for i, (key, offset) in enumerate(keys):
            path = (*path, key)
            self._record(path, offset, replace=i == len(keys) - 1)
        self._value(path)

    def _key(self) -> list[tuple[str, int]]:
        """A dotted key: each part with the offset where it starts."""
        parts: list[tuple[str, int]] = []
        while True:
            self._skip_space()
            start = self.pos
            ch = self.text[start]
            if ch == '"':
                part = self._basic_string()
            elif ch == "'":
                part = self._literal_string()
            else:
                end = start
                while end < len(self.text) and self.text[end] in _BARE:
                    end += 1
                if end == start:
                    raise IndexError(f"no key at offset {start}")  # not TOML we understand
                part, self.pos = self.text[start:end], end
            parts.append((part, start))
            self._skip_space()
            if self.pos < len(self.text) and self.text[self.pos] == ".":
                self.pos += 1
                continue
            return parts

    def _value(self, path: KeyPath) -> None:
        ch = self.text[self.pos]
        if ch == "{":
            self.pos += 1
            while True:
                self._skip_blank()
                if self.text[self.pos] == "}":
                    self.pos += 1
                    return
                self._keyval(path)
                self._skip_blank()
                if self.text[self.pos] == ",":
                    self.pos += 1
        elif ch == "[":
            self.pos += 1
            index = 0
            while True:
                self._skip_blank()
                if self.text[self.pos] == "]":
                    self.pos += 1
                    return
                self._record((*path, index), self.pos)
                self._value((*path, index))
                index += 1
                self._skip_blank()
                if self.text[self.pos] == ",":
                    self.pos += 1
        elif ch == '"':
            self._basic_string()
        elif ch == "'":
            self._literal_string()
        else:  # a number, boolean or date: up to what may follow a value
            start = self.pos
            while self.pos < len(self.text) and self.text[self.pos] not in ",]}\n#":
                self.pos += 1
            if self.pos == start:
                raise IndexError(f"no value at offset {start}")

    # -- lexemes --------------------------------------------------------------------------

    def _basic_string(self) -> str:
        text = self.text
        if text.startswith('"""', self.pos):
            return self._multiline('"""', escapes=True)
        self.pos += 1
        out: list[str] = []
        while text[self.pos] != '"':
            if text[self.pos] == "\\":
                out.append(self._escape())
            else:
                out.append(text[self.pos])
                self.pos += 1
        self.pos += 1
        return "".join(out)

    def _escape(self) -> str:
        """The escape at ``pos`` (a backslash): its character, for keys; moves past it."""
        code = self.text[self.pos + 1]
        if code in "uU":
            width = 4 if code == "u" else 8
            digits = self.text[self.pos + 2 : self.pos + 2 + width]
            self.pos += 2 + width
            return chr(int(digits, 16))
        self.pos += 2
        return _ESCAPES.get(code, code)

    def _literal_string(self) -> str:
        if self.text.startswith("'''", self.pos):
            return self._multiline("'''", escapes=False)
        end = self.text.index("'", self.pos + 1)
        value = self.text[self.pos + 1 : end]
        self.pos = end + 1
        return value

    def _multiline(self, quote: str, *, escapes: bool) -> str:
        """Skip a multi-line string (never a key, so its value is not needed)."""
        self.pos += 3
        while not self.text.startswith(quote, self.pos):
            self.pos += 2 if escapes and self.text[self.pos] == "\\" else 1
        self.pos += 3
        for _ in range(2):  # up to two quotes may sit just before the closing three
            if self.text.startswith(quote[0], self.pos):
                self.pos += 1
        return ""

    def _skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t":
            self.pos += 1

    def _skip_blank(self) -> None:
        """Whitespace, newlines and comments."""
        text = self.text
        while self.pos < len(text):
            ch = text[self.pos]
            if ch in " \t\r\n":
                self.pos += 1
            elif ch == "#":
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end
            else:
                return

    def _expect(self, token: str) -> None:
        self._skip_space()
        if not self.text.startswith(token, self.pos):
            raise IndexError(f"expected {token!r} at offset {self.pos}")
        self.pos += len(token)
