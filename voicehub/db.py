"""Database: the declarative base, engines, sessions and after-commit hooks.

The schema is made only by the Alembic migrations (`migrate`), in tests too.
Whoever opens a session owns its transaction (a request, a job step, a CLI
command); services only `flush()`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, MetaData, create_engine, event
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)

# Seconds to wait for a PostgreSQL connection: while the server restarts, a request
# fails fast with 503 `database_unavailable` instead of hanging on the connect.
CONNECT_TIMEOUT_SECONDS = 3

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp that is always timezone-aware UTC in Python, on every database."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use voicehub.db.utcnow()")
        return value.astimezone(dt.UTC)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets foreign keys, WAL and a busy timeout."""
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=10,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS},
    )


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


_AFTER_COMMIT = "voicehub.after_commit"
_AFTER_ROLLBACK = "voicehub.after_rollback"


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run `callback` once the session's transaction commits; drop it on rollback.

    Jobs are enqueued this way, so a worker never sees work that did not happen.
    A callback that fails (the queue is down) is logged, not raised: the commit stands.
    """
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


def after_rollback(session: Session, callback: Callable[[], None]) -> None:
    """Run `callback` if the session's transaction rolls back (e.g. remove a stored file)."""
    session.info.setdefault(_AFTER_ROLLBACK, []).append(callback)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    # Releasing a savepoint is not the commit: the transaction may still roll back.
    if session.in_nested_transaction():
        return
    callbacks = session.info.pop(_AFTER_COMMIT, [])
    session.info.pop(_AFTER_ROLLBACK, None)
    for callback in callbacks:
        try:
            callback()
        except Exception:
            # The work has committed: raising now would answer a request that succeeded
            # with an error, and skip the callbacks after this one. What a failed enqueue
            # left undone is redone by a sweep (a lost batch job is queued again after its
            # lease, a stalled webhook delivery is re-driven).
            log.exception("an after-commit callback failed; the committed work stands")


@event.listens_for(Session, "after_rollback")
def _run_after_rollback(session: Session) -> None:
    # A savepoint rolled back: the transaction goes on, and so do its callbacks.
    if session.in_nested_transaction():
        return
    callbacks = session.info.pop(_AFTER_ROLLBACK, [])
    session.info.pop(_AFTER_COMMIT, None)
    for callback in callbacks:
        callback()


def alembic_config(url: str) -> Any:
    """The Alembic configuration for this project's migrations, pointed at `url`."""
    from alembic.config import Config

    root = Path(__file__).resolve().parent.parent
    config = Config(str(root / "alembic.ini"))
    config.set_main_option("script_location", str(root / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str, revision: str = "head") -> None:
    """Bring the schema at `url` up to `revision` by running the migrations."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)
