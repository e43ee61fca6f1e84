"""The example project that ``make up`` runs stays valid: it loads, and its tree builds
(every loop target imports)."""

from __future__ import annotations

from pathlib import Path

from treadle.project import build_tree, load_project

SHOP = Path(__file__).resolve().parents[2] / "examples" / "shop"


def test_the_example_project_loads_and_builds() -> None:
    config = load_project(SHOP, environ={"SHOP_PORT": "18741"})
    children = config.children()
    assert {"prices", "flaky", "web", "worker", "crasher", "background"} <= set(children)
    assert children["indexer"].parent == "background"
    tree = build_tree(config)
    assert tree.name == "shop"
    assert sorted(tree.children) == sorted(
        ["prices", "flaky", "web", "worker[0]", "worker[1]", "crasher", "background"]
    )
