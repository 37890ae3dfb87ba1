"""The program valgrind runs: each operation warmed up, then counted between markers in a process of its own.

Generated (:func:`child_script`) from its fixed part, benchmarks/counting/program.py,
and the operations' code; benchmarks/counting/callgrind.py runs it. What it runs is pinned
by tests/suite/test_callgrind.py: a change to the text changes the counts
(docs/measurements.md, "Noise"), so it changes only with a version bump.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

# The fixed part of the program, as it runs: benchmarks/counting/program.py
# without its comment lines.
SOURCE = Path(__file__).resolve().parent / "program.py"


def program(path: Path = SOURCE) -> str:
    """``path`` without its comment lines: the code the counting process runs before its set-up."""
    return "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")).strip()


PROGRAM = program()


@dataclass(frozen=True)
class Spec:
    """One operation for the child: ``body`` is measured, ``prepare`` is not.

    ``prepare`` is an expression evaluated before each run; its value is the
    body's ``_p``. An operation with a ``prepare`` step is bracketed by
    markers run by run, so only the bodies are counted; one without is
    bracketed once around all its runs.
    """

    body: str
    prepare: str = ""
    repeat: int = 10
    warmup: int = 3

    @property
    def segments(self) -> int:
        return self.repeat if self.prepare else 1


def _spec(op: Spec | str, repeat: int, warmup: int) -> Spec:
    return op if isinstance(op, Spec) else Spec(op, repeat=repeat, warmup=warmup)


def _function(name: str, op: Spec) -> tuple[str, str, str]:
    fn = f"_op_{re.sub(r'[^0-9a-zA-Z]', '_', name)}"
    code = f"def {fn}(_i, _p):\n" + textwrap.indent(textwrap.dedent(op.body).strip(), "    ")
    return fn, code, f"({op.prepare})" if op.prepare else "None"


def _measured(fn: str, prep: str, op: Spec) -> str:
    if op.prepare:
        return (f"for _i in range({op.repeat}):\n    _p = {prep}\n    _os.getppid()\n"
                f"    {fn}(_i, _p)\n    _os.getppid()")
    return f"_os.getppid()\nfor _i in range({op.repeat}):\n    {fn}(_i, None)\n_os.getppid()"


def child_script(operations: dict[str, Spec | str], setup: str = "", repeat: int = 10, warmup: int = 3, *,
                 prelude: str = "", first: dict[str, Spec] | None = None,
                 phased: Collection[str] = ()) -> str:
    """The Python program valgrind runs.

    1. ``prelude``, uninstrumented; then each of ``first``, measured in this
       process (for what must run before ``setup``, such as a cold import).
    2. ``setup``, uninstrumented; what it leaves is frozen out of the
       collector's reach.
    3. Each operation in a process of its own, forked from this one (program.py):
       its warm-up uninstrumented, then its measured runs between markers
       with the collector off (where a collection falls depends on the
       memory layout, not on the code under test: it moved counts by up to
       2%). An operation that raises NotImplementedError in its warm-up (a
       feature this commit lacks) reports "skipped"; one that fails reports
       its error; the others are still measured.
    4. Each operation named in ``phased`` is counted by phase in the same
       run (program.py, ``_wrap``): ``setup`` must have set ``_PHASES`` to
       the wrappers (benchmarks/counting/phases.py, ``prepare``), which are
       put in place before the operation's warm-up.
    """
    lines = [PROGRAM, textwrap.dedent(prelude).strip()]
    if first:
        lines.append('_instrument("on")')
        for name, op in first.items():
            fn, code, prep = _function(name, op)
            lines += [code, "_gc.collect()", "_gc.disable()", _measured(fn, prep, op), "_gc.enable()"]
        lines.append('_instrument("off")')
    lines.append(textwrap.dedent(setup).strip())
    calls = []
    for index, (name, op) in enumerate(operations.items()):
        op = _spec(op, repeat, warmup)
        fn, code, prep = _function(name, op)
        lines.append(code)
        flag = ", True" if name in phased else ""
        calls.append(f"_measure({index}, {fn}, lambda: {prep}, {op.warmup}, {op.repeat}, {bool(op.prepare)}{flag})"
                     f"  # {name}")
    lines += ["_gc.collect()", "_gc.freeze()", *calls]
    # Skip the interpreter's teardown: under instrumentation it costs seconds.
    lines.append("_sys.stdout.flush()\n_sys.stderr.flush()\n_os._exit(0)")
    return "\n".join(line for line in lines if line) + "\n"
