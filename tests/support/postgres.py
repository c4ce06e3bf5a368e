"""A real, throwaway PostgreSQL 15 server for tests, started with the Debian package's own tools.

    with running_postgres() as server:
        url = server.create_database()      # "postgresql://fieldreports@127.0.0.1:PORT/test_1"
        server.stop(); server.start()       # a restart, on the same port

`initdb` refuses to run as root, so as root the server runs as an unprivileged system user,
`fieldreports-test` (made on first use), through `runuser`; as anyone else it runs as you. Its data
directory, unix socket and log sit in one temporary folder; it listens on 127.0.0.1 on a free port
with `trust` authentication (nothing else can reach it) and fsync off (nothing in it must survive).

Locally a machine without PostgreSQL skips the tests that need it; under CI (`CI` set) that is a
failure, since CI installs everything (`make system`).
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support import unavailable
from tests.support.episodes import free_port

BIN_DIR = Path("/usr/lib/postgresql/15/bin")
OS_USER = "fieldreports-test"
SUPERUSER = "fieldreports"
_databases = itertools.count(1)


@dataclass(frozen=True, slots=True, kw_only=True)
class PostgresServer:
    """One initialised cluster: where it lives, which port, and who runs it."""

    root: Path
    port: int
    os_user: str | None  # None: this process's own user

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    @property
    def log_file(self) -> Path:
        return self.root / "postgres.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        self._pg_ctl("start", "-l", str(self.log_file), "-t", "60")

    def stop(self) -> None:
        # fast: active sessions are ended at once, as in a real restart.
        self._pg_ctl("stop", "-m", "fast")

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run SQL through the server's own psql, over its unix socket; returns the rows."""
        argv = [str(BIN_DIR / "psql"), "-h", str(self.socket_dir), "-p", str(self.port)]
        argv += ["-U", SUPERUSER, "-d", database, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
        return _run([*argv, "-c", sql], user=None, cwd=self.root)

    def create_database(self, name: str = "") -> str:
        """A new empty database (a fresh name unless given); returns its URL."""
        name = name or f"test_{os.getpid()}_{next(_databases)}"
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def _pg_ctl(self, action: str, *options: str) -> None:
        argv = [str(BIN_DIR / "pg_ctl"), action, "-D", str(self.data_dir), "-w", *options]
        _run(argv, user=self.os_user, cwd=self.root)


def require_binaries() -> None:
    """Skip (locally) or fail (under CI) when PostgreSQL 15 is not installed."""
    missing = [p for p in ("initdb", "pg_ctl", "postgres", "psql") if not (BIN_DIR / p).is_file()]
    if not missing:
        return
    unavailable(
        f"PostgreSQL 15 not installed ({', '.join(missing)} missing from {BIN_DIR}); "
        "`make system` installs it"
    )


@contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """A started server in a new temporary folder; stopped and deleted when the block ends."""
    require_binaries()
    os_user = _server_user()
    # Not under pytest's tmp_path: its parents are private to root, and the server's user must
    # reach its own folder.
    root = Path(tempfile.mkdtemp(prefix="fieldreports-pg-"))
    server = PostgresServer(root=root, port=free_port(), os_user=os_user)
    try:
        server.socket_dir.mkdir()
        if os_user:
            shutil.chown(root, os_user)
            shutil.chown(server.socket_dir, os_user)
        _run(
            [str(BIN_DIR / "initdb"), "-D", str(server.data_dir), "-U", SUPERUSER]
            + ["--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync", "--no-instructions"],
            user=os_user,
            cwd=root,
        )
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(server.port),
            "unix_socket_directories": f"'{server.socket_dir}'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
        }
        with (server.data_dir / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        server.start()
        yield server
    finally:
        if (server.data_dir / "postmaster.pid").exists():
            server.stop()
        shutil.rmtree(root, ignore_errors=True)


def _server_user() -> str | None:
    if os.geteuid() != 0:
        return None
    if subprocess.run(["id", "-u", OS_USER], capture_output=True).returncode != 0:
        made = subprocess.run(
            ["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent"]
            + ["--shell", "/usr/sbin/nologin", OS_USER],
            capture_output=True,
            text=True,
        )
        # Exit 9: another test session made the user a moment ago.
        if made.returncode not in (0, 9):
            raise RuntimeError(f"useradd {OS_USER} failed: {made.stderr.strip()}")
    return OS_USER


def _run(argv: list[str], *, user: str | None, cwd: Path) -> str:
    if user:
        argv = ["runuser", "-u", user, "--", *argv]
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout
