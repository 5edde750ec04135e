"""Stripe's webhooks: verified and stored on receipt, processed once by the worker.

Intake checks the `Stripe-Signature` header against the endpoint secrets,
refuses event types VoiceHub does not handle, and stores the event keyed by
Stripe's event id: a redelivered event is stored once and answered the same.
Processing runs on the queue after the intake commits. It takes the event's
row lock, does nothing if the event was processed already, and records what
it did (`outcome`) in the same transaction as the change it made, so each
event moves VoiceHub's state and the ledger exactly once. An event about an
object VoiceHub did not make is kept and marked ignored.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import stripe
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from voicehub.billing.stripe_gateway import StripeNotConfigured
from voicehub.billing.tables import (
    Invoice,
    InvoiceStatus,
    Payout,
    PayoutAccount,
    PayoutStatus,
    StripeEvent,
)
from voicehub.db import transaction, utcnow
from voicehub.errors import VoiceHubError
from voicehub.ledger.service import PLATFORM, Posting, post
from voicehub.ledger.tables import AccountKind, LedgerKind, LedgerTransaction
from voicehub.metering.currency import check_currency, format_minor, micros_per_minor
from voicehub.queue import JobQueue

# Stripe refuses a signature older than this (its own default), so a captured request
# cannot be replayed later.
SIGNATURE_TOLERANCE_SECONDS = 300


class WebhookSignatureInvalid(VoiceHubError):
    status = 400
    code = "webhook_signature_invalid"
    title = "The webhook's signature does not verify"


class WebhookEventUnsupported(VoiceHubError):
    status = 400
    code = "webhook_event_unsupported"
    title = "VoiceHub does not handle this event type"


class WebhookPayloadInvalid(VoiceHubError):
    status = 400
    code = "webhook_payload_invalid"
    title = "The webhook's body is not a Stripe event"


@dataclass(frozen=True)
class Received:
    event_id: str
    type: str
    duplicate: bool


def verify_signature(payload: bytes, signature: str | None, secrets: list[str]) -> None:
    """Pass when one of the endpoint secrets signed `payload` recently; refuse otherwise."""
    if not secrets:
        raise StripeNotConfigured(
            "VOICEHUB_STRIPE_WEBHOOK_SECRET is not set, so no Stripe webhook can be verified."
        )
    if not signature:
        raise WebhookSignatureInvalid("The request has no Stripe-Signature header.")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as error:
        raise WebhookSignatureInvalid(
            "The body is not UTF-8, so it was not signed by Stripe."
        ) from error
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(
                text, signature, secret, SIGNATURE_TOLERANCE_SECONDS
            )
            return
        except stripe.SignatureVerificationError:
            continue
    raise WebhookSignatureInvalid(
        "The Stripe-Signature header does not verify with this endpoint's secret, or its"
        f" timestamp is more than {SIGNATURE_TOLERANCE_SECONDS} seconds old."
    )


def parse_event(payload: bytes) -> dict[str, Any]:
    try:
        event = json.loads(payload)
    except ValueError as error:
        raise WebhookPayloadInvalid("The body is not JSON.") from error
    if (
        not isinstance(event, dict)
        or not isinstance(event.get("id"), str)
        or not event["id"]
        or len(event["id"]) > 255
        or not isinstance(event.get("type"), str)
        or not isinstance(event.get("data"), dict)
        or not isinstance(event["data"].get("object"), dict)
    ):
        raise WebhookPayloadInvalid("The body is not a Stripe event (id, type, data.object).")
    if event["type"] not in HANDLERS:
        raise WebhookEventUnsupported(
            f"VoiceHub does not handle '{event['type'][:100]}' events; subscribe the endpoint"
            f" to {', '.join(HANDLED_EVENTS)} only.",
            handled=list(HANDLED_EVENTS),
        )
    return event


def receive_event(
    session: Session,
    queue: JobQueue,
    *,
    payload: bytes,
    signature: str | None,
    secrets: list[str],
) -> Received:
    """Verify, store once by Stripe's event id, and queue processing after the commit."""
    verify_signature(payload, signature, secrets)
    event = parse_event(payload)
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert  # type: ignore[assignment]
    inserted = session.scalar(
        dialect_insert(StripeEvent)
        .values(
            id=event["id"],
            type=event["type"],
            livemode=bool(event.get("livemode")),
            payload=event,
            received_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(StripeEvent.id)
    )
    if inserted:
        queue.enqueue_stripe_event(session, event["id"])
    return Received(event["id"], event["type"], duplicate=inserted is None)


def process_stripe_event(sessions: sessionmaker[Session], event_id: str) -> str | None:
    """Apply a stored event once; the outcome recorded, or None if there was nothing to do."""
    with transaction(sessions) as session:
        # The write lock first (PostgreSQL: the row; SQLite: the database), so two workers
        # handed the same event cannot both see it unprocessed.
        session.execute(
            update(StripeEvent)
            .where(StripeEvent.id == event_id)
            .values(processed_at=StripeEvent.processed_at)
            .execution_options(synchronize_session=False)
        )
        event = session.get(StripeEvent, event_id, populate_existing=True)
        if event is None or event.processed_at is not None:
            return None
        handler = HANDLERS.get(event.type)
        obj: dict[str, Any] = event.payload["data"]["object"]
        if handler is None:
            outcome = f"ignored: VoiceHub does not handle {event.type}"
        else:
            try:
                # A refusal (an unknown currency, say) rolls back only what the handler did.
                with session.begin_nested():
                    outcome = handler(session, obj)
            except VoiceHubError as error:
                outcome = f"failed: {error.code}: {error.detail}"
        event.processed_at = utcnow()
        event.outcome = outcome
        return outcome


def process_unprocessed(
    sessions: sessionmaker[Session], *, older_than_seconds: float = 0
) -> list[tuple[str, str | None]]:
    """Process the stored events not processed yet (their job lost with a queue outage).

    `older_than_seconds` leaves alone events that arrived just now, whose own job
    is most likely still on its way.
    """
    received_before = utcnow() - dt.timedelta(seconds=older_than_seconds)
    with transaction(sessions) as session:
        ids = list(
            session.scalars(
                select(StripeEvent.id)
                .where(
                    StripeEvent.processed_at.is_(None),
                    StripeEvent.received_at <= received_before,
                )
                .order_by(StripeEvent.received_at, StripeEvent.id)
            )
        )
    return [(event_id, process_stripe_event(sessions, event_id)) for event_id in ids]


def _our_invoice(session: Session, obj: dict[str, Any]) -> Invoice | None:
    return session.scalar(
        select(Invoice).where(Invoice.stripe_invoice_id == str(obj.get("id"))).with_for_update()
    )


def _invoice_paid(session: Session, obj: dict[str, Any]) -> str:
    invoice = _our_invoice(session, obj)
    if invoice is None:
        return f"ignored: no VoiceHub invoice is {obj.get('id')}"
    if invoice.status is InvoiceStatus.PAID:
        return f"ignored: {invoice.id} is paid already"
    currency = check_currency(str(obj.get("currency", "")).upper())
    if currency != invoice.currency:
        return f"ignored: {obj.get('id')} is in {currency}, {invoice.id} in {invoice.currency}"
    amount_paid = obj.get("amount_paid")
    if not isinstance(amount_paid, int) or isinstance(amount_paid, bool) or amount_paid <= 0:
        return f"ignored: {obj.get('id')} reports no amount paid"
    micros = amount_paid * micros_per_minor(currency)
    post(
        session,
        kind=LedgerKind.INVOICE_PAID,
        currency=currency,
        reference=f"invoice_paid:{invoice.stripe_invoice_id}",
        postings=[
            Posting(AccountKind.STRIPE_CLEARING, PLATFORM, micros),
            Posting(AccountKind.STUDIO_RECEIVABLE, invoice.studio_id, -micros),
        ],
        memo=f"{invoice.id} ({invoice.period}) paid at Stripe",
    )
    invoice.status = InvoiceStatus.PAID
    invoice.failure_reason = None
    invoice.updated_at = utcnow()
    short = "" if amount_paid == invoice.amount_minor else f" of {invoice.amount_minor} invoiced"
    return f"posted: {invoice.id} paid {format_minor(amount_paid, currency)} {currency}{short}"


def _invoice_payment_failed(session: Session, obj: dict[str, Any]) -> str:
    invoice = _our_invoice(session, obj)
    if invoice is None:
        return f"ignored: no VoiceHub invoice is {obj.get('id')}"
    if invoice.status not in (
        InvoiceStatus.OPEN,
        InvoiceStatus.PENDING,
        InvoiceStatus.PAYMENT_FAILED,
    ):
        return f"ignored: {invoice.id} is {invoice.status.value}"
    reason = f"payment attempt {obj.get('attempt_count') or 1} failed"
    error = obj.get("last_finalization_error") or {}
    if isinstance(error, dict) and error.get("message"):
        reason += f": {error['message']}"
    if obj.get("next_payment_attempt"):
        reason += "; Stripe will try again"
    invoice.status = InvoiceStatus.PAYMENT_FAILED
    invoice.failure_reason = reason
    invoice.updated_at = utcnow()
    return f"updated: {invoice.id} payment_failed"


def _invoice_closed(status: InvoiceStatus) -> Callable[[Session, dict[str, Any]], str]:
    def handler(session: Session, obj: dict[str, Any]) -> str:
        invoice = _our_invoice(session, obj)
        if invoice is None:
            return f"ignored: no VoiceHub invoice is {obj.get('id')}"
        if invoice.status in (InvoiceStatus.PAID, InvoiceStatus.VOID):
            return f"ignored: {invoice.id} is {invoice.status.value}"
        invoice.status = status
        invoice.updated_at = utcnow()
        return f"updated: {invoice.id} {status.value}"

    return handler


def _account_updated(session: Session, obj: dict[str, Any]) -> str:
    account = session.scalar(
        select(PayoutAccount)
        .where(PayoutAccount.stripe_account_id == str(obj.get("id")))
        .with_for_update()
    )
    if account is None:
        return f"ignored: no actor's payout account is {obj.get('id')}"
    account.details_submitted = bool(obj.get("details_submitted"))
    account.payouts_enabled = bool(obj.get("payouts_enabled"))
    account.updated_at = utcnow()
    return (
        f"updated: {account.actor_id} details_submitted={account.details_submitted}"
        f" payouts_enabled={account.payouts_enabled}"
    )


def _transfer_reversed(session: Session, obj: dict[str, Any]) -> str:
    payout = session.scalar(
        select(Payout).where(Payout.stripe_transfer_id == str(obj.get("id"))).with_for_update()
    )
    if payout is None:
        return f"ignored: no VoiceHub payout made {obj.get('id')}"
    if payout.status is not PayoutStatus.PAID:
        return f"ignored: {payout.id} is {payout.status.value}"
    if obj.get("amount_reversed") != payout.amount_minor:
        # A partial reversal leaves the payout's statements paid; VoiceHub only reverses
        # whole payouts (their statements become payable again), so an operator decides.
        return (
            f"ignored: {obj.get('id')} is reversed {obj.get('amount_reversed')} of"
            f" {payout.amount_minor}; only a full reversal is applied"
        )
    micros = payout.amount_minor * micros_per_minor(payout.currency)
    sent = session.scalar(
        select(LedgerTransaction.id).where(
            LedgerTransaction.reference == f"payout_sent:{payout.id}"
        )
    )
    post(
        session,
        kind=LedgerKind.PAYOUT_REVERSED,
        currency=payout.currency,
        reference=f"payout_reversed:{payout.id}",
        postings=[
            Posting(AccountKind.STRIPE_CLEARING, PLATFORM, micros),
            Posting(AccountKind.ACTOR_ROYALTY_PAYABLE, payout.actor_id, -micros),
        ],
        memo=f"transfer {obj.get('id')} reversed",
        reverses_id=sent,
    )
    payout.status = PayoutStatus.REVERSED
    payout.failure_reason = f"transfer {obj.get('id')} reversed"
    payout.updated_at = utcnow()
    return f"posted: {payout.id} reversed; its statements are payable again"


HANDLERS: dict[str, Callable[[Session, dict[str, Any]], str]] = {
    "invoice.paid": _invoice_paid,
    "invoice.payment_failed": _invoice_payment_failed,
    "invoice.voided": _invoice_closed(InvoiceStatus.VOID),
    "invoice.marked_uncollectible": _invoice_closed(InvoiceStatus.UNCOLLECTIBLE),
    "account.updated": _account_updated,
    "transfer.reversed": _transfer_reversed,
}

HANDLED_EVENTS = tuple(HANDLERS)
