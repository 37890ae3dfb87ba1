"""Response times of the routes that write, and of committing row by row, on the suite's database file.

The writes go to a real SQLite file with the app's own pragmas (WAL,
synchronous=NORMAL), on the suite's production-shaped data. What the kernel
does for them (a write, an fsync) shows here and in
bench_syscalls; no instruction count sees it.
"""

from .operations import OPERATIONS, WRITES, counting_context


class WriteRoutes:
    """Each form post that writes, timed alone.

    Every sample needs a form of its own (a fresh CSRF token, a new
    username, a session to log out), fetched in setup outside the timed
    call: setup runs before every sample with ``number = 1``. Passwords are
    hashed cheaply here, so that registering times the write and not the
    hash (LoginSubmit times scrypt).
    """

    params = WRITES
    param_names = ["operation"]
    number = 1
    repeat = (10, 30, 1.0)
    warmup_time = 0
    rounds = 2
    version = "1"

    def setup(self, operation):
        self.ctx = counting_context()
        self.op = OPERATIONS[operation]
        self.prepared = self.op.prepare(self.ctx)

    def time_write(self, operation):
        self.op.run(self.ctx, self.prepared)


class CommittedRows:
    """20 users inserted one transaction each (the setup deletes the previous sample's)."""

    number = 1
    repeat = (10, 20, 1.0)
    warmup_time = 0
    rounds = 2
    version = "1"

    def setup(self):
        self.ctx = counting_context()
        self.op = OPERATIONS["insert_committed_rows"]
        self.prepared = self.op.prepare(self.ctx)

    def time_insert_committed_rows(self):
        self.op.run(self.ctx, self.prepared)
