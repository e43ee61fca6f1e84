"""The docs stay true to the code: the generated references name every key of
``treadle.toml`` and every command and option, every key says what it does, and the
pages' ``treadle.toml`` blocks load. (``make docs``, part of ``make test``, builds the
whole site with warnings as errors.)"""

from __future__ import annotations

import functools
import importlib.util
import re
import types
import typing
from pathlib import Path

import click
import pytest
from pydantic import BaseModel

from treadle.cli._root import COMMANDS, main_group
from treadle.project import ProjectFile, load_project

DOCS = Path(__file__).resolve().parents[1] / "docs"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.M | re.S)


@functools.cache
def hooks() -> types.ModuleType:
    pytest.importorskip("mkdocs", reason="the docs extra (make test installs it)")
    spec = importlib.util.spec_from_file_location("treadle_docs_hooks", DOCS / "hooks.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def models(model: type[BaseModel], seen: set[type[BaseModel]]) -> set[type[BaseModel]]:
    """``model`` and every model its fields hold, however deep."""
    if model in seen:
        return seen
    seen.add(model)
    for info in model.model_fields.values():
        inner = model_of(info.annotation)
        if inner is not None:
            models(inner, seen)
    return seen


def model_of(annotation: object) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = model_of(arg)
        if found is not None:
            return found
    return None


def test_every_key_of_treadle_toml_says_what_it_does() -> None:
    undocumented = [
        f"{model.__name__}.{name}"
        for model in models(ProjectFile, set()) - {ProjectFile}
        for name, info in model.model_fields.items()
        if not info.description
    ]
    assert undocumented == []


def test_the_toml_reference_has_every_table_and_key() -> None:
    page = hooks().toml_reference()
    for table in ("[project]", "[loops.NAME]", "[processes.NAME]", "[dashboard]"):
        assert f"## `{table}`" in page
    for model in models(ProjectFile, set()) - {ProjectFile}:
        for name, info in model.model_fields.items():
            assert f"| `{name}` |" in page, f"{model.__name__}.{name}"
            assert " ".join((info.description or "").split()) in page.replace("\\|", "|")
    assert '| `stop_timeout` | duration | `"10s"` |' in page  # a default as it is written


def test_the_cli_reference_has_every_command_and_option() -> None:
    page = hooks().cli_reference()
    root = click.Context(main_group, info_name="treadle")
    for name in COMMANDS:
        command = main_group.get_command(root, name)
        assert command is not None
        assert f"## `treadle {name}` {{#treadle-{name}}}" in page
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                assert f"`{param.opts[0]}" in page or f", {param.opts[0]}" in page, (
                    f"{name} {param.opts}"
                )
    assert "## `treadle worker start`" in page  # a group's commands too
    assert "## `treadle import`" in page
    assert "## `treadle startup`" in page


def test_the_lifecycle_diagram_is_the_table_of_moves() -> None:
    from treadle._lifecycle import _TRANSITIONS, State

    diagram = hooks().lifecycle_diagram()
    assert diagram.startswith("```mermaid\nstateDiagram-v2\n")
    for source, targets in _TRANSITIONS.items():
        for target in targets - {State.GIVEN_UP}:
            assert f"    {source.value} --> {target.value}\n" in diagram


def test_every_generated_marker_in_the_pages_is_known() -> None:
    known = set(hooks()._GENERATED)
    for page in DOCS.rglob("*.md"):
        for marker in re.findall(r"<!-- generated: ([\w-]+) -->", page.read_text()):
            assert marker in known, f"{page.name}: {marker}"


@pytest.mark.parametrize("page", sorted(p.name for p in DOCS.glob("*.md")))
def test_toml_blocks_in_the_pages_load_as_projects(tmp_path: Path, page: str) -> None:
    for text in [b for lang, b in BLOCK.findall((DOCS / page).read_text()) if lang == "toml"]:
        (tmp_path / "treadle.toml").write_text(text)
        assert load_project(tmp_path, environ={}).children()


def test_the_screenshots_the_pages_show_are_there() -> None:
    for page in DOCS.rglob("*.md"):
        for image in re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", page.read_text()):
            assert (page.parent / image).is_file(), f"{page.name}: {image}"
