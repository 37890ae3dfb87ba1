"""Entry point: ``python3 -m scripts COMMAND [options]``.

The first run creates ``.venv`` and installs what the commands need.
"""

import sys

from scripts.bootstrap import ensure_venv


def _entry() -> int:
    argv = sys.argv[1:]
    if argv and argv[0] not in ("-h", "--help"):
        ensure_venv(argv)
    from scripts.cli import main

    return main(argv)


sys.exit(_entry())
