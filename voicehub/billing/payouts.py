"""Paying actors their royalties: one Stripe Connect transfer per actor and currency.

A payout covers every closed statement of the actor, up to the period named,
that no payout has covered yet (a failed or reversed payout's statements are
payable again). It starts in one transaction: the `Payout` row and its ledger
entry set (the royalty leaves the actor's payable account for `payouts`).
Only after that commits is the transfer asked of Stripe, with the payout id as
its idempotency key, so asking again (after a lost answer, in the next run)
can never pay twice. Stripe's answer settles it: made (`payout_sent`: the
money leaves VoiceHub's Stripe balance), refused (`payout_failed`: the royalty
is payable again), or no answer (the payout stays pending and the next run asks
again with the same key).

Actors are paid whatever is payable once it reaches the payout threshold of its
currency, and only into a Connect account whose onboarding Stripe has accepted.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from voicehub.audit import service as audit_log
from voicehub.billing.stripe_gateway import StripeGateway, StripeRefused, StripeUnavailable
from voicehub.billing.tables import Payout, PayoutAccount, PayoutStatus
from voicehub.db import transaction, utcnow
from voicehub.errors import Conflict, NotFound
from voicehub.ids import new_id
from voicehub.ledger.periods import period_status
from voicehub.ledger.service import PLATFORM, Posting, check_period, post
from voicehub.ledger.tables import (
    AccountKind,
    LedgerKind,
    LedgerTransaction,
    PartyKind,
    PeriodStatement,
    PeriodStatus,
)
from voicehub.metering.currency import format_minor, micros_per_minor

# Metadata key on a transfer: the payout it made, to find it again.
PAYOUT_KEY = "voicehub_payout_id"

# A payout in these states covers its statements; failed and reversed ones do not.
COVERING = (PayoutStatus.PENDING, PayoutStatus.PAID)


class PayoutAccountUnverified(Conflict):
    code = "payout_account_unverified"
    title = "The actor's payout account cannot receive payouts yet"


class PeriodNotClosed(Conflict):
    code = "period_not_closed"
    title = "The period is not closed"


@dataclass(frozen=True)
class PayoutOutcome:
    actor_id: str
    currency: str
    amount_minor: int
    # "paid", "failed", "pending" (no answer from Stripe; the next run asks again) or
    # "skipped" (`reason` says why: below_threshold, payout_account_unverified,
    # paid_by_another_run).
    result: str
    reason: str = ""
    detail: str = ""
    payout_id: str | None = None


def threshold_minor(thresholds: dict[str, int], currency: str) -> int:
    """The least paid out in `currency`; a currency without a threshold pays anything owed."""
    return max(1, thresholds.get(currency, 1))


def unpaid_statements(
    session: Session, *, up_to: str | None = None, actor_id: str | None = None
) -> dict[tuple[str, str], list[PeriodStatement]]:
    """Per (actor, currency): closed statements (up to `up_to`) that no payout covers."""
    query = select(PeriodStatement).where(
        PeriodStatement.party_kind == PartyKind.ACTOR, PeriodStatement.payable_minor > 0
    )
    if up_to is not None:
        query = query.where(PeriodStatement.period <= up_to)
    if actor_id is not None:
        query = query.where(PeriodStatement.party_id == actor_id)
    statements = list(session.scalars(query.order_by(PeriodStatement.period)))
    actors = {s.party_id for s in statements}
    covered: set[str] = set()
    for ids in session.scalars(
        select(Payout.statement_ids).where(Payout.actor_id.in_(actors), Payout.status.in_(COVERING))
    ):
        covered.update(ids)
    unpaid: dict[tuple[str, str], list[PeriodStatement]] = defaultdict(list)
    for statement in statements:
        if statement.id not in covered:
            unpaid[(statement.party_id, statement.currency)].append(statement)
    return dict(unpaid)


def account_problem(account: PayoutAccount | None) -> str | None:
    """Why payouts cannot go to this account, or None when they can."""
    if account is None:
        return "The actor has not opened a payout account (POST /v1/actor/payout-account)."
    if not account.payouts_enabled:
        return (
            f"Stripe has not enabled payouts to {account.stripe_account_id} yet: the actor"
            " has to finish onboarding (POST /v1/actor/payout-account gives a fresh link)."
        )
    return None


def run_payouts(
    sessions: sessionmaker[Session],
    gateway: StripeGateway,
    period: str,
    *,
    thresholds: dict[str, int],
    actor_id: str | None = None,
    by: str = "system",
) -> list[PayoutOutcome]:
    """Pay every actor (or one) what their closed statements up to `period` make payable.

    Pending payouts of earlier runs are asked of Stripe again first. For one
    actor whose account cannot receive payouts the run is refused
    (`payout_account_unverified`) and nothing is posted; for all actors such an
    actor is skipped and reported, like one below the threshold. Either way
    their statements stay unpaid and are paid by a later run.
    """
    check_period(period)
    with transaction(sessions) as session:
        if period_status(session, period) is not PeriodStatus.CLOSED:
            raise PeriodNotClosed(
                f"{period} is not closed; payouts cover closed statements only.",
                fields=["period"],
            )
        if actor_id is not None:
            problem = account_problem(session.get(PayoutAccount, actor_id))
            if problem is not None:
                raise PayoutAccountUnverified(problem, actor_id=actor_id)
        retries = select(Payout.id).where(Payout.status == PayoutStatus.PENDING)
        if actor_id is not None:
            retries = retries.where(Payout.actor_id == actor_id)
        pending = list(session.scalars(retries.order_by(Payout.created_at, Payout.id)))
        unpaid = unpaid_statements(session, up_to=period, actor_id=actor_id)
        groups = [
            (actor, currency, [s.id for s in statements], sum(s.payable_minor for s in statements))
            for (actor, currency), statements in sorted(unpaid.items())
        ]

    outcomes = [send_payout(sessions, gateway, payout_id, retry=True) for payout_id in pending]
    for actor, currency, statement_ids, amount in groups:
        minimum = threshold_minor(thresholds, currency)
        if amount < minimum:
            outcomes.append(
                PayoutOutcome(
                    actor,
                    currency,
                    amount,
                    "skipped",
                    "below_threshold",
                    f"{format_minor(amount, currency)} {currency} payable, paid from"
                    f" {format_minor(minimum, currency)}; carried to the next run",
                )
            )
            continue
        try:
            payout_id = start_payout(
                sessions, actor, currency, statement_ids, amount, period=period, by=by
            )
        except PayoutAccountUnverified as error:
            if actor_id is not None:
                raise
            outcomes.append(
                PayoutOutcome(actor, currency, amount, "skipped", error.code, error.detail)
            )
            continue
        if payout_id is None:
            outcomes.append(
                PayoutOutcome(
                    actor,
                    currency,
                    amount,
                    "skipped",
                    "paid_by_another_run",
                    "a run at the same time started this payout",
                )
            )
            continue
        outcomes.append(send_payout(sessions, gateway, payout_id))
    return outcomes


def start_payout(
    sessions: sessionmaker[Session],
    actor_id: str,
    currency: str,
    statement_ids: list[str],
    amount_minor: int,
    *,
    period: str,
    by: str,
) -> str | None:
    """The payout row and its ledger entry set, committed together; None if another run won.

    The actor's payout account row is write-locked before the statements are
    checked again, so two runs at once cannot both cover the same statements.
    """
    with transaction(sessions) as session:
        # Take the write lock before reading (PostgreSQL: the row; SQLite: the database).
        session.execute(
            update(PayoutAccount)
            .where(PayoutAccount.actor_id == actor_id)
            .values(updated_at=PayoutAccount.updated_at)
            .execution_options(synchronize_session=False)
        )
        account = session.get(PayoutAccount, actor_id, populate_existing=True)
        problem = account_problem(account)
        if problem is not None or account is None:
            raise PayoutAccountUnverified(problem or "", actor_id=actor_id)
        still_unpaid = {
            s.id
            for s in unpaid_statements(session, up_to=period, actor_id=actor_id).get(
                (actor_id, currency), []
            )
        }
        if not set(statement_ids) <= still_unpaid:
            return None
        now = utcnow()
        payout = Payout(
            id=new_id("pout"),
            actor_id=actor_id,
            period=period,
            currency=currency,
            amount_minor=amount_minor,
            statement_ids=statement_ids,
            status=PayoutStatus.PENDING,
            transfer_group=f"period_{period}",
            stripe_account_id=account.stripe_account_id,
            created_at=now,
            updated_at=now,
        )
        session.add(payout)
        session.flush()
        micros = amount_minor * micros_per_minor(currency)
        post(
            session,
            kind=LedgerKind.PAYOUT,
            currency=currency,
            reference=f"payout:{payout.id}",
            postings=[
                Posting(AccountKind.ACTOR_ROYALTY_PAYABLE, actor_id, micros),
                Posting(AccountKind.PAYOUTS, actor_id, -micros),
            ],
            memo=(
                f"{format_minor(amount_minor, currency)} {currency} for"
                f" {len(statement_ids)} statement(s) up to {period}"
            ),
            created_by=by,
        )
        _audit(session, "payout.initiated", payout, by=by)
        return payout.id


def send_payout(
    sessions: sessionmaker[Session], gateway: StripeGateway, payout_id: str, *, retry: bool = False
) -> PayoutOutcome:
    """Ask Stripe for a pending payout's transfer and settle the payout by its answer.

    A retry first looks for a transfer that an earlier attempt made but never
    heard back about (Stripe keeps an idempotency key for a day only).
    """
    with transaction(sessions) as session:
        payout = session.get(Payout, payout_id)
        if payout is None:
            raise NotFound(f"No payout {payout_id}.")
        session.expunge(payout)
    if payout.status is not PayoutStatus.PENDING:
        return _outcome(payout, payout.status.value, detail="settled earlier")
    transfer = None
    if retry:
        try:
            transfer = gateway.find_transfer(
                destination=payout.stripe_account_id,
                transfer_group=payout.transfer_group,
                metadata_key=PAYOUT_KEY,
                value=payout.id,
            )
        except (StripeUnavailable, StripeRefused) as error:
            # Not knowing whether the transfer was made, the payout stays pending.
            return _outcome(payout, "pending", error.code, str(error))
    if transfer is None:
        try:
            transfer = gateway.create_transfer(
                amount_minor=payout.amount_minor,
                currency=payout.currency,
                destination=payout.stripe_account_id,
                transfer_group=payout.transfer_group,
                metadata={
                    PAYOUT_KEY: payout.id,
                    "voicehub_actor_id": payout.actor_id,
                    "voicehub_period": payout.period,
                },
                idempotency_key=payout.id,
            )
        except StripeUnavailable as error:
            return _outcome(payout, "pending", error.code, str(error))
        except StripeRefused as error:
            code = str(error.extra.get("stripe_code") or error.code)
            reason = f"{code}: {error}"
            _settle(sessions, payout, PayoutStatus.FAILED, failure_reason=reason)
            return _outcome(payout, "failed", code, reason)
    _settle(sessions, payout, PayoutStatus.PAID, transfer_id=transfer.id)
    return _outcome(payout, "paid", detail=transfer.id)


def _settle(
    sessions: sessionmaker[Session],
    payout: Payout,
    status: PayoutStatus,
    *,
    transfer_id: str | None = None,
    failure_reason: str | None = None,
) -> None:
    """Mark a pending payout paid or failed and post what that moves, once."""
    with transaction(sessions) as session:
        session.execute(
            update(Payout)
            .where(Payout.id == payout.id)
            .values(updated_at=Payout.updated_at)
            .execution_options(synchronize_session=False)
        )
        row = session.get(Payout, payout.id, populate_existing=True)
        if row is None or row.status is not PayoutStatus.PENDING:
            return
        micros = row.amount_minor * micros_per_minor(row.currency)
        started = session.scalar(
            select(LedgerTransaction.id).where(LedgerTransaction.reference == f"payout:{row.id}")
        )
        if status is PayoutStatus.PAID:
            post(
                session,
                kind=LedgerKind.PAYOUT_SENT,
                currency=row.currency,
                reference=f"payout_sent:{row.id}",
                postings=[
                    Posting(AccountKind.PAYOUTS, row.actor_id, micros),
                    Posting(AccountKind.STRIPE_CLEARING, PLATFORM, -micros),
                ],
                memo=f"transfer {transfer_id}",
            )
            row.stripe_transfer_id = transfer_id
        else:
            post(
                session,
                kind=LedgerKind.PAYOUT_FAILED,
                currency=row.currency,
                reference=f"payout_failed:{row.id}",
                postings=[
                    Posting(AccountKind.PAYOUTS, row.actor_id, micros),
                    Posting(AccountKind.ACTOR_ROYALTY_PAYABLE, row.actor_id, -micros),
                ],
                memo=(failure_reason or "")[:1000],
                reverses_id=started,
            )
            row.failure_reason = failure_reason
        row.status = status
        row.updated_at = utcnow()
        _audit(session, f"payout.{status.value}", row, transfer_id=transfer_id)


def _audit(session: Session, action: str, payout: Payout, **details: str | None) -> None:
    audit_log.record(
        session,
        action,
        target_type="payout",
        target_id=payout.id,
        details={
            "actor_id": payout.actor_id,
            "currency": payout.currency,
            "amount_minor": payout.amount_minor,
            "period": payout.period,
            "failure_reason": payout.failure_reason,
            **details,
        },
    )


def _outcome(payout: Payout, result: str, reason: str = "", detail: str = "") -> PayoutOutcome:
    return PayoutOutcome(
        payout.actor_id,
        payout.currency,
        payout.amount_minor,
        result,
        reason,
        detail,
        payout.id,
    )
