"""Instruction counts under valgrind's callgrind: a CPU cost that does not drift. This module runs valgrind;
``child.py`` is the program it runs, ``slots.py`` where and with what environment, ``libs.py`` the C
libraries it loads, ``dump.py`` how its dumps are read.

One valgrind process runs many operations. The marker is ``os.getppid()``,
a libc call that nothing else in a request makes; ``--dump-before=getppid``
makes callgrind write its counters and reset them there, so the dump
between two markers holds exactly the measured code. Start-up, set-up,
warm-up and the unmeasured ``prepare`` steps land in other dumps and are
never counted.

Each operation is measured in a process of its own, forked from one
parent that has done the set-up (benchmarks/counting/program.py), so that what ran before
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

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from .child import Spec, _spec, child_script
from .dump import (
    KINDS,
    Dump,
    dumps_by_process,
    measured_dumps,
    parse_dumps,
    per_operation,
    read_dump,
    syscalls_of,
    top_functions,
)
from .libs import requests_library
from .phases import PREFIX
from .slots import child_environment, claim_slot, release_slot, stable_paths

DISABLE_VARIABLE = "TARGET_APP_BENCH_CALLGRIND"


def valgrind() -> str:
    """The valgrind executable, or NotImplementedError (the benchmark skips)."""
    if os.environ.get(DISABLE_VARIABLE, "1") == "0":
        raise NotImplementedError(f"instruction counts are switched off ({DISABLE_VARIABLE}=0)")
    exe = shutil.which("valgrind")
    if not exe:
        raise NotImplementedError("valgrind is not installed (apt-get install valgrind): instruction counts skipped")
    return exe


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
                 env=None, timeout=600.0, options=(), phased=None):
        self.exe = valgrind()
        self.operations = {name: _spec(op, repeat, warmup) for name, op in operations.items()}
        self.first = first or {}
        self.phased = frozenset(phased or ())  # counted by phase too, in the same run
        self.script = child_script(self.operations, setup, prelude=prelude, first=first, phased=self.phased)
        self.python = python or sys.executable
        self.env = env
        self.timeout = timeout
        self.options = tuple(options)  # more valgrind options
        # For the ``phased`` operations, their run by phase (benchmarks/counting/phases.py): the inclusive
        # instructions of each of the phases' trampolines per run and every instruction of the run, or the
        # error (a str) that kept the wrappers out.
        self.by_phase: dict[str, tuple[dict[str, float], float] | str] = {}
        self.manifest: dict[str, object] = {}
        self.counts: dict[str, float | str] = {}  # what finish() returned
        self.tmp: tempfile.TemporaryDirectory | None = None
        self.proc: subprocess.Popen | None = None
        self.functions: dict[str, dict[str, list[list]]] = {}
        # Every instruction between the markers, before EXCLUDED is left out.
        self.raw: dict[str, float] = {}
        # System calls per run, by kind (dump.KINDS) and by call site.
        self.syscalls: dict[str, dict[str, float]] = {}
        self.syscall_sites: dict[str, dict[str, float]] = {}

    def start(self) -> Count:
        """Start valgrind: instrumentation off, switched on by the child where it measures (or on from the
        start, without the client-request library)."""
        library = requests_library()
        self.tmp = tempfile.TemporaryDirectory(prefix="callgrind-")
        tmp = Path(self.tmp.name)
        env = child_environment({**os.environ, **(self.env or {})})
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

    def ended(self) -> bool:
        """Whether :meth:`finish` would return now: valgrind has exited, or overrun its timeout."""
        return self.proc.poll() is not None or time.monotonic() - self.started > self.timeout

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
                read = [read_dump(paths[i]) for i in positions]  # each measured dump read once
                self._keep_by_phase(name, reports.get(name, {}), read, op.repeat)
                counts[name] = self.raw[name] - sum(dump.excluded for dump in read) / op.repeat
                kinds, sites = Counter(), Counter()
                for dump in read:
                    k, c = syscalls_of(dump)
                    kinds.update(k)
                    sites.update(c)
                self.syscalls[name] = {kind: kinds[kind] / op.repeat for kind in KINDS}
                self.syscall_sites[name] = {site: n / op.repeat for site, n in sites.most_common()}
                if functions:
                    self.functions[name] = top_functions(read, op.repeat, functions)
            counts.update({name: r["error"] for name, r in reports.items() if r["status"] == "failed"})
            # What the set-up left in the manifest folder besides the reports (the phases' trampolines).
            self.manifest = {path.stem: json.loads(path.read_text()) for path in (self.slot / "ran").glob("*.json")
                             if not path.stem.isdigit()}
        finally:
            self._close()
        self.counts = counts
        return counts

    def _keep_by_phase(self, name: str, report: dict, read: list[Dump], repeat: int) -> None:
        """Keep the operation's run by phase (its total's run, with the wrappers in place), if it had one."""
        if name not in self.phased or report.get("status") != "ran":
            return
        if report.get("by_phase") != "ran":
            self.by_phase[name] = report.get("phase_error", "its run by phase did not report")
        else:
            self.by_phase[name] = self._trampolines(read, repeat), self.raw[name]

    @staticmethod
    def _trampolines(read: list[Dump], repeat: int) -> dict[str, float]:
        """The phases' trampolines' inclusive instructions per run, from an operation's measured dumps as
        :func:`read_dump` read them (what :func:`inclusive_costs` reads of a dump of its own)."""
        out: Counter = Counter()
        for dump in read:
            out.update({name: cost for name, cost in dump.inclusive.items() if name.startswith(PREFIX)})
        return {name: cost / repeat for name, cost in out.items()}

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
