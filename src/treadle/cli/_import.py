"""``treadle import``: a ``treadle.toml`` written from a supervisord or PM2 configuration.

Owns telling the two apart (by the file's name, else its first characters), where the
new file goes (``-o``; never over an existing file without ``--force``; ``-`` for
stdout) and what is printed. The mappings are :mod:`treadle.project`'s
(``from_supervisord``, ``from_pm2``).
"""

from __future__ import annotations

import re
from pathlib import Path

import click

from .._exceptions import ConfigError
from ._app import Exit
from ._output import errors

__all__ = ["import_"]

_JS_FORM = (
    "PM2's JavaScript form is a program, not data: write its JSON form first, e.g. "
    "node -e 'console.log(JSON.stringify(require(\"./{name}\"), null, 2))' > ecosystem.config.json"
)


@click.command("import", short_help="Write a treadle.toml from a supervisord or PM2 config.")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("treadle.toml"),
    show_default=True,
    help="Where to write it ('-': print it).",
)
@click.option("--force", is_flag=True, help="Write over an existing file.")
@click.option(
    "--from",
    "kind",
    type=click.Choice(["supervisord", "pm2"]),
    help="The source's kind (default: by its name, else its content).",
)
def import_(source: Path, output: Path, force: bool, kind: str | None) -> int:
    """Write a treadle.toml that runs what SOURCE runs: a supervisord.conf (with the files
    its [include] names) or PM2's ecosystem.config.json.

    Every option with no equivalent is kept as a comment that says why; check the
    result with `treadle check` and run it with `treadle up`.

    \b
    Examples:
      treadle import /etc/supervisor/supervisord.conf
      treadle import ecosystem.config.json -o shop/treadle.toml
      treadle import supervisord.conf -o -        print it instead
    """
    from ..project import from_pm2, from_supervisord

    to_stdout = str(output) == "-"
    if not to_stdout and output.exists() and not force:
        raise ConfigError("--output", f"{output} exists (--force writes over it)")
    root = Path.cwd() if to_stdout else output.resolve().parent
    found = kind or _kind(source)
    draft = (from_pm2 if found == "pm2" else from_supervisord)(source.resolve(), root)
    text = draft.render()
    if to_stdout:
        click.echo(text, nl=False)
        return Exit.OK
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    tables = [t for t in draft.tables if t[0] == "processes"]
    notes = sum(len(t.notes) for t in draft.tables.values()) + len(draft.notes)
    errors.print(
        f"wrote {output}: {len(tables)} processes from {source} ({found}); {notes} "
        "comments for what has no equivalent. Next: `treadle check`, then `treadle up`.",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    return Exit.OK


def _kind(source: Path) -> str:
    name = source.name.lower()
    if name.endswith((".js", ".cjs", ".mjs")):
        raise ConfigError("SOURCE", _JS_FORM.format(name=source.name), file=str(source))
    if name.endswith(".json"):
        return "pm2"
    if name.endswith((".conf", ".ini")):
        return "supervisord"
    with source.open("rb") as f:
        start = f.read(4096).lstrip()
    if re.match(rb"\[[\w:. -]+\]", start):  # an ini section: [program:web], [supervisord]
        return "supervisord"
    if start[:1] in (b"{", b"["):
        return "pm2"
    raise ConfigError(
        "SOURCE", "neither a supervisord.conf nor a PM2 ecosystem JSON (--from)", file=str(source)
    )
