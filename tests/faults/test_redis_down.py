"""Redis down: reads and single-line synthesis keep working, a batch is committed and resumes
when Redis returns, webhooks wait in the database, and a revocation still wins.

The queue is a Redis server of the tests' own (see `tests.faults.services`), stopped
and started again on the same port; it keeps nothing on disk, so it comes back
empty, as after a crash. The database is the session's (`VOICEHUB_TEST_DB`): the
faults here are the queue's, and the same tests pass on PostgreSQL and SQLite.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.factories import (
    SeededStudio,
    SeededVoice,
    cast_project,
    delivered_per_line,
    seed_studio,
    seed_voice,
)
from tests.faults.services import RedisServer, own_redis, redis_unavailable_reason
from voicehub.db import transaction, utcnow
from voicehub.ledger.check import check_ledger
from voicehub.notifications.tables import WebhookDelivery
from voicehub.notifications.tasks import redrive_stalled
from voicehub.runtime import Runtime
from voicehub.synthesis.jobs import requeue_lost_jobs
from voicehub.synthesis.tables import FINISHED, JobStatus, SynthesisJob

pytestmark = pytest.mark.skipif(
    redis_unavailable_reason() is not None, reason=str(redis_unavailable_reason())
)

LINES = [
    "We have to leave before the storm arrives.",
    "Nobody told me the bridge was already gone.",
    "Keep your voice down, they can hear us.",
    "I found the letter under the floor.",
]


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    with own_redis() as server:
        yield server


@pytest.fixture(scope="module")
def queue_url(redis: RedisServer) -> str:
    """Overrides the session's queue: this module's own Redis server."""
    return redis.url()


@pytest.fixture(autouse=True)
def ledger_holds_and_redis_is_up(runtime: Runtime, redis: RedisServer) -> Iterator[None]:
    """After each test the ledger's invariants hold, and Redis runs again for the clean-up."""
    yield
    if redis.process is None:
        redis.start()
    with transaction(runtime.sessions) as session:
        report = check_ledger(session)
    assert report.ok, report.summary()


def _project(
    client: TestClient, runtime: Runtime
) -> tuple[SeededStudio, SeededVoice, str, list[str]]:
    """A studio with a webhook endpoint, and a project of four lines cast with one voice."""
    studio = seed_studio(runtime)
    ken = seed_voice(runtime, name="Ken")
    project = cast_project(
        client, studio, {"KEN": ken}, [{"lines": [{"character": "KEN", "text": t}]} for t in LINES]
    )
    # Nothing listens there; deliveries are only queued, never attempted, in these tests.
    hook = client.post(
        "/v1/webhook-endpoints", json={"url": "http://127.0.0.1:9/hook"}, headers=studio.headers
    )
    assert hook.status_code == 201, hook.text
    return studio, ken, project.project_id, project.line_ids


def _job(runtime: Runtime, job_id: str) -> SynthesisJob:
    with runtime.sessions() as session:
        job = session.get(SynthesisJob, job_id)
        assert job is not None
        return job


def _after_the_lease(runtime: Runtime) -> dt.datetime:
    return utcnow() + dt.timedelta(seconds=runtime.settings.job_lease_seconds + 1)


def _run_queue_until_finished(runtime: Runtime, job_id: str, timeout: float = 120) -> None:
    """A real consumer on the queue, until the job has finished."""
    consumer = runtime.queue.embedded_consumer(periodic=False)
    consumer.start()
    try:
        deadline = time.monotonic() + timeout
        while _job(runtime, job_id).status not in FINISHED:
            assert time.monotonic() < deadline, "the queued job never finished"
            time.sleep(0.1)
    finally:
        consumer.stop(graceful=True)


def _pending_deliveries(runtime: Runtime, studio_id: str) -> list[str]:
    with runtime.sessions() as session:
        return list(
            session.scalars(
                select(WebhookDelivery.id).where(
                    WebhookDelivery.studio_id == studio_id, WebhookDelivery.status == "pending"
                )
            )
        )


def test_reads_and_single_lines_work_and_a_batch_resumes_when_redis_returns(
    client: TestClient, runtime: Runtime, redis: RedisServer
) -> None:
    studio, _, project_id, line_ids = _project(client, runtime)
    single, *batch = line_ids

    redis.stop()
    assert client.get(f"/v1/projects/{project_id}", headers=studio.headers).status_code == 200
    take = client.post(f"/v1/lines/{single}/takes", headers=studio.headers)
    assert take.status_code == 201, take.text
    # Approving emits `take.approved`, whose webhook delivery cannot be queued now.
    approved = client.post(f"/v1/takes/{take.json()['id']}/approve", headers=studio.headers)
    assert approved.status_code in (200, 201), approved.text
    queued = client.post(
        f"/v1/projects/{project_id}/synthesis-jobs",
        json={"line_ids": batch},
        headers=studio.headers,
    )
    assert queued.status_code == 202, queued.text
    job_id = queued.json()["id"]
    assert _job(runtime, job_id).status is JobStatus.QUEUED, "the job is committed"
    pending = _pending_deliveries(runtime, studio.id)
    assert len(pending) == 1, "the event's delivery is kept in the database"

    redis.start()
    assert runtime.queue.queued_synthesis_jobs() == set(), "the job's task never reached Redis"
    assert requeue_lost_jobs(runtime) == [], "within its lease the job is left alone"
    assert requeue_lost_jobs(runtime, now=_after_the_lease(runtime)) == [job_id]
    assert runtime.queue.queued_synthesis_jobs() == {job_id}
    _run_queue_until_finished(runtime, job_id)

    done = _job(runtime, job_id)
    assert (done.status, done.lines_done, done.lines_failed) == (
        JobStatus.SUCCEEDED,
        len(batch),
        0,
    )
    assert delivered_per_line(runtime, line_ids) == dict.fromkeys(line_ids, (1, 1, 1))
    overdue = utcnow() + dt.timedelta(seconds=301)
    assert redrive_stalled(runtime, now=overdue) == pending


def test_a_revocation_while_redis_is_down_wins(
    client: TestClient, runtime: Runtime, redis: RedisServer
) -> None:
    studio, ken, project_id, line_ids = _project(client, runtime)
    first, *rest = line_ids
    assert client.post(f"/v1/lines/{first}/takes", headers=studio.headers).status_code == 201
    queued = client.post(
        f"/v1/projects/{project_id}/synthesis-jobs",
        json={"line_ids": rest},
        headers=studio.headers,
    )
    assert queued.status_code == 202, queued.text
    job_id = queued.json()["id"]
    assert runtime.queue.queued_synthesis_jobs() == {job_id}

    redis.stop()  # the queued task is lost with it
    revoked = client.post(
        f"/v1/actor/consents/{ken.consent_id}/revoke",
        json={"reason": "no more"},
        headers=ken.actor_headers,
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["current"]["status"] == "revoked"
    refused = client.post(f"/v1/lines/{rest[0]}/takes", headers=studio.headers)
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "consent_revoked"
    notices = _pending_deliveries(runtime, studio.id)
    assert len(notices) == 1, "the studio's notice of the revocation waits in the database"

    redis.start()
    assert requeue_lost_jobs(runtime, now=_after_the_lease(runtime)) == [job_id]
    _run_queue_until_finished(runtime, job_id)

    stopped = _job(runtime, job_id)
    assert (stopped.status, stopped.lines_done, stopped.lines_failed) == (
        JobStatus.FAILED,
        0,
        len(rest),
    )
    assert {error["code"] for error in stopped.errors} == {"consent_revoked"}
    assert delivered_per_line(runtime, line_ids) == {first: (1, 1, 1)} | dict.fromkeys(
        rest, (0, 0, 0)
    )
    overdue = utcnow() + dt.timedelta(seconds=301)
    assert redrive_stalled(runtime, now=overdue) == notices
