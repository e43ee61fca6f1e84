"""``python -m treadle.process._entry module:function JSON``: run a callable as a process.

A list of arguments is passed positionally, an object as keywords; a coroutine function is
run with ``asyncio.run``. An exception prints its traceback and exits 1. With
``TREADLE_RESULT_FILE`` set, the return value is written there as JSON (a manager's task
result) and the exit is 0; without it, an int return value is the exit code.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import sys
from typing import Any


def main(argv: list[str]) -> int:
    target, raw = argv[0], argv[1] if len(argv) > 1 else "null"
    module_name, _, attr = target.partition(":")
    fn: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        fn = getattr(fn, part)
    args = json.loads(raw)
    if isinstance(args, dict):
        result = fn(**args)
    elif isinstance(args, list):
        result = fn(*args)
    else:
        result = fn() if args is None else fn(args)
    if inspect.iscoroutine(result):
        import asyncio  # only then: it costs tens of milliseconds to import

        result = asyncio.run(result)
    path = os.environ.get("TREADLE_RESULT_FILE")
    if path:
        with open(path + ".part", "w", encoding="utf-8") as f:
            json.dump(result, f, default=repr)
        os.replace(path + ".part", path)  # whole or absent, never half-written
        return 0
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
