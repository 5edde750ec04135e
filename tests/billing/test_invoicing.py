"""Studios' invoices at Stripe (localstripe): items that sum exactly, sent once, paid by webhook."""

from __future__ import annotations

from typing import Any

import pytest
import stripe
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from tests.billing.conftest import close, deliver, deliver_lines, event, run_cli, this_month
from tests.factories import seed_studio
from voicehub.billing.invoicing import (
    INVOICE_KEY,
    ITEM_KEY,
    _ensure_customer,
    invoice_lines,
    send_invoices,
)
from voicehub.billing.stripe_gateway import StripeGateway
from voicehub.billing.tables import BillingCustomer, Invoice, InvoiceStatus
from voicehub.billing.webhooks import process_stripe_event
from voicehub.db import transaction
from voicehub.ledger.check import check_ledger
from voicehub.ledger.service import PLATFORM, balance_micros
from voicehub.ledger.tables import AccountKind, LedgerKind, LedgerTransaction, PeriodStatement
from voicehub.metering.currency import micros_per_minor
from voicehub.runtime import Runtime

# ¥3,141.592653 per 1,000 characters: lines cost whole yen and a fraction.
PRICE_WITH_FRACTIONS = 3_141_592_653
PROJECTS = {
    "Lighthouse, episode 1": ["The lighthouse is dark tonight.", "Then we sail by the stars."],
    "Harbour, episode 4": ["Hold the rope!"],
}


def _invoice(runtime: Runtime, studio_id: str) -> Invoice:
    with runtime.sessions() as session:
        invoice = session.scalar(select(Invoice).where(Invoice.studio_id == studio_id))
        assert invoice is not None
        return invoice


def _stripe_lines(studio_stripe: stripe.StripeClient, stripe_invoice_id: str) -> list[Any]:
    return [
        line.to_dict() for line in studio_stripe.v1.invoices.line_items.list(stripe_invoice_id).data
    ]


def _pay(studio_stripe: stripe.StripeClient, customer: str, stripe_invoice_id: str) -> Any:
    """The studio pays on Stripe's side: a card as its default, then the invoice."""
    card = studio_stripe.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"},
        }
    )
    studio_stripe.v1.payment_methods.attach(card.id, params={"customer": customer})
    studio_stripe.v1.customers.update(
        customer, params={"invoice_settings": {"default_payment_method": card.id}}
    )
    studio_stripe.v1.invoices.pay(stripe_invoice_id)
    return studio_stripe.v1.invoices.retrieve(stripe_invoice_id).to_dict()


def test_a_closed_month_is_invoiced_item_by_item_sent_once_and_paid_through_a_webhook(
    client: TestClient,
    runtime: Runtime,
    studio_stripe: stripe.StripeClient,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    delivered = deliver_lines(
        client,
        runtime,
        PROJECTS,
        price_per_1k_chars_micros=PRICE_WITH_FRACTIONS,
        actor_share_bps=6667,
    )
    period = this_month()
    close(runtime, period)
    pending = _invoice(runtime, delivered.studio.id)
    assert pending.status is InvoiceStatus.PENDING and pending.amount_minor > 0

    assert run_cli(runtime, monkeypatch, "billing", "send-invoices", "--period", period) == 0
    assert f"{pending.id} {delivered.studio.id}" in capsys.readouterr().out

    sent = _invoice(runtime, delivered.studio.id)
    assert sent.status is InvoiceStatus.OPEN
    assert sent.stripe_invoice_id and sent.hosted_invoice_url
    with runtime.sessions() as session:
        statement = session.get(PeriodStatement, sent.statement_id)
        customer = session.get(BillingCustomer, delivered.studio.id)
        expected = invoice_lines(session, sent)
    assert statement is not None and customer is not None
    lines = _stripe_lines(studio_stripe, sent.stripe_invoice_id)
    assert sum(line["amount"] for line in lines) == sent.amount_minor == statement.payable_minor
    assert {line["metadata"][ITEM_KEY]: line["amount"] for line in lines} == {
        line.key: line.amount_minor for line in expected
    }
    assert {line["metadata"][ITEM_KEY] for line in lines} == {
        *(f"project:{p}" for p in delivered.project_ids),
        "remainder",
    }
    assert all(line["currency"] == "jpy" for line in lines)
    assert statement.carried_out_micros > 0, "the fractions of a yen carry, not invoiced"

    # Run again: nothing is sent twice.
    assert run_cli(runtime, monkeypatch, "billing", "send-invoices", "--period", period) == 0
    assert "0 pending invoice(s)" in capsys.readouterr().out
    invoices = studio_stripe.v1.invoices.list(params={"customer": customer.stripe_customer_id})
    assert [i.id for i in invoices.data] == [sent.stripe_invoice_id]
    assert len(_stripe_lines(studio_stripe, sent.stripe_invoice_id)) == len(lines)

    open_invoice = studio_stripe.v1.invoices.retrieve(sent.stripe_invoice_id).to_dict()
    odd = deliver(client, event("invoice.paid", {**open_invoice, "currency": "xyz"}))
    refused = process_stripe_event(runtime.sessions, odd.json()["id"])
    assert refused is not None and refused.startswith("failed: currency_unsupported")
    assert _invoice(runtime, delivered.studio.id).status is InvoiceStatus.OPEN

    # A first attempt to pay fails...
    failed = deliver(client, event("invoice.payment_failed", open_invoice))
    assert failed.status_code == 202
    process_stripe_event(runtime.sessions, failed.json()["id"])
    after_failure = _invoice(runtime, delivered.studio.id)
    assert after_failure.status is InvoiceStatus.PAYMENT_FAILED
    assert after_failure.failure_reason and "failed" in after_failure.failure_reason

    # ... then the studio pays, and Stripe says so.
    paid = _pay(studio_stripe, customer.stripe_customer_id, sent.stripe_invoice_id)
    assert (paid["status"], paid["amount_paid"]) == ("paid", sent.amount_minor)
    paid_event = event("invoice.paid", paid)
    response = deliver(client, paid_event)
    assert response.status_code == 202
    outcome = process_stripe_event(runtime.sessions, str(paid_event["id"]))
    assert outcome is not None and outcome.startswith("posted:")
    assert deliver(client, paid_event).json()["duplicate"] is True

    late_failure = deliver(client, event("invoice.payment_failed", open_invoice))
    assert process_stripe_event(runtime.sessions, late_failure.json()["id"]) == (
        f"ignored: {sent.id} is paid"
    )
    assert _invoice(runtime, delivered.studio.id).status is InvoiceStatus.PAID

    micros = sent.amount_minor * micros_per_minor("JPY")
    with runtime.sessions() as session:
        postings = session.scalars(
            select(LedgerTransaction).where(LedgerTransaction.kind == LedgerKind.INVOICE_PAID)
        ).all()
        assert [p.reference for p in postings] == [f"invoice_paid:{sent.stripe_invoice_id}"]
        assert balance_micros(session, AccountKind.STRIPE_CLEARING, PLATFORM, "JPY") == micros
        # What is left owed is exactly the sub-yen remainder carried to next month.
        assert (
            balance_micros(session, AccountKind.STUDIO_RECEIVABLE, delivered.studio.id, "JPY")
            == statement.carried_out_micros
        )
        assert check_ledger(session).ok

    listed = client.get(
        "/v1/invoices", params={"period": period}, headers=delivered.studio.headers
    ).json()
    assert [(i["id"], i["status"], i["amount_minor"]) for i in listed["data"]] == [
        (sent.id, "paid", sent.amount_minor)
    ]
    one = client.get(f"/v1/invoices/{sent.id}", headers=delivered.studio.headers)
    assert one.json()["hosted_invoice_url"] == sent.hosted_invoice_url
    stranger = seed_studio(runtime, name="Another studio")
    assert client.get(f"/v1/invoices/{sent.id}", headers=stranger.headers).status_code == 404
    assert client.get("/v1/invoices", headers=stranger.headers).json()["data"] == []


def test_a_run_stopped_midway_is_finished_without_a_second_item_or_invoice(
    client: TestClient, runtime: Runtime, studio_stripe: stripe.StripeClient
) -> None:
    delivered = deliver_lines(
        client,
        runtime,
        PROJECTS,
        price_per_1k_chars_micros=PRICE_WITH_FRACTIONS,
        actor_share_bps=6667,
    )
    period = this_month()
    close(runtime, period)
    invoice = _invoice(runtime, delivered.studio.id)
    gateway = StripeGateway.from_settings(runtime.settings)
    # A run that stopped after the customer and the first item.
    customer = _ensure_customer(runtime.sessions, gateway, delivered.studio.id, "Studio")
    with runtime.sessions() as session:
        first = invoice_lines(session, invoice)[0]
    gateway.create_invoice_item(
        customer=customer,
        amount_minor=first.amount_minor,
        currency="JPY",
        description=first.description,
        metadata={INVOICE_KEY: invoice.id, ITEM_KEY: first.key},
        idempotency_key=f"invoice_item:{invoice.id}:{first.key}",
    )

    (outcome,) = send_invoices(runtime.sessions, gateway, period, days_until_due=30)

    assert outcome.result == "sent", outcome
    sent = _invoice(runtime, delivered.studio.id)
    assert sent.stripe_invoice_id is not None
    lines = _stripe_lines(studio_stripe, sent.stripe_invoice_id)
    keys = [line["metadata"][ITEM_KEY] for line in lines]
    assert sorted(keys) == sorted(set(keys)), "no item twice"
    assert sum(line["amount"] for line in lines) == invoice.amount_minor

    # A run that made the invoice at Stripe but stopped before VoiceHub stored it.
    with transaction(runtime.sessions) as session:
        session.execute(
            update(Invoice)
            .where(Invoice.id == invoice.id)
            .values(status=InvoiceStatus.PENDING, stripe_invoice_id=None, hosted_invoice_url=None)
        )
    (again,) = send_invoices(runtime.sessions, gateway, period, days_until_due=30)

    assert (again.result, again.stripe_invoice_id) == ("sent", sent.stripe_invoice_id)
    assert _invoice(runtime, delivered.studio.id).status is InvoiceStatus.OPEN
    invoices = studio_stripe.v1.invoices.list(params={"customer": customer})
    assert [i.id for i in invoices.data] == [sent.stripe_invoice_id]


def test_an_invoice_whose_items_do_not_sum_to_the_statement_is_never_finalized(
    client: TestClient, runtime: Runtime, studio_stripe: stripe.StripeClient
) -> None:
    delivered = deliver_lines(
        client,
        runtime,
        PROJECTS,
        price_per_1k_chars_micros=PRICE_WITH_FRACTIONS,
        actor_share_bps=6667,
    )
    period = this_month()
    close(runtime, period)
    gateway = StripeGateway.from_settings(runtime.settings)
    customer = _ensure_customer(runtime.sessions, gateway, delivered.studio.id, "Studio")
    # Something else left an item pending on the studio's customer.
    studio_stripe.v1.invoice_items.create(
        params={"customer": customer, "amount": 700, "currency": "jpy", "description": "stray"}
    )

    (outcome,) = send_invoices(runtime.sessions, gateway, period, days_until_due=30)

    assert outcome.result == "failed"
    assert outcome.detail.startswith("invoice_total_mismatch")
    invoice = _invoice(runtime, delivered.studio.id)
    assert invoice.status is InvoiceStatus.PENDING
    assert invoice.failure_reason and "left in draft" in invoice.failure_reason
    assert invoice.stripe_invoice_id is not None
    at_stripe = studio_stripe.v1.invoices.retrieve(invoice.stripe_invoice_id)
    assert at_stripe.status == "draft"
    assert at_stripe.subtotal == invoice.amount_minor + 700


def test_with_stripe_unreachable_invoices_wait_for_the_next_run(
    client: TestClient,
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    delivered = deliver_lines(
        client,
        runtime,
        {"Pilot": ["Hold the rope!"]},
        price_per_1k_chars_micros=PRICE_WITH_FRACTIONS,
        actor_share_bps=6667,
    )
    period = this_month()
    close(runtime, period)
    runtime.settings = runtime.settings.model_copy(update={"stripe_api_base": "http://127.0.0.1:9"})

    assert run_cli(runtime, monkeypatch, "billing", "send-invoices", "--period", period) == 1

    assert "failed (stripe_unavailable" in capsys.readouterr().out
    invoice = _invoice(runtime, delivered.studio.id)
    assert (invoice.status, invoice.stripe_invoice_id) == (InvoiceStatus.PENDING, None)
    with runtime.sessions() as session:
        assert session.get(BillingCustomer, delivered.studio.id) is None
