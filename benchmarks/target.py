"""The suite's one door to target_app: import it, skip what a commit lacks, build an app.

The suite runs against old commits of target_app too, so anything a commit
may lack goes through :func:`require`, which makes the benchmark skip.
"""

from __future__ import annotations

import hashlib
import importlib
from pathlib import Path

SECRET_KEY = "bench-secret"


def _preload() -> None:
    """Import target_app once here, so asv's forkserver shares it with every
    benchmark process instead of each paying ~0.5 s of imports. At a commit
    where something is missing this does nothing, and the benchmarks skip."""
    for name in ("target_app", "target_app.models", "target_app.seed", "target_app.bulk"):
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - any failure here is reported by the benchmark itself
            pass


_preload()


def require(module: str, *attrs: str):
    """Import ``target_app.<module>`` and check ``attrs``; skip when missing.

    A module or attribute that does not exist at this commit skips the
    benchmark (NotImplementedError). A target_app that exists but fails to
    import is a failure, never a skip: a broken commit must not look clean.
    """
    name = f"target_app.{module}" if module else "target_app"
    try:
        mod = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if module and exc.name == name:
            raise NotImplementedError(f"{name} is missing at this commit") from None
        raise RuntimeError(f"import {name} failed: {exc}") from exc
    except Exception as exc:
        raise RuntimeError(f"import {name} failed: {exc!r}") from exc
    for attr in attrs:
        if not hasattr(mod, attr):
            raise NotImplementedError(f"{name}.{attr} is missing at this commit")
    return mod


def target_fingerprint() -> str:
    """A hash of the installed target_app source: one per commit."""
    package = Path(require("").__file__).parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".html"):
            digest.update(str(path.relative_to(package)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def app_config(url: str) -> dict:
    return {"DATABASE_URL": url, "SECRET_KEY": SECRET_KEY, "TESTING": False}


def url_of(db) -> str:
    """The SQLAlchemy URL of a database ``bench_db`` made: a PostgreSQL URL, or an SQLite file's path."""
    text = str(db)
    return text if text.startswith("postgresql") else f"sqlite:///{text}"


def make_app(db_path, **overrides):
    """A production-configured app on a database of ``bench_db`` (an SQLite path or a PostgreSQL URL),
    with config ``overrides``."""
    return require("").create_app({**app_config(url_of(db_path)), **overrides})
