"""The operator's admin role, kept apart from studios and actors, and the append-only audit log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.billing.conftest import (  # noqa: F401  (fixtures: localstripe and the Connect double)
    CONNECT_WEBHOOK_SECRET,
    close,
    connect_double,
    connect_server,
    deliver,
    deliver_lines,
    event,
    localstripe_url,
    stripe_overrides,
    this_month,
)
from tests.billing.stripe_connect_double import ConnectDouble
from tests.factories import seed_studio, seed_voice
from voicehub import cli
from voicehub.audit import service as audit_log
from voicehub.billing.payouts import run_payouts
from voicehub.billing.stripe_gateway import StripeGateway
from voicehub.billing.webhooks import process_stripe_event
from voicehub.db import transaction
from voicehub.runtime import Runtime
from voicehub.settings import get_settings
from voicehub.tenancy.keys import issue_admin_key


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def admin(
    runtime: Runtime,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[dict[str, str]]:
    """An admin key made by `voicehub create-admin-key`, as an operator would."""
    monkeypatch.setenv("VOICEHUB_DATABASE_URL", database_url)
    monkeypatch.setenv("VOICEHUB_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        assert cli.main(["create-admin-key", "Operator Ono"]) == 0
    finally:
        get_settings.cache_clear()
    printed = capsys.readouterr().out
    secret = printed.rsplit(": ", 1)[-1].strip()
    assert secret.startswith("vh_live_"), printed
    yield bearer(secret)


def audit_entries(client: TestClient, headers: dict[str, str], **params: Any) -> list[Any]:
    response = client.get("/v1/admin/audit-log", params=params, headers=headers)
    assert response.status_code == 200, response.text
    data: list[Any] = response.json()["data"]
    return data


def test_an_admin_creates_a_studio_and_its_key_works(
    client: TestClient, runtime: Runtime, admin: dict[str, str]
) -> None:
    made = client.post("/v1/admin/studios", json={"name": "Studio Hoshi"}, headers=admin)
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["studio"]["name"] == "Studio Hoshi" and "keys" in body["key"]["scopes"]
    studio_headers = bearer(body["key"]["secret"])
    assert client.get("/v1/projects", headers=studio_headers).status_code == 200
    keys = client.get("/v1/api-keys", headers=studio_headers).json()["data"]
    assert [key["id"] for key in keys] == [body["key"]["id"]]

    created = audit_entries(client, admin, action="studio.created")
    assert [e["target_id"] for e in created] == [body["studio"]["id"]]
    (entry,) = created
    assert entry["source"] == "api" and entry["key_id"] and entry["studio_id"] is None
    assert entry["ip"] == "testclient"
    (cli_key,) = audit_entries(client, admin, action="api_key.created", target_id=entry["key_id"])
    assert cli_key["source"] == "cli" and cli_key["details"]["admin"] is True


def test_admin_and_tenant_endpoints_refuse_each_others_keys(
    client: TestClient, runtime: Runtime, admin: dict[str, str]
) -> None:
    studio, actor = seed_studio(runtime), seed_voice(runtime)
    admin_only = [
        ("GET", "/v1/admin/audit-log", None),
        ("POST", "/v1/admin/studios", {"name": "Sneaky"}),
        ("POST", "/v1/admin/api-keys", {"studio_id": studio.id}),
        ("DELETE", "/v1/admin/api-keys/key_whatever", None),
    ]
    for headers in (studio.headers, actor.actor_headers):
        for method, url, body in admin_only:
            response = client.request(method, url, json=body, headers=headers)
            assert (response.status_code, response.json()["code"]) == (
                403,
                "insufficient_scope",
            ), url
    for url in ("/v1/projects", "/v1/voices", "/v1/api-keys", "/v1/actor/consents"):
        response = client.get(url, headers=admin)
        assert (response.status_code, response.json()["code"]) == (403, "insufficient_scope"), url
    # Nothing the refused requests asked for happened.
    assert audit_entries(client, admin, action="studio.created") == []


def test_an_admin_issues_and_revokes_anyones_keys(
    client: TestClient, runtime: Runtime, admin: dict[str, str]
) -> None:
    studio = seed_studio(runtime, scopes=("read",))
    issued = client.post(
        "/v1/admin/api-keys",
        json={"studio_id": studio.id, "scopes": ["read", "keys"], "name": "ops"},
        headers=admin,
    )
    assert issued.status_code == 201, issued.text
    manager = bearer(issued.json()["secret"])
    listed = client.get("/v1/api-keys", headers=manager).json()["data"]
    assert len(listed) == 2
    (old,) = [key for key in listed if key["id"] != issued.json()["id"]]
    unknown = client.post("/v1/admin/api-keys", json={"studio_id": "std_nobody"}, headers=admin)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")
    both = client.post(
        "/v1/admin/api-keys", json={"studio_id": studio.id, "actor_id": "act_x"}, headers=admin
    )
    assert both.status_code == 422

    revoked = client.delete(f"/v1/admin/api-keys/{old['id']}", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert client.get("/v1/projects", headers=studio.headers).status_code == 401
    # The operator is not held to the tenant's last-manager rule.
    last = client.delete(f"/v1/admin/api-keys/{issued.json()['id']}", headers=admin)
    assert last.status_code == 200
    assert client.get("/v1/api-keys", headers=manager).status_code == 401
    missing = client.delete("/v1/admin/api-keys/key_nobody", headers=admin)
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")

    revocations = audit_entries(client, admin, action="api_key.revoked")
    assert {e["target_id"] for e in revocations} == {old["id"], issued.json()["id"]}
    assert all(e["source"] == "api" and e["studio_id"] is None for e in revocations)


def test_key_changes_are_audited_with_the_caller_and_paged(
    client: TestClient, runtime: Runtime, admin: dict[str, str]
) -> None:
    studio = seed_studio(runtime)
    (first,) = client.get("/v1/api-keys", headers=studio.headers).json()["data"]
    made = client.post("/v1/api-keys", json={"scopes": ["read"]}, headers=studio.headers).json()
    rotated = client.post(f"/v1/api-keys/{made['id']}/rotate", headers=studio.headers).json()
    client.delete(f"/v1/api-keys/{rotated['key']['id']}", headers=studio.headers)
    refused = client.delete(f"/v1/api-keys/{first['id']}", headers=studio.headers)
    assert refused.status_code == 409

    mine = audit_entries(client, admin, studio_id=studio.id)
    assert [(e["action"], e["target_id"]) for e in mine] == [
        ("api_key.created", made["id"]),
        ("api_key.rotated", made["id"]),
        ("api_key.revoked", rotated["key"]["id"]),
    ]
    assert all(e["key_id"] == first["id"] and e["source"] == "api" for e in mine)
    assert mine[1]["details"]["successor_id"] == rotated["key"]["id"]

    page_one = client.get(
        "/v1/admin/audit-log", params={"studio_id": studio.id, "limit": 2}, headers=admin
    ).json()
    assert page_one["has_more"] is True and len(page_one["data"]) == 2
    page_two = client.get(
        "/v1/admin/audit-log",
        params={"studio_id": studio.id, "limit": 2, "starting_after": page_one["data"][-1]["id"]},
        headers=admin,
    ).json()
    assert page_two["has_more"] is False
    assert [e["id"] for e in page_one["data"] + page_two["data"]] == [e["id"] for e in mine]


def test_consent_changes_are_audited(
    client: TestClient, runtime: Runtime, admin: dict[str, str]
) -> None:
    actor = seed_voice(runtime)
    consent = actor.consent_id
    for action in ("pause", "resume", "revoke"):
        response = client.post(
            f"/v1/actor/consents/{consent}/{action}", json={}, headers=actor.actor_headers
        )
        assert response.status_code == 200, response.text
    entries = audit_entries(client, admin, target_id=consent)
    assert [e["action"] for e in entries] == [
        "consent.given",
        "consent.verified",
        "consent.paused",
        "consent.resumed",
        "consent.revoked",
    ]
    # The seeding ran outside any request; the actor's own calls carry the actor's key.
    assert {e["source"] for e in entries[:2]} == {"system"}
    assert all(e["source"] == "api" and e["actor_id"] == actor.actor_id for e in entries[2:])
    assert entries[-1]["details"]["status"] == "revoked"
    assert entries[0]["details"]["actor_id"] == actor.actor_id


def test_an_entry_commits_with_its_action_or_not_at_all(runtime: Runtime) -> None:
    class Abandoned(Exception):
        pass

    with pytest.raises(Abandoned), transaction(runtime.sessions) as session:
        issue_admin_key(session, "rolled back")
        raise Abandoned
    with runtime.database.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM audit_events")).scalar()
    assert count == 0


def test_the_database_refuses_to_edit_or_delete_audit_entries(runtime: Runtime) -> None:
    with transaction(runtime.sessions) as session:
        audit_log.bind(session, audit_log.AuditContext(source="cli"))
        entry = issue_admin_key(session, "kept")
    for statement in (
        "UPDATE audit_events SET action = 'nothing.happened'",
        "DELETE FROM audit_events",
    ):
        with pytest.raises(DBAPIError, match="append-only"), runtime.database.begin() as connection:
            connection.execute(text(statement))
    with runtime.database.connect() as connection:
        rows = connection.execute(text("SELECT action, target_id FROM audit_events")).all()
    assert [tuple(row) for row in rows] == [("api_key.created", entry.id)]


def test_payouts_are_audited_when_started_failed_and_paid(
    client: TestClient,
    runtime: Runtime,
    admin: dict[str, str],
    localstripe_url: str,  # noqa: F811
    connect_double: ConnectDouble,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        runtime,
        "settings",
        runtime.settings.model_copy(update=stripe_overrides(localstripe_url, connect_double)),
    )
    delivered = deliver_lines(
        client,
        runtime,
        {"Audit": ["The lighthouse is dark tonight."]},
        price_per_1k_chars_micros=31_415_926_535,
    )
    actor = delivered.voice
    opened = client.post("/v1/actor/payout-account", headers=actor.actor_headers)
    assert opened.status_code == 201, opened.text
    account = opened.json()["stripe_account_id"]
    answer = deliver(
        client, event("account.updated", connect_double.onboard(account)), CONNECT_WEBHOOK_SECRET
    )
    process_stripe_event(runtime.sessions, answer.json()["id"])
    period = this_month()
    close(runtime, period)

    def pay() -> str:
        (outcome,) = run_payouts(
            runtime.sessions,
            StripeGateway.from_settings(runtime.settings),
            period,
            thresholds=runtime.settings.payout_thresholds,
        )
        assert outcome.payout_id is not None
        return outcome.payout_id

    connect_double.set_balance("jpy", 0)
    failed = pay()
    connect_double.set_balance("jpy", 10_000_000)
    paid = pay()

    entries = [e for e in audit_entries(client, admin) if e["target_type"] == "payout"]
    assert [(e["action"], e["target_id"]) for e in entries] == [
        ("payout.initiated", failed),
        ("payout.failed", failed),
        ("payout.initiated", paid),
        ("payout.paid", paid),
    ]
    assert all(e["source"] == "system" and e["key_id"] is None for e in entries)
    assert "balance_insufficient" in entries[1]["details"]["failure_reason"]
    assert entries[3]["details"]["transfer_id"].startswith("tr_")
    assert entries[3]["details"]["actor_id"] == actor.actor_id
