"""Accounts, entry sets and entries (append-only), billing periods and period statements."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    BigInteger,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from voicehub.db import Base, UTCDateTime, utcnow


class AccountKind(enum.StrEnum):
    """What an account holds. Debits are positive amounts, credits negative."""

    # What a studio owes for its lines (an asset: debited by use, credited by payment).
    STUDIO_RECEIVABLE = "studio_receivable"
    # What VoiceHub owes an actor in royalties (a liability: credited by use).
    ACTOR_ROYALTY_PAYABLE = "actor_royalty_payable"
    # VoiceHub's own share of each line (income: credited by use).
    PLATFORM_REVENUE = "platform_revenue"
    # Money held at Stripe: debited when a studio's invoice is paid, credited by transfers.
    STRIPE_CLEARING = "stripe_clearing"
    # Royalties on their way to an actor: credited when a payout starts, debited when
    # Stripe has made the transfer (or the payout failed and the royalty went back).
    PAYOUTS = "payouts"


class LedgerKind(enum.StrEnum):
    """Why an entry set was posted."""

    USAGE = "usage"  # one per delivered take, from its usage record
    REFUND = "refund"  # a take credited back to the studio: the usage posting negated
    CORRECTION = "correction"  # an operator's balanced adjustment, with its reason
    INVOICE_PAID = "invoice_paid"  # Stripe collected a studio's invoice
    PAYOUT = "payout"  # a payout to an actor started
    PAYOUT_SENT = "payout_sent"  # Stripe made the transfer
    PAYOUT_FAILED = "payout_failed"  # Stripe refused the transfer: the royalty goes back
    PAYOUT_REVERSED = "payout_reversed"  # a transfer reversed after it was made


class LedgerAccount(Base):
    """One account per kind, owner (studio, actor, or "" for the platform) and currency.

    `balance_micros` is kept in the same transaction as every entry that moves it;
    `voicehub ledger check` proves it equals the sum of the account's entries.
    """

    __tablename__ = "ledger_accounts"
    __table_args__ = (UniqueConstraint("kind", "owner_id", "currency"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[AccountKind] = mapped_column(
        Enum(AccountKind, native_enum=False, length=32, validate_strings=True)
    )
    # A studio id, an actor id, or "" for the platform's own accounts.
    owner_id: Mapped[str] = mapped_column(String(32), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    balance_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class LedgerTransaction(Base):
    """One balanced entry set. Never updated or deleted (database triggers refuse it)."""

    __tablename__ = "ledger_transactions"
    __table_args__ = (Index("ix_ledger_transactions_period_kind", "period", "kind"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[LedgerKind] = mapped_column(
        Enum(LedgerKind, native_enum=False, length=32, validate_strings=True)
    )
    currency: Mapped[str] = mapped_column(String(3))
    # The billing period (YYYY-MM) the entry set counts in: always an open one.
    period: Mapped[str] = mapped_column(String(7))
    # What the set is for, unique: "usage:take_…", "refund:take_…", "payout:po_…".
    # A second posting for the same reason is refused by the database.
    reference: Mapped[str] = mapped_column(String(255), unique=True)
    take_id: Mapped[str | None] = mapped_column(ForeignKey("takes.id"), index=True)
    usage_record_id: Mapped[str | None] = mapped_column(ForeignKey("usage_records.id"))
    # The entry set this one reverses (a refund, a failed payout), if any.
    reverses_id: Mapped[str | None] = mapped_column(ForeignKey("ledger_transactions.id"))
    memo: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(200), default="system")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class LedgerEntry(Base):
    """One line of an entry set: a debit (positive) or credit (negative) to one account."""

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    transaction_id: Mapped[str] = mapped_column(ForeignKey("ledger_transactions.id"), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("ledger_accounts.id"), index=True)
    amount_micros: Mapped[int] = mapped_column(BigInteger)


class PeriodStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class BillingPeriod(Base):
    """A calendar month (UTC). Entries post into the open period of their commit time.

    Posting holds a share lock on the row, closing an exclusive one: a line that
    commits while its month closes either lands before the close or in the next month.
    """

    __tablename__ = "billing_periods"

    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    status: Mapped[PeriodStatus] = mapped_column(
        Enum(PeriodStatus, native_enum=False, length=16, validate_strings=True),
        default=PeriodStatus.OPEN,
    )
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class PartyKind(enum.StrEnum):
    ACTOR = "actor"
    STUDIO = "studio"


class PeriodStatement(Base):
    """A closed period's figures for one actor (royalties) or studio (usage), per currency.

    Written once when the period closes, from the ledger: `accrued_micros` is what
    the period's entries moved on the party's account; `carried_in_micros` the
    previous statement's sub-minor-unit remainder; `payable_minor` the whole minor
    units of their sum (paid to the actor, invoiced to the studio);
    `carried_out_micros` what is left over, carried into the next period.
    """

    __tablename__ = "period_statements"
    __table_args__ = (UniqueConstraint("period", "party_kind", "party_id", "currency"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    period: Mapped[str] = mapped_column(ForeignKey("billing_periods.period"), index=True)
    party_kind: Mapped[PartyKind] = mapped_column(
        Enum(PartyKind, native_enum=False, length=16, validate_strings=True)
    )
    party_id: Mapped[str] = mapped_column(String(32), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    lines: Mapped[int] = mapped_column(Integer)
    characters: Mapped[int] = mapped_column(BigInteger)
    audio_ms: Mapped[int] = mapped_column(BigInteger)
    # Gross price of the lines (what studios paid for them), and the party's share of it.
    gross_micros: Mapped[int] = mapped_column(BigInteger)
    accrued_micros: Mapped[int] = mapped_column(BigInteger)
    carried_in_micros: Mapped[int] = mapped_column(BigInteger)
    payable_minor: Mapped[int] = mapped_column(BigInteger)
    carried_out_micros: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class LedgerGuard(Base):
    """One row. Triggers made by migration 0006 refuse every UPDATE and DELETE of ledger
    entries and entry sets unless `purge_allowed` is set in the same transaction; only
    emptying a test database does that (`voicehub.ledger.service.purge_ledger`)."""

    __tablename__ = "ledger_guard"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    purge_allowed: Mapped[bool] = mapped_column(default=False)
