"""The app's views, as ``calibrate --sweep`` plants mutants into them (``python -m benchmarks.views ROOT``).

For each endpoint of the app at ROOT: its rule and methods, where its body starts (the file, the line and
the indent of its first statement after the docstring), the operations written by hand that reach it (the
derived outcomes mostly end before a view's body), and the input streams that vary its inputs; and what one
element of ``sum(range(N))`` costs under callgrind, by which the sweep sizes its CPU mutant. Printed as one
line of JSON. Not a benchmark: asv imports this module and finds nothing to run.
"""

from __future__ import annotations

import ast
import inspect
import json
import sys
from pathlib import Path


def first_statement(fn) -> ast.stmt:
    """The first statement of ``fn``'s body after its docstring."""
    tree = ast.parse(Path(inspect.getsourcefile(fn)).read_text())
    node = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == fn.__name__
                and n.lineno <= fn.__code__.co_firstlineno + len(n.decorator_list) and n.body)
    body = node.body
    docstring = (len(body) > 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                 and isinstance(body[0].value.value, str))
    return body[1] if docstring else body[0]


def views(app, root: Path) -> dict[str, dict]:
    from .operations import STREAMS, WRITTEN

    adapter = app.url_map.bind("localhost")
    ops: dict[str, list[str]] = {}
    for op in WRITTEN:
        method, path = op.name.split(" ")[:2]
        endpoint, _ = adapter.match(path.split("?")[0], method=method)
        ops.setdefault(endpoint, []).append(op.name)
    endpoint_of = {(rule.rule, method): rule.endpoint for rule in app.url_map.iter_rules()
                   for method in rule.methods}
    inputs: dict[str, list[str]] = {}
    for stream in STREAMS:
        if (stream.rule, stream.method) in endpoint_of:
            inputs.setdefault(endpoint_of[stream.rule, stream.method], []).append(stream.name)
    out = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint in out:
            continue
        fn = inspect.unwrap(app.view_functions[rule.endpoint])
        first = first_statement(fn)
        out[rule.endpoint] = {"rule": rule.rule, "methods": sorted(rule.methods - {"HEAD", "OPTIONS"}),
                              "file": str(Path(inspect.getsourcefile(fn)).resolve().relative_to(root)),
                              "line": first.lineno, "indent": first.col_offset,
                              "ops": ops.get(rule.endpoint, []), "inputs": inputs.get(rule.endpoint, [])}
    return out


def main(argv: list[str]) -> int:
    root = Path(argv[0]).resolve()
    sys.path.insert(0, str(root))
    import target_app
    from target_app import create_app
    from target_app.config import TestConfig

    from .counting import count_instructions

    if not Path(target_app.__file__).resolve().is_relative_to(root):
        print(f"target_app imported from {target_app.__file__}, not from {root}", file=sys.stderr)
        return 1
    per_element = count_instructions({"k": "sum(range(20000))"}, repeat=1, warmup=1)["k"] / 20000
    print(json.dumps({"views": views(create_app(TestConfig), root), "per_element": per_element}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
