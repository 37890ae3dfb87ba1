"""A real WSGI server (waitress) on 127.0.0.1, and bounded HTTP load against it.

Only loopback is ever targeted. Every loop has a fixed request count and a
deadline, and the server is always stopped.
"""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import urlencode

HOST = "127.0.0.1"
THREADS = 8
START_TIMEOUT = 30.0
REQUEST_TIMEOUT = 15.0

# The server tells its port through a file, not its output: its output (an
# access log, SQL echo left on) goes to a log file as in production, where a
# pipe nobody reads would fill and block the server mid-request.
_SERVE = """
import os, sys, waitress
from target_app import create_app
app = create_app({"DATABASE_URL": sys.argv[1], "SECRET_KEY": sys.argv[2], "TESTING": False})
server = waitress.create_server(app, host=%r, port=0, threads=%d)
with open(sys.argv[3] + ".tmp", "w") as f:
    f.write(str(server.effective_port))
os.replace(sys.argv[3] + ".tmp", sys.argv[3])
server.run()
"""


class LiveServer:
    """``python -c`` running waitress with target_app, in the same environment."""

    def __init__(self, db_url: str, secret: str = "bench-secret", threads: int = THREADS):
        try:
            import waitress  # noqa: F401
        except ImportError:
            raise NotImplementedError("waitress is not installed in this environment") from None
        self.folder = tempfile.TemporaryDirectory(prefix="bench-server-")
        self.log_path = os.path.join(self.folder.name, "server.log")
        port_file = os.path.join(self.folder.name, "port")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", _SERVE % (HOST, threads), db_url, secret, port_file],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.port = self._read_port(port_file)
        self.pid = self.proc.pid
        self._wait_healthy()

    def _read_port(self, port_file: str) -> int:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and self.proc.poll() is None:
            if os.path.exists(port_file):
                with open(port_file) as f:
                    return int(f.read())
            time.sleep(0.02)
        tail = self.log_tail()
        self.stop()
        raise RuntimeError(f"server did not start (its log ends: {tail!r})")

    def log_tail(self, size: int = 300) -> str:
        """The end of the server's log (what it printed, its traceback)."""
        with open(self.log_path, "rb") as f:
            f.seek(max(0, os.path.getsize(self.log_path) - size))
            return f.read().decode("utf-8", "replace").strip()

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            client = Client(self.port)
            try:
                if client.get("/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.05)
            finally:
                client.close()
        tail = self.log_tail()
        self.stop()
        raise RuntimeError(f"server never became healthy (its log ends: {tail!r})")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.folder.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class Client:
    """One keep-alive HTTP/1.1 connection with a cookie jar, like one browser."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, str]:
        headers = {}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = None
        if body is not None:
            data = urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=data, headers=headers)
        response = self.conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return response.status, text

    def get(self, path: str) -> tuple[int, str]:
        return self.request("GET", path)

    def close(self) -> None:
        self.conn.close()


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)
    ok: int = 0
    total: int = 0
    wall: float = 0.0

    @property
    def success_rate(self) -> float:
        return 100.0 * self.ok / self.total if self.total else 0.0

    @property
    def throughput(self) -> float:
        return self.ok / self.wall if self.wall else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
        return ordered[index]


def run_clients(port: int, clients: int, task, per_client: int, deadline: float = 60.0) -> LoadResult:
    """Run ``task(client) -> bool`` ``per_client`` times on each of ``clients`` threads.

    Each call is timed; a False, an exception or the deadline counts as a failure.
    """
    result = LoadResult(total=clients * per_client)
    lock = threading.Lock()
    stop_at = time.monotonic() + deadline
    barrier = threading.Barrier(clients)

    def worker() -> None:
        client = Client(port)
        try:
            barrier.wait(REQUEST_TIMEOUT)
            for _ in range(per_client):
                if time.monotonic() > stop_at:
                    return
                start = time.perf_counter()
                try:
                    ok = task(client)
                except (OSError, http.client.HTTPException):
                    ok = False
                    client.close()
                    client = Client(port)
                elapsed = time.perf_counter() - start
                with lock:
                    result.latencies.append(elapsed)
                    result.ok += bool(ok)
        finally:
            client.close()

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(worker) for _ in range(clients)]:
            future.result()
    result.wall = time.perf_counter() - start
    return result


def rss_bytes(pid: int) -> int:
    try:
        import psutil
    except ImportError:
        raise NotImplementedError("psutil is not installed in this environment") from None
    return psutil.Process(pid).memory_info().rss
