"""The asv suite: the benchmark modules (``bench_*.py``) and what they share (``common``, ``operations``,
``dataset``, ``databases``, ``target``, ``server``); the counting engine is the package ``counting``."""

import sys

from .counting import phases as _phases

# The counting processes' program, pinned byte for byte (tests/suite/test_callgrind.py), imports the
# phases' wrappers by the name they had before the engine had a package of its own.
sys.modules.setdefault(f"{__name__}.phases", _phases)
