"""Exactly once: every delivered line is one take, one usage record and one usage posting.

Retried requests, re-delivered jobs, two workers racing on a line, a unit of work
that fails after synthesis and a worker killed mid-batch never charge a line
twice or lose one. After every test the ledger's invariants hold.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from tests.conftest import _choice
from tests.factories import (
    SeededStudio,
    cast_project,
    delivered_per_line,
    one_line,
    seed_studio,
    seed_voice,
)
from voicehub.db import transaction, utcnow
from voicehub.ledger.check import check_ledger
from voicehub.ledger.tables import LedgerTransaction
from voicehub.metering.tables import UsageRecord
from voicehub.production.tables import Take
from voicehub.runtime import Runtime
from voicehub.synthesis.jobs import (
    create_synthesis_job,
    job_usage_key,
    requeue_lost_jobs,
    run_synthesis_job,
)
from voicehub.synthesis.service import Synthesizer, UsageKeyTaken, synthesize_line
from voicehub.synthesis.tables import JobStatus, SynthesisJob

ON_POSTGRESQL = _choice("VOICEHUB_TEST_DB", "postgresql", 5432) == "postgresql"
WITH_REDIS = _choice("VOICEHUB_TEST_QUEUE", "redis", 6379) == "redis"
production_setup_only = pytest.mark.skipif(
    not (ON_POSTGRESQL and WITH_REDIS),
    reason="needs PostgreSQL and Redis: workers in separate processes, as production runs them,"
    " on the queue that loses the task of a killed worker",
)

LINES = [
    "We have to leave before the storm arrives, and nobody is coming back for us.",
    "Nobody told me the bridge was already gone when we crossed the river.",
    "Keep your voice down, they can hear us from the other side of the wall.",
    "I found the letter hidden under the floor of the old lighthouse keeper's room.",
    "Tell me again what you saw last night, slowly this time, from the beginning.",
    "The lighthouse has been dark for ten years, and still the ships stay away.",
]


def _script(count: int) -> list[dict[str, object]]:
    return [{"lines": [{"character": "KEN", "text": LINES[i % len(LINES)]}]} for i in range(count)]


def _once_each(line_ids: list[str]) -> dict[str, tuple[int, int, int]]:
    return dict.fromkeys(line_ids, (1, 1, 1))


def _job(runtime: Runtime, job_id: str) -> SynthesisJob:
    with runtime.sessions() as session:
        job = session.get(SynthesisJob, job_id)
        assert job is not None
        return job


def _synthesizer(runtime: Runtime) -> Synthesizer:
    return runtime.synthesizer


@pytest.fixture(autouse=True)
def ledger_holds(runtime: Runtime) -> Iterator[None]:
    """After each test, every invariant `voicehub ledger check` proves still holds."""
    yield
    with transaction(runtime.sessions) as session:
        report = check_ledger(session)
    assert report.ok, report.summary()


def _one_line_project(client: TestClient, runtime: Runtime) -> tuple[SeededStudio, str]:
    studio = seed_studio(runtime)
    ken = seed_voice(runtime, name="Ken")
    project = cast_project(client, studio, {"KEN": ken}, one_line())
    return studio, project.line_ids[0]


def test_a_retried_request_is_one_take_and_one_charge(client: TestClient, runtime: Runtime) -> None:
    studio, line_id = _one_line_project(client, runtime)
    headers = {**studio.headers, "Idempotency-Key": "take-retry-1"}

    first = client.post(f"/v1/lines/{line_id}/takes", json={"seed": 7}, headers=headers)
    again = client.post(f"/v1/lines/{line_id}/takes", json={"seed": 7}, headers=headers)

    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert again.json()["id"] == first.json()["id"]
    assert delivered_per_line(runtime, [line_id]) == _once_each([line_id])


def test_two_requests_racing_under_one_key_charge_once(
    client: TestClient, runtime: Runtime
) -> None:
    """The second waits for the first to commit, then is refused: its take is not kept."""
    studio, line_id = _one_line_project(client, runtime)
    key = "request:key_x:take-race"
    outcomes: list[object] = []

    def second() -> None:
        try:
            with transaction(runtime.sessions) as session:
                take, _ = synthesize_line(
                    session,
                    _synthesizer(runtime),
                    studio_id=studio.id,
                    line_id=line_id,
                    usage_key=key,
                )
                outcomes.append(take.id)
        except UsageKeyTaken as error:
            outcomes.append(error)

    with transaction(runtime.sessions) as session:
        first, _ = synthesize_line(
            session, _synthesizer(runtime), studio_id=studio.id, line_id=line_id, usage_key=key
        )
        racer = threading.Thread(target=second)
        racer.start()
        if ON_POSTGRESQL:
            _wait_until_blocked(runtime)
    racer.join(60)

    assert len(outcomes) == 1 and isinstance(outcomes[0], UsageKeyTaken), outcomes
    assert outcomes[0].code == "idempotency_key_in_use"
    assert delivered_per_line(runtime, [line_id]) == _once_each([line_id])
    with runtime.sessions() as session:
        assert session.scalars(select(Take.id)).all() == [first.id]
    stored = runtime.settings.storage_dir / "takes" / studio.id / line_id
    assert [path.name for path in stored.iterdir()] == [f"{first.id}.wav"]


def _wait_until_blocked(runtime: Runtime, timeout: float = 30) -> None:
    """Until a connection to the test database waits on a lock (PostgreSQL)."""
    deadline = time.monotonic() + timeout
    with runtime.database.connect() as watcher:
        while time.monotonic() < deadline:
            waiting = watcher.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
            watcher.rollback()
            if waiting:
                return
            time.sleep(0.05)
    raise AssertionError("the second writer never waited on the first")


def test_a_job_delivered_twice_charges_each_line_once(client: TestClient, runtime: Runtime) -> None:
    studio = seed_studio(runtime)
    ken = seed_voice(runtime, name="Ken")
    project = cast_project(client, studio, {"KEN": ken}, _script(3))
    with transaction(runtime.sessions) as session:
        job_id = create_synthesis_job(session, runtime.queue, studio.id, project.project_id).id

    run_synthesis_job(runtime, job_id)
    run_synthesis_job(runtime, job_id)

    assert delivered_per_line(runtime, project.line_ids) == _once_each(project.line_ids)
    job = _job(runtime, job_id)
    assert (job.status, job.lines_done, job.lines_failed, job.errors) == (
        JobStatus.SUCCEEDED,
        3,
        0,
        [],
    )


def test_two_workers_racing_on_one_job_charge_each_line_once(
    client: TestClient, runtime: Runtime
) -> None:
    studio = seed_studio(runtime)
    ken = seed_voice(runtime, name="Ken")
    project = cast_project(client, studio, {"KEN": ken}, _script(6))
    with transaction(runtime.sessions) as session:
        job_id = create_synthesis_job(session, runtime.queue, studio.id, project.project_id).id
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker() -> None:
        start.wait()
        try:
            run_synthesis_job(runtime, job_id)
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    workers = [threading.Thread(target=worker) for _ in range(2)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(120)

    assert errors == []
    assert delivered_per_line(runtime, project.line_ids) == _once_each(project.line_ids)
    job = _job(runtime, job_id)
    assert (job.status, job.lines_done, job.lines_failed, job.errors) == (
        JobStatus.SUCCEEDED,
        6,
        0,
        [],
    )
    with runtime.sessions() as session:
        keys = set(session.scalars(select(UsageRecord.idempotency_key)))
    assert keys == {job_usage_key(job_id, line_id) for line_id in project.line_ids}


def test_a_unit_of_work_that_fails_after_synthesis_leaves_nothing_and_the_retry_charges_once(
    client: TestClient, runtime: Runtime
) -> None:
    studio, line_id = _one_line_project(client, runtime)
    key = "job:job_x:line:retry"

    with pytest.raises(RuntimeError), transaction(runtime.sessions) as session:
        lost, _ = synthesize_line(
            session, _synthesizer(runtime), studio_id=studio.id, line_id=line_id, usage_key=key
        )
        assert (runtime.settings.storage_dir / lost.audio_key).exists()
        raise RuntimeError("the worker failed before the commit")

    assert delivered_per_line(runtime, [line_id]) == {line_id: (0, 0, 0)}
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(LedgerTransaction)) == 0
    assert not (runtime.settings.storage_dir / lost.audio_key).exists()

    with transaction(runtime.sessions) as session:
        take, usage = synthesize_line(
            session, _synthesizer(runtime), studio_id=studio.id, line_id=line_id, usage_key=key
        )
    assert usage.idempotency_key == key
    assert delivered_per_line(runtime, [line_id]) == _once_each([line_id])
    assert runtime.storage.size(take.audio_key) > 44


def test_a_lost_job_is_queued_again_once_after_its_lease(
    client: TestClient, runtime: Runtime
) -> None:
    studio = seed_studio(runtime)
    ken = seed_voice(runtime, name="Ken")
    project = cast_project(client, studio, {"KEN": ken}, _script(2))
    with transaction(runtime.sessions) as session:
        running = create_synthesis_job(session, runtime.queue, studio.id, project.project_id)
        waiting = create_synthesis_job(session, runtime.queue, studio.id, project.project_id)
        lost = create_synthesis_job(session, runtime.queue, studio.id, project.project_id)
        running.status = JobStatus.RUNNING
        running.heartbeat_at = utcnow()
    # Every task is gone (a consumer took the running job's and was killed; the lost job's
    # never reached the queue), except the waiting job's.
    runtime.queue.huey.flush()
    with transaction(runtime.sessions) as session:
        runtime.queue.enqueue_synthesis_job(session, waiting.id)
    later = utcnow() + dt.timedelta(seconds=runtime.settings.job_lease_seconds + 1)

    assert requeue_lost_jobs(runtime) == [], "within the lease"
    assert sorted(requeue_lost_jobs(runtime, now=later)) == sorted([running.id, lost.id])
    assert requeue_lost_jobs(runtime, now=later) == [], "claimed: queued once"
    assert runtime.queue.queued_synthesis_jobs() == {running.id, waiting.id, lost.id}

    run_synthesis_job(runtime, running.id)
    runtime.queue.huey.flush()
    much_later = later + dt.timedelta(days=1)
    assert sorted(requeue_lost_jobs(runtime, now=much_later)) == sorted([waiting.id, lost.id])
    assert _job(runtime, running.id).status is JobStatus.SUCCEEDED


def test_a_job_that_keeps_losing_its_worker_is_stopped_not_retried_for_ever(
    client: TestClient, runtime: Runtime
) -> None:
    from voicehub.synthesis.jobs import MAX_REQUEUES

    studio = seed_studio(runtime)
    ken = seed_voice(runtime, name="Ken")
    project = cast_project(client, studio, {"KEN": ken}, _script(2))
    with transaction(runtime.sessions) as session:
        job = create_synthesis_job(session, runtime.queue, studio.id, project.project_id)
    lease = dt.timedelta(seconds=runtime.settings.job_lease_seconds + 1)
    when = utcnow()
    for _ in range(MAX_REQUEUES):
        runtime.queue.huey.flush()
        when += lease
        assert requeue_lost_jobs(runtime, now=when) == [job.id]
    runtime.queue.huey.flush()
    assert requeue_lost_jobs(runtime, now=when + lease) == []
    stopped = _job(runtime, job.id)
    assert stopped.status is JobStatus.FAILED and stopped.finished_at is not None
    assert [(e["line_id"], e["code"]) for e in stopped.errors] == [
        (line_id, "worker_lost") for line_id in project.line_ids
    ]
    assert (stopped.lines_done, stopped.lines_failed, stopped.requeues) == (
        0,
        2,
        MAX_REQUEUES + 1,
    )
    assert runtime.queue.queued_synthesis_jobs() == set()


def _worker_env(runtime: Runtime, **settings: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("VOICEHUB_")}
    return env | {
        "VOICEHUB_DATA_DIR": str(runtime.settings.data_dir),
        "VOICEHUB_DATABASE_URL": runtime.settings.resolved_database_url,
        "VOICEHUB_QUEUE_URL": runtime.settings.queue_url,
        "VOICEHUB_QUEUE_NAME": runtime.settings.queue_name,
        "VOICEHUB_ENGINES": "piper",
        "VOICEHUB_SYNTHESIS_THREADS": "1",
        **{f"VOICEHUB_{name.upper()}": value for name, value in settings.items()},
    }


def _start_worker(runtime: Runtime, log: Path, **settings: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "voicehub.cli", "worker"],
            env=_worker_env(runtime, **settings),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@production_setup_only
def test_a_worker_killed_mid_batch_is_replaced_and_every_line_is_charged_once(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    studio = seed_studio(runtime)
    ken = seed_voice(runtime, name="Ken")
    project = cast_project(client, studio, {"KEN": ken}, _script(12))
    log = tmp_path / "workers.log"
    first = _start_worker(runtime, log)
    second: subprocess.Popen[bytes] | None = None
    try:
        job_id = client.post(
            f"/v1/projects/{project.project_id}/synthesis-jobs", headers=studio.headers
        ).json()["id"]
        deadline = time.monotonic() + 120
        while _job(runtime, job_id).lines_done < 2:
            assert first.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait(30)
        killed = _job(runtime, job_id)
        assert killed.status is JobStatus.RUNNING
        assert killed.lines_done < len(project.line_ids), "the kill landed after the batch"

        # The heartbeat has to be older than the new worker's lease for it to take the job.
        time.sleep(1.5)
        second = _start_worker(runtime, log, job_lease_seconds="1")
        while _job(runtime, job_id).status in (JobStatus.QUEUED, JobStatus.RUNNING):
            assert second.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()

    assert f"synthesis job {job_id} lost its worker" in log.read_text()
    done = _job(runtime, job_id)
    assert (done.status, done.lines_done, done.lines_failed) == (
        JobStatus.SUCCEEDED,
        len(project.line_ids),
        0,
    )
    assert delivered_per_line(runtime, project.line_ids) == _once_each(project.line_ids)
    with runtime.sessions() as session:
        for audio_key in session.scalars(select(Take.audio_key)):
            assert runtime.storage.size(audio_key) > 44
    check = subprocess.run(
        [sys.executable, "-m", "voicehub.cli", "ledger", "check"],
        env=_worker_env(runtime),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "every invariant holds" in check.stdout
