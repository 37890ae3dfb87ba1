"""Thin wrappers around asv: the config, the machine, runs, results, publish.

Everything that shells out to asv or reads its files lives here, so the
commands above stay pure and testable.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from scripts.bootstrap import ROOT
from scripts.results import param_labels
from scripts.suite import ARTEFACTS_VARIABLE, ONLY_VARIABLE, benchmark_id


class AsvError(Exception):
    """asv could not do what was asked (bad config, no such commit...)."""


@dataclass
class Project:
    """Where a repository keeps its asv config and results."""

    root: Path = ROOT
    config: str = "asv.conf.json"

    @functools.cached_property
    def conf(self):
        """asv's config, read once (asv resolves its paths from the working directory: the root's)."""
        from asv.config import Config  # asv only in the venv: a module imports without it (the bootstrap)

        path = self.root / self.config
        if not path.exists():
            raise AsvError(f"no {self.config} in {self.root}")
        cwd = os.getcwd()
        try:
            os.chdir(self.root)
            return Config.load(str(path))
        except ValueError as exc:  # json5's error for a file that is not JSON
            raise AsvError(f"{path}: not a valid asv config: {str(exc).splitlines()[0]}") from None
        finally:
            os.chdir(cwd)

    @functools.cached_property
    def machine(self) -> str:
        """The asv machine this run records under (:func:`machine_name`), resolved once."""
        return machine_name()

    @property
    def results_dir(self) -> Path:
        return self.root / self.conf.results_dir

    @property
    def html_dir(self) -> Path:
        return self.root / self.conf.html_dir

    def asv(self, *args: str, check: bool = False, capture: bool = False,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """Run asv with this project's config; ``env`` is added to the subprocess's environment only."""
        cmd = [sys.executable, "-m", "asv", *args, "--config", str(self.root / self.config)]
        return subprocess.run(cmd, cwd=self.root, text=True, check=check, capture_output=capture,
                              env={**os.environ, **(env or {})})

    def run(self, commits: list[str], *, bench: list[str] | None = None, quick: bool = False,
            callgrind: bool = True, skip_existing: bool = False, rounds: int | None = None,
            interleave: bool = False, on_line=None, artefacts: Path | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """``asv run`` over ``commits``, the one place its arguments are assembled.

        Raw samples are always recorded (the gate compares them). Instruction
        counts are switched by ``callgrind`` in asv's environment only. With
        ``on_line``, asv also shows each failing benchmark's stderr, and every
        line of its output is printed and handed to ``on_line``. With
        ``artefacts`` (a folder, for a run of one commit), the suite keeps
        what the commit's operations did there (benchmarks/counting/artefacts.py).
        ``env`` is added to asv's environment.
        """
        with tempfile.TemporaryDirectory(prefix="asv-run-") as tmp:
            hashfile = Path(tmp) / "commits.txt"
            hashfile.write_text("\n".join(commits) + "\n")
            args = ["run", f"HASHFILE:{hashfile}", "--machine", self.machine, "--record-samples"]
            if skip_existing:
                args.append("--skip-existing")
            if quick:
                args.append("--quick")
            if interleave:
                args.append("--interleave-rounds")
            if rounds is not None:
                args += ["-a", f"rounds={rounds}"]
            for regex in bench or []:
                args += ["--bench", regex]
            env = {**(env or {}), **callgrind_env(callgrind)}
            if bench:  # the suite's exact set-up measures only what these benchmarks read
                env[ONLY_VARIABLE] = json.dumps(bench)
            if artefacts is not None:
                env[ARTEFACTS_VARIABLE] = str(artefacts)
            if on_line is None:
                return self.asv(*args, env=env)
            return self._tee([*args, "--show-stderr"], env, on_line)

    def _tee(self, args: list[str], env: dict[str, str], on_line) -> subprocess.CompletedProcess:
        # A wide terminal, so that asv does not shorten benchmark names.
        env = {**os.environ, **env, "COLUMNS": "400", "PYTHONUNBUFFERED": "1"}
        cmd = [sys.executable, "-m", "asv", *args, "--config", str(self.root / self.config)]
        with subprocess.Popen(cmd, cwd=self.root, text=True, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, errors="replace") as proc:
            for line in proc.stdout:
                sys.stdout.write(line)
                sys.stdout.flush()
                on_line(line)
        return subprocess.CompletedProcess(cmd, proc.returncode)

    def discover(self) -> list[dict]:
        """Today's suite as asv will record it: each benchmark's name, version and parameters.

        Discovered by asv_runner in a subprocess (the suite imports target_app,
        which this process must not), the way asv discovers it.
        """
        code = ("import json, sys; from asv_runner.discovery import disc_benchmarks; "
                "print(json.dumps([{'name': b.name, 'version': b.version, 'params': b.params} "
                "for b in disc_benchmarks(sys.argv[1])]))")
        bench_dir = self.root / self.conf.benchmark_dir
        proc = subprocess.run([sys.executable, "-c", code, str(bench_dir)], cwd=self.root, text=True,
                              capture_output=True)
        if proc.returncode != 0:
            tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
            raise AsvError(f"the benchmark suite does not import: {tail[0]}")
        return json.loads(proc.stdout.strip().splitlines()[-1])

    def benchmark_versions(self) -> dict[str, str]:
        """Each benchmark of today's suite and its version, as asv will record it."""
        return {b["name"]: b["version"] for b in self.discover()}

    def benchmark_ids(self) -> dict[str, str]:
        """Each id of today's suite (name and parameters, as the gate prints it) and its benchmark's name."""
        return {benchmark_id(b["name"], label): b["name"] for b in self.discover()
                for label in param_labels(b["params"])}


def config_variant(project: Project, path: Path, edit=None, **changes) -> Project:
    """``project`` under another asv config, written to ``path``: its own with ``changes`` set and ``edit``
    (a function of the config) applied. Its paths are made absolute, since asv reads a config's relative
    paths from the config's own folder. The one way a side run (its own results folder, a PostgreSQL
    driver, a throwaway clone sharing the environments) gets its config."""
    from asv import util  # asv only in the venv: a module imports without it (the bootstrap)

    conf = util.load_json(str(project.root / project.config), js_comments=True)
    for key in ("repo", "env_dir", "results_dir", "html_dir", "benchmark_dir"):
        conf[key] = str((project.root / conf.get(key, ".")).resolve())
    anchor_install_command(conf, project.root)
    conf.update(changes)
    if edit:
        edit(conf)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(conf, indent=2) + "\n")
    return Project(project.root, str(path))


def side_project(project: Project, results_dir: Path) -> Project:
    """``project`` writing its results to ``results_dir``, sharing the environments."""
    results_dir.mkdir(parents=True, exist_ok=True)
    return config_variant(project, results_dir.parent / "asv.gate.json", results_dir=str(results_dir),
                          html_dir=str(results_dir.parent / "html"))


def anchor_install_command(conf: dict, root: Path) -> None:
    """Make ``conf`` (asv.conf.json as data, for a config written elsewhere) find ``scripts/lockenv.py`` in
    ``root``: asv's ``{conf_dir}`` is the folder of the config file it reads."""
    conf["install_command"] = [c.replace("{conf_dir}", str(root.resolve())) for c in conf.get("install_command", [])]




def callgrind_env(on: bool) -> dict[str, str]:
    """The environment switch that turns the suite's instruction counts on or off."""
    return {"TARGET_APP_BENCH_CALLGRIND": "1" if on else "0"}


# A machine name is a folder of .asv/results: letters, digits, "-", "_" and ".", and never a path.
MACHINE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")


def check_machine_name(name: str) -> str:
    """``name`` if it can be a machine name, else an AsvError that says why."""
    if not MACHINE_NAME.fullmatch(name) or ".." in name:
        raise AsvError(f"machine name {name!r}: use letters, digits, '-', '_' and '.' only (no path)")
    return name


def machine_name() -> str:
    """The asv machine name: ``ASV_MACHINE``, or this host's name as asv gives it; made in
    ~/.asv-machine.json without questions when it is not there.

    Never "the first machine in the file": other machines (a shard's, a
    PostgreSQL run's) sit there too, and the history must not move to one.
    """
    path = Path.home() / ".asv-machine.json"
    wanted = check_machine_name(os.environ.get("ASV_MACHINE") or platform.node())
    try:
        data = json.loads(path.read_text()) if path.exists() else {}
    except ValueError:
        data = {}  # asv rewrites it on every run: a concurrent run may catch it half-written
    if wanted not in data:
        cmd = [sys.executable, "-m", "asv", "machine", "--yes", "--machine", wanted]
        subprocess.run(cmd, check=True, capture_output=True)
    return wanted


class InstallErrors:
    """Why a commit could not be put into asv's environment, read from asv's output: the one line
    scripts/lockenv.py says (``lockenv: the lock cannot be installed: no version of sqlalchemy==2.0.999``),
    by the commit asv was installing."""

    # "· For target_app commit 669ab865 <badlock>", "·· Installing 9e3038e9 <main> into ...", and the wheel's
    # folder in the failing command ("asv-build-cache/669ab865.../").
    INSTALLING = re.compile(r"(?:commit|Installing|Building|asv-build-cache/) ?([0-9a-f]{8})")
    MARK = re.compile(r"lockenv: (.+)$")

    def __init__(self) -> None:
        self.commit = ""
        self.reasons: dict[str, str] = {}

    def __call__(self, line: str) -> None:
        installing = self.INSTALLING.search(line)
        if installing:
            self.commit = installing.group(1)
        said = self.MARK.search(line.rstrip())
        if said and self.commit:
            self.reasons[self.commit] = said.group(1).strip()

    def of(self, commit: str) -> str:
        return self.reasons.get(commit[:8], "")
