"""The core is open: it names no space, data set or their settings, so a new one plugs in without editing it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import nasframe
from nasframe.registry import get_registry

PACKAGE = Path(nasframe.__file__).parent
THIRD_PARTY_FOLDERS = ("plugins", "search_spaces")
CORE = sorted(p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] not in THIRD_PARTY_FOLDERS)


def docstrings(tree: ast.AST) -> set[int]:
    """ids of the string constants that are docstrings (prose may cite a paper's network by name)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
        # attribute docstrings: a string statement right after an assignment
        for field in ("body", "orelse"):
            stmts = getattr(node, field, None)
            if isinstance(stmts, list):
                for before, after in zip(stmts, stmts[1:]):
                    if isinstance(before, (ast.Assign, ast.AnnAssign)) and isinstance(after, ast.Expr):
                        if isinstance(after.value, ast.Constant):
                            found.add(id(after.value))
    return found


def words_in_code(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every string literal that is not a docstring, and every identifier, of a module."""
    tree = ast.parse(path.read_text())
    skip = docstrings(tree)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            out.append((node.lineno, node.value))
        elif isinstance(node, ast.Name):
            out.append((node.lineno, node.id))
        elif isinstance(node, ast.Attribute):
            out.append((node.lineno, node.attr))
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            out.append((node.lineno, node.name))
    return out


SHORTCUTS = {"launcher.devices"}
"""Launcher keys the core may name: ``bench --devices`` is the local launcher's ``launcher.devices``, kept from before
launchers were plugins."""


def forbidden() -> dict[str, str]:
    """Every registered space's, data set's and launcher's name (but the default launcher's, ``local``, an everyday
    word), and every space key as ``space.<key>`` and launcher key as ``launcher.<key>``, with what it is."""
    registry = get_registry()
    names = {name: f"the space {name!r}" for name in registry.spaces}
    names |= {name: f"the data set {name!r}" for name in registry.datasets}
    names |= {name: f"the launcher {name!r}" for name, reg in registry.launchers.items() if not reg.cls.default}
    for name, reg in registry.spaces.items():
        names |= {f"space.{key.name}": f"a key of the space {name!r}" for key in reg.cls.keys}
    for name, reg in registry.launchers.items():
        keys = {f"launcher.{key.name}" for key in reg.cls.keys} - SHORTCUTS
        names |= dict.fromkeys(keys, f"a key of the launcher {name!r}")
    return names


def test_the_list_of_names_covers_the_built_in_spaces_data_sets_and_launchers():
    names = forbidden()
    assert {"darts", "mbconv", "cifar10", "cifar100", "imagenet", "space.layers", "space.width_mult"} <= set(names)
    assert {"ray", "slurm", "launcher.address", "launcher.partition"} <= set(names)


@pytest.mark.parametrize("path", CORE, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_core_module_names_a_space_a_data_set_or_their_keys(path):
    names = forbidden()
    pattern = re.compile(
        r"(?<![\w.])(" + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) + r")(?![\w])", re.I
    )
    hits = [
        f"line {line}: {text!r} names {names[match.group(1).lower()] if match.group(1).lower() in names else match.group(1)}"
        for line, text in words_in_code(path)
        for match in [pattern.search(text)]
        if match
    ]
    assert not hits, f"{path.relative_to(PACKAGE)} names plugins: " + "; ".join(hits[:8])


def test_a_planted_name_is_found(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text('"""Docstrings may say darts."""\nDEFAULT = "cifar10"\nKEY = "space.layers"\n')
    pattern = re.compile(r"(?<![\w.])(cifar10|space\.layers|darts)(?![\w])", re.I)
    found = [text for _, text in words_in_code(planted) if pattern.search(text)]
    assert found == ["cifar10", "space.layers"]
