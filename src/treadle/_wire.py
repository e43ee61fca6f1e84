"""The local submission protocol: a client hands a task to a manager on the same host.

A manager of a SQLite broker serves :func:`~treadle._paths.submit_address` (a socket file
in a private directory; one manager per broker holds it). The conversation is
newline-delimited JSON over a Unix stream socket; each side checks the other's uid
(``SO_PEERCRED``: the same user, or root) before it sends anything::

    client  → {"submit": {TaskSpec fields but tid}, "request": R, "wait": true}
    manager ← {"accepted": {"tid": T, "manager": M, "queued": false}}
              (or {"error": "field: why"}, or {"unavailable": "why"})
    manager ← {"kind": "output", ...} ...  {"kind": "result", ...}     (wait, and run here)
    client  → {"stop": true}                                             (at any time)

    client  → {"down": FILE}               (``treadle down``, :mod:`treadle._down`)
    manager ← {"stopping": M} ... {"down": "stopped"}   (or {"unavailable": "why"})

The manager mints the TID and writes the spawn request to the broker *before* it answers,
so an accepted task is as durable as one written to the queue directly, and the queue
stays the source of truth. What this adds is speed: no broker round trips for the client,
no polling interval, and a client that imports nothing but the standard library (this
module is the fast path of ``treadle run``). ``queued`` means the manager could not run it
itself (a capability it lacks, no free slot, paused): it is on the spawn queue for any
manager, and the client follows it through the broker instead.

**Never lost, never twice.** A manager that does not answer at once (frozen, overloaded, a
broken connection: :data:`ANSWER_TIMEOUT`) must not make the request depend on it, so the
client then writes the request to the spawn queue itself. But the manager may still read
the request later (it sits in the socket's buffer) and accept it, so the two writes are
made exclusive by the request ID ``R`` the client chose before sending
(:func:`new_request`: its time in seconds and 96 random bits): whoever writes the task
writes, in the same transaction, a *receipt* whose broker message ID is derived from ``R``
(:func:`receipt_id`; below any broker timestamp, so it never meets one). Message IDs are
unique in a broker, so the second writer's transaction fails as a whole, and it reads the
receipt instead: the TID the first one wrote. The client reports that TID, and a late
manager runs nothing. A manager refuses a request older than an hour (receipts are kept a
day): see :mod:`treadle.manager._receipts`.
"""

from __future__ import annotations

# The client half runs before anything else in ``treadle run``, where every module costs:
# ``socket`` and ``json`` pull in enum and re (~30 ms, more than Python's own start). So it
# speaks through their C halves, which those modules are thin wrappers over.
import _json
import _socket
import os
import sys
import time

_TYPE_CHECKING = False  # typing imports re, collections.abc collections: see treadle/__init__
if _TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

__all__ = [
    "ANSWER_TIMEOUT",
    "MAX_LINE",
    "RECEIPT_BITS",
    "RECEIPT_EPOCH",
    "Refused",
    "Submission",
    "Unavailable",
    "Untrusted",
    "dumps",
    "exit_status",
    "loads",
    "new_request",
    "peer_uid",
    "receipt_id",
    "sockaddr",
]

MAX_LINE = 1 << 20  # the longest request a manager reads
ANSWER_TIMEOUT = 0.75  # seconds a client waits for the manager to accept, then queues itself
RECEIPT_EPOCH = 1_700_000_000  # receipt IDs count seconds from here (2023-11-14)
RECEIPT_BITS = 30  # random bits of a receipt ID, under its seconds: IDs stay below 2**60


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


def new_request() -> str:
    """A request ID for one submission: ``<unix seconds>-<24 hex digits>``."""
    return f"{int(time.time())}-{os.urandom(12).hex()}"


def receipt_id(request: str) -> int:
    """The broker message ID of ``request``'s receipt: its seconds since
    :data:`RECEIPT_EPOCH` over 30 random bits, a number below 2**60, where no broker
    timestamp (nanoseconds since 1970) ever falls. Raises ValueError for a bad ID."""
    seconds, dash, digits = request.partition("-")
    if not (dash and seconds.isdigit() and len(digits) == 24):
        raise ValueError(f"not a request ID: {request[:60]!r}")
    since = int(seconds) - RECEIPT_EPOCH
    if not 0 <= since < 1 << RECEIPT_BITS:
        raise ValueError(f"a request ID's time is out of range: {request[:60]!r}")
    return (since << RECEIPT_BITS | int(digits[:8], 16) & (1 << RECEIPT_BITS) - 1) or 1


def peer_uid(sock: _socket.socket) -> int:
    """The uid of the process at the other end of a connected Unix socket."""
    cred = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)  # pid, uid, gid
    return int.from_bytes(cred[4:8], sys.byteorder)


class Refused(Exception):
    """The manager answered with an error: the spec did not validate, say."""


class Unavailable(OSError):
    """The manager did not take the request (it is stopping, say): queue it instead."""


class Untrusted(OSError):
    """The socket is served by another user: nothing was sent."""


class Submission:
    """One task handed to the local manager: ``submit``, then iterate ``messages``.

    Raises ``OSError`` on connecting when no manager serves the address (``Untrusted``
    when another user's process does: nothing is sent to it).
    """

    def __init__(self, address: str, timeout: float = ANSWER_TIMEOUT) -> None:
        self._sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            self._sock.settimeout(timeout)
            self._sock.connect(sockaddr(address))
            uid = peer_uid(self._sock)
            if uid not in (os.getuid(), 0):
                raise Untrusted(f"{address} is served by uid {uid}, not this user")
        except BaseException:
            self._sock.close()
            raise
        self._buffer = b""

    def submit(self, fields: dict[str, Any], wait: bool, request: str) -> dict[str, Any]:
        """Send the task as ``request`` (:func:`new_request`); the manager's ``accepted``
        answer (tid, manager, queued). Raises OSError when there is no answer in time or
        the manager does not take it (:class:`Unavailable`): the caller then queues the
        request itself under the same ID; :class:`Refused` when it does not validate."""
        answer = self.request({"submit": fields, "request": request, "wait": wait})
        if "error" in answer:
            raise Refused(str(answer["error"]))
        if "accepted" not in answer:
            raise Unavailable(str(answer.get("unavailable", "no answer")))
        accepted: dict[str, Any] = answer["accepted"]
        return accepted

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send ``message``; the manager's answer (OSError when there is none in time)."""
        self._send(message)
        answer = self._read()
        if answer is None:
            raise OSError("the manager closed the connection without an answer")
        return answer

    def final(self, timeout: float) -> dict[str, Any]:
        """The manager's last word on a request it answers when done (``down``), ``{}``
        if it closed the connection without one; TimeoutError after ``timeout``."""
        self._sock.settimeout(timeout)
        return self._read() or {}

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
