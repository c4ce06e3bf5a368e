"""A real, throwaway Redis for tests: `redis-server` on a free port in a temporary folder.

    with running_redis() as server:
        server.url()                # "redis://127.0.0.1:PORT/0"
        server.stop(); server.start()

Nothing is saved to disk (no RDB, no AOF). Locally a machine without redis-server skips the tests
that need it; under CI (`CI` set) that is a failure, since CI installs everything (`make system`).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support import unavailable
from tests.support.episodes import free_port


@dataclass(frozen=True, slots=True, kw_only=True)
class RedisServer:
    root: Path
    port: int

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    @property
    def pid_file(self) -> Path:
        return self.root / "redis.pid"

    def start(self) -> None:
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--save", "", "--appendonly", "no", "--daemonize", "yes"]
        argv += ["--dir", str(self.root), "--pidfile", str(self.pid_file)]
        argv += ["--logfile", str(self.root / "redis.log")]
        subprocess.run(argv, check=True, cwd=self.root, capture_output=True)
        deadline = time.monotonic() + 10
        while not _answers(self.port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)

    def stop(self) -> None:
        if not self.pid_file.exists():
            return
        pid = int(self.pid_file.read_text().strip())
        os.kill(pid, 15)
        deadline = time.monotonic() + 10
        while _answers(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)


def require_redis() -> None:
    """Skip (locally) or fail (under CI) when redis-server is not installed."""
    if shutil.which("redis-server"):
        return
    unavailable("redis-server not installed; `make system` installs it")


@contextmanager
def running_redis() -> Iterator[RedisServer]:
    require_redis()
    root = Path(tempfile.mkdtemp(prefix="fieldreports-redis-"))
    server = RedisServer(root=root, port=free_port())
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False
