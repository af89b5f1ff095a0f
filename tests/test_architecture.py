"""The layout is the architecture: one-way layers, no import circles, plugins that use only the public API."""

from __future__ import annotations

import ast
from pathlib import Path

import grimp
import pytest

import nasframe

PACKAGE = Path(nasframe.__file__).parent
REPO = PACKAGE.parent
EXAMPLE = REPO / "examples" / "nasframe-evolution" / "nasframe_evolution"
LAYERS = (
    "interfaces",
    "config",
    "data",
    "measure",
    "registry",
    "storage",
    "engine",
    "studies",
    "deploy",
    "testing",
    "cli",
)


def strongly_connected(graph: grimp.ImportGraph) -> list[set[str]]:
    """Tarjan's components of the direct-import graph with more than one module (each one is a circle)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for other in graph.find_modules_directly_imported_by(module):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = set()
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.add(top)
                if top == module:
                    break
            if len(component) > 1:
                found.append(component)

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_the_installed_package_has_no_import_circles():
    assert strongly_connected(grimp.build_graph("nasframe")) == []


def test_a_planted_circle_is_found():
    graph = grimp.ImportGraph()
    for a, b in (("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.c", "p.d")):
        graph.add_import(importer=a, imported=b)
    assert strongly_connected(graph) == [{"p.a", "p.b", "p.c"}]


def test_layers_import_only_downwards():
    graph = grimp.build_graph("nasframe")
    illegal = graph.find_illegal_dependencies_for_layers(
        layers=[f"nasframe.{name}" for name in reversed(LAYERS)], containers=set()
    )
    assert not illegal, [f"{d.importer} -> {d.imported}" for d in illegal]


def test_the_top_level_holds_at_most_fourteen_modules_each_with_a_docstring():
    entries = [p for p in PACKAGE.iterdir() if p.name not in ("__init__.py", "__main__.py", "__pycache__")]
    assert len(entries) <= 14, sorted(p.name for p in entries)
    for path in entries:
        source = path / "__init__.py" if path.is_dir() else path
        docstring = ast.get_docstring(ast.parse(source.read_text()))
        assert docstring, f"{source.relative_to(REPO)} has no docstring saying what the layer is"


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(module, names, level) of every import statement in a file, function-level ones included."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(alias.name, [], 0) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            out.append((node.module or "", [alias.name for alias in node.names], node.level))
    return out


THIRD_PARTIES = [
    *sorted((PACKAGE / "plugins").glob("*.py")),
    *sorted((PACKAGE / "search_spaces").rglob("*.py")),
    *sorted(EXAMPLE.glob("*.py")),
]


@pytest.mark.parametrize("path", THIRD_PARTIES, ids=lambda p: str(p.relative_to(REPO)))
def test_plugins_and_spaces_use_only_what_nasframe_exports(path):
    own = {"nasframe_evolution"}
    if "search_spaces" in path.parts:
        own.add("nasframe.search_spaces." + path.relative_to(PACKAGE / "search_spaces").parts[0])
    for module, names, level in _imports(path):
        if level or module.split(".")[0] not in ("nasframe", "nasframe_evolution"):
            continue  # relative imports stay inside the plugin's own package; torch and friends are fine
        if module == "nasframe":
            private = [n for n in names if n not in nasframe.__all__]
            assert not private, f"{path.name} imports {private} from nasframe, which does not export them"
        elif module == "nasframe.layers" or module.startswith("nasframe.layers."):
            continue  # the shared op library is public, as timm's layers are
        else:
            assert any(module == o or module.startswith(o + ".") for o in own), f"{path.name} imports {module}"
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "nasframe":
            assert node.attr in nasframe.__all__, f"{path.name} uses nasframe.{node.attr}, not public API"


def test_everything_nasframe_exports_exists():
    missing = [name for name in nasframe.__all__ if not hasattr(nasframe, name)]
    assert not missing


DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
ROOTS = ("nasframe/", "docs/", "tests/", "benchmarks/", "examples/", ".ci/")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_path_a_document_names_exists(doc):
    import re

    named = {m for m in re.findall(r"`([^`\s]+)`", doc.read_text()) if m.startswith(ROOTS)}
    missing = sorted(p for p in named if not (REPO / re.split("#|::", p)[0].rstrip(":")).exists() and "<" not in p)
    assert not missing, f"{doc.name} names paths that are not in the tree: {missing}"
