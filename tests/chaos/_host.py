"""Scenarios 4 to 6, the host's faults: a full disk under the broker, a second local user
squatting the submission address, and descendants that try to outlive their managers.
"""

from __future__ import annotations

import contextlib
import pwd
import secrets
import select
import signal
import subprocess
import time
from hashlib import blake2b
from pathlib import Path

from treadle._paths import submit_address

from ._backends import fill
from ._fleet import mixed_tasks, submit, task_fields, wait_results
from ._scene import Scene, Skip

__all__ = ["descendants", "disk", "second_user"]

TREADLE = str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "treadle")


def disk(s: Scene) -> None:
    """The broker's filesystem fills while tasks run, stays full three leases, is freed."""
    if s.backend != "sqlite":
        raise Skip("the PostgreSQL server's disk is not the harness's to fill")
    n = 12 * s.size
    s.fleet.start()
    planned = submit(s.client, mixed_tasks(s.ledger_path, s.rng, n, 0.6, "d"))
    s.wait_lines("start", n // 2, timeout=20)
    filler = fill(Path(s.url).parent)
    time.sleep(3 * s.fleet.lease)  # the fault itself: the disk stays full a while
    filler.unlink()
    if not s.fleet.alive():
        s.figures.extra["manager_died"] = 1
        s.fleet.start()
    results = wait_results(s.client, [p.tid for p in planned], timeout=30.0 + 10 * s.size)
    ledger = s.finish(planned, results)
    s.figures.extra["killed_by_disk"] = sum(
        1 for copies in ledger.copies.values() for c in copies if not c.finished
    )
    s.figures.extra["results_lost"] = sum(1 for r in results.values() if r is None)


_SQUAT = r"""
import json, select, socket, sys, time
socks = []
for address in sys.argv[2:]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind("\0" + address[1:] if address.startswith("@") else address)
    except OSError:
        sock.close()
        continue
    sock.listen(16)
    socks.append(sock)
print("bound", len(socks), flush=True)
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    ready, _, _ = select.select(socks, [], [], 1.0)
    if not ready:
        continue
    try:
        conn, _ = ready[0].accept()
    except OSError:
        continue
    with conn:
        conn.settimeout(5)
        data = b""
        while b"\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        if b"submit" in data:
            print("got", len(data), flush=True)
        forged = {"tid": 1, "manager": 1, "queued": False}
        conn.sendall(json.dumps({"accepted": forged}).encode() + b"\n")
        result = {"kind": "result", "tid": 1, "state": "completed", "exit_code": 0}
        conn.sendall(json.dumps(result).encode() + b"\n")
"""


def second_user(s: Scene) -> None:
    """Another user binds the manager's submission address first; ``treadle run`` runs."""
    if s.backend != "sqlite":
        raise Skip("a PostgreSQL broker has no local submission address")
    user = f"chaos{secrets.token_hex(3)}"
    made = subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user],
        capture_output=True,
        timeout=30,
    )
    if made.returncode != 0:
        raise Skip(f"cannot make a second user: {made.stderr.decode().strip()}")
    squatter: subprocess.Popen[bytes] | None = None
    try:
        entry = pwd.getpwnam(user)
        location = s.client.url.location
        # the address a manager served before (an abstract name anyone could bind), and
        # the one it serves now (a file in the user's own directory)
        legacy = "@treadle-submit-" + blake2b(location.encode(), digest_size=10).hexdigest()
        addresses = [legacy, *filter(None, [submit_address(location)])]
        squatter = s.reaper.popen(
            [
                *("setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}"),
                *("--clear-groups", "/usr/bin/python3", "-c", _SQUAT, "60", *addresses),
            ],
            stdout=subprocess.PIPE,
        )
        assert squatter.stdout is not None
        ready, _, _ = select.select([squatter.stdout], [], [], 15)
        said = squatter.stdout.readline().split() if ready else []
        if said[:1] != [b"bound"]:
            raise Skip("the second user's squatter did not start")
        s.figures.extra["squatter_bound"] = int(said[1])
        s.fleet.start()
        runs = [
            ["run", "--", "/bin/true"],
            ["run", "--wait", "--", "/bin/true"],
            ["run", "-e", "API_TOKEN=chaos-secret", "--", "/bin/true"],
        ]
        for args in runs:
            out = subprocess.run(
                [TREADLE, *args[:1], "--broker", s.url, *args[1:]],
                capture_output=True,
                timeout=30,
            )
            s.figures.tracebacks += b"Traceback" in out.stdout + out.stderr
        s.figures.tasks = len(runs)
        squatter.send_signal(signal.SIGTERM)
        got, _ = squatter.communicate(timeout=10)
        s.figures.extra["squatter_specs"] = got.count(b"got ")
    finally:
        if squatter is not None and squatter.poll() is None:
            squatter.kill()
            squatter.wait()
        subprocess.run(["userdel", user], capture_output=True, timeout=30)


def descendants(s: Scene) -> None:
    """Tasks leave grandchildren (some setsid'd); their manager is stopped normally, then
    another's is SIGKILLed and a new manager recovers after it."""
    spawned = 0
    for rnd, ending in enumerate(("stop", "kill")):
        manager = s.fleet.start()
        tasks = []
        for i in range(4 * s.size):
            token = f"g{rnd}-{i}"
            kind = "argv" if i % 2 == 0 else "function"
            spawn = "setsid" if (i // 2) % 2 == 0 else "child"
            fields = task_fields(s.ledger_path, token, 60, kind=kind, restart="never", spawn=spawn)
            tasks.append((token, "never", fields))
        submit(s.client, tasks)
        spawned += len(tasks)
        s.wait_lines("spawn", spawned)
        if ending == "stop":
            s.fleet.stop(manager)
        else:
            s.fleet.kill(manager)
            s.figures.kills += 1
            s.fleet.start()  # it recovers the dead one's work, and reaps its leftovers
    s.figures.tasks = spawned
    s.figures.extra["grandchildren"] = spawned
    s.end()
    setsid = {
        pid
        for token, pids in s.ledger().spawned.items()
        for pid in pids
        if int(token.split("-")[1]) // 2 % 2 == 0
    }
    with contextlib.suppress(Exception):
        left = set(s.reaper.census().alive)
        s.figures.extra["setsid_left"] = len(left & setsid)
