"""Stripe's side of the money: its webhooks, studios' invoices, actors' payout accounts and payouts."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import ActorConsent, ActorRead, RawBody, RuntimeDep, SessionDep, StudioBilling
from api.schemas import Page
from voicehub.billing.payouts import account_problem, threshold_minor, unpaid_statements
from voicehub.billing.stripe_gateway import StripeGateway
from voicehub.billing.tables import Invoice, Payout, PayoutAccount
from voicehub.billing.webhooks import receive_event
from voicehub.db import utcnow
from voicehub.errors import Conflict, InvalidInput, NotFound
from voicehub.ledger.service import check_period, insert_ignore
from voicehub.ledger.tables import AccountKind, LedgerAccount
from voicehub.metering.currency import micros_per_minor
from voicehub.pagination import paginate
from voicehub.settings import Settings
from voicehub.tenancy.scope import owned

router = APIRouter(tags=["billing"])

WEBHOOK_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "object"},
                "example": {
                    "id": "evt_1Pgc76B7WZ01zgkWwyRHS12y",
                    "object": "event",
                    "type": "invoice.paid",
                    "livemode": False,
                    "created": 1764201600,
                    "data": {
                        "object": {
                            "id": "in_1Pgc6tB7WZ01zgkWu9fdqL6I",
                            "object": "invoice",
                            "amount_paid": 12345,
                            "currency": "jpy",
                            "status": "paid",
                        }
                    },
                },
            }
        },
    }
}


class StripeEventReceivedOut(BaseModel):
    id: str = Field(description="Stripe's event id.")
    type: str
    duplicate: bool = Field(description="The event was received before; it is processed once.")


@router.post(
    "/v1/stripe/webhooks",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Stripe's webhook endpoint (signed by Stripe; no API key)",
    openapi_extra=WEBHOOK_BODY,
)
def stripe_webhook(
    body: RawBody,
    session: SessionDep,
    runtime: RuntimeDep,
    stripe_signature: Annotated[str | None, Header(alias="Stripe-Signature")] = None,
) -> StripeEventReceivedOut:
    """Verified with the endpoint's secret, stored once by event id, processed by the worker.

    Only the events VoiceHub handles are accepted; subscribe the endpoint to those.
    """
    received = receive_event(
        session,
        runtime.queue,
        payload=body,
        signature=stripe_signature,
        secrets=runtime.settings.stripe_webhook_secrets,
    )
    return StripeEventReceivedOut(
        id=received.event_id, type=received.type, duplicate=received.duplicate
    )


class InvoiceOut(BaseModel):
    id: str
    period: str = Field(description="The billing month, YYYY-MM.")
    currency: str
    amount_minor: int = Field(description="The statement's payable amount, in the minor unit.")
    status: str = Field(
        description=(
            "pending (closed, not yet sent), open (sent, awaiting payment), paid,"
            " payment_failed, void, uncollectible, or nothing_due (the period rounds to zero;"
            " its remainder carries)."
        )
    )
    statement_id: str
    hosted_invoice_url: str | None = Field(description="Stripe's page to view and pay it.")
    stripe_invoice_id: str | None
    failure_reason: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


def invoice_out(invoice: Invoice) -> InvoiceOut:
    return InvoiceOut(
        id=invoice.id,
        period=invoice.period,
        currency=invoice.currency,
        amount_minor=invoice.amount_minor,
        status=invoice.status.value,
        statement_id=invoice.statement_id,
        hosted_invoice_url=invoice.hosted_invoice_url,
        stripe_invoice_id=invoice.stripe_invoice_id,
        failure_reason=invoice.failure_reason,
        created_at=invoice.created_at,
        updated_at=invoice.updated_at,
    )


@router.get("/v1/invoices", summary="List the studio's invoices")
def list_invoices(
    session: SessionDep,
    caller: StudioBilling,
    period: Annotated[str | None, Query(description="YYYY-MM")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    starting_after: str | None = None,
) -> Page[InvoiceOut]:
    query = owned(Invoice, caller.studio_id)
    if period is not None:
        query = query.where(Invoice.period == check_period(period))
    rows, has_more = paginate(
        session,
        query,
        id_column=Invoice.id,
        order_column=Invoice.created_at,
        limit=limit,
        starting_after=starting_after,
    )
    return Page[InvoiceOut](data=[invoice_out(i) for i in rows], has_more=has_more)


@router.get("/v1/invoices/{invoice_id}", summary="One of the studio's invoices")
def get_invoice(invoice_id: str, session: SessionDep, caller: StudioBilling) -> InvoiceOut:
    invoice = session.scalar(owned(Invoice, caller.studio_id).where(Invoice.id == invoice_id))
    if invoice is None:
        raise NotFound(f"No invoice {invoice_id}.")
    return invoice_out(invoice)


class PayoutAccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"country": "JP"}]})

    country: str = Field(
        default="JP",
        description="Where the actor lives, ISO 3166-1 alpha-2. Fixed once the account exists.",
    )


class PayoutThresholdOut(BaseModel):
    currency: str
    minimum_minor: int = Field(description="Payouts start once this much is payable.")


class PayoutBalanceOut(BaseModel):
    currency: str
    payable_minor: int = Field(
        description="Royalties of closed months not paid out yet: what the next payout pays."
    )
    threshold_minor: int
    accruing_micros: int = Field(
        description=(
            "Royalties of the month still open, and sub-unit remainders carried: payable once"
            " their month closes."
        )
    )
    paid_at_next_run: bool
    held_because: Literal["below_threshold", "payout_account_unverified"] | None = Field(
        description="Why the payable amount would not be paid at the next payout run."
    )


class PayoutAccountOut(BaseModel):
    status: Literal["not_opened", "onboarding", "verified"] = Field(
        description=(
            "not_opened: no payout account yet. onboarding: Stripe still needs details"
            " (follow a fresh onboarding link). verified: payouts can be made."
        )
    )
    stripe_account_id: str | None
    country: str | None
    details_submitted: bool
    payouts_enabled: bool
    onboarding_url: str | None = Field(
        default=None,
        description="Only when opening or resuming onboarding: Stripe's page, single use.",
    )
    onboarding_url_expires_at: dt.datetime | None = None
    balances: list[PayoutBalanceOut]
    payout_thresholds: list[PayoutThresholdOut]


def payout_account_out(session: Session, settings: Settings, actor_id: str) -> PayoutAccountOut:
    account = session.get(PayoutAccount, actor_id)
    thresholds = settings.payout_thresholds
    unpaid = {
        currency: sum(s.payable_minor for s in statements)
        for (_, currency), statements in unpaid_statements(session, actor_id=actor_id).items()
    }
    ledger = {
        currency: int(balance)
        for currency, balance in session.execute(
            select(LedgerAccount.currency, LedgerAccount.balance_micros).where(
                LedgerAccount.kind == AccountKind.ACTOR_ROYALTY_PAYABLE,
                LedgerAccount.owner_id == actor_id,
            )
        )
    }
    problem = account_problem(account)
    balances = []
    for currency in sorted(set(unpaid) | set(ledger)):
        payable = unpaid.get(currency, 0)
        owed_micros = -int(ledger.get(currency, 0))
        minimum = threshold_minor(thresholds, currency)
        held: Literal["below_threshold", "payout_account_unverified"] | None = None
        if payable < minimum:
            held = "below_threshold"
        elif problem is not None:
            held = "payout_account_unverified"
        balances.append(
            PayoutBalanceOut(
                currency=currency,
                payable_minor=payable,
                threshold_minor=minimum,
                accruing_micros=owed_micros - payable * micros_per_minor(currency),
                paid_at_next_run=held is None,
                held_because=held,
            )
        )
    return PayoutAccountOut(
        status=(
            "not_opened"
            if account is None
            else "verified"
            if account.payouts_enabled
            else "onboarding"
        ),
        stripe_account_id=account.stripe_account_id if account else None,
        country=account.country if account else None,
        details_submitted=bool(account and account.details_submitted),
        payouts_enabled=bool(account and account.payouts_enabled),
        balances=balances,
        payout_thresholds=[
            PayoutThresholdOut(currency=c, minimum_minor=m) for c, m in sorted(thresholds.items())
        ],
    )


@router.post(
    "/v1/actor/payout-account",
    status_code=status.HTTP_201_CREATED,
    summary="Open my payout account (Stripe Connect Express) and get its onboarding link",
    tags=["actor"],
)
def open_payout_account(
    session: SessionDep,
    runtime: RuntimeDep,
    caller: ActorConsent,
    response: Response,
    body: PayoutAccountIn | None = None,
) -> PayoutAccountOut:
    """201 when the account is opened; 200 with a fresh link for it on every later call."""
    country = (body or PayoutAccountIn()).country
    if len(country) != 2 or not country.isascii() or not country.isalpha():
        raise InvalidInput(
            f"'{country}' is not an ISO 3166-1 alpha-2 country code such as JP.",
            fields=["country"],
        )
    country = country.upper()
    gateway = StripeGateway.from_settings(runtime.settings)
    account = session.get(PayoutAccount, caller.actor_id)
    if account is not None and account.country != country:
        raise Conflict(
            f"Your payout account was opened in {account.country}; its country cannot change.",
            fields=["country"],
        )
    if account is None:
        opened = gateway.create_express_account(actor_id=caller.actor_id, country=country)
        now = utcnow()
        # A request at the same moment got the same account (same idempotency key).
        insert_ignore(
            session,
            PayoutAccount,
            {
                "actor_id": caller.actor_id,
                "stripe_account_id": opened.id,
                "country": opened.country or country,
                "details_submitted": opened.details_submitted,
                "payouts_enabled": opened.payouts_enabled,
                "created_at": now,
                "updated_at": now,
            },
        )
        account = session.get(PayoutAccount, caller.actor_id)
        assert account is not None
    else:
        response.status_code = status.HTTP_200_OK
    link = gateway.create_account_link(
        account_id=account.stripe_account_id,
        return_url=runtime.settings.stripe_onboarding_return_url,
        refresh_url=runtime.settings.stripe_onboarding_refresh_url,
    )
    out = payout_account_out(session, runtime.settings, caller.actor_id)
    out.onboarding_url = link.url
    out.onboarding_url_expires_at = dt.datetime.fromtimestamp(link.expires_at, dt.UTC)
    return out


@router.get(
    "/v1/actor/payout-account",
    summary="My payout account, what is payable and the payout thresholds",
    tags=["actor"],
)
def get_payout_account(
    session: SessionDep, runtime: RuntimeDep, caller: ActorRead
) -> PayoutAccountOut:
    return payout_account_out(session, runtime.settings, caller.actor_id)


class PayoutOut(BaseModel):
    id: str
    period: str = Field(description="The last month whose statements it pays.")
    currency: str
    amount_minor: int
    status: str = Field(description="pending, paid, failed (payable again) or reversed.")
    statement_ids: list[str]
    transfer_group: str
    stripe_transfer_id: str | None
    failure_reason: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


@router.get("/v1/actor/payouts", summary="My payouts", tags=["actor"])
def list_payouts(
    session: SessionDep,
    caller: ActorRead,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    starting_after: str | None = None,
) -> Page[PayoutOut]:
    rows, has_more = paginate(
        session,
        select(Payout).where(Payout.actor_id == caller.actor_id),
        id_column=Payout.id,
        order_column=Payout.created_at,
        limit=limit,
        starting_after=starting_after,
    )
    return Page[PayoutOut](
        data=[
            PayoutOut(
                id=p.id,
                period=p.period,
                currency=p.currency,
                amount_minor=p.amount_minor,
                status=p.status.value,
                statement_ids=list(p.statement_ids),
                transfer_group=p.transfer_group,
                stripe_transfer_id=p.stripe_transfer_id,
                failure_reason=p.failure_reason,
                created_at=p.created_at,
                updated_at=p.updated_at,
            )
            for p in rows
        ],
        has_more=has_more,
    )
