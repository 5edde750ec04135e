"""The job queue: Huey, on SQLite for the embedded setup and on Redis at scale."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey, crontab
from huey.api import TaskWrapper
from huey.consumer import Consumer
from redis import ConnectionPool
from sqlalchemy.orm import Session

from voicehub.db import after_commit
from voicehub.settings import Settings

# The lane of the default queue, `VOICEHUB_QUEUE_NAME` itself.
DEFAULT_LANE = ""


REDIS_CONNECT_TIMEOUT_SECONDS = 3


def make_huey(settings: Settings, lane: str = DEFAULT_LANE) -> Huey:
    """Redis storage when `VOICEHUB_QUEUE_URL` is set, else a SQLite file in the data dir.

    `lane` names one of the engine queues (`VOICEHUB_ENGINE_QUEUES`): its Huey is
    `<queue_name>-<lane>`, a queue of its own that only that lane's workers consume.
    """
    name = f"{settings.queue_name}-{lane}" if lane else settings.queue_name
    if settings.queue_url:
        # A Redis host that drops packets must not hold a request (or a commit's enqueue)
        # for the operating system's connect timeout: give up after a few seconds.
        pool = ConnectionPool.from_url(
            settings.queue_url, socket_connect_timeout=REDIS_CONNECT_TIMEOUT_SECONDS
        )
        return RedisHuey(name, connection_pool=pool)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(name, filename=str(settings.data_dir / "queue.db"))


def make_job_queue(settings: Settings) -> JobQueue:
    """The default queue and one per engine lane named in `VOICEHUB_ENGINE_QUEUES`."""
    routes = settings.engine_queue_routes
    lanes = {lane: make_huey(settings, lane) for lane in dict.fromkeys(routes.values())}
    return JobQueue(make_huey(settings), lanes=lanes, routes=routes)


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
    """The tasks VoiceHub queues: all of them on the default Huey, batch synthesis on lanes too.

    A lane is a queue of its own for the batch jobs of heavy engines (`routes`: engine
    → lane, heaviest first), so that only the machines able to run them (a GPU) take
    them. Only batch synthesis runs on a lane; everything a job queues in turn (webhooks,
    the approvals' events) goes to the default queue.
    """

    def __init__(
        self,
        huey: Huey,
        *,
        lanes: Mapping[str, Huey] | None = None,
        routes: Mapping[str, str] | None = None,
    ) -> None:
        self.huey = huey
        self.lanes: dict[str, Huey] = dict(lanes or {})
        self.routes: dict[str, str] = dict(routes or {})
        unknown = set(self.routes.values()) - set(self.lanes)
        if unknown:
            raise ValueError(f"engine queues without a Huey: {', '.join(sorted(unknown))}")
        self._lane_synthesis_jobs: dict[str, Callable[..., Any]] = {
            lane: lane_huey.task(retries=3, retry_delay=2, name="voicehub.synthesis_job")(
                _run_synthesis_job
            )
            for lane, lane_huey in self.lanes.items()
        }
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

    def lane_for_engines(self, engines: Iterable[str]) -> str:
        """The lane of a job whose voices use `engines`: that of the heaviest routed one.

        A route names an engine (`coqui:aoi`) or its family (`coqui`, every coqui model).
        """
        names = set(engines)
        families = {name.partition(":")[0] for name in names}
        for engine, lane in self.routes.items():
            if engine in names or engine in families:
                return lane
        return DEFAULT_LANE

    def lane_huey(self, lane: str) -> Huey:
        """The Huey a worker for `lane` consumes; a ValueError names the lanes there are."""
        if lane == DEFAULT_LANE:
            return self.huey
        if lane not in self.lanes:
            known = ", ".join(sorted(self.lanes)) or "none (VOICEHUB_ENGINE_QUEUES is empty)"
            raise ValueError(f"no engine queue {lane!r}; configured: {known}")
        return self.lanes[lane]

    def enqueue_synthesis_job(
        self, session: Session, job_id: str, lane: str = DEFAULT_LANE
    ) -> None:
        """Queue the job on `lane` once `session` commits; a rollback drops it."""
        task = self._synthesis_job if lane == DEFAULT_LANE else self._lane_synthesis_jobs[lane]
        after_commit(session, lambda: task(job_id))

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
        waiting = [
            task
            for huey in (self.huey, *self.lanes.values())
            for task in (*huey.pending(), *huey.scheduled())
        ]
        return {
            str(task.args[0])
            for task in waiting
            if task.name == "voicehub.synthesis_job" and task.args
        }

    def pending(self) -> int:
        return int(self.huey.pending_count())

    def embedded_consumer(
        self, workers: int = 1, *, periodic: bool = True, lane: str = DEFAULT_LANE
    ) -> EmbeddedConsumer:
        """A consumer thread pool for this process on `lane`; `periodic` runs the sweeps."""
        return EmbeddedConsumer(
            self.lane_huey(lane), workers=workers, periodic=periodic, worker_type="thread"
        )
