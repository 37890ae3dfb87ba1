"""CPU instructions per operation, counted by callgrind: exact where timings drift.

On this project's shared 2-core VM a timing is only good to ~30%; the same
program gives the same instruction count every time, and a change elsewhere
in target_app moved an untouched operation by at most 0.65% over two
calibration histories, so a 2% CPU regression shows. Needs valgrind
(skipped without it) and costs ~15 s per commit; set
TARGET_APP_BENCH_CALLGRIND=0 to skip it (``history`` does unless
``--callgrind``; the gate keeps it on).
"""

from concurrent.futures import ThreadPoolExecutor

from .callgrind import count_instructions, valgrind
from .common import CHEAP_HASH, LOGIN_USERNAME, LOOKUP_USERNAME, remove_db, require, seeded_db

OPERATIONS = {
    "homepage": 'anon.get("/")',
    "login_page": 'anon.get("/auth/login")',
    "api_users": 'user.get("/api/users")',
    "user_lookup": "session.scalar(lookup)",
    "bulk_insert_100": """
        rows = [{"username": f"cg{_i}x{k:03d}", "email": f"cg{_i}x{k:03d}@example.test", "password_hash": "x"}
                for k in range(100)]
        bulk.bulk_create_users(session, rows, method="core")
    """,
}

# Two valgrind processes share the operations, each ~half the instructions.
GROUPS = [["homepage", "login_page", "user_lookup"], ["api_users", "bulk_insert_100"]]

CHILD_PROGRAM = """
import os, re
from sqlalchemy import select
from target_app import create_app
from target_app.models import User
from target_app.seed import SEED_PASSWORD
try:
    from target_app import bulk
except ImportError:
    bulk = None
app = create_app({"DATABASE_URL": "sqlite:///" + os.environ["CG_DB"], "SECRET_KEY": "bench-secret",
                  "TESTING": False})
anon = app.test_client()
user = app.test_client()
page = user.get("/auth/login").get_data(as_text=True)
token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
assert user.post("/auth/login", data={"username": os.environ["CG_USER"], "password": SEED_PASSWORD,
                                      "csrf_token": token}).status_code == 302
session = app.extensions["db_sessionmaker"]()
lookup = select(User).where(User.username == os.environ["CG_LOOKUP"])
"""


class Instructions:
    """Instructions per operation (the same code, the same count)."""

    params = list(OPERATIONS)
    param_names = ["operation"]
    timeout = 600
    REPEAT = 10
    WARMUP = 3

    def setup_cache(self):
        try:
            valgrind()
        except NotImplementedError as exc:
            return {"skip": str(exc)}
        require("seed", "SEED_PASSWORD")
        operations = dict(OPERATIONS)
        try:
            require("bulk", "bulk_create_users")
        except NotImplementedError:
            operations.pop("bulk_insert_100")
        groups = [{name: operations[name] for name in group if name in operations} for group in GROUPS]
        # One valgrind process per group, on its own copy of the database
        # (a count must not depend on what the other process wrote), run
        # side by side: valgrind uses one core, and this machine has two.
        with ThreadPoolExecutor(len(groups)) as pool:
            counts = {}
            for part in pool.map(self._count, groups):
                counts.update(part)
        return {"counts": counts}

    def _count(self, operations):
        db_path = seeded_db(password_method=CHEAP_HASH)
        try:
            env = {"CG_DB": str(db_path), "CG_USER": LOGIN_USERNAME, "CG_LOOKUP": LOOKUP_USERNAME}
            return count_instructions(operations, CHILD_PROGRAM, repeat=self.REPEAT, warmup=self.WARMUP, env=env)
        finally:
            remove_db(db_path)

    def setup(self, cache, operation):
        if "skip" in cache:
            raise NotImplementedError(cache["skip"])
        if operation not in cache["counts"]:
            raise NotImplementedError(f"{operation} is not available at this commit")

    def track_instructions(self, cache, operation):
        return cache["counts"][operation]

    track_instructions.unit = "instructions"
    # 2: valgrind starts uninstrumented and two processes share the
    # operations (2026-11-27). The counts moved by up to 2%, more than the
    # gate's 1% tolerance, so results of the first method are not compared.
    track_instructions.version = "2"

