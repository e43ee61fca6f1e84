"""``treadle completion``: the scripts, and completion answered through the real command."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ._logs_support import T0, append, output
from ._support import TREADLE


def run(*args: str, cwd: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """``treadle ARGS`` with ``env`` on top of this process's environment."""
    return subprocess.run(
        [TREADLE, *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={**os.environ, **env},
    )


def complete(words: str, cword: int, cwd: str | None = None) -> list[str]:
    """What click answers bash's Tab on ``words`` (the ``cword``-th word being completed)."""
    done = run(cwd=cwd, _TREADLE_COMPLETE="bash_complete", COMP_WORDS=words, COMP_CWORD=str(cword))
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


@pytest.mark.parametrize(
    ("shell", "marker"),
    [
        ("bash", "complete -o nosort -F _treadle_completion treadle"),
        ("zsh", "#compdef treadle"),
        ("fish", "complete --no-files --command treadle"),
    ],
)
def test_the_script_for_each_shell(shell: str, marker: str) -> None:
    done = run("completion", shell)
    assert done.returncode == 0, done.stderr
    assert marker in done.stdout
    assert f"_TREADLE_COMPLETE={shell}_complete" in done.stdout
    assert run("completion", SHELL=f"/usr/bin/{shell}").stdout == done.stdout


def test_an_unknown_shell_is_a_usage_error() -> None:
    done = run("completion", SHELL="/bin/tcsh")
    assert done.returncode == 2
    assert "cannot tell the shell from $SHELL='/bin/tcsh'" in done.stderr
    assert run("completion", "csh").returncode == 2


def test_help_says_how_to_install_it() -> None:
    done = run("completion", "--help")
    assert done.returncode == 0
    assert 'eval "$(treadle completion bash)"' in done.stdout


def test_commands_options_and_log_names_complete() -> None:
    assert complete("treadle ta", 1) == ["plain,task"]
    assert complete("treadle task l", 2) == ["plain,list", "plain,log"]
    assert "plain,--profile" in complete("treadle check --pro", 2)


def test_log_names_complete_from_the_log_directory(tmp_path: Path) -> None:
    append(tmp_path / "web.log", output(T0, "hi"))
    append(tmp_path / "worker.log.1", output(T0, "hi"))
    append(tmp_path / "api.log", output(T0, "hi"))
    assert complete(f"treadle logs --dir {tmp_path} w", 4) == ["plain,web", "plain,worker"]


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_bash_completes_through_the_script(tmp_path: Path) -> None:
    script = (
        'eval "$(treadle completion bash)"\n'
        "COMP_WORDS=(treadle ta); COMP_CWORD=1\n"
        "_treadle_completion treadle\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    path = f"{Path(TREADLE).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    done = subprocess.run(
        ["bash", "--norc", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PATH": path},
        cwd=str(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["task"]


def test_every_command_listed_in_the_root_imports_and_matches_its_name() -> None:
    import importlib

    import click

    from treadle.cli._root import COMMANDS

    for name, (module, attr, short) in COMMANDS.items():
        command = getattr(importlib.import_module(f"treadle.cli.{module}"), attr)
        assert isinstance(command, click.Command), name
        assert command.name in (name, "status"), name  # ps is status by another name
        assert short, name
        assert len(short) <= 60, name
