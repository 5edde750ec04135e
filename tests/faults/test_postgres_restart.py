"""PostgreSQL restarted under traffic: fast 503s with a retry hint, recovery without a
restart of the API, nothing half-written, and a revocation right after still wins.

The tests run on a PostgreSQL cluster of their own (see `tests.faults.services`),
whatever `VOICEHUB_TEST_DB` says: stopping the shared one would break everyone
else's tests. The queue is the embedded SQLite one; nothing here needs Redis.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.factories import cast_project, seed_studio, seed_voice
from tests.faults.services import PostgresCluster, own_postgres, postgres_unavailable_reason
from voicehub.db import migrate, transaction
from voicehub.ledger.check import check_ledger
from voicehub.ledger.tables import LedgerKind, LedgerTransaction
from voicehub.metering.tables import UsageRecord
from voicehub.production.tables import Take
from voicehub.runtime import Runtime
from voicehub.synthesis.jobs import run_synthesis_job
from voicehub.synthesis.tables import JobStatus, SynthesisJob

pytestmark = pytest.mark.skipif(
    postgres_unavailable_reason() is not None, reason=str(postgres_unavailable_reason())
)

# A request slower than this is hanging on the dead server, not failing fast. Far above
# the 3 s connect timeout, so only a hang (no timeout at all) trips it.
HANG_SECONDS = 20.0

LINES = [
    "We have to leave before the storm arrives.",
    "Nobody told me the bridge was already gone.",
    "Keep your voice down, they can hear us.",
]


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresCluster]:
    with own_postgres() as own:
        yield own


@pytest.fixture(scope="module")
def database_url(cluster: PostgresCluster) -> str:
    """Overrides the session's database: this module's own cluster, migrated."""
    url = cluster.create_database("voicehub_faults")
    migrate(url)
    return url


@pytest.fixture(scope="module")
def queue_url() -> str:
    """Overrides the session's queue: the embedded SQLite queue in the test's data dir."""
    return ""


@pytest.fixture(autouse=True)
def cluster_is_up(cluster: PostgresCluster) -> Iterator[None]:
    """Whatever a test did to the server, it runs again for the tables to be emptied."""
    yield
    if not cluster.is_running():
        cluster.start()


@dataclass(frozen=True)
class Outcome:
    what: str
    status: int
    code: str | None
    retry_after: str | None
    seconds: float


def _traffic(
    client: TestClient, headers: dict[str, str], project_id: str, line_ids: list[str]
) -> tuple[list[Outcome], threading.Event, threading.Thread]:
    """A studio client reading its project and synthesizing its lines until told to stop."""
    outcomes: list[Outcome] = []
    stop = threading.Event()

    def run() -> None:
        turn = 0
        while not stop.is_set():
            turn += 1
            started = time.monotonic()
            if turn % 2:
                what = "read"
                response = client.get(f"/v1/projects/{project_id}", headers=headers)
            else:
                what = "take"
                line_id = line_ids[turn // 2 % len(line_ids)]
                response = client.post(
                    f"/v1/lines/{line_id}/takes",
                    json={"seed": 7},
                    headers={**headers, "Idempotency-Key": f"take-{uuid.uuid4().hex}"},
                )
            seconds = time.monotonic() - started
            code = response.json().get("code") if response.status_code >= 400 else None
            outcomes.append(
                Outcome(
                    what, response.status_code, code, response.headers.get("Retry-After"), seconds
                )
            )
            if response.status_code == 503:
                time.sleep(0.1)  # a client honouring the hint, shortened for the test

    thread = threading.Thread(target=run, name="studio-traffic")
    thread.start()
    return outcomes, stop, thread


def _wait_for(condition: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not callable(condition) or not condition():
        assert time.monotonic() < deadline, "the traffic never reached the expected state"
        time.sleep(0.05)


def _rows(runtime: Runtime) -> tuple[int, int, int]:
    """(takes, usage records, usage postings)."""
    with runtime.sessions() as session:
        return (
            session.scalar(select(func.count()).select_from(Take)) or 0,
            session.scalar(select(func.count()).select_from(UsageRecord)) or 0,
            session.scalar(
                select(func.count())
                .select_from(LedgerTransaction)
                .where(LedgerTransaction.kind == LedgerKind.USAGE)
            )
            or 0,
        )


def _nothing_half_written(runtime: Runtime) -> None:
    with transaction(runtime.sessions) as session:
        report = check_ledger(session)
    assert report.ok, report.summary()
    with runtime.sessions() as session:
        per_take = session.execute(
            select(
                Take.id,
                Take.audio_key,
                select(func.count()).where(UsageRecord.take_id == Take.id).scalar_subquery(),
                select(func.count())
                .where(
                    LedgerTransaction.take_id == Take.id,
                    LedgerTransaction.kind == LedgerKind.USAGE,
                )
                .scalar_subquery(),
            )
        ).all()
        orphans = session.scalar(
            select(func.count())
            .select_from(UsageRecord)
            .where(UsageRecord.take_id.not_in(select(Take.id)))
        )
    assert [(take, usage, postings) for take, _, usage, postings in per_take] == [
        (take, 1, 1) for take, *_ in per_take
    ], "every take has exactly one usage record and one usage posting"
    assert orphans == 0, "every usage record has its take"
    for _, audio_key, *_ in per_take:
        assert runtime.storage.size(audio_key) > 44, f"take audio {audio_key} is missing"


def test_a_restart_under_traffic_answers_503_then_recovers_with_nothing_half_written(
    client: TestClient, runtime: Runtime, cluster: PostgresCluster
) -> None:
    studio = seed_studio(runtime)
    ken = seed_voice(runtime, name="Ken")
    project = cast_project(
        client, studio, {"KEN": ken}, [{"lines": [{"character": "KEN", "text": t}]} for t in LINES]
    )
    outcomes, stop, thread = _traffic(client, studio.headers, project.project_id, project.line_ids)
    try:
        _wait_for(lambda: sum(o.status < 400 for o in outcomes) >= 4)
        cluster.stop()
        during = len(outcomes)
        _wait_for(lambda: sum(o.status == 503 for o in outcomes[during:]) >= 4)
        cluster.start()
        after = len(outcomes)
        # The first answers after the start may still be 503s from requests that began
        # while it was down; then both reads and takes succeed again by themselves.
        _wait_for(lambda: {o.what for o in outcomes[after:] if o.status < 400} == {"read", "take"})
    finally:
        stop.set()
        thread.join(120)
    assert not thread.is_alive()

    assert {o.status for o in outcomes} <= {200, 201, 503}, [
        o for o in outcomes if o.status not in (200, 201, 503)
    ]
    unavailable = [o for o in outcomes if o.status == 503]
    assert len(unavailable) >= 4
    assert {(o.code, o.retry_after) for o in unavailable} == {("database_unavailable", "5")}
    assert max(o.seconds for o in outcomes) < HANG_SECONDS, "a request hung on the dead server"

    created = sum(o.what == "take" and o.status == 201 for o in outcomes)
    takes, usage, postings = _rows(runtime)
    # A take whose commit reached the server just before it went down is kept though its
    # client saw a 503; never the other way round.
    assert takes >= created > 0
    assert (usage, postings) == (takes, takes)
    _nothing_half_written(runtime)


def test_a_revocation_right_after_a_restart_wins(
    client: TestClient, runtime: Runtime, cluster: PostgresCluster
) -> None:
    studio = seed_studio(runtime)
    ken = seed_voice(runtime, name="Ken")
    project = cast_project(
        client, studio, {"KEN": ken}, [{"lines": [{"character": "KEN", "text": t}]} for t in LINES]
    )
    first, *rest = project.line_ids
    assert client.post(f"/v1/lines/{first}/takes", headers=studio.headers).status_code == 201
    queued = client.post(
        f"/v1/projects/{project.project_id}/synthesis-jobs",
        json={"line_ids": rest},
        headers=studio.headers,
    )
    assert queued.status_code == 202, queued.text

    # Every pooled connection now points at a server that is gone.
    cluster.restart()
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

    # The batch queued before the revocation runs after it and delivers nothing more.
    run_synthesis_job(runtime, queued.json()["id"])
    with runtime.sessions() as session:
        job = session.get(SynthesisJob, queued.json()["id"])
        assert job is not None
        assert (job.status, job.lines_done, job.lines_failed) == (JobStatus.FAILED, 0, len(rest))
        assert {error["code"] for error in job.errors} == {"consent_revoked"}
    assert _rows(runtime) == (1, 1, 1)
    _nothing_half_written(runtime)
