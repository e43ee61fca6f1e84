"""``treadle cache list|verify|clear``: the cache of downloaded artifacts.

Owns the commands over :mod:`treadle.artifacts`' cache (``$XDG_CACHE_HOME/treadle/bin``,
shared by every project of the user): what is in it, whether every file still has the
sha256 recorded when it was downloaded, and emptying it (all of it, or one artifact's
versions). Resolving and downloading are ``treadle up``'s, through the project's build.
"""

from __future__ import annotations

import click

from ..artifacts import EntryState, cache_dir, clear_cache, list_cache, verify_cache
from ._app import Exit, json_option
from ._output import console, emit_json, errors, print_table, size

__all__ = ["cache"]


@click.group()
def cache() -> None:
    """The cache of downloaded artifacts ([artifacts.NAME] in treadle.toml).

    It is $XDG_CACHE_HOME/treadle/bin (default ~/.cache/treadle/bin), with a
    checksums.txt that `sha256sum -c` reads too.

    \b
    Examples:
      treadle cache list
      treadle cache verify --json
      treadle cache clear loom-bridge
    """


@cache.command(name="list")
@json_option
def list_(as_json: bool) -> int:
    """The cached artifacts: name, version, platform, size and sha256.

    \b
    Examples:
      treadle cache list
      treadle cache list --json | jq -r '.artifacts[].path'
    """
    directory = cache_dir()
    entries = list_cache(directory)
    if as_json:
        emit_json({"directory": str(directory), "artifacts": [e.as_dict() for e in entries]})
        return Exit.OK
    print_table(
        ("NAME", "VERSION", "PLATFORM", "SIZE", "SHA256", "FILE"),
        (
            (
                e.name or "?",
                e.version or "?",
                e.platform or "?",
                size(e.size) or "missing",
                (e.sha256 or "unrecorded")[:16],
                e.path.name,
            )
            for e in entries
        ),
        title=str(directory),
    )
    return Exit.OK


@cache.command(short_help="Hash every cached file and compare it with checksums.txt.")
@json_option
def verify(as_json: bool) -> int:
    """Hash every cached file and compare it with checksums.txt; exit 1 if one differs,
    is missing or has no record.

    A resolve trusts a file whose size and mtime are the recorded ones without hashing
    it; this is the full check.

    \b
    Examples:
      treadle cache verify
      treadle cache verify --json | jq '.artifacts[] | select(.state != "ok")'
    """
    directory = cache_dir()
    checked = verify_cache(directory)
    bad = [v for v in checked if v.state is not EntryState.OK]
    if as_json:
        emit_json(
            {
                "directory": str(directory),
                "ok": not bad,
                "artifacts": [v.as_dict() for v in checked],
            }
        )
        return Exit.FAILED if bad else Exit.OK
    print_table(
        ("NAME", "VERSION", "PLATFORM", "STATE", "FILE"),
        (
            (
                v.entry.name or "?",
                v.entry.version or "?",
                v.entry.platform or "?",
                v.state.value,
                v.entry.path.name,
            )
            for v in checked
        ),
        title=str(directory),
    )
    if bad:
        errors.print(f"{len(bad)} of {len(checked)} not ok: `treadle cache clear NAME` removes")
        return Exit.FAILED
    errors.print(f"ok: {len(checked)} verified")
    return Exit.OK


@cache.command()
@click.argument("name", required=False)
def clear(name: str | None) -> int:
    """Remove every cached artifact, or every version of NAME.

    \b
    Examples:
      treadle cache clear                 all of it
      treadle cache clear loom-bridge     every version and platform of loom-bridge
    """
    directory = cache_dir()
    removed = clear_cache(name, directory)
    for path in removed:
        console.print(f"removed {path}", markup=False, highlight=False, soft_wrap=True)
    what = f" of {name}" if name else ""
    errors.print(f"{len(removed)} files{what} removed from {directory}", markup=False)
    return Exit.OK
