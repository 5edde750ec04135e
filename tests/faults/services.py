"""A PostgreSQL cluster and a Redis server of the tests' own, to stop and start at will.

Fault tests never touch the machine's shared services (5432, 6379): each starts
its own on a free port in a temporary directory. PostgreSQL refuses to run as
root, so as root the cluster runs as the `postgres` user in a directory it owns.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

POSTGRES_BIN_GLOB = "/usr/lib/postgresql/*/bin"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def postgres_bin_dir() -> Path | None:
    """The newest installed PostgreSQL's binaries, or None when there are none."""
    found = sorted(
        (
            path
            for path in Path("/").glob(POSTGRES_BIN_GLOB.lstrip("/"))
            if (path / "initdb").exists()
        ),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
    )
    return found[-1] if found else None


def postgres_unavailable_reason() -> str | None:
    """Why this machine cannot run a cluster of the tests' own, or None when it can."""
    if postgres_bin_dir() is None:
        return f"no PostgreSQL server binaries under {POSTGRES_BIN_GLOB}"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no `postgres` user to run the cluster as"
    return None


def redis_unavailable_reason() -> str | None:
    """Why this machine cannot run a Redis server of the tests' own, or None when it can."""
    return None if shutil.which("redis-server") else "no redis-server on PATH"


def _wait_for_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


@dataclass
class PostgresCluster:
    """A cluster in `root` listening on 127.0.0.1:`port` with trust authentication."""

    bin_dir: Path
    root: Path
    port: int
    run_as: str | None

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, program: str, *args: str, timeout: float = 60) -> None:
        command = [str(self.bin_dir / program), *args]
        if self.run_as is not None:
            command = ["runuser", "-u", self.run_as, "--", *command]
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False
        )
        if result.returncode != 0:
            log = self.log_file.read_text() if self.log_file.exists() else ""
            raise RuntimeError(f"{program} {' '.join(args)} failed:\n{result.stderr}\n{log}")

    def _pg_ctl(self, action: str, *extra: str) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1"
            f" -c unix_socket_directories={self.root}"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            "pg_ctl",
            action,
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_file),
            "-o",
            options,
            "-w",
            *extra,
        )

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data_dir), "-U", "postgres", "-A", "trust", "-E", "UTF8")

    def start(self) -> None:
        self._pg_ctl("start")
        _wait_for_port(self.port, 30)

    def stop(self) -> None:
        """A fast shutdown: open sessions are ended, their transactions rolled back."""
        self._pg_ctl("stop", "-m", "fast")

    def restart(self) -> None:
        self._pg_ctl("restart", "-m", "fast")
        _wait_for_port(self.port, 30)

    def is_running(self) -> bool:
        return (self.data_dir / "postmaster.pid").exists()

    def create_database(self, name: str) -> str:
        """A new database in this cluster; returns its SQLAlchemy URL."""
        admin = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@contextmanager
def own_postgres() -> Iterator[PostgresCluster]:
    """A running cluster of the tests' own, removed afterwards."""
    bin_dir = postgres_bin_dir()
    assert bin_dir is not None, postgres_unavailable_reason()
    run_as = "postgres" if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="voicehub-faults-pg-"))
    if run_as is not None:
        account = pwd.getpwnam(run_as)
        os.chown(root, account.pw_uid, account.pw_gid)
    cluster = PostgresCluster(bin_dir, root, free_port(), run_as)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        if cluster.is_running():
            cluster._pg_ctl("stop", "-m", "immediate")
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class RedisServer:
    """A Redis server on 127.0.0.1:`port` that keeps nothing on disk."""

    root: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    def url(self, database: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        """Start the server (again, on the same port: it comes back empty)."""
        with (self.root / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(
                [
                    "redis-server",
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.root),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        _wait_for_port(self.port, 15)

    def stop(self) -> None:
        """Stop the server (SIGTERM; it saves nothing) and wait until it has exited."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)
        self.process = None


@contextmanager
def own_redis() -> Iterator[RedisServer]:
    """A running Redis server of the tests' own, stopped and removed afterwards."""
    server = RedisServer(Path(tempfile.mkdtemp(prefix="voicehub-faults-redis-")), free_port())
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)
