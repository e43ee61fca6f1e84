"""The README stays true: its Python blocks parse and import what exists, its treadle.toml
blocks load, and every `treadle` command and option it shows is one the CLI has."""

from __future__ import annotations

import ast
import importlib
import re
import shlex
from pathlib import Path

import click
import pytest

from treadle.cli._root import COMMANDS
from treadle.project import load_project

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.M | re.S)


def blocks(kind: str) -> list[str]:
    return [body for lang, body in BLOCK.findall(README.read_text()) if lang == kind]


def test_python_blocks_parse_and_import_what_exists() -> None:
    found = blocks("python")
    assert len(found) >= 3
    for code in found:
        tree = ast.parse(code)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                module = importlib.import_module(node.module)
                for alias in node.names:
                    assert hasattr(module, alias.name), f"{node.module}.{alias.name}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    importlib.import_module(alias.name)


@pytest.mark.parametrize("index", range(2))
def test_toml_blocks_load_as_projects(tmp_path: Path, index: int) -> None:
    text = blocks("toml")[index]
    if "[project]" not in text:
        text = '[project]\nname = "readme"\n\n' + text
    (tmp_path / "treadle.toml").write_text(text)
    config = load_project(tmp_path, environ={})
    assert config.children()


def _command(words: list[str]) -> click.Command:
    """The click command that ``treadle WORDS...`` runs (sub-commands followed)."""
    name = words[0]
    assert name in COMMANDS, name
    module, attr, _ = COMMANDS[name]
    command: click.Command = getattr(importlib.import_module(f"treadle.cli.{module}"), attr)
    for word in words[1:]:
        if not isinstance(command, click.Group) or word not in command.commands:
            break
        command = command.commands[word]
    return command


def _alternatives(part: str) -> list[list[str]]:
    """``treadle a b | c -x`` -> [a b], [a c -x]; ``treadle a|b n`` -> [a n], [b n]."""
    first, *rest = part.split(" | ")
    head = shlex.split(first)[1:]
    out = [head] + [[*head[:-1], *shlex.split(alt)] for alt in rest]
    expanded: list[list[str]] = []
    for words in out:
        at = next((i for i, w in enumerate(words) if "|" in w), None)
        if at is None:
            expanded.append(words)
        else:
            expanded += [[*words[:at], w, *words[at + 1 :]] for w in words[at].split("|")]
    return [w[: w.index("--")] if "--" in w else w for w in expanded]


def _check(part: str, words: list[str]) -> None:
    command = _command(words)
    options = {o for p in command.params for o in getattr(p, "opts", [])}
    for word in words:
        if word.startswith("-") and not re.fullmatch(r"-\d+", word):
            assert word.split("=")[0] in options, f"{part}: {word} ({' '.join(words)})"


def test_every_treadle_command_and_option_shown_exists() -> None:
    shown = 0
    for block in blocks("sh"):
        for line in block.splitlines():
            line = line.split("#", 1)[0]
            # several commands on one line (`a    b`), and alternatives (`x | y`)
            for part in re.split(r"\s{3,}", line.strip()):
                if part.startswith("treadle "):
                    for words in _alternatives(part):
                        _check(part, words)
                        shown += 1
    assert shown >= 20


def test_every_link_and_path_to_a_document_is_in_the_repository() -> None:
    """A new user's clone has what the README points at (no ``../shared/...``)."""
    text = README.read_text()
    links = re.findall(r"\]\(([^)#]+)\)", text) + re.findall(r"`([\w./-]+\.md)`", text)
    assert links
    for link in links:
        if "://" in link:
            continue
        target = (README.parent / link).resolve()
        assert target.is_relative_to(README.parent), link
        assert target.exists(), link
