"""Instruction counts under valgrind's callgrind: a CPU cost that does not drift.

One valgrind process runs every operation: it starts the interpreter and
target_app, then for each operation runs a warm-up, a marker, ``repeat``
operations and a marker again. The marker is ``os.getppid()``, a libc call
that nothing else in a request makes; ``--dump-before=getppid`` makes
callgrind write its counters and reset them there, so the dump between two
markers holds exactly the measured operations. Start-up, seeding and warm-up
land in other dumps and are never counted.

Start-up is most of the cost: importing Flask and SQLAlchemy under full
instrumentation takes ~30 s. So valgrind starts with instrumentation off
(``--instr-atstart=no``, ~5x faster) and the child switches it on with
valgrind's own ``vgdb`` once its set-up is done. Where vgdb cannot reach the
process (it needs ptrace), the run is repeated instrumented from the start:
slower, and the same counts, because only the code between markers counts.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

HASH_SEED = "0"
TOTALS = re.compile(r"^(?:totals|summary):\s+(\d+)", re.M)
DISABLE_VARIABLE = "TARGET_APP_BENCH_CALLGRIND"
# The child's exit status when vgdb could not switch instrumentation on.
NO_TOGGLE_EXIT = 97

# Run in the child after set-up. It runs the same subprocess whichever way
# valgrind started, so that both leave the same heap behind (the counts of a
# small operation moved 7% with and without it). When instrumentation is
# off (CG_INSTR_ATSTART=no) and vgdb fails, it exits NO_TOGGLE_EXIT.
INSTRUMENT_ON = """
import os as _os, subprocess as _sp, sys as _sys
_cmd = [_os.environ["CG_VGDB"], f"--pid={_os.getpid()}", "instrumentation", "on"]
try:
    _r = _sp.run(_cmd, stdout=_sp.PIPE, stderr=_sp.STDOUT, text=True, timeout=60)
    _failed = f"exit {_r.returncode}: {_r.stdout.strip()[-300:]}" if _r.returncode else ""
except OSError as _exc:
    _failed = str(_exc)
if _failed and _os.environ["CG_INSTR_ATSTART"] == "no":
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


def child_script(operations: dict[str, str], setup: str, repeat: int, warmup: int) -> str:
    """The Python program valgrind runs: ``setup``, then each operation between markers."""
    lines = [
        textwrap.dedent(setup).strip(),
        INSTRUMENT_ON.strip(),
        "import gc as _gc, os as _os",
        f"_REPEAT, _WARMUP = {repeat}, {warmup}",
    ]
    for name, body in operations.items():
        fn = f"_op_{re.sub(r'[^0-9a-zA-Z]', '_', name)}"
        lines.append(f"def {fn}(_i):\n" + textwrap.indent(textwrap.dedent(body).strip(), "    "))
        lines.append(f"for _i in range(_WARMUP):\n    {fn}(-1 - _i)")
        # Start each measured phase from an empty young generation, so that
        # where the collector runs does not depend on what ran before.
        lines.append("_gc.collect()")
        lines.append("_os.getppid()")
        lines.append(f"for _i in range(_REPEAT):\n    {fn}(_i)")
        lines.append("_os.getppid()")
    return "\n".join(lines) + "\n"


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


def per_operation(names: list[str], totals: list[int], repeat: int) -> dict[str, float]:
    """Map dumps to operations: dump 2k+1 (0-based) holds ``repeat`` runs of operation k."""
    needed = 2 * len(names)
    if len(totals) < needed:
        raise RuntimeError(f"expected at least {needed} callgrind dumps, got {len(totals)}")
    return {name: totals[2 * k + 1] / repeat for k, name in enumerate(names)}


def count_instructions(
    operations: dict[str, str],
    setup: str = "",
    *,
    repeat: int = 10,
    warmup: int = 3,
    python: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 600.0,
) -> dict[str, float]:
    """Instructions per run of each operation, counted by callgrind in one process."""
    exe = valgrind()
    script = child_script(operations, setup, repeat, warmup)
    python = python or sys.executable
    vgdb = shutil.which("vgdb") or "vgdb"
    code, stderr, totals = _callgrind(exe, script, python, env, timeout, vgdb=vgdb, toggle=True)
    if code == NO_TOGGLE_EXIT:
        code, stderr, totals = _callgrind(exe, script, python, env, timeout, vgdb=vgdb, toggle=False)
    if code != 0:
        tail = "\n".join(stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"callgrind run failed ({code}): {tail}")
    return per_operation(list(operations), totals, repeat)


def _callgrind(exe, script, python, env, timeout, *, vgdb, toggle):
    """One valgrind run: (exit status, stderr, dump totals).

    With ``toggle``, instrumentation starts off and the child switches it on
    with ``vgdb`` after its set-up; without, everything runs instrumented.
    """
    with tempfile.TemporaryDirectory(prefix="callgrind-") as tmp:
        out = Path(tmp) / "cg.out"
        cmd = [
            exe, "--tool=callgrind", f"--callgrind-out-file={out}", "--dump-before=getppid",
            "--dump-instr=no", "--dump-line=no", "--compress-strings=no", "--compress-pos=no",
            f"--instr-atstart={'no' if toggle else 'yes'}",
            python, "-c", script,
        ]
        child_env = {**os.environ, **(env or {}), "PYTHONHASHSEED": HASH_SEED}
        child_env.update(CG_VGDB=vgdb, CG_INSTR_ATSTART="no" if toggle else "yes")
        proc = subprocess.run(cmd, env=child_env, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            return proc.returncode, proc.stderr, []
        dumps = [p for p in Path(tmp).iterdir() if p.name.startswith("cg.out")]
        return 0, proc.stderr, parse_dumps(dumps)
