"""Shared state: a versioned key-value store children use to agree on values.

Owns :class:`StateStore` and :class:`Versioned`. Every write bumps the key's version;
``set(..., expect=v)`` is a compare-and-set, so two children racing to become leader cannot
both win. ``watch(key)`` yields the current value, then every change; a slow watcher skips
to the latest (it never blocks a writer). In-process and single-loop by design: the fleet's
shared state lives in the broker.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import Any

from .._exceptions import VersionConflict

__all__ = ["StateStore", "Versioned"]


@dataclass(frozen=True, slots=True)
class Versioned:
    """A value and its version (1 for the first write; 0 means 'absent')."""

    value: object
    version: int


ABSENT = Versioned(None, 0)


class StateStore:
    def __init__(self) -> None:
        self._data: dict[str, Versioned] = {}
        self._versions: dict[str, int] = {}  # survives deletion: versions never go back
        self._watchers: dict[str, list[asyncio.Future[None]]] = {}

    def get(self, key: str) -> Versioned | None:
        return self._data.get(key)

    def value(self, key: str, default: object = None) -> object:
        entry = self._data.get(key)
        return default if entry is None else entry.value

    def set(self, key: str, value: object, *, expect: int | None = None) -> int:
        """Write ``value``; with ``expect``, only if the key is at that version (0 = absent).

        Returns the new version; raises :class:`VersionConflict` if ``expect`` is stale.
        """
        self._check(key, expect)
        version = self._versions.get(key, 0) + 1
        self._versions[key] = version
        self._data[key] = Versioned(value, version)
        self._notify(key)
        return version

    def delete(self, key: str, *, expect: int | None = None) -> None:
        """Remove ``key`` (watchers see ``Versioned(None, 0)``); a missing key is fine."""
        self._check(key, expect)
        if self._data.pop(key, None) is not None:
            self._notify(key)

    def _check(self, key: str, expect: int | None) -> None:
        if expect is None:
            return
        current = self._data.get(key, ABSENT).version
        if current != expect:
            raise VersionConflict(key, expect, current)

    def _notify(self, key: str) -> None:
        for fut in self._watchers.pop(key, ()):
            if not fut.done():
                fut.set_result(None)

    async def _changed(self, key: str) -> None:
        fut = asyncio.get_running_loop().create_future()
        self._watchers.setdefault(key, []).append(fut)
        try:
            await fut
        finally:
            waiting = self._watchers.get(key)
            if waiting is not None and fut in waiting:
                waiting.remove(fut)

    async def watch(self, key: str) -> AsyncGenerator[Versioned, None]:
        """The current value (if set), then each change; deletion yields ``Versioned(None, 0)``.

        Changes that happen while the watcher is busy collapse into the latest one.
        """
        seen = -1
        while True:
            entry = self._data.get(key, ABSENT)
            if entry.version != seen and (seen != -1 or entry is not ABSENT):
                seen = entry.version
                yield entry
            else:
                seen = entry.version if seen == -1 else seen
                await self._changed(key)

    async def wait_for(self, key: str, predicate: Callable[[object], bool] = bool) -> Versioned:
        """Wait until ``key`` holds a value for which ``predicate`` is true (default: truthy)."""
        while True:
            entry = self._data.get(key)
            if entry is not None and predicate(entry.value):
                return entry
            await self._changed(key)

    def keys(self) -> list[str]:
        return list(self._data)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        return {k: {"value": v.value, "version": v.version} for k, v in self._data.items()}
