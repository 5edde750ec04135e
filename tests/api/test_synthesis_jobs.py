"""Batch synthesis through the real queue (Redis when reachable) and a real consumer."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from huey import RedisHuey, SqliteHuey
from sqlalchemy import func, select

from tests.factories import JAPANESE, SeededStudio, cast_project, seed_studio, seed_voice
from voicehub.db import transaction
from voicehub.metering.tables import UsageRecord
from voicehub.production.tables import Take
from voicehub.runtime import Runtime
from voicehub.synthesis.jobs import create_synthesis_job, run_synthesis_job

SCRIPT = [
    {
        "number": "C-001",
        "lines": [
            {"character": "KEN", "text": "We leave at dawn."},
            {"character": "HARU", "text": "わかった。", "language": "ja"},
        ],
    },
    {"number": "C-002", "lines": [{"character": "KEN", "text": "Bring the lantern."}]},
]


def _wait(
    client: TestClient, studio: SeededStudio, job_id: str, timeout: float = 120
) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, object] = client.get(
            f"/v1/synthesis-jobs/{job_id}", headers=studio.headers
        ).json()
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish in {timeout}s")


def _per_line(runtime: Runtime, model: type[Take] | type[UsageRecord]) -> dict[str, int]:
    with runtime.sessions() as session:
        if model is Take:
            rows = session.execute(select(Take.line_id, func.count()).group_by(Take.line_id))
        else:
            rows = session.execute(
                select(Take.line_id, func.count())
                .join(UsageRecord, UsageRecord.take_id == Take.id)
                .group_by(Take.line_id)
            )
        return {line_id: count for line_id, count in rows}


def test_a_project_synthesizes_through_the_queue(
    client: TestClient, runtime: Runtime, worker: None, queue_url: str
) -> None:
    assert isinstance(runtime.queue.huey, RedisHuey if queue_url else SqliteHuey)
    studio = seed_studio(runtime)
    ken = seed_voice(runtime, name="Ken")
    haru = seed_voice(runtime, name="Haru", voice=JAPANESE, uses=("animation",))
    project = cast_project(client, studio, {"KEN": ken, "HARU": haru}, SCRIPT, language="en")

    accepted = client.post(
        f"/v1/projects/{project.project_id}/synthesis-jobs", json={}, headers=studio.headers
    )

    assert accepted.status_code == 202, accepted.text
    job = accepted.json()
    assert accepted.headers["Location"] == f"/v1/synthesis-jobs/{job['id']}"
    assert (job["status"], job["lines_total"], job["progress"]) == ("queued", 3, 0.0)
    done = _wait(client, studio, job["id"])
    assert done["status"] == "succeeded", done
    assert (done["lines_done"], done["lines_failed"], done["progress"]) == (3, 0, 1.0)
    assert _per_line(runtime, Take) == dict.fromkeys(project.line_ids, 1)
    assert _per_line(runtime, UsageRecord) == dict.fromkeys(project.line_ids, 1)
    cut = client.get(f"/v1/cuts/{project.cut_ids[0]}", headers=studio.headers).json()
    assert all(line["latest_take_id"] for line in cut["lines"])


def test_running_a_job_again_never_renders_or_charges_twice(
    client: TestClient, runtime: Runtime
) -> None:
    studio = seed_studio(runtime)
    ken = seed_voice(runtime, name="Ken")
    haru = seed_voice(runtime, name="Haru", voice=JAPANESE)
    project = cast_project(client, studio, {"KEN": ken, "HARU": haru}, SCRIPT)
    with transaction(runtime.sessions) as session:
        job_id = create_synthesis_job(session, runtime.queue, studio.id, project.project_id).id

    run_synthesis_job(runtime, job_id)
    run_synthesis_job(runtime, job_id)

    assert _per_line(runtime, Take) == dict.fromkeys(project.line_ids, 1)
    assert _per_line(runtime, UsageRecord) == dict.fromkeys(project.line_ids, 1)
    job = client.get(f"/v1/synthesis-jobs/{job_id}", headers=studio.headers).json()
    assert (job["status"], job["lines_done"]) == ("succeeded", 3)


def test_a_revoked_voice_fails_its_lines_and_the_rest_complete(
    client: TestClient, runtime: Runtime
) -> None:
    studio = seed_studio(runtime)
    ken = seed_voice(runtime, name="Ken")
    haru = seed_voice(runtime, name="Haru", voice=JAPANESE)
    project = cast_project(client, studio, {"KEN": ken, "HARU": haru}, SCRIPT)
    job = client.post(
        f"/v1/projects/{project.project_id}/synthesis-jobs", headers=studio.headers
    ).json()
    client.post(f"/v1/actor/consents/{haru.consent_id}/revoke", headers=haru.actor_headers)

    run_synthesis_job(runtime, job["id"])

    done = client.get(f"/v1/synthesis-jobs/{job['id']}", headers=studio.headers).json()
    assert done["status"] == "completed_with_errors"
    assert (done["lines_done"], done["lines_failed"]) == (2, 1)
    assert done["errors"] == [
        {
            "line_id": project.line_ids[1],
            "code": "consent_revoked",
            "detail": done["errors"][0]["detail"],
        }
    ]
    assert project.line_ids[1] not in _per_line(runtime, UsageRecord)


def test_a_job_is_queued_only_when_its_transaction_commits(
    client: TestClient, runtime: Runtime
) -> None:
    studio = seed_studio(runtime)
    ken = seed_voice(runtime, name="Ken")
    project = cast_project(client, studio, {"KEN": ken}, SCRIPT[1:])
    with pytest.raises(RuntimeError), transaction(runtime.sessions) as session:
        create_synthesis_job(session, runtime.queue, studio.id, project.project_id)
        raise RuntimeError("the request failed after creating the job")
    assert runtime.queue.pending() == 0
    with transaction(runtime.sessions) as session:
        create_synthesis_job(session, runtime.queue, studio.id, project.project_id)
        assert runtime.queue.pending() == 0, "not before the commit"
    assert runtime.queue.pending() == 1


def test_job_input_is_checked(client: TestClient, runtime: Runtime) -> None:
    studio = seed_studio(runtime)
    empty = client.post(
        "/v1/projects", json={"name": "P", "language": "en", "use": "games"}, headers=studio.headers
    )
    response = client.post(
        f"/v1/projects/{empty.json()['id']}/synthesis-jobs", headers=studio.headers
    )
    assert response.status_code == 422 and "import a script" in response.json()["detail"]
    stranger = client.post(
        f"/v1/projects/{empty.json()['id']}/synthesis-jobs",
        json={"line_ids": ["line_x"]},
        headers=studio.headers,
    )
    assert stranger.status_code == 422 and [f["field"] for f in stranger.json()["fields"]] == [
        "line_ids"
    ]
