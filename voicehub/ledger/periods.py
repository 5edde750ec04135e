"""Billing periods: closing a month into per-party statements whose figures come from the ledger.

A period closes once, after it has ended, and in order. Closing writes one
`PeriodStatement` per actor and per studio (per currency) that had entries in
the month or a remainder carried into it, and one `Invoice` row per studio
statement for `voicehub.billing.invoicing` to send. Entries never post into a
closed period: they go to the next open one (`service.open_period`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from voicehub.billing.tables import Invoice, InvoiceStatus
from voicehub.db import utcnow
from voicehub.errors import Conflict
from voicehub.ids import new_id
from voicehub.ledger.service import (
    check_period,
    insert_ignore,
    next_period,
    period_start,
)
from voicehub.ledger.tables import (
    AccountKind,
    BillingPeriod,
    LedgerAccount,
    LedgerEntry,
    LedgerKind,
    LedgerTransaction,
    PartyKind,
    PeriodStatement,
    PeriodStatus,
)
from voicehub.metering.currency import split_minor
from voicehub.metering.tables import UsageRecord

# What a party earns or owes in a period: use, refunds and corrections. Payments and
# payouts settle it and are not part of a statement's accrual.
ACCRUALS = (LedgerKind.USAGE, LedgerKind.REFUND, LedgerKind.CORRECTION)

# Whose balance a statement reports, and the sign that makes it positive when owed.
STATEMENT_ACCOUNTS = {
    PartyKind.ACTOR: (AccountKind.ACTOR_ROYALTY_PAYABLE, -1),
    PartyKind.STUDIO: (AccountKind.STUDIO_RECEIVABLE, 1),
}


class PeriodClosed(Conflict):
    code = "period_closed"
    title = "The period is closed"


class PeriodNotEnded(Conflict):
    code = "period_not_ended"
    title = "The period has not ended"


class PeriodOutOfOrder(Conflict):
    code = "period_out_of_order"
    title = "An earlier period is still open"


@dataclass
class PartyFigures:
    """One party's figures for a period, per currency, in integer micro-units."""

    party_kind: PartyKind
    party_id: str
    currency: str
    lines: int = 0
    characters: int = 0
    audio_ms: int = 0
    gross_micros: int = 0
    accrued_micros: int = 0
    carried_in_micros: int = 0

    @property
    def total_micros(self) -> int:
        return self.accrued_micros + self.carried_in_micros

    @property
    def payable_minor(self) -> int:
        return split_minor(self.total_micros, self.currency)[0]

    @property
    def carried_out_micros(self) -> int:
        return split_minor(self.total_micros, self.currency)[1]


@dataclass
class CloseResult:
    period: str
    statements: list[PeriodStatement] = field(default_factory=list)
    invoices: list[Invoice] = field(default_factory=list)


def period_status(session: Session, period: str) -> PeriodStatus:
    status = session.scalar(
        select(BillingPeriod.status).where(BillingPeriod.period == check_period(period))
    )
    return status or PeriodStatus.OPEN


def previous_closed(session: Session, period: str) -> str | None:
    """The latest closed period before `period`: where remainders carry from."""
    return session.scalar(
        select(func.max(BillingPeriod.period)).where(
            BillingPeriod.period < period, BillingPeriod.status == PeriodStatus.CLOSED
        )
    )


def party_figures(
    session: Session,
    period: str,
    party_kind: PartyKind | None = None,
    party_id: str | None = None,
) -> list[PartyFigures]:
    """Every party's figures for `period` (open or closed), or one party's, from the ledger.

    Accrued amounts are the sum of the period's accrual entries on the party's
    account; counts and gross amounts come from the period's usage records;
    the carried-in remainder is the party's statement in the latest closed
    period before this one.
    """
    check_period(period)
    kinds = [party_kind] if party_kind else list(PartyKind)
    found: dict[tuple[PartyKind, str, str], PartyFigures] = {}

    def figures(kind: PartyKind, owner: str, currency: str) -> PartyFigures:
        key = (kind, owner, currency)
        if key not in found:
            found[key] = PartyFigures(kind, owner, currency)
        return found[key]

    for kind in kinds:
        account_kind, sign = STATEMENT_ACCOUNTS[kind]
        accrued = (
            select(
                LedgerAccount.owner_id, LedgerAccount.currency, func.sum(LedgerEntry.amount_micros)
            )
            .join(LedgerEntry, LedgerEntry.account_id == LedgerAccount.id)
            .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
            .where(
                LedgerTransaction.period == period,
                LedgerTransaction.kind.in_(ACCRUALS),
                LedgerAccount.kind == account_kind,
            )
            .group_by(LedgerAccount.owner_id, LedgerAccount.currency)
        )
        if party_id is not None:
            accrued = accrued.where(LedgerAccount.owner_id == party_id)
        for owner, currency, amount in session.execute(accrued):
            figures(kind, owner, currency).accrued_micros = sign * int(amount)

        party_column = UsageRecord.actor_id if kind is PartyKind.ACTOR else UsageRecord.studio_id
        usage = (
            select(
                party_column,
                UsageRecord.currency,
                func.count(),
                func.sum(UsageRecord.characters),
                func.sum(UsageRecord.audio_ms),
                func.sum(UsageRecord.amount_micros),
            )
            .where(UsageRecord.period == period)
            .group_by(party_column, UsageRecord.currency)
        )
        if party_id is not None:
            usage = usage.where(party_column == party_id)
        for owner, currency, lines, characters, audio_ms, gross in session.execute(usage):
            row = figures(kind, owner, currency)
            row.lines, row.characters, row.audio_ms = int(lines), int(characters), int(audio_ms)
            row.gross_micros = int(gross)

        previous = previous_closed(session, period)
        if previous is not None:
            carried = select(PeriodStatement).where(
                PeriodStatement.period == previous,
                PeriodStatement.party_kind == kind,
                PeriodStatement.carried_out_micros != 0,
            )
            if party_id is not None:
                carried = carried.where(PeriodStatement.party_id == party_id)
            for statement in session.scalars(carried):
                figures(
                    kind, statement.party_id, statement.currency
                ).carried_in_micros = statement.carried_out_micros
    return sorted(found.values(), key=lambda f: (f.party_kind, f.party_id, f.currency))


def close_period(
    session: Session, period: str, *, by: str, now: dt.datetime | None = None
) -> CloseResult:
    """Close `period`: its statements and invoice rows, written once, in this transaction.

    Refused while the month is still running (`period_not_ended`), when it is
    already closed (`period_closed`) and while an earlier month with entries is
    open (`period_out_of_order`). The period row is locked first, so postings
    that are committing into it finish before the figures are read.
    """
    check_period(period)
    now = now or utcnow()
    ends = period_start(next_period(period))
    if now < ends:
        raise PeriodNotEnded(
            f"{period} runs until {ends.isoformat()}; close it after it has ended.",
            fields=["period"],
        )
    insert_ignore(
        session,
        BillingPeriod,
        {"period": period, "status": PeriodStatus.OPEN.name, "created_at": now},
    )
    # The write lock (PostgreSQL: this row; SQLite: the database) before any figure is read.
    session.execute(
        update(BillingPeriod)
        .where(BillingPeriod.period == period)
        .values(created_at=BillingPeriod.created_at)
        .execution_options(synchronize_session=False)
    )
    row = session.get(BillingPeriod, period, populate_existing=True)
    assert row is not None
    if row.status is PeriodStatus.CLOSED:
        raise PeriodClosed(
            f"{period} was closed at {row.closed_at.isoformat() if row.closed_at else '?'}"
            f" by {row.closed_by}; closed periods never change.",
            fields=["period"],
        )
    earlier = session.scalar(
        select(func.min(LedgerTransaction.period)).where(
            LedgerTransaction.period < period,
            LedgerTransaction.period.not_in(
                select(BillingPeriod.period).where(BillingPeriod.status == PeriodStatus.CLOSED)
            ),
        )
    )
    if earlier is not None:
        raise PeriodOutOfOrder(
            f"{earlier} has entries and is still open; close periods in order, {earlier} first.",
            fields=["period"],
        )
    result = CloseResult(period)
    for figures in party_figures(session, period):
        statement = PeriodStatement(
            id=new_id("stmt"),
            period=period,
            party_kind=figures.party_kind,
            party_id=figures.party_id,
            currency=figures.currency,
            lines=figures.lines,
            characters=figures.characters,
            audio_ms=figures.audio_ms,
            gross_micros=figures.gross_micros,
            accrued_micros=figures.accrued_micros,
            carried_in_micros=figures.carried_in_micros,
            payable_minor=figures.payable_minor,
            carried_out_micros=figures.carried_out_micros,
            created_at=now,
        )
        session.add(statement)
        result.statements.append(statement)
    # Statements first: invoices refer to them.
    session.flush()
    for statement in result.statements:
        if statement.party_kind is PartyKind.STUDIO:
            invoice = Invoice(
                id=new_id("inv"),
                studio_id=statement.party_id,
                period=period,
                currency=statement.currency,
                statement_id=statement.id,
                amount_minor=statement.payable_minor,
                status=InvoiceStatus.PENDING
                if statement.payable_minor > 0
                else InvoiceStatus.NOTHING_DUE,
                created_at=now,
                updated_at=now,
            )
            session.add(invoice)
            result.invoices.append(invoice)
    row.status = PeriodStatus.CLOSED
    row.closed_at = now
    row.closed_by = by
    session.flush()
    return result


def statements_of(
    session: Session, party_kind: PartyKind, party_id: str, periods: Iterable[str] | None = None
) -> list[PeriodStatement]:
    """A party's closed statements, oldest first."""
    query = select(PeriodStatement).where(
        PeriodStatement.party_kind == party_kind, PeriodStatement.party_id == party_id
    )
    if periods is not None:
        query = query.where(PeriodStatement.period.in_(list(periods)))
    return list(session.scalars(query.order_by(PeriodStatement.period, PeriodStatement.currency)))
