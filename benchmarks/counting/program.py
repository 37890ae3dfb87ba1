# The fixed part of the program each counting process runs under valgrind:
# benchmarks/counting/child.py (child_script) adds the set-up and the operations
# after it. What runs is this file without its comment lines; its bytes are
# pinned by tests/suite/test_callgrind.py, because a change to the text
# moves the counts (docs/measurements.md, "Noise"). asv imports it as a
# module like any other in benchmarks/: it only defines functions.
import gc as _gc, json as _json
# Switch instrumentation on or off with callgrind's client requests,
# through the library named by $CG_REQUESTS (benchmarks/counting/libs.py).
# Without it valgrind was started instrumented: nothing to switch.
import ctypes as _ctypes, os as _os, sys as _sys
_requests = _ctypes.CDLL(_os.environ["CG_REQUESTS"]) if _os.environ.get("CG_REQUESTS") else None
def _instrument(_state):
    if _requests is not None:
        (_requests.cg_start if _state == "on" else _requests.cg_stop)()
# Each operation is measured in a process of its own, forked from one
# parent that has done the set-up and nothing since. So every operation
# starts from the same state whatever ran before it or beside it (which
# connection of the pool it gets, what that connection's page cache
# holds, where the allocator's free lists stand): in one process for
# all, the user lookup's count moved 12% when the logout that ran before
# it started to write (docs/measurements.md, "Noise"). The child warms
# the operation up, collects and stops the collector, switches
# instrumentation on, runs the measured part between markers, writes how
# it went to $CG_MANIFEST/<index>.json, and ends without the
# interpreter's teardown. The parent only forks and waits.
def _report(_index, **_fields):
    with open(_os.path.join(_os.environ["CG_MANIFEST"], f"{_index}.json"), "w") as _fh:
        _json.dump({"pid": _os.getpid(), **_fields}, _fh)

def _child(_index, _fn, _prep, _warmup, _repeat, _per_run, _phased):
    _restore()
    _phases = _wrap() if _phased else {}
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
    _report(_index, status="ran", **_phases)

# Counted by phase too (benchmarks/counting/phases.py) in the same run: the
# wrappers the set-up made (_PHASES) are put in place before the warm-up,
# so that the one counted run is both the operation's total and its run
# by phase. The total holds the wrappers' own work, a constant of its path
# (docs/measurements.md, "What a commit costs").
# Without the wrappers, the total is counted all the same.
_PHASES = None
def _wrap():
    try:
        _PHASES.activate()
    except Exception as _exc:
        return {"by_phase": "failed", "phase_error": f"the phases' wrappers: {type(_exc).__name__}: {_exc}"}
    return {"by_phase": "ran"}

# What an operation wrote to the database stays out of the next one's way:
# the parent keeps the database's files as the set-up left them (_keep, at
# the end of the set-up), and each operation's process puts them back
# before anything else (_restore): every one, whether or not the one before
# wrote (the kernel copies the bytes), so that nothing in its state depends
# on what ran before it, and the parent does no more than fork and wait.
# Without it, the committed rows' driver execute moved 10% once the bulk
# inserts ran first, at the commit that added them (docs/measurements.md,
# "Noise").
_KEPT = {}
def _keep(_path):
    _path = _os.path.realpath(_path)  # SQLite keeps its -wal and -shm beside the file a link names
    for _p in (_path, _path + "-wal", _path + "-shm"):
        if _os.path.exists(_p):
            with open(_p, "rb") as _fh:
                _KEPT[_p] = _fh.read()
        else:
            _KEPT[_p] = None

def _restore():
    for _p, _kept in _KEPT.items():
        if _kept is None:
            if _os.path.exists(_p):
                _os.unlink(_p)
        else:
            with open(_p, "r+b") as _fh:
                _fh.write(_kept)
                _fh.truncate()

def _measure(_index, _fn, _prep, _warmup, _repeat, _per_run, _phased=None):
    _sys.stdout.flush()
    _sys.stderr.flush()
    _pid = _os.fork()
    if _pid:
        _os.waitpid(_pid, 0)
        return
    try:
        _child(_index, _fn, _prep, _warmup, _repeat, _per_run, _phased)
    finally:
        _sys.stdout.flush()
        _sys.stderr.flush()
        _os._exit(0)
