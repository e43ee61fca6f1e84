"""Procfiles: one shell-command process per line, .env beside it, errors with line numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from treadle import ConfigError
from treadle.project import build_tree, load_procfile

from .test_load import write

PROCFILE = """
# processes for local development
web: gunicorn app:app -b 0.0.0.0:$PORT
worker:python -m worker --queue ${QUEUE:-default}

release-1: ./manage.py migrate   # the shell sees this comment
"""


def test_each_line_is_a_shell_command_process(tmp_path: Path) -> None:
    write(tmp_path, PROCFILE, "Procfile")
    config = load_procfile(tmp_path)
    assert config.path == tmp_path / "Procfile"
    assert config.name == tmp_path.name
    assert list(config.children()) == ["web", "worker", "release-1"]
    web = config.processes["web"]
    assert web.shell
    assert web.argv() == ("gunicorn app:app -b 0.0.0.0:$PORT",)  # $PORT is the shell's
    assert config.processes["worker"].argv() == ("python -m worker --queue ${QUEUE:-default}",)


def test_the_env_file_beside_it_reaches_the_processes_under_the_environment(
    tmp_path: Path,
) -> None:
    write(tmp_path, "web: serve\n", "Procfile")
    write(tmp_path, "PORT=5000\nDEBUG=1\n", ".env")
    config = load_procfile(tmp_path / "Procfile", environ={"DEBUG": "0"})
    assert config.dotenv == {"PORT": "5000"}
    tree = build_tree(config)
    assert tree.children == ["web"]


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        ("web: serve\nnot a process line\n", 2, "procfile", "expected 'name: command'"),
        ("web: serve\n\n  bad name: x\n", 3, "procfile", "expected 'name: command'"),
        ("web: serve\nworker:\n", 2, "worker", "no command after the ':'"),
        ("web: serve\n# c\nweb: again\n", 3, "web", "already defined on line 1"),
    ],
)
def test_a_malformed_line_is_an_error_with_its_line_number(
    tmp_path: Path, text: str, line: int, field: str, message: str
) -> None:
    path = write(tmp_path, text, "Procfile")
    with pytest.raises(ConfigError) as caught:
        load_procfile(path)
    exc = caught.value
    assert (exc.file, exc.line, exc.field) == (str(path), line, field)
    assert message in exc.message
