"""Make and use the project's virtualenv, with nothing but the standard library.

``python3 -m scripts ...`` may be started by any Python 3.11. If it is not
already the project's ``.venv`` interpreter, :func:`ensure_venv` creates
``.venv`` (once), installs the project with its ``dev`` extra (again only
when ``pyproject.toml`` changed), and re-executes the same command inside it.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
STAMP = VENV / ".installed"


def venv_python(venv_dir: Path = VENV) -> Path:
    return venv_dir / "bin" / "python"


def install_fingerprint(root: Path = ROOT) -> str:
    """What the installed venv depends on: the project's metadata."""
    return hashlib.sha256((root / "pyproject.toml").read_bytes()).hexdigest()


def in_venv(venv_dir: Path = VENV) -> bool:
    return Path(sys.prefix).resolve() == venv_dir.resolve()


def ensure_venv(argv: list[str]) -> None:
    """Re-exec ``python -m scripts argv`` inside an up-to-date ``.venv``."""
    if os.environ.get("SCRIPTS_NO_BOOTSTRAP") == "1":
        return
    fingerprint = install_fingerprint()
    up_to_date = STAMP.exists() and STAMP.read_text() == fingerprint
    if in_venv() and up_to_date:
        return
    if not venv_python().exists():
        print(f"[setup] creating {VENV}", file=sys.stderr, flush=True)
        venv.EnvBuilder(with_pip=True, clear=False).create(VENV)
    if not up_to_date:
        print("[setup] installing target_app[dev] into .venv", file=sys.stderr, flush=True)
        pip = [str(venv_python()), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        subprocess.run([*pip, "-e", f"{ROOT}[dev]"], check=True, cwd=ROOT)
        STAMP.write_text(fingerprint)
    if not in_venv():
        os.chdir(ROOT)
        os.execv(str(venv_python()), [str(venv_python()), "-m", "scripts", *argv])
