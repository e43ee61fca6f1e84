"""diff(): what a reload would add, remove, restart and keep."""

from __future__ import annotations

from pathlib import Path

from treadle.project import ProjectDiff, diff

from .test_load import FULL, load


def test_the_same_file_is_unchanged(tmp_path: Path) -> None:
    old, new = load(tmp_path, FULL), load(tmp_path, FULL)
    d = diff(old, new)
    assert d == ProjectDiff(unchanged=("mailer", "background", "indexer"))
    assert not d


def test_added_removed_changed_and_unchanged(tmp_path: Path) -> None:
    old = load(tmp_path, FULL)
    text = (
        FULL.replace('interval = "2s"', 'interval = "3s"')  # indexer changes
        .replace(
            '[processes.mailer]\nfunction = "shop.mail:serve"',
            '[processes.mailer2]\nfunction = "shop.mail:serve"',
        )
        .replace("[limiters]\nio = 8", "[limiters]\nio = 16")
    )
    new = load(tmp_path, text)
    d = diff(old, new)
    assert d.added == ("mailer2",)
    assert d.removed == ("mailer",)
    assert d.changed == ("indexer",)
    assert d.unchanged == ("background",)
    assert d.sections == ("limiters",)
    assert d


def test_profiles_count_and_moving_a_child_changes_it(tmp_path: Path) -> None:
    old = load(tmp_path, FULL)
    new = load(tmp_path, FULL, profiles=["web"])
    assert diff(old, new).added == ("web",)
    text = FULL.replace('children = ["poller", "indexer"]', 'children = ["poller"]')
    moved = load(tmp_path, text.replace('depends_on = ["indexer"]\n', ""))
    d = diff(old, moved)
    assert d.changed == ("indexer",)  # now a child of the root, not of background
    assert "background" in d.unchanged


def test_a_changed_env_file_changes_the_processes_only(tmp_path: Path) -> None:
    old = load(tmp_path, FULL)
    (tmp_path / ".env").write_text("EXTRA=1\n")
    d = diff(old, load(tmp_path, FULL))
    assert d.changed == ("mailer",)
    assert d.unchanged == ("background", "indexer")


def test_a_new_artifact_version_changes_the_processes_that_run_it(tmp_path: Path) -> None:
    text = """
    [artifacts.tool]
    version = "1.0"

    [processes.uses]
    artifact = "tool"

    [processes.other]
    command = "sleep 60"
    """
    old = load(tmp_path, text)
    d = diff(old, load(tmp_path, text.replace('"1.0"', '"1.1"')))
    assert d.changed == ("uses",)  # restarted on reload, with the new version
    assert d.unchanged == ("other",)
