"""Posting balanced entry sets into the open period, and the accounts they move.

Every amount is an integer number of micro-units; debits are positive, credits
negative, and an entry set's amounts sum to zero. Nothing here updates or
deletes an entry: a correction or refund is a new entry set (the database's
triggers refuse edits, see migration 0006).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from voicehub.db import utcnow
from voicehub.errors import Conflict, InvalidInput, NotFound
from voicehub.ids import new_id
from voicehub.ledger.tables import (
    AccountKind,
    BillingPeriod,
    LedgerAccount,
    LedgerEntry,
    LedgerKind,
    LedgerTransaction,
    PeriodStatus,
)
from voicehub.metering.currency import check_currency
from voicehub.metering.tables import UsageRecord

PLATFORM = ""
_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class AlreadyPosted(Conflict):
    code = "already_posted"
    title = "Already posted"


class Unbalanced(Exception):
    """A programming error: an entry set whose amounts do not sum to zero is never written."""


@dataclass(frozen=True)
class Posting:
    """One side of an entry set: `amount_micros` to the account of `kind` owned by `owner_id`."""

    kind: AccountKind
    owner_id: str
    amount_micros: int


def check_period(period: str) -> str:
    if not _PERIOD.match(period):
        raise InvalidInput("A period is a calendar month written YYYY-MM.", fields=["period"])
    return period


def period_of(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m")


def next_period(period: str) -> str:
    year, month = (int(part) for part in period.split("-"))
    return f"{year + month // 12:04d}-{month % 12 + 1:02d}"


def period_start(period: str) -> dt.datetime:
    year, month = (int(part) for part in check_period(period).split("-"))
    return dt.datetime(year, month, 1, tzinfo=dt.UTC)


def insert_ignore(session: Session, model: type[Any], values: dict[str, Any]) -> None:
    """Insert a row unless one with the same unique key exists (another writer's is as good)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert  # type: ignore[assignment]
    session.execute(dialect_insert(model).values(**values).on_conflict_do_nothing())


def open_period(session: Session, at: dt.datetime | None = None) -> str:
    """The period an entry set committing at `at` counts in, share-locked until commit.

    It is the calendar month of `at`, or the first month after it that is still
    open. Closing a period takes the row's exclusive lock, so it waits for every
    posting that holds the share lock, and postings after it go to the next month.
    """
    period = period_of(at or utcnow())
    while True:
        status = session.scalar(
            select(BillingPeriod.status)
            .where(BillingPeriod.period == period)
            .with_for_update(read=True)
        )
        if status is None:
            insert_ignore(
                session,
                BillingPeriod,
                {"period": period, "status": PeriodStatus.OPEN.name, "created_at": utcnow()},
            )
            continue
        if status is PeriodStatus.OPEN:
            return period
        period = next_period(period)


def account_ids(
    session: Session, currency: str, keys: Iterable[tuple[AccountKind, str]]
) -> dict[tuple[AccountKind, str], str]:
    """The id of each (kind, owner) account in `currency`, creating those that do not exist."""
    wanted = set(keys)
    found = _find_accounts(session, currency, wanted)
    for kind, owner in wanted - set(found):
        insert_ignore(
            session,
            LedgerAccount,
            {
                "id": new_id("acct"),
                "kind": kind.name,
                "owner_id": owner,
                "currency": currency,
                "balance_micros": 0,
                "created_at": utcnow(),
            },
        )
    if len(found) < len(wanted):
        found = _find_accounts(session, currency, wanted)
    return found


def _find_accounts(
    session: Session, currency: str, wanted: set[tuple[AccountKind, str]]
) -> dict[tuple[AccountKind, str], str]:
    rows = session.execute(
        select(LedgerAccount.kind, LedgerAccount.owner_id, LedgerAccount.id).where(
            LedgerAccount.currency == currency,
            LedgerAccount.owner_id.in_({owner for _, owner in wanted}),
            LedgerAccount.kind.in_({kind for kind, _ in wanted}),
        )
    )
    return {(kind, owner): id_ for kind, owner, id_ in rows if (kind, owner) in wanted}


def post(
    session: Session,
    *,
    kind: LedgerKind,
    currency: str,
    reference: str,
    postings: Sequence[Posting],
    memo: str = "",
    created_by: str = "system",
    take_id: str | None = None,
    usage_record_id: str | None = None,
    reverses_id: str | None = None,
    period: str | None = None,
) -> LedgerTransaction:
    """Post one balanced entry set in the caller's transaction; `reference` makes it once only.

    Account balances move in the same transaction, always in account-id order so
    that concurrent postings never deadlock. A second entry set with the same
    `reference` is refused by the database (`AlreadyPosted`), whichever writer
    came second.
    """
    check_currency(currency)
    if any(
        not isinstance(p.amount_micros, int) or isinstance(p.amount_micros, bool) for p in postings
    ):
        raise Unbalanced(f"{reference}: amounts must be integers of micro-units")
    if sum(p.amount_micros for p in postings) != 0:
        raise Unbalanced(f"{reference}: entries sum to {sum(p.amount_micros for p in postings)}")
    if session.scalar(select(LedgerTransaction.id).where(LedgerTransaction.reference == reference)):
        raise AlreadyPosted(f"Already posted: {reference}.")
    period = period or open_period(session)
    accounts = account_ids(session, currency, ((p.kind, p.owner_id) for p in postings))
    entry_set = LedgerTransaction(
        id=new_id("ltx"),
        kind=kind,
        currency=currency,
        period=period,
        reference=reference,
        take_id=take_id,
        usage_record_id=usage_record_id,
        reverses_id=reverses_id,
        memo=memo,
        created_by=created_by,
        created_at=utcnow(),
    )
    session.add(entry_set)
    try:
        # The reference's unique index decides between two writers racing on it; the
        # loser's whole transaction rolls back (its caller's unit of work fails).
        session.flush()
    except IntegrityError as error:
        raise AlreadyPosted(f"Already posted: {reference}.") from error
    moves: dict[str, int] = {}
    for p in postings:
        account = accounts[(p.kind, p.owner_id)]
        moves[account] = moves.get(account, 0) + p.amount_micros
    session.execute(
        insert(LedgerEntry),
        [
            {
                "transaction_id": entry_set.id,
                "account_id": accounts[(p.kind, p.owner_id)],
                "amount_micros": p.amount_micros,
            }
            for p in postings
        ],
    )
    for account in sorted(moves):
        session.execute(
            update(LedgerAccount)
            .where(LedgerAccount.id == account)
            .values(balance_micros=LedgerAccount.balance_micros + moves[account])
            .execution_options(synchronize_session=False)
        )
    return entry_set


def usage_postings(usage: UsageRecord) -> list[Posting]:
    """A delivered line: the studio owes its price, split between the actor and VoiceHub."""
    return [
        Posting(AccountKind.STUDIO_RECEIVABLE, usage.studio_id, usage.amount_micros),
        Posting(AccountKind.ACTOR_ROYALTY_PAYABLE, usage.actor_id, -usage.actor_royalty_micros),
        Posting(AccountKind.PLATFORM_REVENUE, PLATFORM, -usage.platform_micros),
    ]


def post_usage(session: Session, usage: UsageRecord) -> LedgerTransaction:
    """The one usage posting of a take, in the take's own transaction and period."""
    return post(
        session,
        kind=LedgerKind.USAGE,
        currency=usage.currency,
        reference=f"usage:{usage.take_id}",
        postings=usage_postings(usage),
        take_id=usage.take_id,
        usage_record_id=usage.id,
        period=usage.period,
        memo=f"{usage.characters} characters, {usage.audio_ms} ms, {usage.use}",
    )


def refund_take(session: Session, take_id: str, *, reason: str, by: str) -> LedgerTransaction:
    """Credit a delivered take back to its studio: its usage posting negated, in today's period.

    The take, its usage record and its original posting stay as they were; the
    actor's royalty and VoiceHub's share are reversed with it.
    """
    if not reason.strip():
        raise InvalidInput("Say why the take is refunded.", fields=["reason"])
    usage = session.scalar(select(UsageRecord).where(UsageRecord.take_id == take_id))
    original = session.scalar(
        select(LedgerTransaction).where(LedgerTransaction.reference == f"usage:{take_id}")
    )
    if usage is None or original is None:
        raise NotFound(f"No delivered take {take_id}.", fields=["take_id"])
    return post(
        session,
        kind=LedgerKind.REFUND,
        currency=usage.currency,
        reference=f"refund:{take_id}",
        postings=[Posting(p.kind, p.owner_id, -p.amount_micros) for p in usage_postings(usage)],
        take_id=take_id,
        usage_record_id=usage.id,
        reverses_id=original.id,
        memo=reason.strip(),
        created_by=by,
    )


def balance_micros(session: Session, kind: AccountKind, owner_id: str, currency: str) -> int:
    """The account's balance (0 for an account that has never moved)."""
    return int(
        session.scalar(
            select(LedgerAccount.balance_micros).where(
                LedgerAccount.kind == kind,
                LedgerAccount.owner_id == owner_id,
                LedgerAccount.currency == currency,
            )
        )
        or 0
    )


def entries_sum(session: Session, account_id: str) -> int:
    return int(
        session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.amount_micros), 0)).where(
                LedgerEntry.account_id == account_id
            )
        )
        or 0
    )


def purge_ledger(connection: Connection) -> None:
    """Allow this transaction to delete ledger rows: only for emptying a test database."""
    connection.execute(text("UPDATE ledger_guard SET purge_allowed = true WHERE id = 1"))
