"""A revocation that commits while a batch is running in the worker always wins.

The worker renders lines on its synthesis threads, each line in its own transaction; the actor revokes
through the API on another connection part-way through. Every take must have
committed before the revocation did, every take is charged exactly once, and
every line after it is refused with consent_revoked and charged nothing.
"""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from consent.tables import ConsentStatus, ConsentVersion
from tests.factories import cast_project, seed_studio, seed_voice
from voicehub.metering.tables import UsageRecord
from voicehub.production.tables import Take
from voicehub.runtime import Runtime

LINES = [f"Line number {n}, spoken while the actor makes up their mind." for n in range(1, 13)]


def test_revocation_during_a_running_batch(
    client: TestClient, runtime: Runtime, worker: None
) -> None:
    studio = seed_studio(runtime)
    voice = seed_voice(runtime)
    project = cast_project(
        client,
        studio,
        {"KEN": voice},
        [{"lines": [{"character": "KEN", "text": t} for t in LINES]}],
    )
    job = client.post(
        f"/v1/projects/{project.project_id}/synthesis-jobs", headers=studio.headers
    ).json()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        state = client.get(f"/v1/synthesis-jobs/{job['id']}", headers=studio.headers).json()
        if state["lines_done"] >= 2:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the batch never started")

    revoked = client.post(
        f"/v1/actor/consents/{voice.consent_id}/revoke", headers=voice.actor_headers
    )
    assert revoked.status_code == 200

    while time.monotonic() < deadline:
        state = client.get(f"/v1/synthesis-jobs/{job['id']}", headers=studio.headers).json()
        if state["status"] not in ("queued", "running"):
            break
        time.sleep(0.1)
    assert state["status"] == "completed_with_errors", state
    assert state["lines_done"] + state["lines_failed"] == len(LINES)
    assert state["lines_failed"] >= 1, "the batch was still running when the actor revoked"
    assert {e["code"] for e in state["errors"]} == {"consent_revoked"}

    with runtime.sessions() as session:
        revocation = session.scalars(
            select(ConsentVersion).where(ConsentVersion.status == ConsentStatus.REVOKED)
        ).one()
        takes = list(session.scalars(select(Take)))
        charged = session.scalar(select(func.count()).select_from(UsageRecord))
    assert len(takes) == state["lines_done"] == charged
    assert all(take.created_at < revocation.created_at for take in takes), (
        "a take committed after the revocation"
    )
    assert {take.consent_version_id for take in takes} != {revocation.id}
    refused = {e["line_id"] for e in state["errors"]}
    assert refused.isdisjoint({take.line_id for take in takes})
