"""The job queue: Huey, on SQLite for the embedded setup and on Redis at scale."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey, crontab
from huey.api import TaskWrapper
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


def _run_export_job(job_id: str) -> None:
    from voicehub.production.export_jobs import run_export_job
    from voicehub.runtime import current

    run_export_job(current(), job_id)


def _deliver_webhook(delivery_id: str) -> None:
    from voicehub.notifications.tasks import deliver_webhook
    from voicehub.runtime import current

    deliver_webhook(current(), delivery_id)


def _run_voice_build(build_id: str) -> None:
    from models.builds.tasks import run_voice_build
    from voicehub.runtime import current

    run_voice_build(current(), build_id)


def _sweep_consents() -> None:
    from consent.service import expire_and_shred_due
    from voicehub.db import transaction
    from voicehub.runtime import current

    runtime = current()
    with transaction(runtime.sessions) as session:
        expire_and_shred_due(session, runtime.consent_effects)


def _redrive_webhooks() -> None:
    from voicehub.notifications.tasks import redrive_stalled
    from voicehub.runtime import current

    redrive_stalled(current())


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
        # No Huey retries: a failed export is marked failed with its reason; the studio
        # starts another.
        self._export_job: TaskWrapper = huey.task(name="voicehub.export_job")(_run_export_job)
        # No Huey retries: the task logs each attempt and schedules the next itself.
        self._webhook_delivery: TaskWrapper = huey.task(name="voicehub.webhook_delivery")(
            _deliver_webhook
        )

        # No Huey retries: a build fails for a reason the actor is shown; starting it again
        # is their call. It holds its worker for the whole training run.
        self._voice_build: TaskWrapper = huey.task(name="voicehub.voice_build")(_run_voice_build)

        # Every minute: expire consents past their end date, shred voices whose
        # notice period has ended. Runs in consumers started with periodic=True.
        self._consent_sweep: TaskWrapper = huey.periodic_task(
            crontab(minute="*"), name="voicehub.consent_sweep"
        )(_sweep_consents)
        self._webhook_redrive: TaskWrapper = huey.periodic_task(
            crontab(minute="*/5"), name="voicehub.webhook_redrive"
        )(_redrive_webhooks)

    def enqueue_synthesis_job(self, session: Session, job_id: str) -> None:
        """Queue the job once `session` commits; a rollback drops it."""
        after_commit(session, lambda: self._synthesis_job(job_id))

    def enqueue_export_job(self, session: Session, job_id: str) -> None:
        """Queue a project export once `session` commits; a rollback drops it."""
        after_commit(session, lambda: self._export_job(job_id))

    def enqueue_webhook_delivery(self, session: Session, delivery_id: str) -> None:
        """Queue a webhook delivery once `session` commits; a rollback drops it."""
        after_commit(session, lambda: self._webhook_delivery(delivery_id))

    def enqueue_voice_build(self, session: Session, build_id: str) -> None:
        """Queue a voice build once `session` commits; a rollback drops it."""
        after_commit(session, lambda: self._voice_build(build_id))

    def schedule_webhook_delivery(self, delivery_id: str, delay_seconds: float) -> None:
        """Queue the next attempt of a delivery to run in `delay_seconds`."""
        self._webhook_delivery.schedule(args=(delivery_id,), delay=delay_seconds)

    def pending(self) -> int:
        return int(self.huey.pending_count())

    def embedded_consumer(self, workers: int = 1, *, periodic: bool = True) -> EmbeddedConsumer:
        """A consumer thread pool for this process; `periodic` runs the consent sweep."""
        return EmbeddedConsumer(self.huey, workers=workers, periodic=periodic, worker_type="thread")
