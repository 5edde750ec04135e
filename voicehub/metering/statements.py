"""Royalty statements (per actor) and usage statements (per studio), per month and currency.

A statement is read from three places that must agree to the micro-unit: the
period's figures (the ledger's running sums while the month is open, its
immutable `PeriodStatement` rows once it is closed), the period's usage
records (one row per line used) and the period's refund and correction entry
sets. The lines plus the adjustments make the ledger's accrual; each
currency's `reconciled` says whether they do.

Documents are written as they are read: the lines come through a server-side
cursor, a few thousand rows at a time, and the CSV and PDF writers
(`statement_csv`, `voicehub.metering.statement_pdf`) never hold more than a
chunk of text or one page.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import Select

from consent.tables import Actor
from models.tables import Voice
from voicehub.billing.payouts import account_problem, threshold_minor, unpaid_statements
from voicehub.billing.tables import Invoice, InvoiceStatus, Payout, PayoutAccount, PayoutStatus
from voicehub.errors import NotFound
from voicehub.ledger.periods import (
    PartyFigures,
    party_figures,
    period_status,
    previous_closed,
    statements_of,
)
from voicehub.ledger.service import check_period, next_period, period_start
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
from voicehub.metering.currency import format_micros, format_minor
from voicehub.metering.tables import UsageRecord
from voicehub.production.tables import Cut, Line, Project, Take
from voicehub.tenancy.tables import Studio

log = logging.getLogger(__name__)

# The entry sets a statement lists besides its lines: what changed the period's accrual.
ADJUSTMENTS = (LedgerKind.REFUND, LedgerKind.CORRECTION)

# The account a statement reports, and the sign that makes what is owed positive.
_ACCOUNT = {
    PartyKind.ACTOR: (AccountKind.ACTOR_ROYALTY_PAYABLE, -1),
    PartyKind.STUDIO: (AccountKind.STUDIO_RECEIVABLE, 1),
}

# Rows per round trip of the server-side cursor that reads the lines.
FETCH_ROWS = 2000
# Characters of CSV text gathered before a chunk is handed on.
CSV_CHUNK = 64 * 1024

# A query of several columns, whatever their types.
Rows = Select[*tuple[Any, ...]]

# The least an actor is paid out, per currency, in its minor unit (`Settings.payout_thresholds`).
Thresholds = Mapping[str, int]


@dataclass(frozen=True)
class Party:
    kind: PartyKind
    id: str
    name: str


@dataclass(frozen=True)
class Settlement:
    """What became of a statement's payable amount, in words an actor or studio understands.

    `status` is stable and machine-readable; `note` is the sentence shown.
    `reference` is the payout or invoice, where there is one.
    """

    status: str
    note: str
    reference: str | None = None
    amount_minor: int | None = None


@dataclass
class Subtotal:
    """The lines of one studio, or one project, or adjustments tied to no line.

    `level` is "studio", "project" or "unattributed"; `lines_micros` is the
    party's column of the lines (the actor's royalty, the studio's price),
    `adjustments_micros` the refunds and corrections of those lines.
    """

    level: str
    currency: str
    studio_id: str | None
    studio: str
    project_id: str | None
    project: str
    lines: int = 0
    characters: int = 0
    audio_ms: int = 0
    amount_micros: int = 0
    lines_micros: int = 0
    adjustments_micros: int = 0

    @property
    def net_micros(self) -> int:
        return self.lines_micros + self.adjustments_micros


@dataclass
class CurrencyFigures:
    """A party's figures for one period and currency, as the ledger has them."""

    currency: str
    statement_id: str | None
    lines: int
    characters: int
    audio_ms: int
    gross_micros: int
    accrued_micros: int
    carried_in_micros: int
    carried_in_from: str | None
    payable_minor: int
    carried_out_micros: int
    settlement: Settlement

    @property
    def total_micros(self) -> int:
        return self.accrued_micros + self.carried_in_micros


@dataclass
class CurrencySummary(CurrencyFigures):
    """The figures with the lines' own sums beside them, and the subtotals."""

    lines_micros: int = 0
    adjustments_micros: int = 0
    subtotals: list[Subtotal] = field(default_factory=list)

    @property
    def reconciled(self) -> bool:
        """Whether the lines and adjustments listed add up to the ledger's accrual exactly."""
        return self.lines_micros + self.adjustments_micros == self.accrued_micros


@dataclass
class Statement:
    party: Party
    period: str
    status: PeriodStatus
    closed_at: dt.datetime | None
    currencies: list[CurrencySummary]

    @property
    def provisional(self) -> bool:
        return self.status is PeriodStatus.OPEN

    @property
    def title(self) -> str:
        return "Royalty statement" if self.party.kind is PartyKind.ACTOR else "Usage statement"

    @property
    def filename_stem(self) -> str:
        noun = "royalties" if self.party.kind is PartyKind.ACTOR else "usage"
        return f"voicehub-{noun}-{self.period}-{self.party.id}"


@dataclass(frozen=True, slots=True)
class LineRow:
    """One line used, or one refund or correction, as a statement lists it.

    `party_micros` is what the row moves for the statement's party: the
    actor's royalty or the studio's price (negative for a refund).
    """

    record: str  # "line", "refund" or "correction"
    date: dt.datetime
    currency: str
    studio: str
    project: str
    cut: str
    line_id: str
    take_id: str
    text: str
    voice: str
    actor: str
    lines: int
    characters: int
    audio_ms: int
    use: str
    price_unit: str
    rate_micros: int | None
    amount_micros: int | None
    party_micros: int
    note: str


@contextmanager
def statement_session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A read-only session whose queries all see one snapshot of the database.

    A statement is several queries (figures, subtotals, lines, adjustments); on
    PostgreSQL a repeatable-read transaction makes them agree even while lines
    are being delivered. SQLite's transaction is a snapshot already.
    """
    with sessions() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.connection(
                execution_options={
                    "isolation_level": "REPEATABLE READ",
                    "postgresql_readonly": True,
                }
            )
            # Every row of a server-side cursor is read: plan for the whole result, not for
            # its first tenth (the default), which picks nested loops that are slower in all.
            session.execute(text("SET LOCAL cursor_tuple_fraction = 1.0"))
        yield session


def find_party(session: Session, kind: PartyKind, party_id: str) -> Party:
    if kind is PartyKind.ACTOR:
        actor = session.get(Actor, party_id)
        if actor is None:
            raise NotFound(f"No actor {party_id}.", fields=["actor"])
        return Party(kind, actor.id, actor.credited_name or actor.name)
    studio = session.get(Studio, party_id)
    if studio is None:
        raise NotFound(f"No studio {party_id}.", fields=["studio"])
    return Party(kind, studio.id, studio.name)


def build_statement(
    session: Session,
    kind: PartyKind,
    party_id: str,
    period: str,
    *,
    thresholds: Thresholds | None = None,
) -> Statement:
    """An actor's royalty statement or a studio's usage statement for a month: its figures
    and subtotals (its lines are streamed by `line_rows`). Provisional while the month is
    open; `thresholds` (per currency) decide whether an unpaid royalty is held."""
    check_period(period)
    party = find_party(session, kind, party_id)
    status, closed_at = _period_state(session, period)
    figures = {
        f.currency: f for f in _figures(session, party, period, status, thresholds=thresholds)
    }
    subtotals = _subtotals(session, party, period)
    currencies: list[CurrencySummary] = []
    for currency in sorted(set(figures) | set(subtotals)):
        base = figures.get(currency) or _no_figures(currency)
        rows = subtotals.get(currency, [])
        detail = [s for s in rows if s.level != "studio"]  # each line counted once
        currencies.append(
            CurrencySummary(
                **{f.name: getattr(base, f.name) for f in fields(CurrencyFigures)},
                lines_micros=sum(s.lines_micros for s in detail),
                adjustments_micros=sum(s.adjustments_micros for s in detail),
                subtotals=rows,
            )
        )
    for summary in currencies:
        if not summary.reconciled:
            log.error(
                "%s %s %s %s: lines %d + adjustments %d != ledger %d",
                kind.value,
                party_id,
                period,
                summary.currency,
                summary.lines_micros,
                summary.adjustments_micros,
                summary.accrued_micros,
            )
    return Statement(party, period, status, closed_at, currencies)


def statement_periods(
    session: Session, kind: PartyKind, party_id: str, *, thresholds: Thresholds | None = None
) -> list[tuple[str, PeriodStatus, list[CurrencyFigures]]]:
    """Every month the party has a statement for, newest first, with its figures.

    Closed months are those with a `PeriodStatement` for the party; open months
    are listed while the party has figures in them (a running total).
    """
    party = find_party(session, kind, party_id)
    closed = sorted(
        {s.period for s in statements_of(session, kind, party_id)},
        reverse=True,
    )
    open_periods = list(
        session.scalars(
            select(BillingPeriod.period)
            .where(BillingPeriod.status == PeriodStatus.OPEN)
            .order_by(BillingPeriod.period.desc())
        )
    )
    out: list[tuple[str, PeriodStatus, list[CurrencyFigures]]] = []
    for period in open_periods:
        running = _figures(session, party, period, PeriodStatus.OPEN, thresholds=thresholds)
        if running:
            out.append((period, PeriodStatus.OPEN, running))
    for period in closed:
        out.append(
            (
                period,
                PeriodStatus.CLOSED,
                _figures(session, party, period, PeriodStatus.CLOSED, thresholds=thresholds),
            )
        )
    return out


def _period_state(session: Session, period: str) -> tuple[PeriodStatus, dt.datetime | None]:
    status = period_status(session, period)
    if status is PeriodStatus.OPEN:
        return status, None
    row = session.get(BillingPeriod, period)
    return status, row.closed_at if row else None


def _figures(
    session: Session,
    party: Party,
    period: str,
    status: PeriodStatus,
    *,
    thresholds: Thresholds | None,
) -> list[CurrencyFigures]:
    carried_from = previous_closed(session, period)
    sources: Sequence[PeriodStatement | PartyFigures]
    if status is PeriodStatus.CLOSED:
        sources = statements_of(session, party.kind, party.id, [period])
    else:
        sources = party_figures(session, period, party.kind, party.id)
    out = []
    for source in sources:
        statement_id = source.id if isinstance(source, PeriodStatement) else None
        out.append(
            CurrencyFigures(
                currency=source.currency,
                statement_id=statement_id,
                lines=source.lines,
                characters=source.characters,
                audio_ms=source.audio_ms,
                gross_micros=source.gross_micros,
                accrued_micros=source.accrued_micros,
                carried_in_micros=source.carried_in_micros,
                carried_in_from=carried_from if source.carried_in_micros else None,
                payable_minor=source.payable_minor,
                carried_out_micros=source.carried_out_micros,
                settlement=_settlement(
                    session, party, period, source, statement_id, thresholds=thresholds
                ),
            )
        )
    return out


def _no_figures(currency: str) -> CurrencyFigures:
    """Figures for a currency the ledger has nothing of (its lines would not reconcile)."""
    note = "The ledger has no figures for these lines."
    return CurrencyFigures(
        currency, None, 0, 0, 0, 0, 0, 0, None, 0, 0, Settlement("unreconciled", note)
    )


# ---- payout and invoice status ---------------------------------------------------------


def _settlement(
    session: Session,
    party: Party,
    period: str,
    figures: PeriodStatement | PartyFigures,
    statement_id: str | None,
    *,
    thresholds: Thresholds | None,
) -> Settlement:
    if statement_id is None:
        closes = period_start(next_period(period)).date().isoformat()
        if party.kind is PartyKind.ACTOR:
            return Settlement(
                "provisional",
                f"Provisional: the month is still open, so these figures can still grow; "
                f"the statement is final once the month closes (from {closes}) and is paid "
                f"out after that.",
            )
        return Settlement(
            "provisional",
            f"Provisional: the month is still open; nothing is invoiced until it closes "
            f"(from {closes}).",
        )
    if party.kind is PartyKind.ACTOR:
        return _payout_status(session, party.id, figures, statement_id, thresholds)
    return _invoice_status(session, figures, statement_id)


def _money(amount_minor: int, currency: str) -> str:
    return f"{grouped(format_minor(amount_minor, currency))} {currency}"


def _payout_status(
    session: Session,
    actor_id: str,
    figures: PeriodStatement | PartyFigures,
    statement_id: str,
    thresholds: Thresholds | None,
) -> Settlement:
    currency = figures.currency
    payouts = list(
        session.scalars(
            select(Payout)
            .where(Payout.actor_id == actor_id, Payout.currency == currency)
            .order_by(Payout.created_at.desc(), Payout.id.desc())
        )
    )
    covering = next((p for p in payouts if statement_id in (p.statement_ids or [])), None)
    if covering is not None:
        amount = _money(covering.amount_minor, currency)
        day = covering.updated_at.date().isoformat()
        started = covering.created_at.date().isoformat()
        shared = (
            " (one payout with other months' royalties)" if len(covering.statement_ids) > 1 else ""
        )
        if covering.status is PayoutStatus.PAID:
            note = f"Paid: {amount} sent to your payout account on {day}{shared}."
        elif covering.status is PayoutStatus.PENDING:
            note = (
                f"Being paid: a payout of {amount} was started on {started}{shared}; "
                f"it shows as paid once Stripe confirms the transfer."
            )
        elif covering.status is PayoutStatus.FAILED:
            why = f" ({covering.failure_reason})" if covering.failure_reason else ""
            note = (
                f"Payout failed: the transfer of {amount} on {day} did not go through{why}. "
                f"The royalty is still yours and is paid with the next payout."
            )
        else:
            note = (
                f"Payout reversed: the transfer of {amount} was reversed on {day}. "
                f"The royalty is owed to you again and is paid with the next payout."
            )
        return Settlement(covering.status.value, note, covering.id, covering.amount_minor)
    if figures.payable_minor <= 0:
        carried = format_micros(figures.carried_out_micros)
        return Settlement(
            "nothing_due",
            f"Nothing to pay for this month: {carried} {currency} is carried to the next month.",
        )
    # The same rules as a payout run (`voicehub.billing.payouts`): what no payout covers
    # is paid once it reaches the currency's threshold, into an account Stripe has enabled.
    unpaid = sum(
        s.payable_minor
        for s in unpaid_statements(session, actor_id=actor_id).get((actor_id, currency), [])
    )
    if thresholds is not None:
        limit = threshold_minor(dict(thresholds), currency)
        if unpaid < limit:
            return Settlement(
                "held",
                f"Held: below the payout threshold. Your unpaid royalties are "
                f"{_money(unpaid, currency)}; they are paid out once they reach "
                f"{_money(limit, currency)}.",
                amount_minor=unpaid,
            )
    if account_problem(session.get(PayoutAccount, actor_id)) is not None:
        return Settlement(
            "awaiting_payout_account",
            "Not yet paid out: finish setting up your payout account to receive it "
            "(POST /v1/actor/payout-account); the royalty is kept for you until then.",
            amount_minor=unpaid,
        )
    return Settlement(
        "unpaid", "Not yet paid out: it is paid with the next payout.", amount_minor=unpaid
    )


_INVOICE_NOTES = {
    InvoiceStatus.PENDING: "To be invoiced: the invoice for {amount} is being prepared.",
    InvoiceStatus.OPEN: "Invoiced: {amount}, awaiting payment.",
    InvoiceStatus.PAID: "Paid: the invoice for {amount} was paid on {day}.",
    InvoiceStatus.PAYMENT_FAILED: "Payment failed: the invoice for {amount} is unpaid{why}.",
    InvoiceStatus.VOID: "Void: the invoice for {amount} was voided on {day}.",
    InvoiceStatus.UNCOLLECTIBLE: "Uncollectible: the invoice for {amount} was written off.",
    InvoiceStatus.NOTHING_DUE: (
        "Nothing to invoice: the month comes to less than one minor unit, "
        "carried to the next month."
    ),
}


def _invoice_status(
    session: Session, figures: PeriodStatement | PartyFigures, statement_id: str
) -> Settlement:
    invoice = session.scalar(select(Invoice).where(Invoice.statement_id == statement_id))
    if invoice is None:
        return Settlement("not_invoiced", "Not invoiced.")
    note = _INVOICE_NOTES[invoice.status].format(
        amount=_money(invoice.amount_minor, invoice.currency),
        day=invoice.updated_at.date().isoformat(),
        why=f": {invoice.failure_reason}" if invoice.failure_reason else "",
    )
    if invoice.status is InvoiceStatus.OPEN and invoice.hosted_invoice_url:
        note += f" Pay it at {invoice.hosted_invoice_url}"
    return Settlement(invoice.status.value, note, invoice.id, invoice.amount_minor)


# ---- subtotals and lines -----------------------------------------------------------------


def _party_column(party: Party) -> Any:
    return UsageRecord.actor_id if party.kind is PartyKind.ACTOR else UsageRecord.studio_id


def _share(party: Party) -> Any:
    """The usage record's column that is the party's: the actor's royalty, the studio's price."""
    if party.kind is PartyKind.ACTOR:
        return UsageRecord.actor_royalty_micros
    return UsageRecord.amount_micros


def _moved(party: Party, period: str) -> Any:
    """What each of the period's refund and correction entry sets moved on the party's account."""
    account_kind, _ = _ACCOUNT[party.kind]
    return (
        select(
            LedgerEntry.transaction_id.label("transaction_id"),
            func.sum(LedgerEntry.amount_micros).label("amount"),
        )
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(
            LedgerAccount.kind == account_kind,
            LedgerAccount.owner_id == party.id,
            LedgerTransaction.period == period,
            LedgerTransaction.kind.in_(ADJUSTMENTS),
        )
        .group_by(LedgerEntry.transaction_id)
        .subquery()
    )


def _subtotals(session: Session, party: Party, period: str) -> dict[str, list[Subtotal]]:
    """Per currency: per studio and per project (an actor's), or per project (a studio's)."""
    _, sign = _ACCOUNT[party.kind]
    keys = (
        UsageRecord.currency,
        UsageRecord.studio_id,
        Studio.name,
        UsageRecord.project_id,
        Project.name,
    )
    used = (
        select(
            *keys,
            func.count(),
            func.sum(UsageRecord.characters),
            func.sum(UsageRecord.audio_ms),
            func.sum(UsageRecord.amount_micros),
            func.sum(_share(party)),
        )
        .join(Studio, Studio.id == UsageRecord.studio_id)
        .join(Project, Project.id == UsageRecord.project_id)
        .where(_party_column(party) == party.id, UsageRecord.period == period)
        .group_by(*keys)
    )
    projects: dict[tuple[str, str | None, str | None], Subtotal] = {}
    for (
        currency,
        studio_id,
        studio,
        project_id,
        project,
        n,
        chars,
        ms,
        amount,
        mine,
    ) in session.execute(used):
        projects[(currency, studio_id, project_id)] = Subtotal(
            "project",
            currency,
            studio_id,
            studio,
            project_id,
            project,
            lines=int(n),
            characters=int(chars),
            audio_ms=int(ms),
            amount_micros=int(amount),
            lines_micros=int(mine),
        )
    moved = _moved(party, period)
    adjusted = (
        select(
            LedgerTransaction.currency,
            UsageRecord.studio_id,
            Studio.name,
            UsageRecord.project_id,
            Project.name,
            func.sum(moved.c.amount),
        )
        .join(moved, moved.c.transaction_id == LedgerTransaction.id)
        .outerjoin(UsageRecord, UsageRecord.id == LedgerTransaction.usage_record_id)
        .outerjoin(Studio, Studio.id == UsageRecord.studio_id)
        .outerjoin(Project, Project.id == UsageRecord.project_id)
        .group_by(
            LedgerTransaction.currency,
            UsageRecord.studio_id,
            Studio.name,
            UsageRecord.project_id,
            Project.name,
        )
    )
    for currency, studio_id, studio, project_id, project, amount in session.execute(adjusted):
        key = (currency, studio_id, project_id)
        if key not in projects:
            projects[key] = (
                Subtotal("project", currency, studio_id, studio, project_id, project)
                if studio_id is not None
                else Subtotal(
                    "unattributed", currency, None, "Corrections not tied to a line", None, ""
                )
            )
        projects[key].adjustments_micros += sign * int(amount)

    out: dict[str, list[Subtotal]] = {}
    ordered = sorted(
        projects.values(),
        key=lambda s: (s.currency, s.studio_id is None, s.studio, s.studio_id or "", s.project),
    )
    for row in ordered:
        rows = out.setdefault(row.currency, [])
        if party.kind is PartyKind.ACTOR and row.level == "project":
            studio_row = next(
                (r for r in rows if r.level == "studio" and r.studio_id == row.studio_id), None
            )
            if studio_row is None:
                studio_row = Subtotal("studio", row.currency, row.studio_id, row.studio, None, "")
                rows.append(studio_row)
            for name in (
                "lines",
                "characters",
                "audio_ms",
                "amount_micros",
                "lines_micros",
                "adjustments_micros",
            ):
                setattr(studio_row, name, getattr(studio_row, name) + getattr(row, name))
        rows.append(row)
    return out


def lines_query(party: Party, period: str, currency: str) -> Rows:
    """The party's lines of a period in one currency, oldest first, with the names a
    statement shows (the benchmark reads the same query raw, as its baseline)."""
    query = (
        select(
            UsageRecord.created_at,
            Studio.name,
            Project.name,
            Cut.number,
            Take.line_id,
            UsageRecord.take_id,
            Take.text,
            Voice.name,
            Actor.credited_name,
            UsageRecord.characters,
            UsageRecord.audio_ms,
            UsageRecord.use,
            UsageRecord.price_unit,
            UsageRecord.rate_micros,
            UsageRecord.amount_micros,
            _share(party),
        )
        .join(Take, Take.id == UsageRecord.take_id)
        .join(Line, Line.id == Take.line_id)
        .join(Cut, Cut.id == Line.cut_id)
        .join(Studio, Studio.id == UsageRecord.studio_id)
        .join(Project, Project.id == UsageRecord.project_id)
        .join(Voice, Voice.id == UsageRecord.voice_id)
        .join(Actor, Actor.id == UsageRecord.actor_id)
        .where(
            _party_column(party) == party.id,
            UsageRecord.period == period,
            UsageRecord.currency == currency,
        )
        .order_by(UsageRecord.created_at, UsageRecord.id)
    )
    return query


def adjustments_query(party: Party, period: str, currency: str) -> Rows:
    """The period's refunds and corrections on the party's account in one currency, oldest
    first, with the line each undoes (if any) and what it moved for the party."""
    moved = _moved(party, period)
    return (
        select(
            LedgerTransaction.created_at,
            LedgerTransaction.kind,
            LedgerTransaction.memo,
            Studio.name,
            Project.name,
            Cut.number,
            Take.line_id,
            LedgerTransaction.take_id,
            Take.text,
            Voice.name,
            Actor.credited_name,
            UsageRecord.use,
            UsageRecord.price_unit,
            UsageRecord.rate_micros,
            UsageRecord.amount_micros,
            moved.c.amount,
        )
        .join(moved, moved.c.transaction_id == LedgerTransaction.id)
        .outerjoin(UsageRecord, UsageRecord.id == LedgerTransaction.usage_record_id)
        .outerjoin(Take, Take.id == LedgerTransaction.take_id)
        .outerjoin(Line, Line.id == Take.line_id)
        .outerjoin(Cut, Cut.id == Line.cut_id)
        .outerjoin(Studio, Studio.id == UsageRecord.studio_id)
        .outerjoin(Project, Project.id == UsageRecord.project_id)
        .outerjoin(Voice, Voice.id == UsageRecord.voice_id)
        .outerjoin(Actor, Actor.id == UsageRecord.actor_id)
        .where(LedgerTransaction.currency == currency)
        .order_by(LedgerTransaction.created_at, LedgerTransaction.id)
    )


def line_rows(session: Session, statement: Statement) -> Iterator[LineRow]:
    """Every line of the statement, then its refunds and corrections, currency by currency.

    Read through a server-side cursor (`yield_per`): memory stays flat
    however many lines the month has.
    """
    party = statement.party
    _, sign = _ACCOUNT[party.kind]
    for summary in statement.currencies:
        currency = summary.currency
        lines = session.execute(
            lines_query(party, statement.period, currency).execution_options(yield_per=FETCH_ROWS)
        )
        # The query's columns are LineRow's fields, in order, less the constant ones.
        for row in lines:
            values: tuple[Any, ...] = ("line", row[0], currency, *row[1:9], 1, *row[9:16], "")
            yield LineRow(*values)
        adjustments = session.execute(
            adjustments_query(party, statement.period, currency).execution_options(
                yield_per=FETCH_ROWS
            )
        )
        for at, kind, memo, *names, use, unit, rate, amount, moved in adjustments:
            refunded = kind is LedgerKind.REFUND and amount is not None
            # A correction may be tied to no line: its studio, project, … are blank.
            values = (
                *(kind.value, at, currency),
                *(name or "" for name in names),
                *(0, 0, 0, use or "", unit or "", rate),
                *(-amount if refunded else None, sign * int(moved), memo),
            )
            yield LineRow(*values)


# ---- CSV ---------------------------------------------------------------------------------

ACTOR_COLUMNS = [
    "record",
    "date",
    "studio",
    "project",
    "cut",
    "line_id",
    "take_id",
    "text",
    "lines",
    "characters",
    "audio_seconds",
    "use",
    "currency",
    "price_unit",
    "rate_micros",
    "amount_micros",
    "royalty_micros",
    "royalty",
    "amount_minor",
    "note",
]

STUDIO_COLUMNS = [
    "record",
    "date",
    "project",
    "cut",
    "line_id",
    "take_id",
    "text",
    "voice",
    "actor",
    "lines",
    "characters",
    "audio_seconds",
    "use",
    "currency",
    "price_unit",
    "rate_micros",
    "amount_micros",
    "amount",
    "amount_minor",
    "note",
]


def columns_of(statement: Statement) -> list[str]:
    return ACTOR_COLUMNS if statement.party.kind is PartyKind.ACTOR else STUDIO_COLUMNS


def seconds(audio_ms: int) -> str:
    """Milliseconds as exact decimal seconds: 2356 → "2.356"."""
    sign = "-" if audio_ms < 0 else ""
    whole, ms = divmod(abs(audio_ms), 1000)
    return f"{sign}{whole}.{ms:03d}"


def timestamp(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def grouped(number: str) -> str:
    """Thousands separators on the whole part of a decimal string: "1234.5" → "1,234.5"."""
    sign = "-" if number.startswith("-") else ""
    whole, dot, frac = number.lstrip("-").partition(".")
    return f"{sign}{int(whole):,}{dot}{frac}"


def summary_records(statement: Statement) -> Iterator[dict[str, object]]:
    """The summary and subtotal rows that open a statement's CSV, currency by currency.

    Each figure is its own row, so the arithmetic reads top to bottom: the
    lines plus the adjustments are the period's amount; with the remainder
    carried in, the total; its whole minor units are payable (or invoiced),
    the rest is carried out.
    """
    actor = statement.party.kind is PartyKind.ACTOR
    mine = "royalty_micros" if actor else "amount_micros"
    major = "royalty" if actor else "amount"
    period_record = "period_royalty" if actor else "period_usage"
    payable_record = "payable" if actor else "invoiced"
    settled_record = "payout" if actor else "invoice"
    provisional = " (provisional: the month is still open)" if statement.provisional else ""
    if not statement.currencies:
        yield {"record": period_record, mine: 0, major: format_micros(0), "note": "No lines."}
        yield {"record": payable_record, "amount_minor": 0, "note": "Nothing payable."}
        return
    following = next_period(statement.period)
    for c in statement.currencies:
        cur = c.currency
        lines_row: dict[str, object] = {
            "record": "lines_used",
            "lines": c.lines,
            "characters": c.characters,
            "audio_seconds": seconds(c.audio_ms),
            "currency": cur,
            mine: c.lines_micros,
            major: format_micros(c.lines_micros),
            "note": "what the lines below come to",
        }
        if actor:
            lines_row["amount_micros"] = c.gross_micros
            lines_row["note"] = "your royalty on the lines below; amount_micros is their price"
        yield lines_row
        yield {
            "record": "adjustments",
            "currency": cur,
            mine: c.adjustments_micros,
            major: format_micros(c.adjustments_micros),
            "note": "refunds and corrections listed below",
        }
        yield {
            "record": period_record,
            "currency": cur,
            mine: c.accrued_micros,
            major: format_micros(c.accrued_micros),
            "note": "the ledger's total for the month"
            + (
                "" if c.reconciled else " (does NOT match the rows below: reported to the operator)"
            ),
        }
        yield {
            "record": "carried_in",
            "currency": cur,
            mine: c.carried_in_micros,
            major: format_micros(c.carried_in_micros),
            "note": f"remainder carried from {c.carried_in_from}"
            if c.carried_in_from
            else "no remainder carried in",
        }
        yield {
            "record": "total",
            "currency": cur,
            mine: c.total_micros,
            major: format_micros(c.total_micros),
        }
        yield {
            "record": payable_record,
            "currency": cur,
            "amount_minor": c.payable_minor,
            major: format_minor(c.payable_minor, cur),
            "note": f"whole {cur} minor units{provisional}",
        }
        yield {
            "record": "carried_out",
            "currency": cur,
            mine: c.carried_out_micros,
            major: format_micros(c.carried_out_micros),
            "note": f"carried to {following}{provisional}",
        }
        yield {
            "record": settled_record,
            "currency": cur,
            "amount_minor": "" if c.settlement.amount_minor is None else c.settlement.amount_minor,
            "note": c.settlement.note,
        }
    for c in statement.currencies:
        for s in c.subtotals:
            row: dict[str, object] = {
                "record": f"subtotal_{s.level}",
                "lines": s.lines,
                "characters": s.characters,
                "audio_seconds": seconds(s.audio_ms),
                "currency": s.currency,
                mine: s.net_micros,
                major: format_micros(s.net_micros),
                "project": s.project,
            }
            if actor:
                row["studio"] = s.studio
                row["amount_micros"] = s.amount_micros
            if s.adjustments_micros:
                row["note"] = (
                    f"includes refunds and corrections of {format_micros(s.adjustments_micros)}"
                )
            if s.level == "unattributed":
                row["note"] = s.studio
            yield row


def line_cells(statement: Statement, row: LineRow) -> list[object]:
    """A line or adjustment as a CSV row, in the order of `columns_of(statement)` (built
    directly: a statement can have a million of them)."""
    rate = "" if row.rate_micros is None else row.rate_micros
    date, audio = timestamp(row.date), seconds(row.audio_ms)
    mine = (row.party_micros, format_micros(row.party_micros), "", row.note)
    if statement.party.kind is PartyKind.ACTOR:
        amount = "" if row.amount_micros is None else row.amount_micros
        return [
            *(row.record, date, row.studio, row.project, row.cut, row.line_id, row.take_id),
            *(row.text, row.lines, row.characters, audio, row.use, row.currency),
            *(row.price_unit, rate, amount, *mine),
        ]
    return [
        *(row.record, date, row.project, row.cut, row.line_id, row.take_id, row.text),
        *(row.voice, row.actor, row.lines, row.characters, audio, row.use, row.currency),
        *(row.price_unit, rate, *mine),
    ]


class _Chunks:
    """A file for `csv.writer` that gathers its output until it is taken."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0

    def write(self, text: str) -> int:
        self.parts.append(text)
        self.size += len(text)
        return len(text)

    def take(self) -> str:
        text = "".join(self.parts)
        self.parts, self.size = [], 0
        return text


def statement_csv(session: Session, statement: Statement) -> Iterator[str]:
    """The statement as CSV, in chunks: summary rows, subtotals, then every line and adjustment.

    One table with a `record` column saying what each row is; money as
    integer micro-units (and minor units for the payable row), with the same
    amount written out in the major unit beside it.
    """
    columns = columns_of(statement)
    out = _Chunks()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for record in summary_records(statement):
        writer.writerow([record.get(column, "") for column in columns])
    for row in line_rows(session, statement):
        writer.writerow(line_cells(statement, row))
        if out.size >= CSV_CHUNK:
            yield out.take()
    yield out.take()


# ---- JSON ---------------------------------------------------------------------------------


def figures_json(figures: CurrencyFigures) -> dict[str, object]:
    return {
        "currency": figures.currency,
        "statement_id": figures.statement_id,
        "lines": figures.lines,
        "characters": figures.characters,
        "audio_seconds": figures.audio_ms / 1000,
        "gross_micros": figures.gross_micros,
        "accrued_micros": figures.accrued_micros,
        "carried_in_micros": figures.carried_in_micros,
        "carried_in_from": figures.carried_in_from,
        "total_micros": figures.total_micros,
        "payable_minor": figures.payable_minor,
        "payable": format_minor(figures.payable_minor, figures.currency),
        "carried_out_micros": figures.carried_out_micros,
        "settlement": {
            "status": figures.settlement.status,
            "note": figures.settlement.note,
            "reference": figures.settlement.reference,
            "amount_minor": figures.settlement.amount_minor,
        },
    }


def statement_json(statement: Statement) -> dict[str, object]:
    """The statement's figures and subtotals (no line rows), as the API answers it."""
    actor = statement.party.kind is PartyKind.ACTOR
    return {
        "object": "statement",
        "kind": "royalty" if actor else "usage",
        "party": {
            "kind": statement.party.kind.value,
            "id": statement.party.id,
            "name": statement.party.name,
        },
        "period": statement.period,
        "status": statement.status.value,
        "provisional": statement.provisional,
        "closed_at": statement.closed_at,
        "currencies": [
            {
                **figures_json(c),
                "lines_micros": c.lines_micros,
                "adjustments_micros": c.adjustments_micros,
                "reconciled": c.reconciled,
                "subtotals": [
                    {
                        "level": s.level,
                        "studio_id": s.studio_id if actor else None,
                        "studio": s.studio if actor else None,
                        "project_id": s.project_id,
                        "project": s.project or None,
                        "lines": s.lines,
                        "characters": s.characters,
                        "audio_seconds": s.audio_ms / 1000,
                        "amount_micros": s.amount_micros,
                        "lines_micros": s.lines_micros,
                        "adjustments_micros": s.adjustments_micros,
                        "net_micros": s.net_micros,
                    }
                    for s in c.subtotals
                ],
            }
            for c in statement.currencies
        ],
    }
