"""ProjectConfig: its children (kinds, supervisors, profiles, fingerprints) and redaction."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from treadle.project import ChildInfo

from .test_load import FULL, error, load, where


def test_children_are_depth_first_in_file_order_with_kind_and_parent(tmp_path: Path) -> None:
    config = load(tmp_path, FULL, profiles=["worker", "web"])
    children = config.children()
    assert [(c.name, c.kind, c.parent) for c in children.values()] == [
        ("web", "process", None),
        ("mailer", "process", None),
        ("background", "supervisor", None),
        ("poller", "loop", "background"),
        ("indexer", "loop", "background"),
    ]
    assert isinstance(children["web"], ChildInfo)
    assert children["web"].config is config.processes["web"]


def test_profiles_select_like_compose(tmp_path: Path) -> None:
    config = load(tmp_path, FULL)
    assert list(config.children()) == ["mailer", "background", "indexer"]  # no profiles
    assert list(config.children(["web"])) == ["web", "mailer", "background", "indexer"]
    assert "poller" in config.children(["worker"])


def test_an_excluded_supervisor_takes_its_children_with_it(tmp_path: Path) -> None:
    text = """
        [loops.a]
        target = "m:A"
        [supervisors.bg]
        children = ["a"]
        profiles = ["batch"]
        [processes.web]
        command = "serve"
        """
    config = load(tmp_path, text)
    assert list(config.children()) == ["web"]
    assert list(config.children(["batch"])) == ["bg", "a", "web"]


def test_depending_on_a_child_the_profiles_leave_out_names_both(tmp_path: Path) -> None:
    text = """
        [processes.db]
        command = "postgres"
        profiles = ["full"]
        [processes.web]
        command = "serve"
        depends_on = ["db"]
        """
    exc = error(tmp_path, text)
    assert where(exc) == ("treadle.toml", 6, 15, "processes.web.depends_on[0]")
    assert exc.message == (
        "'web' depends on 'db', which the selected profiles (none) leave out (its profiles: full)"
    )
    assert list(load(tmp_path, text, profiles=["full"]).children()) == ["db", "web"]


def test_an_unknown_profile_is_an_error_with_a_suggestion(tmp_path: Path) -> None:
    exc = error(tmp_path, FULL, profiles=["wroker"])
    assert (exc.field, exc.suggestion) == ("profiles", "worker")
    assert exc.message == "unknown profile 'wroker' (declared: web, worker)"


def test_fingerprints_are_stable_and_follow_the_config(tmp_path: Path) -> None:
    first = load(tmp_path, FULL).children()
    again = load(tmp_path, FULL).children()
    assert {n: c.fingerprint for n, c in first.items()} == {
        n: c.fingerprint for n, c in again.items()
    }
    changed = load(tmp_path, FULL.replace('interval = "2s"', 'interval = "3s"')).children()
    assert changed["indexer"].fingerprint != first["indexer"].fingerprint
    assert changed["mailer"].fingerprint == first["mailer"].fingerprint
    # a supervisor's own fingerprint does not depend on which children it lists
    assert changed["background"].fingerprint == first["background"].fingerprint


def test_secrets_are_redacted_in_reprs_and_in_redacted(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "DB_PASSWORD=hunter2\nLEVEL=debug\nDB_URL=postgresql://u:urlsecret@db/x\n"
    )
    text = FULL.replace(
        '"${TREADLE_BROKER:-.treadle/broker.db}"', '"postgresql://app:pgsecret@db/shop"'
    )
    text += '\n[artifacts.tool]\nversion = "1"\nurl = "https://ci:artsecret@example.org/{name}"\n'
    config = load(tmp_path, text, environ={"TREADLE_TOKEN": "dash-secret"}, profiles=["web"])
    shown = [repr(config), repr(config.processes["web"]), repr(config.dashboard), repr(config.file)]
    dumped = json.dumps(config.redacted())
    assert config.redacted()["artifacts"]["tool"]["url"] == "https://ci:***@example.org/{name}"  # type: ignore[index]
    for secret in ("s3cret", "dash-secret", "hunter2", "pgsecret", "artsecret", "urlsecret"):
        assert all(secret not in s for s in shown), secret
        assert secret not in dumped, secret
    redacted = config.redacted()
    assert redacted["processes"]["web"]["env"] == {"A": "1", "API_TOKEN": "***"}  # type: ignore[index]
    assert redacted["broker"] == "postgresql://app:***@db/shop"
    assert redacted["dotenv"] == {
        "DB_PASSWORD": "***",
        "LEVEL": "debug",
        "DB_URL": "postgresql://u:***@db/x",  # a URL's password, whatever the name
    }
    assert redacted["dashboard"]["token"] == "***"  # type: ignore[index]
    # the values themselves are intact for the build
    assert config.processes["web"].env["API_TOKEN"] == "s3cret"
    assert config.dotenv["DB_PASSWORD"] == "hunter2"


def test_config_error_helper_places_a_path(tmp_path: Path) -> None:
    config = load(tmp_path, FULL)
    exc = config.error(("processes", "web", "cwd"), "is not a directory")
    assert where(exc) == ("treadle.toml", 39, 1, "processes.web.cwd")


@pytest.mark.parametrize("section", ["loops", "processes", "supervisors"])
def test_empty_sections_are_fine(tmp_path: Path, section: str) -> None:
    assert load(tmp_path, f"[{section}]\n").children() == {}
