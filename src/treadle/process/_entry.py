"""``python -m treadle.process._entry module:function JSON``: run a callable as a process.

A list of arguments is passed positionally, an object as keywords; a coroutine function is
run with ``asyncio.run``. An exception prints its traceback and exits 1; a target that
does not import (:class:`TargetNotFound`) prints one line saying so, as ``treadle check``
would, and exits 1. With
``TREADLE_RESULT_FILE`` set, the return value is written there as JSON (a manager's task
result) and the exit is 0; without it, an int return value is the exit code. The value goes
to ``FILE.part`` first, then is renamed: whole or absent. A manager reserves the space of
``FILE.part`` before the process starts, so that a disk that fills meanwhile does not cost
a function that completed its result (written over the reserved space, then cut to size).

:func:`call`, :func:`encode` and :func:`write_data` are shared with a manager's warm workers
(``treadle.manager._worker``), which import this module without importing treadle: it
uses the standard library only.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import sys
from typing import Any


class TargetNotFound(Exception):
    """``module:function`` names a module that is not there, or nothing in it (an import
    that fails inside the module is the module's own error, with its traceback)."""


def call(target: str, args: Any) -> Any:
    """Import ``module:function`` and call it with ``args`` (its coroutine, if async, is
    returned unawaited).

    Raises:
        TargetNotFound: no such module, or no such attribute in it.
    """
    module_name, _, attr = target.partition(":")
    try:
        fn: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or module_name
        if module_name != missing and not module_name.startswith(missing + "."):
            raise  # the module is there; something it imports is not
        raise TargetNotFound(
            f"cannot import {module_name!r}: no module named {missing!r}"
        ) from None
    where = module_name
    for part in attr.split("."):
        try:
            fn = getattr(fn, part)
        except AttributeError:
            raise TargetNotFound(f"{where!r} has no attribute {part!r}") from None
        where = f"{where}.{part}" if where != module_name else f"{module_name}:{part}"
    if isinstance(args, dict):
        return fn(**args)
    if isinstance(args, list):
        return fn(*args)
    return fn() if args is None else fn(args)


def write_result(path: str, result: Any) -> bytes:
    """Write ``result`` as JSON at ``path``: over the space reserved at ``path.part``,
    then renamed (whole or absent, never half-written); returns the JSON."""
    data = encode(result)
    write_data(path, data)
    return data


def encode(result: Any) -> bytes:
    """A return value's JSON (what cannot be encoded, as its ``repr``)."""
    return json.dumps(result, default=repr).encode()


def write_data(path: str, data: bytes) -> None:
    """Write a value's JSON at ``path`` (see :func:`write_result`)."""
    fd = os.open(path + ".part", os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, data)  # over the reserved space: no new block while it fits
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)
    os.replace(path + ".part", path)


def main(argv: list[str]) -> int:
    target, raw = argv[0], argv[1] if len(argv) > 1 else "null"
    try:
        result = call(target, json.loads(raw))
    except TargetNotFound as exc:
        print(f"{target}: {exc}", file=sys.stderr)
        return 1
    if inspect.iscoroutine(result):
        import asyncio  # only then: it costs tens of milliseconds to import

        result = asyncio.run(result)
    path = os.environ.get("TREADLE_RESULT_FILE")
    if path:
        write_result(path, result)
        return 0
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
