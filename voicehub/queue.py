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


def _requeue_lost_jobs() -> None:
    from voicehub.runtime import current
    from voicehub.synthesis.jobs import requeue_lost_jobs

    requeue_lost_jobs(current())


def _redrive_webhooks() -> None:
    from voicehub.notifications.tasks import redrive_stalled
    from voicehub.runtime import current

    redrive_stalled(current())


def _process_stripe_event(event_id: str) -> None:
    from voicehub.billing.webhooks import process_stripe_event
    from voicehub.runtime import current

    process_stripe_event(current().sessions, event_id)


def _redrive_stripe_events() -> None:
    from voicehub.billing.webhooks import process_unprocessed
    from voicehub.runtime import current

    process_unprocessed(current().sessions, older_than_seconds=60)


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
        # A stored Stripe event is processed once whatever the retries: the task takes its row
        # lock and does nothing if it was processed already. Every 5 minutes, events whose task
        # was lost (the queue was down when they arrived) are processed too.
        self._stripe_event: TaskWrapper = huey.task(
            retries=5, retry_delay=10, name="voicehub.stripe_event"
        )(_process_stripe_event)
        self._stripe_event_redrive: TaskWrapper = huey.periodic_task(
            crontab(minute="*/5"), name="voicehub.stripe_event_redrive"
        )(_redrive_stripe_events)
        # Every minute, and as each consumer starts: queue again the batch jobs whose worker
        # was lost (no heartbeat for VOICEHUB_JOB_LEASE_SECONDS).
        self._job_lease_sweep: TaskWrapper = huey.periodic_task(
            crontab(minute="*"), name="voicehub.job_lease_sweep"
        )(_requeue_lost_jobs)
        huey.on_startup(name="voicehub.job_lease_sweep")(_requeue_lost_jobs)

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

    def enqueue_stripe_event(self, session: Session, event_id: str) -> None:
        """Queue processing of a stored Stripe event once `session` commits."""
        after_commit(session, lambda: self._stripe_event(event_id))

    def schedule_webhook_delivery(self, delivery_id: str, delay_seconds: float) -> None:
        """Queue the next attempt of a delivery to run in `delay_seconds`."""
        self._webhook_delivery.schedule(args=(delivery_id,), delay=delay_seconds)

    def queued_synthesis_jobs(self) -> set[str]:
        """The jobs whose task waits in the queue or in its schedule (a retry), by id."""
        waiting = [*self.huey.pending(), *self.huey.scheduled()]
        return {
            str(task.args[0])
            for task in waiting
            if task.name == "voicehub.synthesis_job" and task.args
        }

    def pending(self) -> int:
        return int(self.huey.pending_count())

    def embedded_consumer(self, workers: int = 1, *, periodic: bool = True) -> EmbeddedConsumer:
        """A consumer thread pool for this process; `periodic` runs the consent sweep."""
        return EmbeddedConsumer(self.huey, workers=workers, periodic=periodic, worker_type="thread")
