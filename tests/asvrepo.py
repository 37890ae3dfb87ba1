"""Throwaway git repositories with a few target_app commits, for end-to-end tests."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from tests_helpers import ROOT

# asv environments are expensive (about 40 s of pip installs): share one
# folder across tests and test runs.
SHARED_ENV_DIR = Path(os.environ.get("TARGET_APP_TEST_ASV_ENV", Path.home() / ".cache" / "target_app-tests" / "env"))


def sh(cwd: Path, *args: str) -> str:
    return subprocess.run(args, cwd=cwd, check=True, text=True, capture_output=True).stdout


class ThrowawayRepo:
    """A git repo holding today's target_app, benchmarks and asv config."""

    def __init__(self, path: Path):
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        for name in ("target_app", "benchmarks"):
            shutil.copytree(ROOT / name, path / name, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy(ROOT / "pyproject.toml", path)
        shutil.copy(ROOT / "requirements.lock", path)
        # asv's install_command: each commit's lock into the environment, then its wheel.
        (path / "scripts").mkdir()
        for name in ("lockenv.py", "pre-lock.txt"):
            shutil.copy(ROOT / "scripts" / name, path / "scripts" / name)
        shutil.copy(ROOT / "README.md", path)
        conf = (ROOT / "asv.conf.json").read_text()
        conf = re.sub(r'"env_dir": "[^"]*"', f'"env_dir": "{SHARED_ENV_DIR}"', conf)
        (path / "asv.conf.json").write_text(conf)
        (path / ".gitignore").write_text(".asv/\n__pycache__/\n")
        sh(path, "git", "init", "-q", "-b", "main")
        sh(path, "git", "config", "user.email", "test@example.test")
        sh(path, "git", "config", "user.name", "test")
        self.first = self.commit("initial target_app")

    def commit(self, message: str) -> str:
        sh(self.path, "git", "add", "-A")
        sh(self.path, "git", "commit", "-q", "--allow-empty", "-m", message)
        return sh(self.path, "git", "rev-parse", "HEAD").strip()

    def edit(self, rel: str, old: str, new: str) -> None:
        path = self.path / rel
        text = path.read_text()
        assert old in text, f"{old!r} not in {rel}"
        path.write_text(text.replace(old, new, 1))

    def results(self) -> dict[str, Path]:
        """Result files by full commit hash (asv names them by 8-char prefix)."""
        out = {}
        for path in (self.path / ".asv" / "results").glob("*/*.json"):
            if path.name == "machine.json":
                continue
            data = json.loads(path.read_text())
            out[data["commit_hash"]] = path
        return out
