"""The plugin examples in README.md and docs/plugins.md run, and the guide names every hook and helper."""

import inspect
import re
from pathlib import Path

import pytest
import tomllib

import nasframe
from nasframe import testing
from nasframe.interfaces import hooks as hookspecs
from nasframe.registry import get_registry
from nasframe.testing import install_plugin, plugin_path, tiny_search

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "plugins.md"


def section(path: Path, heading: str) -> str:
    """The text under a ``## heading`` line, up to the next ``## `` heading."""
    text = path.read_text()
    match = re.search(rf"^{re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"{path.name} has no {heading!r} section"
    return match.group(1)


def first_block(text: str, lang: str) -> str:
    match = re.search(rf"^```{lang}\n(.*?)^```", text, re.M | re.S)
    assert match, f"no ```{lang} block"
    return match.group(1)


@pytest.mark.parametrize(
    "path,heading",
    [(GUIDE, "## A plugin in ten lines"), (ROOT / "README.md", "## A strategy plugin")],
    ids=["docs-plugins", "readme"],
)
def test_plugin_example_registers_from_a_distribution_and_runs_a_tiny_search(tmp_path, path, heading, cifar_dir):
    code = first_block(section(path, heading), "python")
    root = install_plugin(
        tmp_path / "site",
        "nasframe-doc-example",
        {"doc-example": "doc_example"},
        {"doc_example": code},
        version="9.9.9",
    )
    with plugin_path(root):
        registry = get_registry()
        assert not registry.problems, [str(p) for p in registry.problems]
        ours = [reg for reg in registry.strategies.values() if reg.plugin == "doc-example"]
        assert [(r.distribution, r.version) for r in ours] == [("nasframe-doc-example", "9.9.9")]
        assert issubclass(ours[0].cls, nasframe.Strategy)
        summary = tiny_search(ours[0].name, "darts", tmp_path / "run", data_dir=cifar_dir, sets={"data.limit": 200})
    assert summary["strategy"] == ours[0].name and summary["arch"]["space"] == "darts"


def test_guide_entry_point_snippet_is_valid_toml_in_the_nasframe_group():
    snippet = tomllib.loads(first_block(section(GUIDE, "## A plugin in ten lines"), "toml"))
    assert list(snippet["project"]["entry-points"]["nasframe"].values()) == ["nasframe_best_of_8"]


def test_guide_lists_every_hook_with_its_arguments():
    text = GUIDE.read_text()
    hooks = [name for name, fn in vars(hookspecs).items() if hasattr(fn, "nasframe_spec")]
    assert len(hooks) >= 7
    for name in hooks:
        args = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)
        assert f"`{name}({args})`" in text, f"docs/plugins.md does not list the hook {name}({args})"


def test_guide_covers_the_strategy_lifecycle_and_every_testing_helper():
    text = GUIDE.read_text()
    members = [m for m in vars(nasframe.Strategy) if not m.startswith("_") and m not in ("space", "ctx", "config")]
    helpers = [
        n
        for n, obj in vars(testing).items()
        if not n.startswith("_") and getattr(obj, "__module__", None) == "nasframe.testing"
    ]
    assert {"ask", "tell", "final", "train_step", "sample_every", "state_dict"} <= set(members)
    assert {"tiny_search", "install_plugin", "plugin_path"} <= set(helpers)
    for name in members + helpers + ["NASFRAME_PLUGINS", "NASFRAME_TENSORBOARD", "gradient-strategies.md"]:
        assert name in text, f"docs/plugins.md never mentions {name}"
