"""mkdocs hooks: the pages made from the code at build time, so that none goes stale.

- ``reference/treadle-toml.md``: every table and key of ``treadle.toml``, from the pydantic
  models of ``treadle.project._schema`` (type, default, bounds, and the docstring under
  each field);
- ``reference/cli.md``: every command and option, from the click commands themselves;
- ``<!-- generated: NAME -->`` in a page: the lifecycle diagram from ``_lifecycle``'s
  table of moves, and what ``treadle import`` keeps as comments, from the importers.
"""

from __future__ import annotations

import enum
import inspect
import re
import types
import typing
from collections.abc import Callable

import click
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from treadle import _lifecycle
from treadle.cli._root import COMMANDS, main_group
from treadle.project import _pm2, _schema, _supervisord, _units, _values

_ROLE = re.compile(r":\w+:`~?([^`]+)`")
_HTML_ROLE = re.compile(r":(?:class|func|meth|mod|data|attr|exc|obj|ref):<code>~?")
_TABLES = {  # ProjectFile's field → how the file spells its table
    "project": "[project]",
    "supervisor": "[supervisor]",
    "limiters": "[limiters]",
    "loops": "[loops.NAME]",
    "processes": "[processes.NAME]",
    "supervisors": "[supervisors.NAME]",
    "artifacts": "[artifacts.NAME]",
    "dashboard": "[dashboard]",
    "logging": "[logging]",
}
_VALUE_TYPES: list[tuple[object, str]] = [
    (_units.PositiveDuration, "duration > 0"),
    (_units.Duration, "duration"),
    (_units.PositiveSize, "size > 0"),
    (_units.Size, "size"),
    (_values.Command, "command"),
    (_values.Target, '`"module:attribute"`'),
    (_values.EnvValue, "string"),
    (_values.SignalName, "signal"),
    (_values.Umask, 'octal (`"022"`)'),
    (_values.CpuSeconds, "whole seconds"),
    (_values.Sha256, "sha256 (64 hex digits)"),
]


def on_files(files: Files, config: MkDocsConfig) -> Files:
    files.append(File.generated(config, "reference/treadle-toml.md", content=toml_reference()))
    files.append(File.generated(config, "reference/cli.md", content=cli_reference()))
    return files


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    for name, make in _GENERATED.items():
        markdown = markdown.replace(f"<!-- generated: {name} -->", make())
    return markdown


def on_page_content(html: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """The docstrings' Sphinx roles (``:class:`Loop```) shown as the code they name."""
    return _HTML_ROLE.sub("<code>", html)


# -- treadle.toml ---------------------------------------------------------------------------


def toml_reference() -> str:
    out = [
        "# `treadle.toml` reference",
        "",
        "Generated from the models `treadle check` validates with "
        "(`treadle.project._schema`): every key there is, with its type and default. "
        "The same tables work under `[tool.treadle]` in `pyproject.toml`. Every string "
        "may use `${VAR}` and `${VAR:-default}` (from the environment, then `.env`); "
        "`$$` is a literal `$`.",
        "",
        '**Durations** are seconds or strings with units: `"500ms"`, `"2s"`, `"5m"`, '
        '`"1h30m"`, `"1d"`. **Sizes** are bytes or strings: `"10MB"` (10⁷), `"512MiB"` '
        "(2²⁹). A **command** is a line (split as a shell would, run without one) or a "
        'list of arguments. A **signal** is `"SIGTERM"`, `"TERM"` or a number.',
    ]
    nested: dict[type[BaseModel], list[str]] = {}  # a table within a table → its keys
    for field, table in _TABLES.items():
        annotation = _schema.ProjectFile.model_fields[field].annotation
        model = _model_of(annotation)
        assert model is not None, field
        out += ["", f"## `{table}`", "", _prose(model.__doc__, table)]
        out += _keys(model, nested)
    done: set[type[BaseModel]] = set()
    while pending := [m for m in nested if m not in done]:
        model = pending[0]
        done.add(model)
        keys = " and ".join(f"`{k} = {{ ... }}`" for k in nested[model])
        out += ["", f"## {keys}", "", _prose(model.__doc__)]
        out += _keys(model, nested)
    return "\n".join(out) + "\n"


def _keys(model: type[BaseModel], nested: dict[type[BaseModel], list[str]]) -> list[str]:
    hints = typing.get_type_hints(model, include_extras=True)
    rows = ["", "| key | type | default | what it does |", "|---|---|---|---|"]
    for name, info in model.model_fields.items():
        inner = _model_of(hints[name])
        if inner is not None and inner is not model and name not in nested.get(inner, []):
            nested.setdefault(inner, []).append(name)
        kind = _type(hints[name])
        bounds = "" if kind in dict(_VALUE_TYPES).values() else _bounds(info)
        rows.append(
            f"| `{name}` | {kind}{bounds} | {_default(info)} | {_prose(info.description)} |"
        )
    return rows


def _model_of(annotation: object) -> type[BaseModel] | None:
    """The model a field holds (itself, optional, or a table of them)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _type(hint: object) -> str:
    for alias, name in _VALUE_TYPES:
        if hint == alias:
            return name
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Annotated:
        return _type(args[0])
    if origin in (typing.Union, types.UnionType):
        kinds = [_type(a) for a in args if a is not type(None)]
        return " or ".join(dict.fromkeys(kinds))
    if origin is typing.Literal:
        return " \\| ".join(f'`"{a}"`' for a in args)
    if origin in (tuple, list):
        return f"array of {_type(args[0])}"
    if origin is dict:
        return f"table of {_type(args[1])}"
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return " \\| ".join(f'`"{m.value}"`' for m in hint)
    if isinstance(hint, type) and issubclass(hint, BaseModel):
        return "table"
    names = {bool: "boolean", int: "integer", float: "number", str: "string", object: "any"}
    return names.get(hint, str(hint)) if isinstance(hint, type) else str(hint)


def _bounds(info: FieldInfo) -> str:
    words = []
    for item in info.metadata:
        for attr, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            value = getattr(item, attr, None)
            if value is not None:
                words.append(f"{sign} {value}")
        if getattr(item, "min_length", None):
            words.append("not empty")
    return f" ({', '.join(words)})" if words else ""


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "required"
    value = info.default_factory() if info.default_factory else info.default  # type: ignore[call-arg]
    if value is None:
        return "unset"
    if isinstance(value, BaseModel):
        return "defaults"
    if isinstance(value, enum.Enum):
        return f'`"{value.name if isinstance(value.value, int) else value.value}"`'
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float) and info.metadata and _is_duration(info):
        return f'`"{_units.format_duration(value)}"`'
    if isinstance(value, tuple | list):
        return "`[" + ", ".join(f'"{v}"' if isinstance(v, str) else str(v) for v in value) + "]`"
    if isinstance(value, dict):
        return "`{}`"
    return f"`{value!r}`".replace("'", '"')


def _is_duration(info: FieldInfo) -> bool:
    return any(getattr(m, "func", None) is _units.parse_duration for m in info.metadata)


def _prose(text: str | None, heading: str = "") -> str:
    """A docstring as one markdown line: roles and double backticks made plain; the
    table's name that opens it left out (the heading says it)."""
    if not text:
        return ""
    text = _ROLE.sub(r"`\1`", inspect.cleandoc(text)).replace("``", "`")
    text = " ".join(text.split()).replace("|", "\\|")
    if heading:
        text = text.removeprefix(f"`{heading}`").lstrip(":.").strip()
    return text[:1].upper() + text[1:]


# -- the command line -----------------------------------------------------------------------


def cli_reference() -> str:
    root = click.Context(main_group, info_name="treadle")
    out = [
        "# Command line reference",
        "",
        "Generated from the commands themselves (`treadle COMMAND --help` says the same).",
        "",
        *_help(main_group.help or ""),
        "",
        "| command | what it does |",
        "|---|---|",
    ]
    out += [f"| [`{n}`](#treadle-{n}) | {short} |" for n, (_, _, short) in COMMANDS.items()]
    out += ["", *_help(main_group.epilog or "")]
    for name in COMMANDS:
        command = main_group.get_command(root, name)
        assert command is not None, name
        out += _command(command, click.Context(command, info_name=name, parent=root), name)
    return "\n".join(out) + "\n"


def _command(command: click.Command, ctx: click.Context, path: str) -> list[str]:
    anchor = "treadle-" + path.replace(" ", "-")
    out = ["", f"## `treadle {path}` {{#{anchor}}}", ""]
    out += ["```text", command.get_usage(ctx).replace("Usage: ", ""), "```", ""]
    out += _help(command.help or command.short_help or "")
    options = [p.get_help_record(ctx) for p in command.get_params(ctx)]
    rows = [r for r in options if r is not None]
    if rows:
        out += ["", "| option | what it does |", "|---|---|"]
        out += [f"| `{flags}` | {_cell(text)} |" for flags, text in rows]
    if isinstance(command, click.Group):
        for sub in command.list_commands(ctx):
            child = command.get_command(ctx, sub)
            if child is not None and not child.hidden:
                sub_ctx = click.Context(child, info_name=sub, parent=ctx)
                out += _command(child, sub_ctx, f"{path} {sub}")
    return out


def _help(text: str) -> list[str]:
    """click's help as markdown: a paragraph after ``\\b`` is kept as it is written."""
    out: list[str] = []
    for paragraph in inspect.cleandoc(text).split("\n\n"):
        if paragraph.startswith("\b"):
            out += ["```text", inspect.cleandoc(paragraph[1:].strip("\n")), "```", ""]
        elif paragraph.strip():
            out += [_cell(paragraph), ""]
    return out


def _cell(text: str) -> str:
    """One table cell: ``|`` escaped, and ``[`` (click's ``[default: 5]``, ``[x>=1]``)
    kept from being read as a link."""
    return " ".join(text.split()).replace("|", "\\|").replace("[", "\\[")


# -- pieces of hand-written pages -----------------------------------------------------------


def lifecycle_diagram() -> str:
    """The table of allowed moves as a state diagram (moves to ``given_up``, open to
    every state, drawn once)."""
    lines = ["```mermaid", "stateDiagram-v2", "    [*] --> pending"]
    for source, targets in _lifecycle._TRANSITIONS.items():
        for target in sorted(targets, key=list(_lifecycle.State).index):
            if target is _lifecycle.State.GIVEN_UP and source is not _lifecycle.State.FAILED:
                continue
            lines.append(f"    {source.value} --> {target.value}")
    lines += ["```", ""]
    return "\n".join(lines)


def _no_equivalent(table: dict[str, str]) -> Callable[[], str]:
    def make() -> str:
        rows = ["| option | what treadle does instead |", "|---|---|"]
        rows += [f"| `{k}` | {v.removeprefix('no equivalent: ')} |" for k, v in table.items()]
        return "\n".join(rows) + "\n"

    return make


_GENERATED: dict[str, Callable[[], str]] = {
    "lifecycle": lifecycle_diagram,
    "supervisord-no-equivalent": _no_equivalent(_supervisord._NO_EQUIVALENT),
    "supervisord-sections": _no_equivalent(_supervisord._SECTIONS),
    "pm2-no-equivalent": _no_equivalent(_pm2._NO_EQUIVALENT),
}
