"""The asv suite: the benchmark modules (``bench_*.py``) and what they share (``common``, ``operations``,
``dataset``, ``databases``, ``target``, ``server``); the counting engine is the package ``counting``."""

import sys

from .counting import phases as _phases

# The counting processes' program, pinned byte for byte (tests/suite/test_callgrind.py), imports the
# phases' wrappers by the name they had before the engine had a package of its own.
sys.modules.setdefault(f"{__name__}.phases", _phases)

# asv's fork server (asv_runner's ``run_server``) imports the suite once and forks a process per benchmark. It
# alone warms up (common.warm_up_fork_server); the discovery, the setup_cache processes, the counting
# processes and the tests import the suite without it.
if sys.argv[1:2] == ["run_server"]:
    from .common import warm_up_fork_server

    warm_up_fork_server()
