"""What a running process holds once: settings, database, engines, storage, queue.

Built at app start-up, worker start or CLI command, never at import.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine as DatabaseEngine
from sqlalchemy.orm import Session, sessionmaker

import voicehub.schema  # noqa: F401  (every table: foreign keys resolve in any process)
from models.engines.registry import EngineRegistry
from voicehub.db import make_engine, make_sessionmaker
from voicehub.queue import JobQueue, make_huey
from voicehub.settings import Settings
from voicehub.storage import LocalStorage


@dataclass
class Runtime:
    settings: Settings
    database: DatabaseEngine
    sessions: sessionmaker[Session]
    engines: EngineRegistry
    storage: LocalStorage
    queue: JobQueue

    def close(self) -> None:
        self.database.dispose()


def build_runtime(settings: Settings, *, engines: EngineRegistry | None = None) -> Runtime:
    """Connect to the database and queue and load the engines (unless given loaded ones)."""
    database = make_engine(settings.resolved_database_url)
    if engines is None:
        engines = EngineRegistry.load(
            settings.enabled_engines, cache_dir=settings.data_dir / "models"
        )
    return Runtime(
        settings=settings,
        database=database,
        sessions=make_sessionmaker(database),
        engines=engines,
        storage=LocalStorage(settings.storage_dir),
        queue=JobQueue(make_huey(settings)),
    )


_current: Runtime | None = None


def activate(runtime: Runtime) -> None:
    """Make `runtime` the one queued tasks in this process use."""
    global _current
    _current = runtime


def current() -> Runtime:
    if _current is None:
        raise RuntimeError("No VoiceHub runtime is active in this process.")
    return _current
