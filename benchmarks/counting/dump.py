"""Reading callgrind's dumps: totals, costs per function, what is left out, and system calls.

The dumps are written with ``--compress-strings=no`` and the events ``Ir``
(instructions), ``sysCount`` and ``sysTime`` (``--collect-systime=yes``):
a ``fn=`` line opens a function; each cost line after it is its own (self)
cost, except the line right after ``calls=``, which is the inclusive cost
of a call to ``cfn``. callgrind names a function entered again while it is
on the stack ``name'2``, ``name'3``...
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

TOTALS = re.compile(r"^(?:totals|summary):\s+(\d+)", re.M)


class Spec(Protocol):
    """What the reader needs of an operation: its runs, and how many measured segments they make."""

    repeat: int

    @property
    def segments(self) -> int: ...


def _dump_order(path: Path) -> int:
    # cg.out.<pid>.1, cg.out.<pid>.2, ... are a process's dumps in order; the
    # bare cg.out.<pid> is written at its exit, after the last one.
    parts = path.name.split(".")
    return int(parts[3]) if len(parts) > 3 else 1 << 30


def dumps_by_process(folder: Path) -> dict[int, list[Path]]:
    """Each process's callgrind dumps in ``folder``, in dump order (the parent's and each child's)."""
    out: dict[int, list[Path]] = {}
    for path in folder.glob("cg.out.*"):
        out.setdefault(int(path.name.split(".")[2]), []).append(path)
    return {pid: sorted(paths, key=_dump_order) for pid, paths in out.items()}


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


# What a count leaves out: work whose cost depends on where objects sit in
# memory rather than on the code that runs. Measured on layout no-ops
# (``calibrate --layout``), almost all of the moves were here:
# - find_name_in_mro: CPython's type-attribute cache is indexed by the
#   address of the attribute's name and the type's version tag, so which
#   lookups collide and miss depends on the layout, and each miss walks the
#   MRO's dictionaries;
# - the allocators' own work (pymalloc's and glibc's): which call finds a
#   free block and which must open a pool or an arena depends on what was
#   allocated before.
# The calls into them are still made and counted by their callers; only
# the work inside them is left out (docs/measurements.md, "Noise").
EXCLUDED = frozenset({
    "find_name_in_mro",
    "_PyObject_Malloc", "_PyObject_Calloc", "_PyObject_Realloc", "_PyObject_Free",
    "_PyMem_RawMalloc", "_PyMem_RawCalloc", "_PyMem_RawRealloc", "_PyMem_RawFree",
    "malloc", "calloc", "realloc", "free", "_int_malloc", "_int_free", "_int_realloc", "malloc_consolidate",
})


@dataclass
class Dump:
    """What the parent reads of one dump, in one pass over its lines (:func:`read_dump`).

    ``own`` and ``inclusive``: each function's self and inclusive
    instructions (:func:`function_costs`); ``excluded``: the instructions
    inside EXCLUDED (:func:`excluded_cost`); ``sys_own`` and ``sys_edges``:
    the system calls made in each function and in each call from one into
    another (``sysCount``, names without their suffixes; :func:`syscall_counts`).
    """

    own: Counter = field(default_factory=Counter)
    inclusive: Counter = field(default_factory=Counter)
    excluded: int = 0
    sys_own: Counter = field(default_factory=Counter)
    sys_edges: Counter = field(default_factory=Counter)


def read_dump(path: Path, excluded: frozenset[str] = EXCLUDED) -> Dump:
    """Read one callgrind dump once: its functions' costs, what is left out, and its system calls.

    Self costs of every level of a recursive function add up under its
    plain name, and a function's inclusive cost is that of the calls into
    its first level only, so that recursion (the interpreter's eval loop
    re-enters itself for every Python call) is counted once. A function
    entered before the dump began has no call into it here, and no
    inclusive cost. The left-out cost is the inclusive cost of every call
    into an ``excluded`` function from one that is not (so nested calls
    count once).
    """
    out = Dump()
    own, inclusive, sys_own, sys_edges = out.own, out.inclusive, out.sys_own, out.sys_edges
    column = 0  # sysCount's field in a cost line, if the dump has it
    fn = fn_plain = callee = callee_plain = ""
    fn_left_out = callee_first = in_call = False
    with open(path, errors="replace") as fh:
        for line in fh:
            head = line[:1]
            if head.isdigit() or head in "+-*":
                fields = line.split()
                cost = int(fields[1]) if len(fields) > 1 else 0
                if not in_call:
                    own[fn_plain] += cost
                else:
                    if callee_first:
                        inclusive[callee] += cost
                    if not fn_left_out and callee_plain in excluded:
                        out.excluded += cost
                if column and len(fields) > column and (calls := int(fields[column])):
                    if in_call:
                        sys_edges[_SUFFIX.sub("", fn), _SUFFIX.sub("", callee)] += calls
                    else:
                        sys_own[_SUFFIX.sub("", fn)] += calls
                in_call = False
            elif line.startswith("fn="):
                fn, in_call = line[3:].strip(), False
                fn_plain = RECURSION.sub("", fn)
                fn_left_out = fn_plain in excluded
            elif line.startswith("cfn="):
                callee = line[4:].strip()
                callee_plain = RECURSION.sub("", callee)
                callee_first = callee_plain == callee
            elif line.startswith("calls="):
                in_call = True
            elif line.startswith("events:"):
                events = line.split()[1:]
                column = 1 + events.index("sysCount") if "sysCount" in events else 0
    return out


def function_costs(path: Path) -> tuple[Counter, Counter]:
    """Self and inclusive instructions of each function in one callgrind dump (see :func:`read_dump`)."""
    dump = read_dump(path)
    return dump.own, dump.inclusive


def inclusive_costs(path: Path, prefix: str) -> dict[str, int]:
    """The inclusive instructions of the calls into each function whose name begins with ``prefix``, its first
    level only (as :func:`function_costs`), in one dump: one pass of a regular expression, for the phases'
    trampolines, where :func:`function_costs` reads every function line by line."""
    calls = re.compile(rf"^cfn=({re.escape(prefix)}[^'\n]*)\ncalls=[^\n]*\n[-+*0-9]\S* (\d+)", re.MULTILINE)
    out: Counter = Counter()
    for match in calls.finditer(path.read_text(errors="replace")):
        out[match.group(1)] += int(match.group(2))
    return dict(out)


def excluded_cost(path: Path, excluded: frozenset[str] = EXCLUDED) -> int:
    """Instructions spent inside ``excluded`` functions in one dump: the inclusive cost of every call into
    one of them from a function that is not one of them (so nested calls count once)."""
    return read_dump(path, excluded).excluded


def top_functions(dumps: list[Dump], runs: int, top: int = 10) -> dict[str, list[list]]:
    """The ``top`` functions by self and by inclusive instructions per run, over the dumps of one operation."""
    own, inclusive = Counter(), Counter()
    for dump in dumps:
        own.update(dump.own)
        inclusive.update(dump.inclusive)
    # An address is a function without a symbol: no reader can tell what it is.
    return {kind: [[name, round(cost / runs)] for name, cost in counts.most_common()
                   if not name.startswith("0x")][:top]
            for kind, counts in (("self", own), ("inclusive", inclusive))}


# System calls, by kind. callgrind counts each where it is made, in libc's
# wrapper (``fdatasync``, ``pwrite``, ``__fcntl64_nocancel_adjusted``), so
# the wrapper's name says what the kernel was asked to do.
SYSCALL_KINDS: dict[str, frozenset[str]] = {
    "fsync": frozenset({"fsync", "fdatasync", "sync_file_range", "msync", "syncfs"}),
    "read": frozenset({"read", "pread", "pread64", "readv", "preadv", "preadv2"}),
    "write": frozenset({"write", "pwrite", "pwrite64", "writev", "pwritev", "pwritev2"}),
    "open": frozenset({"open", "open64", "openat", "openat64", "creat", "close"}),
    "network": frozenset({"send", "sendto", "sendmsg", "recv", "recvfrom", "recvmsg", "poll", "ppoll", "select",
                          "pselect", "connect", "accept", "accept4", "epoll_wait", "getsockopt", "setsockopt"}),
}
KINDS = (*SYSCALL_KINDS, "futex", "other")
# Not counted: the marker itself; what is a vDSO call natively, with no
# kernel entry (valgrind turns it into a real system call); the memory
# kinds, which the allocators make when their state says so, not the code
# under test (the same reason as EXCLUDED); and getrandom, whose count
# depends on the draw: a random choice rejects and draws again (register's
# salt moved its count between 24 and 26 on the same code).
NOT_COUNTED = frozenset({"getppid", "clock_gettime", "gettimeofday", "time", "getcpu",
                         "mmap", "mmap64", "munmap", "mremap", "madvise", "brk", "sbrk", "getrandom"})
_WRAPPER = re.compile(r"^_*(?:GI_+)?(?:libc_)?")
_SUFFIX = re.compile(r"(?:_nocancel.*|@.*|\.constprop.*|'\d+)$")


def syscall_kind(function: str) -> str | None:
    """The kind of system call a libc wrapper makes (None: not counted)."""
    name = _SUFFIX.sub("", _WRAPPER.sub("", function))
    if name in NOT_COUNTED:
        return None
    if "futex" in name or "lll_lock" in name:
        return "futex"
    return next((kind for kind, names in SYSCALL_KINDS.items() if name in names), "other")


def syscall_counts(path: Path) -> tuple[Counter, Counter]:
    """System calls in one dump: by kind, and by call site (``wrapper <- caller``: where each was made)."""
    return syscalls_of(read_dump(path))


def syscalls_of(dump: Dump) -> tuple[Counter, Counter]:
    """The system calls of a dump read by :func:`read_dump`, by kind and by call site."""
    own, edges = dump.sys_own, dump.sys_edges
    kinds = Counter()
    for function, count in own.items():
        if kind := syscall_kind(function):
            kinds[kind] += count
    callers: dict[str, Counter] = {}
    for (caller, callee), count in edges.items():
        callers.setdefault(callee, Counter())[caller] += count
    sites = Counter()
    for (caller, callee), count in edges.items():
        if callee in own and caller not in own and (kind := syscall_kind(callee)):
            entry = python_entry(caller, callers)
            sites[f"{kind}: {callee} <- {caller}" + (f", from Python by {entry}" if entry != caller else "")] += count
    return kinds, sites


# The interpreter's own call machinery: the function below it on a call
# chain is the C function that Python code called (sqlite3's commit,
# os.fsync, a file's write).
DISPATCH = ("_PyEval_EvalFrameDefault", "_PyEval_Vector", "method_vectorcall", "cfunction_vectorcall",
            "cfunction_call", "_PyObject_Vectorcall", "PyObject_Vectorcall", "_PyObject_MakeTpCall",
            "PyObject_Call", "_PyObject_Call", "vectorcall_method", "wrapper_call", "wrap_", "slot_tp_",
            "PyObject_CallMethod", "_PyFunction_Vectorcall", "builtin_", "type_call")


def python_entry(function: str, callers: dict[str, Counter], limit: int = 40) -> str:
    """Walking up the call chain from ``function`` (by its most frequent caller), the C function that
    Python code called, or the last one reached."""
    for _ in range(limit):
        up = callers.get(function)
        if not up:
            return function
        caller = up.most_common(1)[0][0]
        if caller.startswith(DISPATCH):
            return function
        function = caller
    return function
