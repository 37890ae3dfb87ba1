"""The house's rooms: no import circle among the modules of scripts/ or benchmarks/; scripts/ in floors that
read as its pipeline (measure, judge, then publish or gate), each importing only from its own floor or below;
and every import of scripts/ at the top of its module (but the command line's, which must start before .venv
exists)."""

from __future__ import annotations

import ast
import fnmatch
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


# scripts/ from the bottom up. A module imports only from its own floor or below: the judge knows nothing of
# asv runs, git, the history, the gate or the site; the history measures without publishing; the site and the
# gate stand on both; the calibrations prove the gate; the command line ties them together.
FLOORS = [
    ["scripts", "scripts.errors", "scripts.bootstrap", "scripts.suite", "scripts.results", "scripts.lockenv",
     "scripts.pr_comment"],
    ["scripts.judging", "scripts.judging.*"],
    ["scripts.git", "scripts.locks", "scripts.asvtool", "scripts.coverage", "scripts.postgres", "scripts.explain",
     "scripts.shared"],
    ["scripts.history", "scripts.history.*"],
    ["scripts.site", "scripts.site.*", "scripts.gate", "scripts.gate.*"],
    ["scripts.calibrate", "scripts.calibrate.*"],
    ["scripts.cli", "scripts.__main__"],
]


def floor_of(module: str) -> int | None:
    return next((i for i, patterns in enumerate(FLOORS)
                 if any(fnmatch.fnmatchcase(module, p) for p in patterns)), None)


def upward(edges: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Each import that runs from a floor up to a higher one."""
    return sorted((a, b) for a, targets in edges.items() for b in targets if floor_of(b) > floor_of(a))


def test_every_module_of_scripts_has_a_floor():
    assert [m for m in graph("scripts") if floor_of(m) is None] == []


def test_no_arrow_runs_back_up():
    assert upward(graph("scripts")) == []


def test_the_checker_finds_an_arrow_back_up():
    """A sibling of the mistake the floors forbid: the judge reaching into the gate's report."""
    edges = {"scripts.judging.judge": {"scripts.gate.report", "scripts.suite"}, "scripts.gate.report": set()}
    assert upward(edges) == [("scripts.judging.judge", "scripts.gate.report")]


def test_the_judge_imports_nothing_that_runs_or_publishes():
    edges = graph("scripts")
    reached = {t for m, targets in edges.items() if m.startswith("scripts.judging") for t in targets}
    assert not {t for t in reached if t.startswith(("scripts.gate", "scripts.site", "scripts.history",
                                                     "scripts.asvtool", "scripts.git"))}
