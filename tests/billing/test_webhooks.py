"""Stripe's webhooks: signed, stored once by event id, refused when unsigned or unknown."""

from __future__ import annotations

import json
import time

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.billing.conftest import CONNECT_WEBHOOK_SECRET, deliver, event, sign
from tests.billing.stripe_connect_double import ConnectDouble, template
from tests.factories import seed_voice
from voicehub.billing.tables import PayoutAccount, StripeEvent
from voicehub.billing.webhooks import HANDLED_EVENTS, process_stripe_event
from voicehub.ledger.tables import LedgerTransaction
from voicehub.runtime import Runtime


def _count(runtime: Runtime, model: type[StripeEvent] | type[LedgerTransaction]) -> int:
    with runtime.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _unknown_invoice_paid() -> dict[str, object]:
    invoice = template("invoice")
    invoice.update(id="in_NeverMadeByVoiceHub", status="paid", amount_paid=1000, currency="jpy")
    return event("invoice.paid", invoice)


def test_a_signed_event_is_stored_once_and_a_redelivery_is_answered_the_same(
    client: TestClient, runtime: Runtime
) -> None:
    payload = _unknown_invoice_paid()

    first = deliver(client, payload)
    again = deliver(client, payload)

    assert (first.status_code, again.status_code) == (202, 202)
    assert first.json() == {"id": payload["id"], "type": "invoice.paid", "duplicate": False}
    assert again.json()["duplicate"] is True
    with runtime.sessions() as session:
        stored = session.scalars(select(StripeEvent)).all()
    assert [(e.id, e.type, e.processed_at) for e in stored] == [
        (payload["id"], "invoice.paid", None)
    ]
    assert stored[0].payload == payload
    assert runtime.queue.pending() == 1, "one processing job, for the first delivery only"


def test_an_event_about_an_invoice_voicehub_never_made_is_kept_and_ignored(
    client: TestClient, runtime: Runtime
) -> None:
    payload = _unknown_invoice_paid()
    assert deliver(client, payload).status_code == 202

    outcome = process_stripe_event(runtime.sessions, str(payload["id"]))

    assert outcome == "ignored: no VoiceHub invoice is in_NeverMadeByVoiceHub"
    assert _count(runtime, LedgerTransaction) == 0, "nothing posted"
    with runtime.sessions() as session:
        stored = session.get(StripeEvent, payload["id"])
        assert stored is not None and stored.processed_at is not None
        assert stored.outcome == outcome
    assert process_stripe_event(runtime.sessions, str(payload["id"])) is None, "processed once"


def test_a_bad_missing_or_stale_signature_is_refused_and_nothing_is_stored(
    client: TestClient, runtime: Runtime
) -> None:
    payload = _unknown_invoice_paid()
    body = json.dumps(payload).encode()
    tampered = body.replace(b"1000", b"9000")
    attempts = {
        "another secret": {"Stripe-Signature": sign(body, "whsec_someone_else")},
        "tampered body": {"Stripe-Signature": sign(body)},
        "no header": {},
        "garbage header": {"Stripe-Signature": "t=abc,v1"},
        "ten minutes old": {"Stripe-Signature": sign(body, timestamp=int(time.time()) - 600)},
    }
    for name, headers in attempts.items():
        content = tampered if name == "tampered body" else body
        response = client.post("/v1/stripe/webhooks", content=content, headers=headers)

        assert response.status_code == 400, name
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "webhook_signature_invalid", name

    not_utf8 = b"\xff\xfe" + body
    response = client.post(
        "/v1/stripe/webhooks", content=not_utf8, headers={"Stripe-Signature": sign(not_utf8)}
    )
    assert (response.status_code, response.json()["code"]) == (400, "webhook_signature_invalid")
    assert _count(runtime, StripeEvent) == 0
    assert runtime.queue.pending() == 0


def test_an_event_type_voicehub_does_not_handle_is_refused_naming_those_it_does(
    client: TestClient, runtime: Runtime
) -> None:
    response = deliver(client, event("customer.created", {"id": "cus_1", "object": "customer"}))

    assert response.status_code == 400
    problem = response.json()
    assert problem["code"] == "webhook_event_unsupported"
    assert "customer.created" in problem["detail"]
    assert problem["handled"] == list(HANDLED_EVENTS)
    assert "invoice.paid" in problem["handled"] and "account.updated" in problem["handled"]
    assert _count(runtime, StripeEvent) == 0

    signed_nonsense = b'{"hello": "world"}'
    response = client.post(
        "/v1/stripe/webhooks",
        content=signed_nonsense,
        headers={"Stripe-Signature": sign(signed_nonsense)},
    )
    assert (response.status_code, response.json()["code"]) == (400, "webhook_payload_invalid")
    assert _count(runtime, StripeEvent) == 0


def test_without_an_endpoint_secret_no_webhook_is_accepted(
    client: TestClient, runtime: Runtime
) -> None:
    runtime.settings = runtime.settings.model_copy(update={"stripe_webhook_secret": ""})

    response = deliver(client, _unknown_invoice_paid())

    assert (response.status_code, response.json()["code"]) == (503, "stripe_not_configured")
    assert _count(runtime, StripeEvent) == 0


def test_the_worker_applies_account_updated_from_the_connect_endpoint(
    client: TestClient, runtime: Runtime, connect_double: ConnectDouble, worker: None
) -> None:
    actor = seed_voice(runtime)
    opened = client.post(
        "/v1/actor/payout-account", json={"country": "JP"}, headers=actor.actor_headers
    )
    assert opened.status_code == 201, opened.text
    account_id = opened.json()["stripe_account_id"]
    onboarded = connect_double.onboard(account_id)

    # Connect events come from the Connect endpoint, which has a secret of its own.
    response = deliver(client, event("account.updated", onboarded), CONNECT_WEBHOOK_SECRET)
    assert response.status_code == 202, response.text

    deadline = time.monotonic() + 30
    while True:
        with runtime.sessions() as session:
            stored = session.get(StripeEvent, response.json()["id"])
            account = session.get(PayoutAccount, actor.actor_id)
        assert stored is not None and account is not None
        if stored.processed_at is not None or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert stored.outcome is not None and stored.outcome.startswith("updated:")
    assert (account.details_submitted, account.payouts_enabled) == (True, True)
    shown = client.get("/v1/actor/payout-account", headers=actor.actor_headers).json()
    assert (shown["status"], shown["payouts_enabled"]) == ("verified", True)
