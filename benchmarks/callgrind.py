"""Instruction counts under valgrind's callgrind: a CPU cost that does not drift.

One valgrind process runs many operations. The marker is ``os.getppid()``,
a libc call that nothing else in a request makes; ``--dump-before=getppid``
makes callgrind write its counters and reset them there, so the dump
between two markers holds exactly the measured code. Start-up, set-up,
warm-up and the unmeasured ``prepare`` steps land in other dumps and are
never counted.

Start-up is most of the cost: importing Flask and SQLAlchemy under full
instrumentation takes ~30 s. So valgrind starts with instrumentation off
(``--instr-atstart=no``, ~5x faster), and the child switches it on with
valgrind's own ``vgdb`` only for what it measures. Where vgdb cannot reach
the process (it needs ptrace), the run is repeated instrumented from the
start: slower, and the same counts, because only the code between markers
counts. The README ("Noise") has the measured cost and spread.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

HASH_SEED = "0"
TOTALS = re.compile(r"^(?:totals|summary):\s+(\d+)", re.M)
DISABLE_VARIABLE = "TARGET_APP_BENCH_CALLGRIND"
# The child's exit status when vgdb could not switch instrumentation on.
NO_TOGGLE_EXIT = 97

# Defined in the child. It runs the same subprocess whichever way valgrind
# started, so that both leave the same heap behind (the counts of a small
# operation moved 7% with and without it). When instrumentation started off
# (CG_INSTR_ATSTART=no) and vgdb cannot switch it on, the child exits
# NO_TOGGLE_EXIT.
INSTRUMENT = """
import os as _os, subprocess as _sp, sys as _sys
def _instrument(_state):
    _cmd = [_os.environ["CG_VGDB"], f"--pid={_os.getpid()}", "instrumentation", _state]
    try:
        _r = _sp.run(_cmd, stdout=_sp.PIPE, stderr=_sp.STDOUT, text=True, timeout=60)
        _failed = f"exit {_r.returncode}: {_r.stdout.strip()[-300:]}" if _r.returncode else ""
    except OSError as _exc:
        _failed = str(_exc)
    if _failed and _state == "on" and _os.environ["CG_INSTR_ATSTART"] == "no":
        print("vgdb could not switch instrumentation on:", _failed, file=_sys.stderr)
        _sys.exit(NO_TOGGLE_EXIT)
""".replace("NO_TOGGLE_EXIT", str(NO_TOGGLE_EXIT))


def valgrind() -> str:
    """The valgrind executable, or NotImplementedError (the benchmark skips)."""
    if os.environ.get(DISABLE_VARIABLE, "1") == "0":
        raise NotImplementedError(f"instruction counts are switched off ({DISABLE_VARIABLE}=0)")
    exe = shutil.which("valgrind")
    if not exe:
        raise NotImplementedError("valgrind is not installed (apt-get install valgrind): instruction counts skipped")
    return exe


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
                 prelude: str = "", first: dict[str, Spec] | None = None) -> str:
    """The Python program valgrind runs.

    1. ``prelude``, uninstrumented; then each of ``first``, measured (for
       what must run before ``setup``, such as a cold import).
    2. ``setup`` and every operation's warm-up, uninstrumented. An operation
       that raises NotImplementedError there (a feature this commit lacks)
       is left out, one that fails is recorded with its error and left out
       too; the names that ran and the failures go to ``$CG_MANIFEST``.
       The heap they leave is frozen out of the collector's reach.
    3. Each operation between markers, with the collector off: where a
       collection falls depends on the memory layout, not on the code under
       test, and it moved counts by up to 2% before.
    """
    lines = ["import gc as _gc, json as _json", INSTRUMENT.strip(), textwrap.dedent(prelude).strip()]
    if first:
        lines.append('_instrument("on")')
        for name, op in first.items():
            fn, code, prep = _function(name, op)
            lines += [code, "_gc.collect()", "_gc.disable()", _measured(fn, prep, op), "_gc.enable()"]
        lines.append('_instrument("off")')
    lines += [textwrap.dedent(setup).strip(), "_ok, _failed = [], {}"]
    calls = []
    for name, op in operations.items():
        op = _spec(op, repeat, warmup)
        fn, code, prep = _function(name, op)
        lines.append(code)
        lines.append(f"try:\n    for _i in range({op.warmup}):\n        {fn}(-1 - _i, {prep})\n"
                     f"    _ok.append({name!r})\nexcept NotImplementedError:\n    pass\n"
                     f"except Exception as _exc:\n    _failed[{name!r}] = f'{{type(_exc).__name__}}: {{_exc}}'")
        calls.append((name, fn, prep, op))
    lines += ["if _os.environ.get('CG_MANIFEST'):",
              "    with open(_os.environ['CG_MANIFEST'], 'w') as _fh:\n"
              "        _json.dump({'ran': _ok, 'failed': _failed}, _fh)",
              "_gc.collect()", "_gc.freeze()", '_instrument("on")']
    for name, fn, prep, op in calls:
        lines.append(f"if {name!r} in _ok:")
        block = ["_gc.collect()", "_gc.disable()", _measured(fn, prep, op), "_gc.enable()"]
        lines.append(textwrap.indent("\n".join(block), "    "))
    # Skip the interpreter's teardown: under instrumentation it costs seconds.
    lines.append("_sys.stdout.flush()\n_sys.stderr.flush()\n_os._exit(0)")
    return "\n".join(line for line in lines if line) + "\n"


def _dump_order(path: Path) -> int:
    # cg.out.1, cg.out.2, ... are the dumps in order; the bare cg.out is
    # written at exit, after the last one.
    suffix = path.name.rsplit(".", 1)[1]
    return int(suffix) if suffix.isdigit() else 1 << 30


def parse_dumps(paths: list[Path]) -> list[int]:
    """Instruction totals of callgrind dump files, in dump order."""
    totals = []
    for path in sorted(paths, key=_dump_order):
        match = TOTALS.search(path.read_text(errors="replace"))
        if not match:
            raise RuntimeError(f"no totals in callgrind dump {path.name}")
        totals.append(int(match.group(1)))
    return totals


def measured_dumps(operations: dict[str, Spec], count: int) -> dict[str, list[int]]:
    """Which dumps (by position in dump order) hold each operation's measured code.

    Markers come in pairs (start, end); the dump taken at an end marker
    holds what ran since the start marker. An operation has one pair, or one
    per run when it has a ``prepare`` step.
    """
    needed = 2 * sum(op.segments for op in operations.values()) + 1  # +1: the dump at exit
    if count != needed:
        # Fewer: the child stopped early. More: something else called the
        # marker, and the dumps no longer line up with the operations.
        raise RuntimeError(f"expected {needed} callgrind dumps, got {count}")
    out, pair = {}, 0
    for name, op in operations.items():
        out[name] = [2 * (pair + k) + 1 for k in range(op.segments)]
        pair += op.segments
    return out


def per_operation(operations: dict[str, Spec], totals: list[int]) -> dict[str, float]:
    """Instructions per run of each operation, from the totals of every dump in order."""
    return {name: sum(totals[i] for i in dumps) / operations[name].repeat
            for name, dumps in measured_dumps(operations, len(totals)).items()}


RECURSION = re.compile(r"'(\d+)$")


def function_costs(path: Path) -> tuple[Counter, Counter]:
    """Self and inclusive instructions of each function in one callgrind dump.

    The dump is written with ``--compress-strings=no`` and one event (Ir):
    a ``fn=`` line opens a function; each cost line after it is its own
    (self) cost, except the line right after ``calls=``, which is the
    inclusive cost of a call to ``cfn``. callgrind names a function entered
    again while it is on the stack ``name'2``, ``name'3``...: self costs of
    every level add up under the plain name, and a function's inclusive
    cost is that of the calls into its first level only, so that recursion
    (the interpreter's eval loop re-enters itself for every Python call) is
    counted once. A function entered before the dump began has no call into
    it here, and no inclusive cost.
    """
    own, inclusive = Counter(), Counter()
    fn, callee, in_call = "", "", False
    with open(path, errors="replace") as fh:
        for line in fh:
            head = line[:1]
            if head.isdigit() or head in "+-*":
                fields = line.split()
                cost = int(fields[1]) if len(fields) > 1 else 0
                if not in_call:
                    own[RECURSION.sub("", fn)] += cost
                elif not RECURSION.search(callee):
                    inclusive[callee] += cost
                in_call = False
            elif line.startswith("fn="):
                fn, in_call = line[3:].strip(), False
            elif line.startswith("cfn="):
                callee = line[4:].strip()
            elif line.startswith("calls="):
                in_call = True
    return own, inclusive


def top_functions(paths: list[Path], runs: int, top: int = 10) -> dict[str, list[list]]:
    """The ``top`` functions by self and by inclusive instructions per run, over the dumps of one operation."""
    own, inclusive = Counter(), Counter()
    for path in paths:
        o, i = function_costs(path)
        own.update(o)
        inclusive.update(i)
    # An address is a function without a symbol: no reader can tell what it is.
    return {kind: [[name, round(cost / runs)] for name, cost in counts.most_common()
                   if not name.startswith("0x")][:top]
            for kind, counts in (("self", own), ("inclusive", inclusive))}


# The child's paths that it names as strings (module files, sys.path, its
# database): each is reached through a link in a numbered folder whose name
# is the same wherever the clone is (claim_slot). A path changes what the
# interpreter allocates and hashes: the same code in a clone at a longer
# path counted 3-5% more instructions for the smallest operations (the
# pool checkout, ~90k), more than their tolerance (README, "A history on
# several machines").
STABLE_VARIABLES = ("CG_BENCH", "CG_DB")


# What the child keeps of its parent's environment. The rest (PATH, asv's
# ASV_* folders, the user's own) names paths of varying length, which moved
# where the interpreter put its objects and so how many instructions an
# operation took: up to 2.8% between two clones of the same commit.
KEPT_VARIABLES = ("PYTHONPATH", "LANG", "LC_ALL", "TMPDIR")
KEPT_PREFIXES = ("CG_", "TARGET_APP_")


def child_environment(parent: dict[str, str]) -> dict[str, str]:
    """The valgrind child's environment: fixed, but for what it is told (see KEPT_VARIABLES)."""
    env = {k: v for k, v in parent.items() if k in KEPT_VARIABLES or k.startswith(KEPT_PREFIXES)}
    env.update(PATH="/usr/local/bin:/usr/bin:/bin", PYTHONHASHSEED=HASH_SEED)
    return env


SLOTS = Path(tempfile.gettempdir()) / f"target_app_callgrind_{os.getuid()}"


def claim_slot() -> tuple[int, Path]:
    """The first free numbered folder for a child's links (held by a lock until :func:`release_slot`).

    Its name is the same every run: a random name would change the hashes of
    every path the interpreter keeps, and its count by up to 2.7%. The
    suite's two children take 00 and 01, in that order.
    """
    SLOTS.mkdir(exist_ok=True)
    for n in range(100):
        fd = os.open(SLOTS / f"{n:02d}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        slot = SLOTS / f"{n:02d}"
        shutil.rmtree(slot, ignore_errors=True)
        slot.mkdir()
        return fd, slot
    raise RuntimeError(f"no free callgrind slot in {SLOTS}")


def release_slot(fd: int, slot: Path) -> None:
    shutil.rmtree(slot, ignore_errors=True)
    os.close(fd)  # and with it the lock


def stable_paths(tmp: Path, python: str, env: dict[str, str]) -> str:
    """Link the environment, the suite and the database into ``tmp``; returns the python to run there.

    ``env`` is changed in place to name the links."""
    root = Path(python).parent.parent
    if (root / "pyvenv.cfg").exists():  # a virtualenv finds its prefix from the path it is run by
        (tmp / "env").symlink_to(root.resolve(), target_is_directory=True)
        python = str(tmp / "env" / "bin" / Path(python).name)
    for name in STABLE_VARIABLES:
        value = env.get(name, "")
        if value and Path(value).exists():
            link = tmp / name.lower()
            link.symlink_to(Path(value).resolve(), target_is_directory=Path(value).is_dir())
            env[name] = str(link)
    return python


def count_instructions(
    operations: dict[str, Spec | str],
    setup: str = "",
    *,
    prelude: str = "",
    first: dict[str, Spec] | None = None,
    repeat: int = 10,
    warmup: int = 3,
    python: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 600.0,
) -> dict[str, float]:
    """Instructions per run of each operation, counted by callgrind in one process.

    An operation is a code string (run ``repeat`` times after ``warmup``) or
    a :class:`Spec` with its own repetitions and an unmeasured step. An
    operation that raised NotImplementedError in its warm-up is absent from
    the result; one that failed maps to its error message (a str), so the
    others are still counted. ``first`` and ``prelude``: see
    :func:`child_script`.
    """
    return Count(operations, setup, prelude=prelude, first=first, repeat=repeat, warmup=warmup, python=python,
                 env=env, timeout=timeout).start().finish()


class Count:
    """One valgrind process counting ``operations``: :meth:`start` it, do other work, :meth:`finish` it.

    Between the two nothing runs in this process on its behalf (the child
    writes to files, not pipes), so other measurements may run meanwhile.
    """

    def __init__(self, operations, setup="", *, prelude="", first=None, repeat=10, warmup=3, python=None,
                 env=None, timeout=600.0):
        self.exe = valgrind()
        self.operations = {name: _spec(op, repeat, warmup) for name, op in operations.items()}
        self.first = first or {}
        self.script = child_script(self.operations, setup, prelude=prelude, first=first)
        self.python = python or sys.executable
        self.vgdb = shutil.which("vgdb") or "vgdb"
        self.env = env
        self.timeout = timeout
        self.tmp: tempfile.TemporaryDirectory | None = None
        self.proc: subprocess.Popen | None = None
        self.functions: dict[str, dict[str, list[list]]] = {}

    def start(self, toggle: bool = True) -> Count:
        """Start valgrind; with ``toggle``, instrumentation starts off and the child switches it on."""
        self.toggle = toggle
        self.tmp = tempfile.TemporaryDirectory(prefix="callgrind-")
        tmp = Path(self.tmp.name)
        env = child_environment({**os.environ, **(self.env or {})})
        self.slot_lock, self.slot = claim_slot()
        python = stable_paths(self.slot, self.python, env)
        cmd = [
            self.exe, "--tool=callgrind", f"--callgrind-out-file={tmp / 'cg.out'}", "--dump-before=getppid",
            "--dump-instr=no", "--dump-line=no", "--compress-strings=no", "--compress-pos=no",
            f"--instr-atstart={'no' if toggle else 'yes'}",
            python, "-c", self.script,
        ]
        env.update(CG_VGDB=self.vgdb, CG_INSTR_ATSTART="no" if toggle else "yes",
                   CG_MANIFEST=str(self.slot / "ran.json"))
        self.log = open(tmp / "stderr.txt", "w+")  # noqa: SIM115 - closed in finish()
        self.started = time.monotonic()
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=self.slot)
        return self

    def finish(self, functions: int = 0) -> dict[str, float | str]:
        """Wait for valgrind and read its counts (see :func:`count_instructions`).

        With ``functions``, also keep in :attr:`functions` the top that many
        functions of each operation, by self and by inclusive instructions
        per run (:func:`top_functions`).
        """
        try:
            left = max(1.0, self.timeout - (time.monotonic() - self.started))
            code = self.proc.wait(timeout=left)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self._close()
            raise RuntimeError(f"callgrind run took longer than {self.timeout:.0f} s") from None
        if code == NO_TOGGLE_EXIT and self.toggle:
            self._close()
            return self.start(toggle=False).finish(functions)
        tmp = Path(self.tmp.name)
        try:
            if code != 0:
                self.log.seek(0)
                tail = "\n".join(self.log.read().strip().splitlines()[-5:])
                raise RuntimeError(f"callgrind run failed ({code}): {tail}")
            manifest = json.loads((self.slot / "ran.json").read_text())
            dumps = sorted((p for p in tmp.iterdir() if p.name.startswith("cg.out")), key=_dump_order)
            totals = parse_dumps(dumps)
            measured = {**self.first, **{name: self.operations[name] for name in manifest["ran"]}}
            if functions:
                self.functions = {name: top_functions([dumps[i] for i in positions], measured[name].repeat,
                                                      functions)
                                  for name, positions in measured_dumps(measured, len(dumps)).items()}
        finally:
            self._close()
        return {**per_operation(measured, totals), **manifest["failed"]}

    def _close(self) -> None:
        self.log.close()
        self.tmp.cleanup()
        release_slot(self.slot_lock, self.slot)
