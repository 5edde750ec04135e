"""The job queue: Huey, on SQLite for the embedded setup and on Redis at scale."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey
from huey.consumer import Consumer
from sqlalchemy.orm import Session

from voicehub.db import after_commit
from voicehub.settings import Settings


def make_huey(settings: Settings) -> Huey:
    """Redis storage when `VOICEHUB_QUEUE_URL` is set, else a SQLite file in the data dir."""
    if settings.queue_url:
        return RedisHuey(settings.queue_name, url=settings.queue_url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(settings.queue_name, filename=str(settings.data_dir / "queue.db"))


def _run_synthesis_job(job_id: str) -> None:
    from voicehub.runtime import current
    from voicehub.synthesis.jobs import run_synthesis_job

    run_synthesis_job(current(), job_id)


class EmbeddedConsumer(Consumer):  # type: ignore[misc]
    """A consumer that runs inside another process (the API server, the demo).

    That process owns the signal handlers, so the consumer leaves them alone.
    """

    def _set_signal_handlers(self) -> None:
        return None


class JobQueue:
    """The tasks VoiceHub queues, registered on one Huey instance."""

    def __init__(self, huey: Huey) -> None:
        self.huey = huey
        self._synthesis_job: Callable[..., Any] = huey.task(
            retries=3, retry_delay=2, name="voicehub.synthesis_job"
        )(_run_synthesis_job)

    def enqueue_synthesis_job(self, session: Session, job_id: str) -> None:
        """Queue the job once `session` commits; a rollback drops it."""
        after_commit(session, lambda: self._synthesis_job(job_id))

    def pending(self) -> int:
        return int(self.huey.pending_count())

    def embedded_consumer(self, workers: int = 1) -> EmbeddedConsumer:
        return EmbeddedConsumer(self.huey, workers=workers, periodic=False, worker_type="thread")
