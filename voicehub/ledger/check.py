"""`voicehub ledger check`: the ledger's invariants, each proved by a query over every row.

1. Every entry set balances (its entries sum to zero) and has at least two entries,
   all in its own currency.
2. Every take has exactly one usage posting, and it moves exactly its usage
   record's amounts (studio, actor, platform).
3. Every account's balance equals the sum of its entries.
4. Closed periods are final: no entry set counts in a period after it closed,
   and each statement's accrued amount still equals the ledger's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from voicehub.ledger.periods import ACCRUALS, STATEMENT_ACCOUNTS
from voicehub.ledger.tables import (
    AccountKind,
    BillingPeriod,
    LedgerAccount,
    LedgerEntry,
    LedgerKind,
    LedgerTransaction,
    PeriodStatement,
    PeriodStatus,
)
from voicehub.metering.tables import UsageRecord
from voicehub.production.tables import Take

# More examples than this of one broken invariant are counted, not listed.
_EXAMPLES = 20


@dataclass(frozen=True)
class Problem:
    invariant: str
    detail: str


@dataclass
class LedgerReport:
    entry_sets: int = 0
    entries: int = 0
    accounts: int = 0
    takes: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        counted = (
            f"{self.entry_sets} entry sets, {self.entries} entries, {self.accounts} accounts,"
            f" {self.takes} takes"
        )
        if self.ok:
            return f"ledger check: {counted}: every invariant holds"
        lines = [f"ledger check: {counted}: {len(self.problems)} problem(s)"]
        lines += [f"  [{p.invariant}] {p.detail}" for p in self.problems]
        return "\n".join(lines)


def check_ledger(session: Session) -> LedgerReport:
    report = LedgerReport(
        entry_sets=session.scalar(select(func.count()).select_from(LedgerTransaction)) or 0,
        entries=session.scalar(select(func.count()).select_from(LedgerEntry)) or 0,
        accounts=session.scalar(select(func.count()).select_from(LedgerAccount)) or 0,
        takes=session.scalar(select(func.count()).select_from(Take)) or 0,
    )

    def problems(invariant: str, rows: list[str], total: int | None = None) -> None:
        report.problems += [Problem(invariant, row) for row in rows[:_EXAMPLES]]
        if (total or len(rows)) > _EXAMPLES:
            more = (total or len(rows)) - _EXAMPLES
            report.problems.append(Problem(invariant, f"… and {more} more"))

    unbalanced = session.execute(
        select(
            LedgerTransaction.id,
            LedgerTransaction.reference,
            func.coalesce(func.sum(LedgerEntry.amount_micros), 0),
            func.count(LedgerEntry.id),
        )
        .outerjoin(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
        .group_by(LedgerTransaction.id, LedgerTransaction.reference)
        .having(
            (func.coalesce(func.sum(LedgerEntry.amount_micros), 0) != 0)
            | (func.count(LedgerEntry.id) < 2)
        )
    ).all()
    problems(
        "balanced",
        [
            f"entry set {txn} ({ref}) sums to {total} micro-units over {n} entries"
            for txn, ref, total, n in unbalanced
        ],
    )

    mixed = session.execute(
        select(LedgerTransaction.id, LedgerTransaction.currency, LedgerAccount.currency)
        .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(LedgerAccount.currency != LedgerTransaction.currency)
    ).all()
    problems(
        "one currency",
        [f"entry set {txn} in {c1} moves a {c2} account" for txn, c1, c2 in mixed],
    )

    postings = (
        select(LedgerTransaction.take_id, func.count().label("n"))
        .where(LedgerTransaction.kind == LedgerKind.USAGE)
        .group_by(LedgerTransaction.take_id)
        .subquery()
    )
    take_postings = session.execute(
        select(Take.id, func.coalesce(postings.c.n, 0))
        .outerjoin(postings, postings.c.take_id == Take.id)
        .where(func.coalesce(postings.c.n, 0) != 1)
    ).all()
    problems(
        "one usage posting per take",
        [f"take {take} has {n} usage postings" for take, n in take_postings],
    )

    # The usage posting moves exactly the record's amounts on the right accounts.
    expected = {
        AccountKind.STUDIO_RECEIVABLE: (UsageRecord.amount_micros, UsageRecord.studio_id),
        AccountKind.ACTOR_ROYALTY_PAYABLE: (
            -UsageRecord.actor_royalty_micros,
            UsageRecord.actor_id,
        ),
        AccountKind.PLATFORM_REVENUE: (-UsageRecord.platform_micros, None),
    }
    moved = (
        select(
            LedgerTransaction.usage_record_id.label("usage_id"),
            LedgerAccount.kind.label("kind"),
            LedgerAccount.owner_id.label("owner"),
            func.sum(LedgerEntry.amount_micros).label("amount"),
        )
        .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(LedgerTransaction.kind == LedgerKind.USAGE)
        .group_by(LedgerTransaction.usage_record_id, LedgerAccount.kind, LedgerAccount.owner_id)
        .subquery()
    )
    mismatched: list[str] = []
    for kind, (amount, owner) in expected.items():
        condition = and_(moved.c.usage_id == UsageRecord.id, moved.c.kind == kind)
        if owner is not None:
            condition = and_(condition, moved.c.owner == owner)
        rows = session.execute(
            select(UsageRecord.take_id, amount, func.coalesce(func.sum(moved.c.amount), 0))
            .outerjoin(moved, condition)
            .group_by(UsageRecord.id, UsageRecord.take_id, amount)
            .having(func.coalesce(func.sum(moved.c.amount), 0) != amount)
        ).all()
        mismatched += [
            f"take {take}: {kind.value} moved {got}, its usage record says {want}"
            for take, want, got in rows
        ]
    problems("usage posting equals usage record", mismatched)

    sums = (
        select(LedgerEntry.account_id, func.sum(LedgerEntry.amount_micros).label("total"))
        .group_by(LedgerEntry.account_id)
        .subquery()
    )
    drifted = session.execute(
        select(LedgerAccount.id, LedgerAccount.kind, LedgerAccount.balance_micros, sums.c.total)
        .outerjoin(sums, sums.c.account_id == LedgerAccount.id)
        .where(LedgerAccount.balance_micros != func.coalesce(sums.c.total, 0))
    ).all()
    problems(
        "balance equals entries",
        [
            f"account {acct} ({kind.value}) balance {balance}, entries sum to {total or 0}"
            for acct, kind, balance, total in drifted
        ],
    )

    late = session.execute(
        select(LedgerTransaction.id, LedgerTransaction.period, LedgerTransaction.reference)
        .join(BillingPeriod, BillingPeriod.period == LedgerTransaction.period)
        .where(
            BillingPeriod.status == PeriodStatus.CLOSED,
            LedgerTransaction.created_at > BillingPeriod.closed_at,
        )
    ).all()
    problems(
        "closed periods are final",
        [
            f"entry set {txn} ({ref}) posted into {period} after it closed"
            for txn, period, ref in late
        ],
    )
    problems("statements equal the ledger", _statement_drift(session))
    return report


def _statement_drift(session: Session) -> list[str]:
    out: list[str] = []
    for party_kind, (account_kind, sign) in STATEMENT_ACCOUNTS.items():
        accrued = (
            select(
                LedgerTransaction.period.label("period"),
                LedgerAccount.owner_id.label("owner"),
                LedgerAccount.currency.label("currency"),
                func.sum(LedgerEntry.amount_micros).label("total"),
            )
            .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
            .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
            .where(LedgerTransaction.kind.in_(ACCRUALS), LedgerAccount.kind == account_kind)
            .group_by(LedgerTransaction.period, LedgerAccount.owner_id, LedgerAccount.currency)
            .subquery()
        )
        ledger_amount = sign * func.coalesce(accrued.c.total, 0)
        rows = session.execute(
            select(
                PeriodStatement.id,
                PeriodStatement.period,
                PeriodStatement.party_id,
                PeriodStatement.accrued_micros,
                ledger_amount,
            )
            .outerjoin(
                accrued,
                and_(
                    accrued.c.period == PeriodStatement.period,
                    accrued.c.owner == PeriodStatement.party_id,
                    accrued.c.currency == PeriodStatement.currency,
                ),
            )
            .where(
                PeriodStatement.party_kind == party_kind,
                PeriodStatement.accrued_micros != ledger_amount,
            )
        ).all()
        out += [
            f"statement {sid} ({party_kind.value} {party}, {period}) says {said}, ledger {got}"
            for sid, period, party, said, got in rows
        ]
    return out
