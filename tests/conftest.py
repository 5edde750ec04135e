"""Test fixtures: a migrated database (PostgreSQL or SQLite), real engines, a real queue.

`VOICEHUB_TEST_DB` picks the database: `postgresql`, `sqlite`, or `auto`
(PostgreSQL when 127.0.0.1:5432 answers). `VOICEHUB_TEST_QUEUE` picks the
queue storage the same way: `redis`, `sqlite` or `auto`. Every test that
touches the database starts from empty tables.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app
from consent.speaker import SpeakerVerifier
from models.engines.registry import EngineRegistry
from voicehub.db import migrate
from voicehub.ledger.service import purge_ledger
from voicehub.runtime import Runtime, activate, build_runtime
from voicehub.schema import metadata
from voicehub.settings import Settings

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/15"


def _reachable(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _choice(variable: str, service: str, port: int) -> str:
    wanted = os.environ.get(variable, "auto")
    if wanted == "auto":
        return service if _reachable(port) else "sqlite"
    return wanted


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh database for this test session, its schema made by the migrations."""
    kind = _choice("VOICEHUB_TEST_DB", "postgresql", 5432)
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'voicehub.db'}"
        migrate(url)
        yield url
        return
    name = f"voicehub_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    migrate(url)
    yield url
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def queue_url() -> str:
    """Redis (a database of its own) when reachable, else the embedded SQLite queue."""
    return REDIS_URL if _choice("VOICEHUB_TEST_QUEUE", "redis", 6379) == "redis" else ""


@pytest.fixture(scope="session")
def engines() -> EngineRegistry:
    """The real Piper, Kokoro and espeak-ng engines, loaded once for the whole run."""
    return EngineRegistry.load(["piper", "kokoro", "espeak"], cache_dir=None)


@pytest.fixture(scope="session")
def speaker_verifier() -> SpeakerVerifier:
    """The speaker encoder, loaded once for the whole run (it imports torch)."""
    verifier = SpeakerVerifier()
    verifier.load()
    return verifier


def make_settings(data_dir: Path, database_url: str, queue_url: str) -> Settings:
    return Settings(
        environment="test",
        data_dir=data_dir,
        database_url=database_url,
        queue_url=queue_url,
        queue_name=f"voicehub-test-{uuid.uuid4().hex[:8]}",
        embedded_worker=False,
    )


@pytest.fixture
def runtime(
    tmp_path: Path,
    database_url: str,
    queue_url: str,
    engines: EngineRegistry,
    speaker_verifier: SpeakerVerifier,
) -> Iterator[Runtime]:
    """A process runtime on the test database and queue; tables are emptied afterwards."""
    rt = build_runtime(make_settings(tmp_path, database_url, queue_url), engines=engines)
    # The runtime loads its verifier on first use; share the session's instead.
    rt.__dict__["speaker_verifier"] = speaker_verifier
    activate(rt)
    yield rt
    rt.queue.huey.flush()
    with rt.database.begin() as connection:
        purge_ledger(connection)
        for table in reversed(metadata.sorted_tables):
            if table.name not in ("consent_log_head", "ledger_guard"):
                connection.execute(text(f"DELETE FROM {table.name}"))
        connection.execute(text("UPDATE ledger_guard SET purge_allowed = false"))
        # The log's genesis head is made by the migrations; put it back, don't delete it.
        connection.execute(
            text("UPDATE consent_log_head SET seq = 0, entry_hash = :zero"), {"zero": "0" * 64}
        )
    rt.close()


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=runtime, run_worker=False)) as test_client:
        yield test_client


@pytest.fixture
def worker(runtime: Runtime) -> Iterator[None]:
    """A real Huey consumer on the test queue, running in this process."""
    consumer = runtime.queue.embedded_consumer(periodic=False)
    consumer.start()
    yield
    consumer.stop(graceful=True)
