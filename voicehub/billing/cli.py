"""`voicehub billing …` and `voicehub payouts …`: the operator's Stripe commands.

Each exits 0 when everything went through, 1 when something did not (an
invoice Stripe refused, a payout still waiting for Stripe's answer: run the
command again), and 2 on a refusal (a bad or open period, an unverified
payout account for `--actor`).
"""

from __future__ import annotations

import argparse
import getpass

from sqlalchemy.orm import Session, sessionmaker

import voicehub.schema  # noqa: F401  (every table, whichever command runs)
from voicehub.commands import add_command
from voicehub.db import make_engine, make_sessionmaker
from voicehub.metering.currency import format_minor
from voicehub.settings import get_settings


def _sessions() -> sessionmaker[Session]:
    return make_sessionmaker(make_engine(get_settings().resolved_database_url))


def add_billing_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the `billing` and `payouts` command groups on the main CLI's subparsers."""

    command = add_command

    help_text = "Send studios' invoices to Stripe; process stored Stripe events."
    billing = subparsers.add_parser("billing", help=help_text, description=help_text)
    billing_commands = billing.add_subparsers(dest="billing_command", required=True)
    send = command(
        billing_commands,
        "send-invoices",
        cmd_send_invoices,
        "Send a closed month's pending studio invoices to Stripe (customer, one item per"
        " project, finalized). Safe to run again: nothing is sent twice.",
    )
    send.add_argument("--period", required=True, help="YYYY-MM")
    command(
        billing_commands,
        "process-events",
        cmd_process_events,
        "Process every stored Stripe webhook event the worker has not processed yet.",
    )

    help_text = "Pay actors their royalties through Stripe Connect."
    payouts = subparsers.add_parser("payouts", help=help_text, description=help_text)
    payout_commands = payouts.add_subparsers(dest="payouts_command", required=True)
    run = command(
        payout_commands,
        "run",
        cmd_run_payouts,
        "Pay every actor (or one) their unpaid closed statements up to a month: one transfer"
        " per actor and currency, from the payout threshold up. Safe to run again.",
    )
    run.add_argument("--period", required=True, help="YYYY-MM, a closed month")
    run.add_argument("--actor", help="only this actor (act_…); refused if they cannot be paid")
    run.add_argument("--by", default=None, help="who runs it (default: this login)")


def cmd_send_invoices(args: argparse.Namespace) -> int:
    from voicehub.billing.invoicing import send_invoices
    from voicehub.billing.stripe_gateway import StripeGateway

    settings = get_settings()
    outcomes = send_invoices(
        _sessions(),
        StripeGateway.from_settings(settings),
        args.period,
        days_until_due=settings.stripe_invoice_days_until_due,
    )
    for o in outcomes:
        print(
            f"{o.invoice_id} {o.studio_id} {format_minor(o.amount_minor, o.currency)}"
            f" {o.currency}: {o.result}"
            + (f" {o.stripe_invoice_id}" if o.stripe_invoice_id else "")
            + (f" ({o.detail})" if o.detail else "")
        )
    print(f"{args.period}: {len(outcomes)} pending invoice(s)")
    return 1 if any(o.result in ("failed", "skipped") for o in outcomes) else 0


def cmd_process_events(_: argparse.Namespace) -> int:
    from voicehub.billing.webhooks import process_unprocessed

    done = process_unprocessed(_sessions())
    for event_id, outcome in done:
        print(f"{event_id}: {outcome or 'processed already'}")
    print(f"{len(done)} event(s) processed")
    return 0


def cmd_run_payouts(args: argparse.Namespace) -> int:
    from voicehub.billing.payouts import run_payouts
    from voicehub.billing.stripe_gateway import StripeGateway

    settings = get_settings()
    outcomes = run_payouts(
        _sessions(),
        StripeGateway.from_settings(settings),
        args.period,
        thresholds=settings.payout_thresholds,
        actor_id=args.actor,
        by=args.by or f"operator:{getpass.getuser()}",
    )
    for o in outcomes:
        print(
            f"{o.actor_id} {format_minor(o.amount_minor, o.currency)} {o.currency}: {o.result}"
            + (f" {o.payout_id}" if o.payout_id else "")
            + (f" [{o.reason}]" if o.reason else "")
            + (f" ({o.detail})" if o.detail else "")
        )
    print(f"{args.period}: {len(outcomes)} payout(s) considered")
    return 1 if any(o.result in ("failed", "pending") for o in outcomes) else 0
