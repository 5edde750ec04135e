"""Idempotency-Key: a retried request returns the first response and is charged once."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.factories import cast_project, one_line, seed_studio, seed_voice
from voicehub.metering.tables import UsageRecord
from voicehub.production.tables import Take
from voicehub.runtime import Runtime


def test_a_retried_take_is_rendered_and_charged_once(client: TestClient, runtime: Runtime) -> None:
    studio = seed_studio(runtime)
    voice = seed_voice(runtime)
    project = cast_project(client, studio, {"KEN": voice}, one_line())
    headers = {**studio.headers, "Idempotency-Key": "take-C001-1"}
    url = f"/v1/lines/{project.line_ids[0]}/takes"

    first = client.post(url, json={"speed": 1.0}, headers=headers)
    retry = client.post(url, json={"speed": 1.0}, headers=headers)

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.headers["Location"] == first.headers["Location"]
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Take)) == 1
        usage = session.scalars(select(UsageRecord)).one()
    assert usage.idempotency_key.endswith(":take-C001-1")

    other_body = client.post(url, json={"speed": 1.2}, headers=headers)
    assert other_body.status_code == 409
    assert other_body.json()["code"] == "idempotency_key_reused"

    fresh = client.post(
        url, json={"speed": 1.0}, headers={**studio.headers, "Idempotency-Key": "take-C001-2"}
    )
    assert fresh.status_code == 201 and fresh.json()["id"] != first.json()["id"]


def test_keys_belong_to_their_api_key(client: TestClient, runtime: Runtime) -> None:
    one, two = seed_studio(runtime, "One"), seed_studio(runtime, "Two")
    body = {"name": "P", "language": "en", "use": "animation"}
    a = client.post("/v1/projects", json=body, headers={**one.headers, "Idempotency-Key": "same"})
    b = client.post("/v1/projects", json=body, headers={**two.headers, "Idempotency-Key": "same"})
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]


def test_a_failed_request_does_not_burn_its_key(client: TestClient, runtime: Runtime) -> None:
    studio = seed_studio(runtime)
    headers = {**studio.headers, "Idempotency-Key": "k1"}
    bad = client.post(
        "/v1/projects", json={"name": "P", "language": "en", "use": "opera"}, headers=headers
    )
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_input"
    good = client.post(
        "/v1/projects", json={"name": "P", "language": "en", "use": "games"}, headers=headers
    )
    assert good.status_code == 201, "a refused request stores nothing under its key"
