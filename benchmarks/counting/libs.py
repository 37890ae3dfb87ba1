"""The C libraries the counting processes load, compiled once per source: callgrind's client requests, and the
phases' trampolines (benchmarks/counting/phases.py)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from . import phases
from .slots import SLOTS

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
    """The phases' trampolines (benchmarks/counting/phases.py), unoptimised so that each keeps its frame."""
    return compiled(phases.trampolines_source(), "cg_phases", "-O0")


def compiled(source: str, stem: str, optimise: str = "-O1") -> Path | None:
    """``source`` built into a shared library, once per source, or None without a compiler (or its headers)."""
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
