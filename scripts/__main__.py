"""Entry point: ``python3 -m scripts COMMAND [options]``.

The first run creates ``.venv`` and installs what the commands need.
"""

import sys

from scripts.bootstrap import ensure_venv
from scripts.cli import commands


def _entry() -> int:
    argv = sys.argv[1:]
    # Set up .venv only for a real command: a typo gets argparse's one-line error at once.
    if argv and argv[0] in commands() and not {"-h", "--help"} & set(argv):
        ensure_venv(argv)
    from scripts.cli import main

    return main(argv)


if __name__ == "__main__":
    sys.exit(_entry())
