"""The house's rooms: no import circle among the modules of scripts/ or benchmarks/, and every import of
scripts/ at the top of its module (but the command line's, which must start before .venv exists)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from tests_helpers import ROOT


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, package: str) -> list[tuple[str, bool]]:
    """(module imported, at the module's top level) for each import of ``package``'s own modules."""
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    name = module_name(path)
    here = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(here.split(".")[: len(here.split(".")) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            names = [f"{target}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            target, names = "", [a.name for a in node.names]
        else:
            continue
        for candidate in [*names, target]:
            if candidate.split(".")[0] == package and candidate:
                out.append((candidate, id(node) in top))
                break
    return out


def graph(package: str) -> dict[str, set[str]]:
    modules = {module_name(p): p for p in (ROOT / package).rglob("*.py")}
    edges = {}
    for name, path in modules.items():
        targets = set()
        for target, _ in imports(path, package):
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name and not name.startswith(target + ".") and target != package:
                targets.add(target)
        edges[name] = targets
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    found, state, stack = [], {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node)
    return found


@pytest.mark.parametrize("package", ["scripts", "benchmarks"])
def test_no_import_circle(package):
    assert cycles(graph(package)) == []


def test_the_checker_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]


def test_every_import_of_scripts_is_at_the_top_of_its_module():
    # cli.py is the thin layer the bootstrap reads before .venv exists: it imports each command's module
    # when the command runs. __main__.py likewise.
    late = [(module_name(p), target) for p in (ROOT / "scripts").rglob("*.py")
            if p.name not in ("cli.py", "__main__.py")
            for target, at_top in imports(p, "scripts") if not at_top]
    assert late == []
