"""A studio's and an actor's own API keys: scopes, rotation with a grace period, revocation."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from tests.factories import seed_studio, seed_voice
from voicehub.db import transaction, utcnow
from voicehub.runtime import Runtime
from voicehub.tenancy.service import STUDIO_SCOPES
from voicehub.tenancy.tables import ApiKey


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_a_studio_lists_and_creates_keys_within_its_own_scopes(
    client: TestClient, runtime: Runtime
) -> None:
    studio = seed_studio(runtime)
    listed = client.get("/v1/api-keys", headers=studio.headers)
    assert listed.status_code == 200, listed.text
    (first,) = listed.json()["data"]
    assert set(first["scopes"]) == set(STUDIO_SCOPES) and "keys" in first["scopes"]
    assert first["hint"] == studio.key[-4:] and "secret" not in first

    made = client.post(
        "/v1/api-keys", json={"scopes": ["read"], "name": "dashboard"}, headers=studio.headers
    )
    assert made.status_code == 201, made.text
    reader = made.json()
    assert reader["scopes"] == ["read"] and reader["name"] == "dashboard"
    assert reader["secret"].startswith("vh_live_") and reader["hint"] == reader["secret"][-4:]
    # The new key reads, and can neither synthesize nor manage keys.
    assert client.get("/v1/projects", headers=bearer(reader["secret"])).status_code == 200
    refused = client.post(
        "/v1/projects", json={"name": "x", "language": "en"}, headers=bearer(reader["secret"])
    )
    assert (refused.status_code, refused.json()["code"]) == (403, "insufficient_scope")
    no_keys = client.get("/v1/api-keys", headers=bearer(reader["secret"]))
    assert (no_keys.status_code, no_keys.json()["code"]) == (403, "insufficient_scope")
    # The list shows both, and never a secret again.
    data = client.get("/v1/api-keys", headers=studio.headers).json()["data"]
    assert [key["id"] for key in data] == [first["id"], reader["id"]]
    assert all("secret" not in key for key in data)


def test_a_key_cannot_grant_a_scope_it_lacks_nor_an_unknown_one(
    client: TestClient, runtime: Runtime
) -> None:
    studio = seed_studio(runtime, scopes=("read", "keys"))
    escalate = client.post(
        "/v1/api-keys", json={"scopes": ["read", "billing"]}, headers=studio.headers
    )
    assert (escalate.status_code, escalate.json()["code"]) == (403, "insufficient_scope")
    assert "billing" in escalate.json()["detail"]
    unknown = client.post("/v1/api-keys", json={"scopes": ["admin"]}, headers=studio.headers)
    assert (unknown.status_code, unknown.json()["code"]) == (422, "invalid_input")
    empty = client.post("/v1/api-keys", json={"scopes": []}, headers=studio.headers)
    assert empty.status_code == 422
    # Nothing was made by the refused requests.
    assert len(client.get("/v1/api-keys", headers=studio.headers).json()["data"]) == 1


def test_rotation_keeps_the_old_key_for_the_grace_period_then_refuses_it(
    client: TestClient, runtime: Runtime
) -> None:
    studio = seed_studio(runtime)
    (old,) = client.get("/v1/api-keys", headers=studio.headers).json()["data"]
    rotated = client.post(f"/v1/api-keys/{old['id']}/rotate", headers=studio.headers)
    assert rotated.status_code == 201, rotated.text
    body = rotated.json()
    new = body["key"]
    assert new["id"] != old["id"] and sorted(new["scopes"]) == sorted(old["scopes"])
    assert new["expires_at"] is None
    expires = dt.datetime.fromisoformat(body["previous"]["expires_at"])
    grace = runtime.settings.key_rotation_grace_seconds
    assert abs((expires - utcnow()).total_seconds() - grace) < 60
    # Within the grace period both keys work.
    assert client.get("/v1/projects", headers=studio.headers).status_code == 200
    assert client.get("/v1/projects", headers=bearer(new["secret"])).status_code == 200
    # Move the end of the grace period into the past, as the clock would.
    with transaction(runtime.sessions) as session:
        session.execute(
            update(ApiKey)
            .where(ApiKey.id == old["id"])
            .values(expires_at=utcnow() - dt.timedelta(seconds=1))
        )
    after = client.get("/v1/projects", headers=studio.headers)
    assert (after.status_code, after.json()["code"]) == (401, "unauthenticated")
    assert client.get("/v1/projects", headers=bearer(new["secret"])).status_code == 200
    # An expired key cannot be rotated again.
    again = client.post(f"/v1/api-keys/{old['id']}/rotate", headers=bearer(new["secret"]))
    assert (again.status_code, again.json()["code"]) == (409, "api_key_inactive")


def test_with_no_grace_period_a_rotated_key_stops_at_once(
    client: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime.settings, "key_rotation_grace_seconds", 0.0)
    studio = seed_studio(runtime)
    (old,) = client.get("/v1/api-keys", headers=studio.headers).json()["data"]
    new = client.post(f"/v1/api-keys/{old['id']}/rotate", headers=studio.headers).json()["key"]
    assert client.get("/v1/projects", headers=studio.headers).status_code == 401
    assert client.get("/v1/projects", headers=bearer(new["secret"])).status_code == 200


def test_a_key_cannot_rotate_a_key_with_more_scopes_than_its_own(
    client: TestClient, runtime: Runtime
) -> None:
    studio = seed_studio(runtime)
    limited = client.post(
        "/v1/api-keys", json={"scopes": ["read", "keys"]}, headers=studio.headers
    ).json()
    (full,) = [
        key
        for key in client.get("/v1/api-keys", headers=studio.headers).json()["data"]
        if key["id"] != limited["id"]
    ]
    refused = client.post(f"/v1/api-keys/{full['id']}/rotate", headers=bearer(limited["secret"]))
    assert (refused.status_code, refused.json()["code"]) == (403, "insufficient_scope")
    assert client.get("/v1/projects", headers=studio.headers).status_code == 200


def test_revocation_is_immediate_and_the_last_key_manager_stays(
    client: TestClient, runtime: Runtime
) -> None:
    studio = seed_studio(runtime)
    (first,) = client.get("/v1/api-keys", headers=studio.headers).json()["data"]
    own = client.delete(f"/v1/api-keys/{first['id']}", headers=studio.headers)
    assert (own.status_code, own.json()["code"]) == (409, "last_key_manager")
    assert client.get("/v1/projects", headers=studio.headers).status_code == 200

    reader = client.post("/v1/api-keys", json={"scopes": ["read"]}, headers=studio.headers).json()
    gone = client.delete(f"/v1/api-keys/{reader['id']}", headers=studio.headers)
    assert gone.status_code == 200 and gone.json()["revoked_at"] is not None
    refused = client.get("/v1/projects", headers=bearer(reader["secret"]))
    assert (refused.status_code, refused.json()["code"]) == (401, "unauthenticated")
    # Revoking again changes nothing.
    again = client.delete(f"/v1/api-keys/{reader['id']}", headers=studio.headers)
    assert again.status_code == 200 and again.json()["revoked_at"] == gone.json()["revoked_at"]

    # With a second manager the first may go, even by its own hand.
    manager = client.post(
        "/v1/api-keys", json={"scopes": ["read", "keys"]}, headers=studio.headers
    ).json()
    assert client.delete(f"/v1/api-keys/{first['id']}", headers=studio.headers).status_code == 200
    assert client.get("/v1/projects", headers=studio.headers).status_code == 401
    last = client.delete(f"/v1/api-keys/{manager['id']}", headers=bearer(manager["secret"]))
    assert (last.status_code, last.json()["code"]) == (409, "last_key_manager")


def test_another_tenants_key_is_not_found(client: TestClient, runtime: Runtime) -> None:
    owner, intruder = seed_studio(runtime, "Owner"), seed_studio(runtime, "Intruder")
    actor = seed_voice(runtime)
    (owner_key,) = client.get("/v1/api-keys", headers=owner.headers).json()["data"]
    (actor_key,) = client.get("/v1/api-keys", headers=actor.actor_headers).json()["data"]
    for headers, key_id in (
        (intruder.headers, owner_key["id"]),
        (actor.actor_headers, owner_key["id"]),
        (owner.headers, actor_key["id"]),
    ):
        for method, url in (
            ("POST", f"/v1/api-keys/{key_id}/rotate"),
            ("DELETE", f"/v1/api-keys/{key_id}"),
        ):
            response = client.request(method, url, headers=headers)
            assert (response.status_code, response.json()["code"]) == (404, "not_found"), url
    # Nor does another tenant's key show in a list, or serve as a cursor.
    assert [k["id"] for k in client.get("/v1/api-keys", headers=intruder.headers).json()["data"]]
    assert owner_key["id"] not in {
        k["id"] for k in client.get("/v1/api-keys", headers=intruder.headers).json()["data"]
    }
    cursor = client.get(
        "/v1/api-keys", params={"starting_after": owner_key["id"]}, headers=intruder.headers
    )
    assert cursor.status_code == 422
    assert client.get("/v1/projects", headers=owner.headers).status_code == 200


def test_an_actor_manages_its_own_keys(client: TestClient, runtime: Runtime) -> None:
    actor = seed_voice(runtime)
    made = client.post(
        "/v1/api-keys", json={"scopes": ["read"], "name": "agency"}, headers=actor.actor_headers
    )
    assert made.status_code == 201, made.text
    escalate = client.post(
        "/v1/api-keys", json={"scopes": ["synthesize"]}, headers=actor.actor_headers
    )
    assert (escalate.status_code, escalate.json()["code"]) == (422, "invalid_input")
    ids = {k["id"] for k in client.get("/v1/api-keys", headers=actor.actor_headers).json()["data"]}
    assert made.json()["id"] in ids and len(ids) == 2
