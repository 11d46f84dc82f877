"""Imports point down: layouts/ ← gateway/ ← mcu/, and no module cycles.

Walks every module's imports with ``ast`` (TYPE_CHECKING blocks and imports inside
functions included) and fails on any that points up, so the layering in
docs/architecture.md cannot rot quietly.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("layouts", "gateway", "mcu")
# What each top-level package may import of ours (itself aside).
ALLOWED: dict[str, frozenset[str]] = {
    "layouts": frozenset(),
    "gateway": frozenset(),
    "mcu": frozenset({"gateway", "layouts"}),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(path: Path) -> str:
    name = module_name(path)
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def imports_of(path: Path, package: str | None = None) -> list[tuple[int, str]]:
    """(line, imported module) for every import in the file, wherever it sits."""
    tree = ast.parse(path.read_text(), str(path))
    package = package_of(path) if package is None else package
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.append((node.lineno, base))
    return found


def sources() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py")
                  if "migrations" not in p.parts)


def test_imports_point_down() -> None:
    wrong = []
    for path in sources():
        own = module_name(path).split(".")[0]
        for line, target in imports_of(path):
            top = target.split(".")[0]
            if top in PACKAGES and top != own and top not in ALLOWED[own]:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert wrong == [], "imports pointing up:\n" + "\n".join(wrong)


def test_mcu_names_no_gateway_but_in_its_registry() -> None:
    """A gateway is a plug-in: only mcu/gateways.py (the registry) imports one, and
    mcu/settings.py, which composes each gateway package's own settings section."""
    protocol_packages = {p.name for p in (ROOT / "gateway").iterdir()
                         if p.is_dir() and (p / "service.py").exists()}
    naming = []
    for path in sources():
        if module_name(path) in ("mcu.gateways", "mcu.settings") or not module_name(
                path).startswith("mcu."):
            continue
        for line, target in imports_of(path):
            parts = target.split(".")
            if parts[0] == "gateway" and len(parts) > 1 and parts[1] in protocol_packages:
                naming.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert protocol_packages and naming == [], "\n".join(naming)


def test_no_import_cycles_between_modules() -> None:
    names = {module_name(p): p for p in sources()}
    graph = {name: {t for _, t in imports_of(path) if t in names and t != name}
             for name, path in names.items()}
    for package in [n for n in names if names[n].name == "__init__.py"]:
        # A package's __init__ re-exporting its modules is not a cycle of theirs.
        for name in graph:
            graph[name].discard(package) if name.startswith(package + ".") else None
    cycles = []
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*path[path.index(nxt):], nxt]))
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == [], "import cycles:\n" + "\n".join(cycles)


@pytest.mark.parametrize("source", ["import mcu.app\n", "from mcu import settings\n"])
def test_the_walker_sees_type_checking_and_function_imports(tmp_path: Path, source: str
                                                              ) -> None:
    path = tmp_path / "probe.py"
    path.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                    f"    {source}def f():\n    {source}")
    assert [t.split(".")[0] for _, t in imports_of(path, "gateway")].count("mcu") == 2
