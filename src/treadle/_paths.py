"""Where treadle's files live, decided with the standard library alone.

Owns the broker selection rule (an explicit spec, then ``$TREADLE_BROKER``, then
``.treadle/broker.db`` under the project root) and the local address a manager serves
submissions on. It imports nothing heavy, because the CLI's fast path for ``treadle run``
uses it before anything else is loaded; :func:`treadle.broker.resolve` builds on it.

The submit address is a socket *file* in a directory only its user can enter, so that no
other local user can bind it first (an abstract socket name, as it used to be, is anyone's
to take: whoever held it received every spec sent, secrets included). That directory is the
broker's own (``.treadle/``, made 0700) when it is private and the path fits a socket
address (108 bytes), else ``/tmp/treadle-<uid>/`` (made 0700; refused unless it is a real
directory of this user's with no access for anyone else). The client checks the peer's
uid as well (:mod:`treadle._wire`), since a directory's privacy is only as good as its
parents'.
"""

from __future__ import annotations

import os
import stat
from _blake2 import blake2b  # hashlib.blake2b itself; hashlib would cost the fast path

__all__ = [
    "BROKER_ENV",
    "STATE_DIR",
    "broker_spec",
    "private_dir",
    "sqlite_path",
    "submit_address",
]

BROKER_ENV = "TREADLE_BROKER"
STATE_DIR = ".treadle"
_SUN_PATH = 107  # bytes of a socket path (sun_path is 108, with its NUL)


def broker_spec(spec: str | os.PathLike[str] | None = None, root: str | None = None) -> str:
    """The broker as given: ``spec``, else ``$TREADLE_BROKER``, else the default file."""
    raw = os.fspath(spec) if spec is not None else os.environ.get(BROKER_ENV, "")
    return raw or os.path.join(root or os.getcwd(), STATE_DIR, "broker.db")


def sqlite_path(raw: str) -> str | None:
    """The absolute file of a SQLite broker spec (a path or ``sqlite://``), else None."""
    raw = raw.removeprefix("sqlite://")
    if "://" in raw:
        return None
    return os.path.abspath(os.path.expanduser(raw))


def submit_address(location: str, *, create: bool = False) -> str | None:
    """The socket file on which one manager of the SQLite broker at ``location`` takes
    submissions, or None when there is no private place for it (a socket in a directory
    others can enter could be anyone's). ``create``: make the fallback directory if it is
    missing (the manager does; a client only looks)."""
    directory = os.path.dirname(location)
    own = os.path.join(directory, "submit.sock")
    if len(os.fsencode(own)) <= _SUN_PATH and private_dir(directory):
        return own
    runtime = f"/tmp/treadle-{os.getuid()}"
    if create:
        try:
            os.mkdir(runtime, 0o700)
        except FileExistsError:
            pass
        except OSError:
            return None
    if not private_dir(runtime, follow=False):
        return None
    digest = blake2b(location.encode(), digest_size=10).hexdigest()
    return os.path.join(runtime, f"submit-{digest}.sock")


def private_dir(path: str, *, follow: bool = True) -> bool:
    """Whether ``path`` is a directory of this user's that nobody else may enter or
    change (``follow``: a symbolic link to one counts)."""
    try:
        info = os.stat(path) if follow else os.lstat(path)
    except OSError:
        return False
    return (
        stat.S_ISDIR(info.st_mode)
        and info.st_uid == os.getuid()
        and stat.S_IMODE(info.st_mode) & 0o077 == 0
    )
