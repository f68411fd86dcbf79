"""The layer picture in docs/architecture.md, checked against the imports.

Every ``import armgym.x`` / ``from armgym.x import`` in ``src/armgym`` — at module level and
inside functions alike — must point at the package's own layer or one the table lets it
use. The same table is printed in docs/architecture.md (a test checks they agree).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import armgym

SRC = Path(armgym.__file__).parent
DOC = SRC.parents[1] / "docs" / "architecture.md"

#: layer -> the armgym layers it may import (besides itself). Leaves first.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "registry": {"errors"},
    "progress": set(),
    "viz": {"errors", "atomic"},
    "atomic": {"errors"},
    "contracts": {"errors"},
    "transport": {"errors"},
    "robots": {"errors", "registry", "contracts", "transport", "atomic"},
    "tasks": {"errors", "registry", "contracts", "robots"},
    "envs": {"errors", "registry", "contracts", "progress", "robots", "tasks"},
    "teleop": {"errors", "registry", "contracts", "transport", "robots", "tasks"},
    "data": {"errors", "contracts", "atomic", "progress", "viz"},
    "policies": {"errors", "registry", "contracts", "atomic", "robots", "tasks"},
    "rl": {"errors", "contracts", "atomic", "progress", "envs", "data", "policies"},
    "eval": {
        "errors",
        "contracts",
        "atomic",
        "progress",
        "viz",
        "envs",
        "data",
        "policies",
        "serve",
        "mappings",
    },
    "train": {
        "errors",
        "registry",
        "contracts",
        "atomic",
        "progress",
        "viz",
        "tasks",
        "envs",
        "data",
        "policies",
        "rl",
        "eval",
        "teleop",
    },
    "serve": {"errors", "contracts", "transport", "robots", "policies"},
    "mappings": {"errors", "registry", "contracts", "robots", "envs", "serve"},
    "apps": {
        "errors",
        "registry",
        "contracts",
        "atomic",
        "progress",
        "viz",
        "transport",
        "robots",
        "tasks",
        "envs",
        "teleop",
        "data",
        "policies",
        "rl",
        "eval",
        "train",
        "serve",
        "mappings",
    },
}
TOP = {"__init__", "cli", "_cli_errors"}  # the package root and the dispatcher may import anything


def _layer(module: str) -> str:
    return module.split(".")[1] if module.count(".") >= 1 else module


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("armgym.")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "armgym":
                found |= {f"armgym.{a.name}" for a in node.names}
            elif node.module.startswith("armgym."):
                found.add(node.module)
    return found


def test_no_layer_imports_upward() -> None:
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        layer = rel.parts[0].removesuffix(".py")
        if layer in TOP:
            continue
        assert layer in ALLOWED, f"{rel}: layer {layer!r} is not in the table; add it"
        for module in _imports(path):
            target = _layer(module)
            if target != layer and target not in ALLOWED[layer]:
                bad.append(f"{rel} imports {module}")
    assert not bad, "imports against the layer table:\n" + "\n".join(bad)


def test_architecture_doc_lists_the_same_table() -> None:
    text = DOC.read_text()
    for layer, deps in ALLOWED.items():
        row = re.search(rf"^\| `armgym\.{layer}` \| [^|]* \| ([^|]*) \| [^|]* \|$", text, re.M)
        assert row, f"docs/architecture.md has no row for armgym.{layer}"
        listed = {d.strip(" `") for d in row.group(1).split(",")} - {"–"}
        assert listed == deps, f"armgym.{layer}: doc says {sorted(listed)}, table {sorted(deps)}"
