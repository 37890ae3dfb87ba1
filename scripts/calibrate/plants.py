"""The planted regressions: a catalogue of known code changes, and the throwaway history they are committed to.

Each plant is a real edit of target_app with the benchmarks expected to
flag it; a no-op plant changes nothing measurable and must flag nothing.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from scripts.asvtool import Project, config_variant
from scripts.errors import UserError
from scripts.git import git


@dataclass(frozen=True)
class Plant:
    key: str
    title: str
    edits: tuple[tuple[str, str, str], ...]  # (file, old, new)
    expected: tuple[str, ...]  # regexes: any of them flagged counts as caught

    @property
    def is_noop(self) -> bool:
        return not self.expected


def _noop(n: int) -> Plant:
    return Plant(f"noop{n}", f"no-op #{n} (docstring)", (
        ("target_app/main.py", '"""The homepage and the health check', f'"""The homepage and the health check [{n}]'),
    ), ())


PLANTS: tuple[Plant, ...] = (
    _noop(1),
    Plant("a", "homepage renders ~10% slower (CPU)", (
        ("target_app/main.py", "    db = get_session()\n    stats = {",
         "    db = get_session()\n    sum(range(4700))  # planted: ~10% more CPU\n    stats = {"),
    ), (r"HomePage\.time_homepage", r"track_instructions\('GET /'\)", r"Routes\.time_route\('/'\)")),
    _noop(2),
    Plant("b", "the username index is dropped", (
        ("target_app/models.py", "mapped_column(String(40), unique=True, index=True)", "mapped_column(String(40))"),
    ), (r"UserLookup\.time_lookup_by_username", r"track_instructions\('user_lookup'\)")),
    Plant("c", "/api/users gets an N+1 query pattern", (
        ("target_app/api.py", "        .options(selectinload(User.settings))\n", ""),
    ), (r"SqlStatements\.track_statements\('/api/users'\)", r"ListScaling\.track_statements")),
    _noop(3),
    Plant("d", "each session leaks memory", (
        ("target_app/auth.py", "    session.clear()\n    session[\"user_id\"] = user.id\n",
         "    session.clear()\n    session[\"user_id\"] = user.id\n"
         "    _LOGINS.append({\"user\": user.id, \"blob\": bytes(20000)})  # planted leak\n"),
        ("target_app/auth.py", 'bp = Blueprint("auth", __name__, url_prefix="/auth")\n',
         'bp = Blueprint("auth", __name__, url_prefix="/auth")\n_LOGINS: list = []\n'),
    ), (r"SessionMemory\.track_allocated_per_session", r"SessionMemory\.track_rss_growth")),
    Plant("e", "password hashing gets costlier (scrypt n=2^16)", (
        ("target_app/config.py", 'PASSWORD_HASH_METHOD = "scrypt"', 'PASSWORD_HASH_METHOD = "scrypt:65536:8:1"'),
    ), (r"LoginSubmit\.time_login_submit", r"ConcurrentLogin\.track_latency",
        r"track_instructions\('POST /auth/(login|register)'\)")),
    Plant("f", "the pool opens a new connection per checkout (NullPool)", (
        ("target_app/db.py", "            engine = create_engine(\n                url,\n                echo=echo,\n"
         "                pool_size=pool_size,\n                pool_recycle=pool_recycle,\n",
         "            from sqlalchemy.pool import NullPool\n\n            engine = create_engine(\n"
         "                url,\n                echo=echo,\n                poolclass=NullPool,\n"),
    ), (r"ConnectionPool\.time_acquire_connection", r"PoolConnections\.track_connections")),
    Plant("g", "the bulk insert commits row by row", (
        ("target_app/bulk.py", '            session.execute(insert(User), rows)\n',
         '            for row in rows:\n                session.execute(insert(User), [row])\n'
         '                session.commit()\n'),
    ), (r"BulkInsert\.time_insert_100\('core'\)", r"track_instructions\('bulk_insert_core'\)")),
    # The two blind spots of issue 11: an N+1 that convenient seed data hid
    # (the latest posts' authors were the users the page had just loaded),
    # and ~15% more CPU on a route that had no instruction count.
    Plant("i", "the homepage loses its eager load of the latest posts' authors (N+1)", (
        ("target_app/main.py", "select(Post).options(joinedload(Post.author))", "select(Post)"),
    ), (r"SqlStatements\.track_statements\('/'\)",)),
    Plant("j", "GET /api/settings does ~15% more CPU work", (
        ("target_app/api.py", "def settings():\n", "def settings():\n    sum(range(4200))  # planted: ~15% more CPU\n"),
    ), (r"track_instructions\('GET /api/settings'\)",)),
    Plant("h", "GET /api/settings starts failing", (
        ("target_app/api.py", "def settings():\n", "def settings():\n    raise RuntimeError('planted failure')\n"),
    ), (r"'/api/settings'",)),
    _noop(4),
)


def apply_edits(repo: Path, plant: Plant) -> None:
    """Make ``plant``'s edits in ``repo``'s work tree; an edit with no old text creates its file."""
    for rel, old, new in plant.edits:
        path = repo / rel
        if not old:
            if path.exists():
                raise UserError(f"plant {plant.key}: {rel} exists already")
            path.write_text(new)
            continue
        text = path.read_text()
        if old not in text:
            raise UserError(f"plant {plant.key}: {rel} no longer contains the code it changes")
        path.write_text(text.replace(old, new, 1))


def plant_history(source: Path, workdir: Path, plants: tuple[Plant, ...] = PLANTS) -> dict[str, str]:
    """Clone ``source`` into ``workdir/repo`` and commit each plant on its main."""
    repo = workdir / "repo"
    if repo.exists():
        shutil.rmtree(repo)
    git(workdir, "clone", "-q", "--branch", "main", str(source), str(repo))
    git(repo, "config", "user.email", "calibrate@example.test")
    git(repo, "config", "user.name", "calibrate")
    commits = {"base": git(repo, "rev-parse", "HEAD").strip()}
    for plant in plants:
        apply_edits(repo, plant)
        git(repo, "add", "-A", "target_app")
        git(repo, "commit", "-q", "-am", f"calibration {plant.key}: {plant.title}")
        commits[plant.key] = git(repo, "rev-parse", "HEAD").strip()
    return commits


def share_environments(project: Project, repo: Path) -> None:
    """Point the clone's asv at the project's environments (no new virtualenv)."""
    clone = Project(repo)
    config_variant(clone, repo / clone.config, env_dir=str((project.root / ".asv" / "env").resolve()))
    git(repo, "update-index", "--assume-unchanged", "asv.conf.json")
