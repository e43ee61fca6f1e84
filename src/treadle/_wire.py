"""The local submission protocol: a client hands a task to a manager on the same host.

A manager of a SQLite broker serves :func:`~treadle._paths.submit_address` (one manager
per broker holds it). The conversation is newline-delimited JSON over a Unix stream
socket, checked by the manager against the peer's uid::

    client  → {"submit": {TaskSpec fields but tid}, "wait": true}
    manager ← {"accepted": {"tid": T, "manager": M, "queued": false}}   (or {"error": "..."})
    manager ← {"kind": "output", ...} ...  {"kind": "result", ...}     (wait, and run here)
    client  → {"stop": true}                                             (at any time)

The manager mints the TID and writes the spawn request to the broker *before* it answers,
so an accepted task is as durable as one written to the queue directly, and the queue
stays the source of truth. What this adds is speed: no broker round trips for the client,
no polling interval, and a client that imports nothing but the standard library (this
module is the fast path of ``treadle run``). ``queued`` means the manager could not run it
itself (a capability it lacks, no free slot, paused): it is on the spawn queue for any
manager, and the client follows it through the broker instead.
"""

from __future__ import annotations

# The client half runs before anything else in ``treadle run``, where every module costs:
# ``socket`` and ``json`` pull in enum and re (~30 ms, more than Python's own start). So it
# speaks through their C halves, which those modules are thin wrappers over.
import _json
import _socket

_TYPE_CHECKING = False  # typing imports re, collections.abc collections: see treadle/__init__
if _TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

__all__ = ["MAX_LINE", "Refused", "Submission", "dumps", "exit_status", "loads", "sockaddr"]

MAX_LINE = 1 << 20  # the longest request a manager reads


class _Decoding:
    """What ``_json.make_scanner`` reads off ``json.JSONDecoder``: the strict defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float
    memo: dict[str, str] = {}


def _unencodable(obj: object) -> object:
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


_scan = _json.make_scanner(_Decoding())  # type: ignore[arg-type]  # a duck-typed context
_encode = _json.make_encoder(
    None, _unencodable, _json.encode_basestring_ascii, None, ": ", ", ", False, False, True
)


def dumps(value: object) -> bytes:
    """``json.dumps(value).encode()``, without importing json."""
    return "".join(_encode(value, 0)).encode()


def loads(data: bytes) -> Any:
    """``json.loads(data)`` for one JSON document, without importing json."""
    text = data.decode()
    start = len(text) - len(text.lstrip())
    value, end = _scan(text, start)
    if text[end:].strip():
        raise ValueError(f"extra data after the JSON value at {end}")
    return value


def sockaddr(address: str) -> str:
    """``@name`` is Linux's abstract namespace, written with a leading NUL."""
    return "\0" + address[1:] if address.startswith("@") else address


class Refused(Exception):
    """The manager answered with an error: the spec did not validate, say."""


class Submission:
    """One task handed to the local manager: ``submit``, then iterate ``messages``.

    Raises ``OSError`` on connecting when no manager serves the address.
    """

    def __init__(self, address: str, timeout: float = 5.0) -> None:
        self._sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            self._sock.settimeout(timeout)
            self._sock.connect(sockaddr(address))
        except BaseException:
            self._sock.close()
            raise
        self._buffer = b""

    def submit(self, fields: dict[str, Any], wait: bool) -> dict[str, Any]:
        """Send the task; the manager's ``accepted`` answer (tid, manager, queued)."""
        self._send({"submit": fields, "wait": wait})
        answer = self._read()
        if answer is None:
            raise OSError("the manager closed the connection without an answer")
        if "error" in answer:
            raise Refused(str(answer["error"]))
        accepted: dict[str, Any] = answer["accepted"]
        return accepted

    def messages(self) -> Iterator[dict[str, Any]]:
        """Output records as the task prints, then its result; blocks without a timeout."""
        self._sock.settimeout(None)
        while (message := self._read()) is not None:
            yield message
            if message.get("kind") == "result":
                return

    def stop(self) -> None:
        """Ask the manager to stop the task (it still sends the result)."""
        self._send({"stop": True})

    def _send(self, message: dict[str, Any]) -> None:
        self._sock.sendall(dumps(message) + b"\n")

    def _read(self) -> dict[str, Any] | None:
        while b"\n" not in self._buffer:
            chunk = self._sock.recv(65536)
            if not chunk:
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        message: dict[str, Any] = loads(line)
        return message

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> Submission:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def exit_status(result: dict[str, Any]) -> int:
    """The exit status a command line reports for a task's result, as a shell would: the
    process's own code, 128 + N for a process killed by signal N, 1 for any other failure,
    130 for a task stopped before it ended."""
    code = result.get("exit_code")
    if result.get("state") == "completed":
        return 0
    if isinstance(code, int) and code > 0:
        return code
    if isinstance(code, int) and code < 0:
        return 128 - code
    return 130 if result.get("state") == "stopped" else 1
