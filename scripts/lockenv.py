"""Put one commit of target_app, and exactly the dependencies its lock names, into asv's environment.

asv runs this file as its ``install_command``, with the environment's own
python and the standard library only (the operator's ``.venv`` is not
there)::

    python {conf_dir}/scripts/lockenv.py {env_dir} {build_dir} {wheel_file}

Without the wheel it only syncs the dependencies (``explain`` does so before
each side it imports from git).

1. The environment as asv made it (the suite's own pins of ``matrix.req``:
   asv_runner, waitress, psutil, uv...) is written down once, at the first
   install, as the suite's part (``SUITE_PART``).
2. The commit's part is its ``requirements.lock``, or, at a commit from
   before target_app had one, ``PRE_LOCK``: the pins every commit ran with
   until then. A name in the commit's part wins over the suite's.
3. When the union differs from what the environment holds now (its digest,
   in ``STATE``), ``uv pip sync`` makes the environment hold exactly that:
   installs, upgrades, downgrades and removes. Commits with the same lock
   share the environment as it is, at no cost.
4. target_app's own wheel is unpacked into site-packages and compiled, which
   is what pip does with a pure-Python wheel, in a tenth of its time.
"""

from __future__ import annotations

import compileall
import hashlib
import importlib.metadata
import os
import re
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

LOCK = "requirements.lock"
PRE_LOCK = Path(__file__).resolve().parent / "pre-lock.txt"
SUITE_PART = ".suite-requirements.txt"
STATE = ".lock-synced"
PROJECT = "target-app"
ASV_INSTALL_STATUS = "asv-install-status.json"  # asv's record of the commit it installed

# How a line of this file's failure begins in asv's output (scripts/asvtool.py, InstallErrors, reads it).
MARK = "lockenv: "
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)\s*(;[^#]*)?")


def canonical(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(text: str) -> dict[str, str]:
    """``name==version`` lines of a requirements file -> {canonical name: the line's requirement}.

    Comments, blank lines and uv's ``# via`` notes are skipped; anything else
    that is not an exact pin is an error, because a lock pins every version.
    """
    pins = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        match = PIN.match(line)
        if not match:
            raise ValueError(f"line {number} is not an exact pin (name==version): {raw.strip()}")
        pins[canonical(match.group(1))] = line
    return pins


def versions(pins: dict[str, str]) -> dict[str, str]:
    """{canonical name: version} of :func:`read_pins`' result."""
    return {name: PIN.match(line).group(2) for name, line in pins.items()}


def commit_part(build_dir: Path) -> str:
    """The text of the dependencies a commit ships: its lock, or the pins from before the lock."""
    path = build_dir / LOCK
    return (path if path.exists() else PRE_LOCK).read_text()


def suite_part(env_dir: Path) -> str:
    """What asv installed into the environment before any commit (written down at the first call)."""
    path = env_dir / SUITE_PART
    if not path.exists():
        dists = {canonical(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()}
        dists.pop(PROJECT, None)
        path.write_text("".join(f"{name}=={version}\n" for name, version in sorted(dists.items())))
    return path.read_text()


def wanted(env_dir: Path, build_dir: Path) -> str:
    """The environment's requirements for this commit: the suite's part, the commit's part over it."""
    pins = {**read_pins(suite_part(env_dir)), **read_pins(commit_part(build_dir))}
    return "".join(f"{line}\n" for _, line in sorted(pins.items()))


def sync(env_dir: Path, requirements: str) -> bool:
    """Make the environment hold exactly ``requirements``; False when it did already."""
    digest = hashlib.sha256(requirements.encode()).hexdigest()
    state = env_dir / STATE
    if state.exists() and state.read_text() == digest:
        return False
    state.unlink(missing_ok=True)  # a sync that fails half-way must be done again
    path = env_dir / ".lock-requirements.txt"
    path.write_text(requirements)
    # --compile-bytecode: a benchmark must not pay for compiling what it imports.
    proc = subprocess.run([sys.executable, "-m", "uv", "pip", "sync", "--quiet", "--python", sys.executable,
                           "--compile-bytecode", str(path)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise Unmeasurable(f"the lock cannot be installed: {why(proc.stderr)}")
    state.write_text(digest)
    return True


class Unmeasurable(Exception):
    """This commit cannot be put into the environment: one line says why (the gate and the history show it)."""


NO_VERSION = re.compile(r"there is no version of (\S+)")


def why(stderr: str) -> str:
    """uv's one useful line: "no version of sqlalchemy==2.0.999", else its last line, without its box."""
    found = NO_VERSION.search(stderr)
    if found:
        return f"no version of {found.group(1).rstrip('.,')}"
    lines = [line.strip(" ×╰─▶│") for line in stderr.splitlines() if line.strip(" ×╰─▶│")]
    return lines[-1] if lines else "uv pip sync failed"


def install_wheel(wheel: Path) -> None:
    """Unpack the project's pure-Python wheel into site-packages and compile it."""
    purelib = Path(sysconfig.get_paths()["purelib"])
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(purelib)
        names = [n for n in archive.namelist() if n.endswith(".py")]
    if not all(compileall.compile_file(str(purelib / n), quiet=1) for n in names):
        raise Unmeasurable(f"the wheel does not install: a module of {wheel.name} does not compile")


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print("usage: lockenv.py ENV_DIR BUILD_DIR [WHEEL_FILE]", file=sys.stderr)
        return 2
    env_dir, build_dir, *wheel = (Path(a) for a in argv)
    try:
        requirements = wanted(env_dir, build_dir)
    except ValueError as exc:
        print(f"{build_dir / LOCK}: {exc}", file=sys.stderr)
        return 1
    try:
        changed = sync(env_dir, requirements)
        print(f"[lockenv] {'synced to' if changed else 'already holds'} {len(requirements.splitlines())} pins",
              file=sys.stderr)
        if wheel:
            install_wheel(wheel[0])
    except Unmeasurable as exc:
        print(f"{MARK}{exc}", file=sys.stderr)  # one line, no traceback: scripts/gate reads it from asv's output
        return 1
    if not wheel and changed:
        # The sync removed the installed commit of target_app: asv must install it again before its next run.
        (env_dir / ASV_INSTALL_STATUS).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    os.environ.pop("VIRTUAL_ENV", None)  # uv is told which python to sync; asv's own venv must not leak in
    sys.exit(main(sys.argv[1:]))
