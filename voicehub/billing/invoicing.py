"""Sending a closed period's studio invoices to Stripe, item by item, summing exactly.

Closing a period (`voicehub.ledger.periods.close_period`) writes one `Invoice`
row per studio statement. Sending one makes sure the studio has a Stripe
customer, adds one invoice item per project the studio used in the period
(plus what refunds, corrections and carried sub-unit remainders change), makes
the invoice from those items and finalizes it, so Stripe sends it to the
studio. The items always add up to the statement's payable amount: Stripe's
subtotal is checked against it before the invoice is finalized.

Each step commits before the next call to Stripe, so a run stopped anywhere
can be run again: every object it made is found again at Stripe (by the
idempotency key, or by the invoice id in its metadata) instead of being made
twice. This runs outside a request, so it owns its transactions.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from voicehub.billing.stripe_gateway import (
    StripeGateway,
    StripeInvoice,
    StripeRefused,
    StripeUnavailable,
)
from voicehub.billing.tables import BillingCustomer, Invoice, InvoiceStatus
from voicehub.db import transaction, utcnow
from voicehub.errors import Conflict, NotFound
from voicehub.ledger.service import check_period, insert_ignore
from voicehub.ledger.tables import PeriodStatement
from voicehub.metering.currency import format_micros, format_minor, micros_per_minor
from voicehub.metering.tables import UsageRecord
from voicehub.production.tables import Project
from voicehub.tenancy.tables import Studio

# Metadata keys VoiceHub puts on its Stripe objects, to find them again.
INVOICE_KEY = "voicehub_invoice_id"
ITEM_KEY = "voicehub_item"


class InvoiceTotalMismatch(Conflict):
    code = "invoice_total_mismatch"
    title = "Stripe's invoice does not total the statement"


@dataclass(frozen=True)
class InvoiceLine:
    """One invoice item: `key` names it among the invoice's items, once only."""

    key: str
    description: str
    amount_minor: int


@dataclass(frozen=True)
class InvoiceOutcome:
    invoice_id: str
    studio_id: str
    currency: str
    amount_minor: int
    # "sent", "already_sent", "failed" or "skipped".
    result: str
    detail: str = ""
    stripe_invoice_id: str | None = None


def _toward_zero(micros: int, unit: int) -> int:
    return micros // unit if micros >= 0 else -(-micros // unit)


def invoice_lines(session: Session, invoice: Invoice) -> list[InvoiceLine]:
    """The invoice's items: one per project, refunds and corrections, then the remainder.

    Each project's usage in the period is rounded down to the minor unit; the
    last item, the sub-unit remainder, is whatever makes the items add up to
    the statement's payable amount exactly: the fractions rounded off the lines
    above and the remainder carried in from earlier periods, less what is
    carried on to the next.
    """
    statement = session.get(PeriodStatement, invoice.statement_id)
    if statement is None:
        raise NotFound(f"Invoice {invoice.id} has no statement {invoice.statement_id}.")
    unit = micros_per_minor(invoice.currency)
    projects = session.execute(
        select(
            UsageRecord.project_id,
            Project.name,
            func.count(),
            func.sum(UsageRecord.characters),
            func.sum(UsageRecord.amount_micros),
        )
        .join(Project, Project.id == UsageRecord.project_id)
        .where(
            UsageRecord.period == invoice.period,
            UsageRecord.studio_id == invoice.studio_id,
            UsageRecord.currency == invoice.currency,
        )
        .group_by(UsageRecord.project_id, Project.name)
        .order_by(Project.name, UsageRecord.project_id)
    ).all()
    lines = []
    used_micros = 0
    for project_id, name, count, characters, amount in projects:
        used_micros += int(amount)
        lines.append(
            InvoiceLine(
                key=f"project:{project_id}",
                description=(
                    f"{name[:200]}: {count} lines, {int(characters)} characters, {invoice.period}"
                ),
                amount_minor=int(amount) // unit,
            )
        )
    adjustments = statement.accrued_micros - used_micros
    if adjustments:
        lines.append(
            InvoiceLine(
                key="adjustments",
                description=(
                    f"Refunds and corrections in {invoice.period}"
                    f" ({format_micros(adjustments)} {invoice.currency})"
                ),
                amount_minor=_toward_zero(adjustments, unit),
            )
        )
    remainder = invoice.amount_minor - sum(line.amount_minor for line in lines)
    if remainder:
        lines.append(
            InvoiceLine(
                key="remainder",
                description=(
                    "Sub-unit remainder: fractions of a minor unit from the items above and"
                    f" {format_micros(statement.carried_in_micros)} {invoice.currency} carried"
                    f" from earlier periods; {format_micros(statement.carried_out_micros)}"
                    " carried to the next"
                ),
                amount_minor=remainder,
            )
        )
    return [line for line in lines if line.amount_minor != 0]


def send_invoices(
    sessions: sessionmaker[Session], gateway: StripeGateway, period: str, *, days_until_due: int
) -> list[InvoiceOutcome]:
    """Send every pending invoice of `period` to Stripe; safe to run again.

    Invoices go one at a time, in studio order. When one of a studio's fails,
    its other invoices wait for the next run: a studio's invoice items are
    pending on its one Stripe customer until their invoice is made, and must
    not be swept into another currency's invoice.
    """
    check_period(period)
    with transaction(sessions) as session:
        pending = session.execute(
            select(Invoice.id, Invoice.studio_id, Invoice.currency, Invoice.amount_minor)
            .where(Invoice.period == period, Invoice.status == InvoiceStatus.PENDING)
            .order_by(Invoice.studio_id, Invoice.currency, Invoice.id)
        ).all()
    outcomes = []
    failed_studios: set[str] = set()
    for invoice_id, studio_id, currency, amount in pending:
        if studio_id in failed_studios:
            outcomes.append(
                InvoiceOutcome(
                    invoice_id,
                    studio_id,
                    currency,
                    amount,
                    "skipped",
                    "an earlier invoice of this studio was not sent; run again",
                )
            )
            continue
        try:
            outcomes.append(send_invoice(sessions, gateway, invoice_id, days_until_due))
        except (StripeUnavailable, StripeRefused, InvoiceTotalMismatch) as error:
            failed_studios.add(studio_id)
            outcomes.append(
                InvoiceOutcome(
                    invoice_id, studio_id, currency, amount, "failed", f"{error.code}: {error}"
                )
            )
    return outcomes


def send_invoice(
    sessions: sessionmaker[Session], gateway: StripeGateway, invoice_id: str, days_until_due: int
) -> InvoiceOutcome:
    """Send one pending invoice: customer, items, invoice, finalize; each step found if done."""
    with transaction(sessions) as session:
        invoice = session.get(Invoice, invoice_id)
        if invoice is None:
            raise NotFound(f"No invoice {invoice_id}.")
        if invoice.status is not InvoiceStatus.PENDING:
            return InvoiceOutcome(
                invoice.id,
                invoice.studio_id,
                invoice.currency,
                invoice.amount_minor,
                "already_sent",
                invoice.status.value,
                invoice.stripe_invoice_id,
            )
        lines = invoice_lines(session, invoice)
        customer = session.scalar(
            select(BillingCustomer.stripe_customer_id).where(
                BillingCustomer.studio_id == invoice.studio_id
            )
        )
        studio_name = session.scalar(select(Studio.name).where(Studio.id == invoice.studio_id))
        session.expunge(invoice)
    if customer is None:
        customer = _ensure_customer(sessions, gateway, invoice.studio_id, studio_name or "")

    if invoice.stripe_invoice_id is not None:
        stripe_invoice = gateway.retrieve_invoice(invoice.stripe_invoice_id)
    else:
        found = gateway.find_invoice(customer, INVOICE_KEY, invoice.id)
        stripe_invoice = found or _create_stripe_invoice(
            gateway, invoice, customer, lines, days_until_due
        )
        with transaction(sessions) as session:
            session.execute(
                update(Invoice)
                .where(Invoice.id == invoice.id, Invoice.stripe_invoice_id.is_(None))
                .values(stripe_invoice_id=stripe_invoice.id, updated_at=utcnow())
            )

    if (
        stripe_invoice.subtotal != invoice.amount_minor
        or stripe_invoice.currency != invoice.currency
    ):
        reason = (
            f"Stripe's invoice {stripe_invoice.id} totals"
            f" {format_minor(stripe_invoice.subtotal, invoice.currency)}"
            f" {stripe_invoice.currency}, the statement"
            f" {format_minor(invoice.amount_minor, invoice.currency)} {invoice.currency};"
            " it is left in draft for an operator to look at."
        )
        with transaction(sessions) as session:
            session.execute(
                update(Invoice)
                .where(Invoice.id == invoice.id)
                .values(failure_reason=reason, updated_at=utcnow())
            )
        raise InvoiceTotalMismatch(reason, invoice_id=invoice.id)

    if stripe_invoice.status == "draft":
        stripe_invoice = gateway.finalize_invoice(
            stripe_invoice.id, idempotency_key=f"invoice_finalize:{invoice.id}"
        )
    with transaction(sessions) as session:
        # Only from pending: a webhook may already have moved it on (paid, for one).
        session.execute(
            update(Invoice)
            .where(Invoice.id == invoice.id, Invoice.status == InvoiceStatus.PENDING)
            .values(
                status=InvoiceStatus.OPEN,
                hosted_invoice_url=stripe_invoice.hosted_invoice_url,
                failure_reason=None,
                updated_at=utcnow(),
            )
        )
    return InvoiceOutcome(
        invoice.id,
        invoice.studio_id,
        invoice.currency,
        invoice.amount_minor,
        "sent",
        f"{len(lines)} items",
        stripe_invoice.id,
    )


def _ensure_customer(
    sessions: sessionmaker[Session], gateway: StripeGateway, studio_id: str, name: str
) -> str:
    customer = gateway.create_customer(studio_id=studio_id, name=name)
    with transaction(sessions) as session:
        insert_ignore(
            session,
            BillingCustomer,
            {"studio_id": studio_id, "stripe_customer_id": customer, "created_at": utcnow()},
        )
        stored = session.scalar(
            select(BillingCustomer.stripe_customer_id).where(BillingCustomer.studio_id == studio_id)
        )
    return stored or customer


def _create_stripe_invoice(
    gateway: StripeGateway,
    invoice: Invoice,
    customer: str,
    lines: list[InvoiceLine],
    days_until_due: int,
) -> StripeInvoice:
    """The items not yet pending at Stripe, then the invoice that takes them all in."""
    pending = {
        item.metadata.get(ITEM_KEY)
        for item in gateway.pending_invoice_items(customer)
        if item.metadata.get(INVOICE_KEY) == invoice.id
    }
    for line in lines:
        if line.key in pending:
            continue
        gateway.create_invoice_item(
            customer=customer,
            amount_minor=line.amount_minor,
            currency=invoice.currency,
            description=line.description,
            metadata={
                INVOICE_KEY: invoice.id,
                ITEM_KEY: line.key,
                "voicehub_period": invoice.period,
            },
            idempotency_key=f"invoice_item:{invoice.id}:{line.key}",
        )
    return gateway.create_invoice(
        customer=customer,
        currency=invoice.currency,
        description=f"VoiceHub usage, {invoice.period}",
        metadata={
            INVOICE_KEY: invoice.id,
            "voicehub_statement_id": invoice.statement_id,
            "voicehub_period": invoice.period,
        },
        days_until_due=days_until_due,
        idempotency_key=f"invoice:{invoice.id}",
    )
