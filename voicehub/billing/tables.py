"""What VoiceHub keeps of its Stripe objects, and every Stripe event it was sent."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, BigInteger, Enum, ForeignKey, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from voicehub.db import Base, UTCDateTime, utcnow


class BillingCustomer(Base):
    """A studio's Stripe customer."""

    __tablename__ = "billing_customers"

    studio_id: Mapped[str] = mapped_column(ForeignKey("studios.id"), primary_key=True)
    stripe_customer_id: Mapped[str] = mapped_column(String(255), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class PayoutAccount(Base):
    """An actor's Stripe Connect (Express) account and how far its onboarding has got."""

    __tablename__ = "payout_accounts"

    actor_id: Mapped[str] = mapped_column(ForeignKey("actors.id"), primary_key=True)
    stripe_account_id: Mapped[str] = mapped_column(String(255), unique=True)
    country: Mapped[str] = mapped_column(String(2))
    details_submitted: Mapped[bool] = mapped_column(default=False, server_default=false())
    payouts_enabled: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class InvoiceStatus(enum.StrEnum):
    PENDING = "pending"  # written at close, not yet sent to Stripe
    OPEN = "open"  # finalized at Stripe, awaiting payment
    PAID = "paid"
    PAYMENT_FAILED = "payment_failed"
    VOID = "void"
    UNCOLLECTIBLE = "uncollectible"
    NOTHING_DUE = "nothing_due"  # a period whose total rounds to zero: carried, not invoiced


class Invoice(Base):
    """A studio's invoice for one closed period and currency: its statement's payable amount."""

    __tablename__ = "invoices"
    __table_args__ = (UniqueConstraint("studio_id", "period", "currency"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    studio_id: Mapped[str] = mapped_column(ForeignKey("studios.id"), index=True)
    period: Mapped[str] = mapped_column(ForeignKey("billing_periods.period"))
    currency: Mapped[str] = mapped_column(String(3))
    statement_id: Mapped[str] = mapped_column(ForeignKey("period_statements.id"), unique=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[InvoiceStatus] = mapped_column(
        Enum(InvoiceStatus, native_enum=False, length=32, validate_strings=True)
    )
    stripe_invoice_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    hosted_invoice_url: Mapped[str | None] = mapped_column(Text)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class PayoutStatus(enum.StrEnum):
    PENDING = "pending"  # posted to the ledger, transfer not yet confirmed by Stripe
    PAID = "paid"  # Stripe made the transfer
    FAILED = "failed"  # Stripe refused it; the royalty is payable again
    REVERSED = "reversed"  # reversed after it was made; payable again


class Payout(Base):
    """A transfer of an actor's payable royalties to their Connect account.

    Covers every closed statement of the actor in `currency` not yet paid out,
    up to and including `period`. The transfer's idempotency key is the payout id.
    """

    __tablename__ = "payouts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    actor_id: Mapped[str] = mapped_column(ForeignKey("actors.id"), index=True)
    period: Mapped[str] = mapped_column(ForeignKey("billing_periods.period"))
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    statement_ids: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[PayoutStatus] = mapped_column(
        Enum(PayoutStatus, native_enum=False, length=16, validate_strings=True)
    )
    transfer_group: Mapped[str] = mapped_column(String(64))
    stripe_account_id: Mapped[str] = mapped_column(String(255))
    stripe_transfer_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class StripeEvent(Base):
    """A verified Stripe webhook event, stored once by its id and processed by the worker."""

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    livemode: Mapped[bool] = mapped_column(default=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # What processing did: "posted", "updated", "ignored: <why>", "failed: <why>".
    outcome: Mapped[str | None] = mapped_column(Text)
