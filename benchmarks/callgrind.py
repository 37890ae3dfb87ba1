"""Instruction counts under valgrind's callgrind: a CPU cost that does not drift.

One valgrind process runs many operations. The marker is ``os.getppid()``,
a libc call that nothing else in a request makes; ``--dump-before=getppid``
makes callgrind write its counters and reset them there, so the dump
between two markers holds exactly the measured code. Start-up, set-up,
warm-up and the unmeasured ``prepare`` steps land in other dumps and are
never counted.

Each operation is measured in a process of its own, forked from one
parent that has done the set-up (see FORK below), so that what ran before
cannot change its count.

Start-up is most of the cost: importing Flask and SQLAlchemy under full
instrumentation takes ~30 s. So valgrind starts with instrumentation off
(``--instr-atstart=no``, ~5x faster), and each process switches it on only
for what it measures, with callgrind's own client request
(``CALLGRIND_START_INSTRUMENTATION``) from a tiny library compiled here
once (:func:`requests_library`). Without a C compiler the run is
instrumented from the start: slower, and the same counts, because only the
code between markers counts. docs/measurements.md ("Noise") has the measured cost
and spread.
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

from . import phases
from .cgdump import (  # noqa: F401 - the dump reader, importable from here as before
    EXCLUDED,
    KINDS,
    dumps_by_process,
    excluded_cost,
    function_costs,
    measured_dumps,
    parse_dumps,
    per_operation,
    syscall_counts,
    top_functions,
)

HASH_SEED = "0"
DISABLE_VARIABLE = "TARGET_APP_BENCH_CALLGRIND"

# Defined in the child: switch instrumentation on or off with callgrind's
# client requests, through the library named by $CG_REQUESTS. Without it
# valgrind was started instrumented, and there is nothing to switch.
INSTRUMENT = """
import ctypes as _ctypes, os as _os, sys as _sys
_requests = _ctypes.CDLL(_os.environ["CG_REQUESTS"]) if _os.environ.get("CG_REQUESTS") else None
def _instrument(_state):
    if _requests is not None:
        (_requests.cg_start if _state == "on" else _requests.cg_stop)()
"""

# The client requests, as C: valgrind's macros are inline machine code that
# only a C compiler can place (valgrind.h comes with valgrind itself).
REQUESTS_SOURCE = """#include <valgrind/callgrind.h>
void cg_start(void) { CALLGRIND_START_INSTRUMENTATION; }
void cg_stop(void) { CALLGRIND_STOP_INSTRUMENTATION; }
"""


def requests_library() -> Path | None:
    """The compiled client-request library (built once per source), or None without a compiler or valgrind.h."""
    return compiled(REQUESTS_SOURCE, "cg_requests")


def trampolines_library() -> Path | None:
    """The phases' trampolines (benchmarks/phases.py), unoptimised so that each keeps its frame."""
    return compiled(phases.trampolines_source(), "cg_phases", "-O0")


def compiled(source: str, stem: str, optimise: str = "-O1") -> Path | None:
    """``source`` built into a shared library, once per source, or None without a compiler (or its headers)."""
    import hashlib

    digest = hashlib.sha256(source.encode()).hexdigest()[:12]
    lib = SLOTS / f"{stem}-{digest}.so"
    if lib.exists():
        return lib
    compiler = shutil.which("cc") or shutil.which("gcc")
    if not compiler:
        return None
    SLOTS.mkdir(exist_ok=True)
    path = SLOTS / f"{stem}-{digest}.{os.getpid()}.c"
    path.write_text(source)
    tmp = lib.with_suffix(f".{os.getpid()}.tmp")
    try:
        built = subprocess.run([compiler, optimise, "-shared", "-fPIC", "-o", str(tmp), str(path)],
                               capture_output=True, text=True)
        if built.returncode:
            return None  # no valgrind.h: run instrumented from the start
        os.replace(tmp, lib)
    finally:
        path.unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)
    return lib


# Defined in the child: each operation is measured in a process of its own,
# forked from one parent that has done the set-up and nothing since. So
# every operation starts from the same state whatever ran before it or
# beside it (which connection of the pool it gets, what that connection's
# page cache holds, where the allocator's free lists stand): in one process
# for all, the user lookup's count moved 12% when the logout that ran
# before it started to write (docs/measurements.md, "Noise"). The child warms the
# operation up, collects and stops the collector, switches
# instrumentation on, runs the measured part between markers, writes how
# it went to $CG_MANIFEST/<index>.json, and ends without the interpreter's
# teardown. The parent only forks and waits.
FORK = """
def _report(_index, **_fields):
    with open(_os.path.join(_os.environ["CG_MANIFEST"], f"{_index}.json"), "w") as _fh:
        _json.dump({"pid": _os.getpid(), **_fields}, _fh)

def _child(_index, _fn, _prep, _warmup, _repeat, _per_run):
    try:
        for _i in range(_warmup):
            _fn(-1 - _i, _prep())
    except NotImplementedError:
        return _report(_index, status="skipped")
    except Exception as _exc:
        return _report(_index, status="failed", error=f"{type(_exc).__name__}: {_exc}")
    _gc.collect()
    _gc.disable()
    _instrument("on")
    if _per_run:
        for _i in range(_repeat):
            _p = _prep()
            _os.getppid()
            _fn(_i, _p)
            _os.getppid()
    else:
        _os.getppid()
        for _i in range(_repeat):
            _fn(_i, None)
        _os.getppid()
    _report(_index, status="ran")

def _measure(_index, _fn, _prep, _warmup, _repeat, _per_run):
    _sys.stdout.flush()
    _sys.stderr.flush()
    _pid = _os.fork()
    if _pid:
        _os.waitpid(_pid, 0)
        return
    try:
        _child(_index, _fn, _prep, _warmup, _repeat, _per_run)
    finally:
        _sys.stdout.flush()
        _sys.stderr.flush()
        _os._exit(0)
"""


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

    1. ``prelude``, uninstrumented; then each of ``first``, measured in this
       process (for what must run before ``setup``, such as a cold import).
    2. ``setup``, uninstrumented; what it leaves is frozen out of the
       collector's reach.
    3. Each operation in a process of its own, forked from this one (FORK):
       its warm-up uninstrumented, then its measured runs between markers
       with the collector off (where a collection falls depends on the
       memory layout, not on the code under test: it moved counts by up to
       2%). An operation that raises NotImplementedError in its warm-up (a
       feature this commit lacks) reports "skipped"; one that fails reports
       its error; the others are still measured.
    """
    lines = ["import gc as _gc, json as _json", INSTRUMENT.strip(), FORK.strip(), textwrap.dedent(prelude).strip()]
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
        calls.append(f"_measure({index}, {fn}, lambda: {prep}, {op.warmup}, {op.repeat}, {bool(op.prepare)})"
                     f"  # {name}")
    lines += ["_gc.collect()", "_gc.freeze()", *calls]
    # Skip the interpreter's teardown: under instrumentation it costs seconds.
    lines.append("_sys.stdout.flush()\n_sys.stderr.flush()\n_os._exit(0)")
    return "\n".join(line for line in lines if line) + "\n"


# The child's paths that it names as strings (module files, sys.path, its
# database): each is reached through a link in a numbered folder whose name
# is the same wherever the clone is (claim_slot). A path changes what the
# interpreter allocates and hashes: the same code in a clone at a longer
# path counted 3-5% more instructions for the smallest operations (the
# pool checkout, ~90k), more than their tolerance (docs/measurements.md, "A history on
# several machines").
STABLE_VARIABLES = ("CG_BENCH", "CG_DB", "CG_REQUESTS", "CG_PHASES")


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
                 env=None, timeout=600.0, options=(), fixed_env=None, inclusive_of=""):
        self.exe = valgrind()
        self.operations = {name: _spec(op, repeat, warmup) for name, op in operations.items()}
        self.first = first or {}
        self.script = child_script(self.operations, setup, prelude=prelude, first=first)
        self.python = python or sys.executable
        self.env = env
        self.timeout = timeout
        # More valgrind options, and variables set after child_environment has chosen what to keep.
        self.options = tuple(options)
        self.fixed_env = fixed_env or {}
        # With ``inclusive_of``: each operation's inclusive instructions per run of the functions whose
        # names begin so (the phases' trampolines).
        self.inclusive_of = inclusive_of
        self.inclusive: dict[str, dict[str, float]] = {}
        self.manifest: dict[str, object] = {}
        self.tmp: tempfile.TemporaryDirectory | None = None
        self.proc: subprocess.Popen | None = None
        self.functions: dict[str, dict[str, list[list]]] = {}
        # Every instruction between the markers, before EXCLUDED is left out.
        self.raw: dict[str, float] = {}
        # System calls per run, by kind (cgdump.KINDS) and by call site.
        self.syscalls: dict[str, dict[str, float]] = {}
        self.syscall_sites: dict[str, dict[str, float]] = {}

    def start(self) -> Count:
        """Start valgrind: instrumentation off, switched on by the child where it measures (or on from the
        start, without the client-request library)."""
        library = requests_library()
        self.tmp = tempfile.TemporaryDirectory(prefix="callgrind-")
        tmp = Path(self.tmp.name)
        env = child_environment({**os.environ, **(self.env or {})})
        env.update(self.fixed_env)
        if library:
            env["CG_REQUESTS"] = str(library)
        self.slot_lock, self.slot = claim_slot()
        python = stable_paths(self.slot, self.python, env)
        cmd = [
            self.exe, "--tool=callgrind", f"--callgrind-out-file={tmp / 'cg.out.%p'}", "--dump-before=getppid",
            "--dump-instr=no", "--dump-line=no", "--compress-strings=no", "--compress-pos=no", "--collect-systime=yes",
            f"--instr-atstart={'no' if library else 'yes'}", *self.options,
            python, "-c", self.script,
        ]
        (self.slot / "ran").mkdir()
        env["CG_MANIFEST"] = str(self.slot / "ran")
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
        tmp = Path(self.tmp.name)
        try:
            if code != 0:
                self.log.seek(0)
                tail = "\n".join(self.log.read().strip().splitlines()[-5:])
                raise RuntimeError(f"callgrind run failed ({code}): {tail}")
            reports = self._reports()
            dumps = dumps_by_process(tmp)
            # Each measured operation, with the dumps of the process it ran in.
            measured = {name: (op, dumps.get(self.proc.pid, [])) for name, op in self.first.items()}
            measured.update({name: (self.operations[name], dumps.get(r["pid"], []))
                             for name, r in reports.items() if r["status"] == "ran"})
            counts: dict[str, float | str] = {}
            for name, (op, paths) in measured.items():
                ops = self.first if name in self.first else {name: op}
                positions = measured_dumps(ops, len(paths))[name]
                self.raw[name] = per_operation(ops, parse_dumps(paths))[name]
                counts[name] = self.raw[name] - sum(excluded_cost(paths[i]) for i in positions) / op.repeat
                kinds, sites = Counter(), Counter()
                for i in positions:
                    k, c = syscall_counts(paths[i])
                    kinds.update(k)
                    sites.update(c)
                self.syscalls[name] = {kind: kinds[kind] / op.repeat for kind in KINDS}
                self.syscall_sites[name] = {site: n / op.repeat for site, n in sites.most_common()}
                if functions:
                    self.functions[name] = top_functions([paths[i] for i in positions], op.repeat, functions)
                if self.inclusive_of:
                    inclusive = Counter()
                    for i in positions:
                        inclusive.update(function_costs(paths[i])[1])
                    self.inclusive[name] = {fn: cost / op.repeat for fn, cost in inclusive.items()
                                            if fn.startswith(self.inclusive_of)}
            counts.update({name: r["error"] for name, r in reports.items() if r["status"] == "failed"})
            # What the set-up left in the manifest folder besides the reports (the phases' trampolines).
            self.manifest = {path.stem: json.loads(path.read_text()) for path in (self.slot / "ran").glob("*.json")
                             if not path.stem.isdigit()}
        finally:
            self._close()
        return counts

    def _reports(self) -> dict[str, dict]:
        """How each operation's process went, by name (a process that died without a word failed)."""
        out = {}
        for index, name in enumerate(self.operations):
            path = self.slot / "ran" / f"{index}.json"
            out[name] = json.loads(path.read_text()) if path.exists() else {
                "status": "failed", "error": "its counting process ended without a report"}
        return out

    def _close(self) -> None:
        self.log.close()
        self.tmp.cleanup()
        release_slot(self.slot_lock, self.slot)
