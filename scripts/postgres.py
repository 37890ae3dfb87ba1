"""``postgres start|stop|status``: a throwaway PostgreSQL cluster for the suite and the app's tests.

The cluster lives in ``.asv/postgres/`` (its data, its log, its socket and
the port it listens on; see :class:`Cluster` for a clone the server's user
cannot reach), is made by Debian's ``postgresql`` binaries
(``initdb``, ``pg_ctl``), listens on 127.0.0.1 only, and trusts local
connections: it holds nothing but benchmark data. Started as root, it runs
as the ``postgres`` user, as PostgreSQL requires. An existing server can be
used instead: ``TARGET_APP_POSTGRES_URL`` holding its URL is used as is, and
this cluster is then never started.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from scripts.asvtool import Project, config_variant, machine_name
from scripts.errors import UserError

URL_VARIABLE = "TARGET_APP_POSTGRES_URL"
FOLDER = Path(".asv") / "postgres"
USER = "bench"
DATABASE = "target_app"
INSTALL_HINT = "PostgreSQL is not installed: apt-get install postgresql (Debian's package), or set " + URL_VARIABLE


def binary(name: str) -> str:
    """A PostgreSQL program: on PATH, or in Debian's versioned folder."""
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if not found:
        raise UserError(INSTALL_HINT)
    return found


class Cluster:
    """The suite's own cluster under ``root/.asv/postgres``.

    Its data, log and socket live there, or, where the ``postgres`` user
    cannot reach the clone (a clone inside a private home folder, mode
    0700), in a folder of their own under the system's temporary folder,
    named after the clone, that ``stop`` removes. ``.asv/postgres/home``
    says which.
    """

    def __init__(self, root: Path):
        self.folder = (root / FOLDER).resolve()
        self.port_file = self.folder / "port"
        self.home_file = self.folder / "home"

    @property
    def home(self) -> Path:
        """Where the data, the log and the socket are."""
        try:
            return Path(self.home_file.read_text().strip())
        except OSError:
            return self.folder

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def log(self) -> Path:
        return self.home / "server.log"

    def _outside(self) -> Path:
        """The folder of its own, for a clone the server's user cannot reach."""
        digest = hashlib.sha256(str(self.folder).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"target_app_postgres_{digest}"

    @property
    def port(self) -> int | None:
        try:
            return int(self.port_file.read_text())
        except (OSError, ValueError):
            return None

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{DATABASE}"

    def _owner(self) -> str | None:
        """The user the server runs as: ``postgres`` when we are root (PostgreSQL refuses root)."""
        if os.geteuid() != 0:
            return None
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            raise UserError("started as root, PostgreSQL needs a non-root user: create one named postgres "
                            "(Debian's postgresql package does)") from None
        return "postgres"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        owner = self._owner()
        cmd = ["runuser", "-u", owner, "--", *args] if owner else list(args)
        proc = subprocess.run(cmd, text=True, capture_output=True, cwd="/")
        if check and proc.returncode != 0:
            tail = (proc.stderr.strip() or proc.stdout.strip() or "failed").splitlines()[-1]
            raise UserError(f"{Path(args[0]).name}: {tail}")
        return proc

    def running(self) -> bool:
        if not self.data.is_dir():
            return False
        return self._run(binary("pg_ctl"), "status", "-D", str(self.data), check=False).returncode == 0

    def start(self) -> str:
        """Make the cluster if needed, start it, make the database; returns its URL."""
        if self.running():
            return self.url
        owner = self._owner()
        self.folder.mkdir(parents=True, exist_ok=True)
        if owner:
            shutil.chown(self.folder, owner, owner)
            if self.home == self.folder and self._run("test", "-x", str(self.folder), check=False).returncode != 0:
                outside = self._outside()
                outside.mkdir(mode=0o700, exist_ok=True)
                shutil.chown(outside, owner, owner)
                self.home_file.write_text(f"{outside}\n")
                print(f"[postgres] the {owner} user cannot reach {self.folder}: the cluster lives in {outside}")
        if not (self.data / "PG_VERSION").exists():
            self._run(binary("initdb"), "-D", str(self.data), "-U", USER, "-A", "trust", "-E", "UTF8",
                      "--no-locale", "--no-instructions")
        port = _free_port()
        self.port_file.write_text(f"{port}\n")
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {self.home}"
        self._run(binary("pg_ctl"), "start", "-w", "-t", "60", "-D", str(self.data), "-l", str(self.log),
                  "-o", options)
        exists = self._run(binary("psql"), "-h", "127.0.0.1", "-p", str(port), "-U", USER, "-d", "postgres",
                           "-tAc", f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'").stdout.strip()
        if exists != "1":
            self._run(binary("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", USER, DATABASE)
        return self.url

    def stop(self) -> bool:
        """Stop the cluster; False when it was not running. A cluster in a folder of its own goes with it."""
        was_running = self.running()
        if was_running:
            self._run(binary("pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(self.data))
        if self.home != self.folder:
            shutil.rmtree(self.home, ignore_errors=True)
            self.home_file.unlink(missing_ok=True)
        return was_running


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def configured_url(root: Path) -> str | None:
    """The PostgreSQL URL to use: ``TARGET_APP_POSTGRES_URL``, or this repository's running cluster, or None."""
    if os.environ.get(URL_VARIABLE):
        return os.environ[URL_VARIABLE]
    cluster = Cluster(root)
    return cluster.url if cluster.port and cluster.data.is_dir() and cluster.running() else None


# What the benchmark environment needs on top of asv.conf.json's pins to talk to PostgreSQL.
DRIVER_PINS = {"psycopg": "==3.3.6", "psycopg-binary": "==3.3.6"}
CONFIG = Path(".asv") / "asv.postgresql.conf.json"
MACHINE_SUFFIX = "-postgresql"


def asv_config(root: Path) -> str:
    """Write the PostgreSQL run's asv config (asv.conf.json plus the driver) and return its path under ``root``.

    A separate asv environment keeps the SQLite history's environment, and
    so its results, exactly as they were; the driver is pinned like every
    other dependency.
    """
    config_variant(Project(root), root / CONFIG, edit=lambda conf: conf["matrix"]["req"].update(DRIVER_PINS))
    return str(CONFIG)


def machine_for(machine: str) -> str:
    """The machine name a PostgreSQL history is kept under, beside ``machine``'s SQLite one."""
    return machine if machine.endswith(MACHINE_SUFFIX) else machine + MACHINE_SUFFIX


def postgres_run(root: Path, machine: str | None) -> tuple[str, dict[str, str]]:
    """What a run on PostgreSQL needs: the asv config to use, and the environment it runs in (the server for
    the suite, the machine name). The command line sets that environment, once, for the whole run."""
    url = configured_url(root)
    if url is None:
        raise UserError(f"no PostgreSQL to benchmark on: python3 -m scripts postgres start, or set {URL_VARIABLE}")
    return asv_config(root), {BENCH_VARIABLE: url, "ASV_MACHINE": machine_for(machine or machine_name())}


# benchmarks/databases.py reads it (the suite is not imported here: it imports target_app).
BENCH_VARIABLE = "TARGET_APP_BENCH_POSTGRES_URL"
