"""`voicehub ledger …` and `voicehub periods …`: the operator's money commands.

`ledger check` exits 0 when every invariant holds and 1 naming each one that
does not; the other commands exit 0 on success and 2 on a refusal.
"""

from __future__ import annotations

import argparse
import getpass

from sqlalchemy.orm import Session, sessionmaker

import voicehub.schema  # noqa: F401  (every table, whichever command runs)
from voicehub.commands import add_command
from voicehub.db import make_engine, make_sessionmaker, transaction
from voicehub.settings import get_settings


def _sessions() -> sessionmaker[Session]:
    return make_sessionmaker(make_engine(get_settings().resolved_database_url))


def add_money_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the `ledger` and `periods` command groups on the main CLI's subparsers."""

    def group(name: str, help_text: str) -> argparse._SubParsersAction[argparse.ArgumentParser]:
        parser = subparsers.add_parser(name, help=help_text, description=help_text)
        return parser.add_subparsers(dest=f"{name}_command", required=True)

    command = add_command

    ledger = group("ledger", "Check the ledger's invariants, refund a take, show balances.")
    command(
        ledger,
        "check",
        cmd_check,
        "Prove every invariant: entry sets balance, one usage posting per take, balances equal"
        " entries, closed periods final. Exit 1 naming each broken one.",
    )
    refund = command(
        ledger,
        "refund",
        cmd_refund,
        "Credit a delivered take back to its studio (a new entry set that negates its usage"
        " posting, in the open period).",
    )
    refund.add_argument("--take", required=True)
    refund.add_argument("--reason", required=True)
    refund.add_argument("--by", default=None, help="who refunds (default: this login)")
    balances = command(ledger, "balances", cmd_balances, "Every account's balance.")
    balances.add_argument("--owner", help="only this studio's or actor's accounts")

    periods = group("periods", "Close billing periods and list them.")
    close = command(
        periods,
        "close",
        cmd_close,
        "Close a month: write every actor's and studio's statement and the studios' invoices."
        " Refused before the month has ended, twice, or out of order.",
    )
    close.add_argument("period", help="YYYY-MM")
    close.add_argument("--by", default=None, help="who closes (default: this login)")
    command(periods, "list", cmd_list, "Every period with entries, open or closed.")


def _by(value: str | None) -> str:
    return value or f"operator:{getpass.getuser()}"


def cmd_check(_: argparse.Namespace) -> int:
    from voicehub.ledger.check import check_ledger

    with transaction(_sessions()) as session:
        report = check_ledger(session)
    print(report.summary())
    return 0 if report.ok else 1


def cmd_refund(args: argparse.Namespace) -> int:
    from voicehub.ledger.service import refund_take

    with transaction(_sessions()) as session:
        entry_set = refund_take(session, args.take, reason=args.reason, by=_by(args.by))
        print(f"refunded take {args.take}: entry set {entry_set.id} in {entry_set.period}")
    return 0


def cmd_balances(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from voicehub.ledger.tables import LedgerAccount
    from voicehub.metering.currency import format_micros

    with transaction(_sessions()) as session:
        query = select(LedgerAccount).order_by(
            LedgerAccount.currency, LedgerAccount.kind, LedgerAccount.owner_id
        )
        if args.owner:
            query = query.where(LedgerAccount.owner_id == args.owner)
        for account in session.scalars(query):
            owner = account.owner_id or "platform"
            print(
                f"{account.currency}  {account.kind.value:<22} {owner:<26}"
                f" {format_micros(account.balance_micros):>22}"
            )
    return 0


def cmd_close(args: argparse.Namespace) -> int:
    from voicehub.ledger.periods import close_period
    from voicehub.metering.currency import format_minor

    with transaction(_sessions()) as session:
        result = close_period(session, args.period, by=_by(args.by))
        print(f"closed {result.period}: {len(result.statements)} statement(s)")
        for statement in result.statements:
            print(
                f"  {statement.party_kind.value:<6} {statement.party_id:<26} {statement.currency}"
                f" {statement.lines:>7} lines  payable {format_minor(statement.payable_minor, statement.currency)}"
                f"  carried {statement.carried_out_micros} micro-units"
            )
        pending = sum(1 for invoice in result.invoices if invoice.amount_minor > 0)
        print(
            f"  {pending} invoice(s) to send: voicehub billing send-invoices --period {result.period}"
        )
    return 0


def cmd_list(_: argparse.Namespace) -> int:
    from sqlalchemy import func, select

    from voicehub.ledger.tables import BillingPeriod, LedgerTransaction

    with transaction(_sessions()) as session:
        counts = dict(
            session.execute(
                select(LedgerTransaction.period, func.count()).group_by(LedgerTransaction.period)
            ).all()
        )
        for period in session.scalars(select(BillingPeriod).order_by(BillingPeriod.period)):
            closed = (
                f"closed {period.closed_at:%Y-%m-%d %H:%M} by {period.closed_by}"
                if period.closed_at
                else "open"
            )
            print(f"{period.period}  {counts.get(period.period, 0):>8} entry sets  {closed}")
    return 0
