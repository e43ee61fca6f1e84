"""The dashboard's listening socket, and why one could not be had, in words.

Owns binding ``host:port`` as uvicorn would (``SO_REUSEADDR``, its backlog) but before
the manager says it is up, so that ``treadle up`` fails at once on a taken port instead
of a manager dying later; and :func:`refusal`: what the system's error means for the
project file (the key to change, and how), naming the process that holds a taken port
when this user may see it. Serving on the socket is :mod:`._dashboard`'s.
"""

from __future__ import annotations

import errno
import socket

import psutil

__all__ = ["listen", "refusal"]

_BACKLOG = 2048  # uvicorn's default


def listen(host: str, port: int) -> socket.socket:
    """A listening, non-blocking TCP socket on ``host:port`` (``port`` 0: any free one).

    Raises:
        OSError: the system refused (see :func:`refusal` for what to say).
    """
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(_BACKLOG)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def refusal(host: str, port: int, exc: OSError) -> tuple[str, str]:
    """The ``[dashboard]`` key to change and what to say, for ``exc`` from :func:`listen`."""
    where = f"{host}:{port}"
    if isinstance(exc, socket.gaierror):
        return "host", f"cannot resolve {host!r}: {exc.strerror or exc}"
    if exc.errno == errno.EADDRINUSE:
        by = _holder(port)
        return "port", (
            f"{where} is already in use{f' (by {by})' if by else ''}: set another "
            "`port` under [dashboard], or run `treadle up --no-dashboard`"
        )
    if exc.errno == errno.EACCES:
        return "port", (
            f"binding {where} is not permitted (ports below 1024 need privileges): "
            "set another `port` under [dashboard]"
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return "host", f"{host} is not an address of this machine: set another `host`"
    return "port", f"cannot listen on {where}: {exc.strerror or exc}"


def _holder(port: int) -> str | None:
    """``pid 1234, python3``: the process listening on ``port``, if this user may see it."""
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr[1] == port:
                if conn.pid is None:
                    return None
                return f"pid {conn.pid}, {psutil.Process(conn.pid).name()}"
    except (psutil.Error, OSError):
        return None
    return None
