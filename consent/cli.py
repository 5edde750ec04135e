"""`voicehub consent …`: check the consent evidence, the log's hash chain and signed receipts.

Each command returns its exit status: 0 when the evidence holds, 1 when it does
not, 2 when it cannot be checked (an unreadable file, a missing key).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import voicehub.schema  # noqa: F401  (every table, whichever command runs)
from consent.log import verify_chain
from consent.receipts import ReceiptInvalid, ReceiptKey, ReceiptKeyError, verify_receipt
from models.engines.registry import EngineRegistry
from voicehub.db import make_engine, make_sessionmaker, transaction
from voicehub.settings import get_settings


def add_consent_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the `consent` command group on the main CLI's subparsers."""
    help_text = "Check the consent evidence: the tamper-evident log and signed receipts."
    group = subparsers.add_parser("consent", help=help_text, description=help_text)
    commands = group.add_subparsers(dest="consent_command", required=True)

    verify_log_help = (
        "Recompute the consent log's hash chain; exit 1 naming the first broken entry."
    )
    verify_log = commands.add_parser(
        "verify-log", help=verify_log_help, description=verify_log_help
    )
    verify_log.set_defaults(handler=cmd_verify_log)

    verify_receipt_help = "Check a signed consent receipt (JSON); exit 1 if it is not valid."
    receipt = commands.add_parser(
        "verify-receipt", help=verify_receipt_help, description=verify_receipt_help
    )
    receipt.add_argument("file", help="the receipt, a JSON file")
    receipt.add_argument(
        "--public-key",
        help="PEM file of the signer's public key (default: this deployment's receipt key)",
    )
    receipt.set_defaults(handler=cmd_verify_receipt)

    sweep_help = "Expire consents past their end date and shred voices whose notice has ended."
    commands.add_parser("sweep", help=sweep_help, description=sweep_help).set_defaults(
        handler=cmd_sweep
    )

    review_help = "Decide a verification attempt that waits for an operator's review."
    review = commands.add_parser("review", help=review_help, description=review_help)
    review.add_argument("attempt", help="verification attempt id (vfy_…)")
    decision = review.add_mutually_exclusive_group(required=True)
    decision.add_argument("--accept", action="store_true")
    decision.add_argument("--reject", action="store_true")
    review.add_argument("--operator", required=True, help="who decides")
    review.add_argument("--note", default="")
    review.set_defaults(handler=cmd_review)

    recording_help = "Write an attempt's statement recording (kept as evidence) to a WAV file."
    recording = commands.add_parser("recording", help=recording_help, description=recording_help)
    recording.add_argument("attempt", help="verification attempt id (vfy_…)")
    recording.add_argument("--out", required=True)
    recording.add_argument(
        "--reference-out", help="also write the voice's reference audio here, to compare the two"
    )
    recording.set_defaults(handler=cmd_recording)

    in_person_help = "Verify a consent's signer whose identity an operator checked in person."
    in_person = commands.add_parser(
        "verify-in-person", help=in_person_help, description=in_person_help
    )
    in_person.add_argument("consent", help="consent id (cns_…)")
    in_person.add_argument("--operator", required=True)
    in_person.add_argument("--note", required=True, help="how the identity was checked")
    in_person.set_defaults(handler=cmd_verify_in_person)


def cmd_verify_log(_: argparse.Namespace) -> int:
    """Verify the configured database's consent log."""
    database = make_engine(get_settings().resolved_database_url)
    try:
        with transaction(make_sessionmaker(database)) as session:
            report = verify_chain(session)
    finally:
        database.dispose()
    if report.ok:
        print(f"consent log intact: {report.entries_checked} entries")
        return 0
    print(f"consent log BROKEN at entry {report.first_broken_seq}: {report.reason}")
    return 1


def cmd_verify_receipt(args: argparse.Namespace) -> int:
    """Verify one receipt file against a public key; print what it attests."""
    try:
        text = Path(args.file).read_text(encoding="utf-8")
        public_key_pem = (
            Path(args.public_key).read_bytes()
            if args.public_key
            else ReceiptKey.load(get_settings(), create=False).public_key_pem()
        )
    except (OSError, UnicodeDecodeError, ReceiptKeyError) as error:
        print(f"error: cannot verify: {error}", file=sys.stderr)
        return 2
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        print(f"receipt INVALID: {args.file} is not JSON ({error})")
        return 1
    try:
        body = verify_receipt(document, public_key_pem)
    except ReceiptInvalid as error:
        print(f"receipt INVALID: {error.detail}")
        return 1
    except ValueError as error:
        print(f"error: cannot verify: {error}", file=sys.stderr)
        return 2
    print(f"receipt valid: {_summary(body)}")
    return 0


def _summary(body: dict[str, Any]) -> str:
    return (
        f"consent {body.get('consent_id', '?')} version {body.get('version', '?')}, "
        f"actor {body.get('actor_id', '?')}"
    )


def cmd_sweep(_: argparse.Namespace) -> int:
    from consent.service import expire_and_shred_due
    from voicehub.runtime import build_runtime

    runtime = build_runtime(get_settings(), engines=EngineRegistry({}))
    try:
        with transaction(runtime.sessions) as session:
            done = expire_and_shred_due(session, runtime.consent_effects)
    finally:
        runtime.close()
    print(f"consent sweep: {len(done)} change(s)" + "".join(f"\n  {item}" for item in done))
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    from consent.service import review_attempt

    database = make_engine(get_settings().resolved_database_url)
    try:
        with transaction(make_sessionmaker(database)) as session:
            version = review_attempt(
                session,
                attempt_id=args.attempt,
                operator=args.operator,
                accept=args.accept,
                note=args.note,
            )
    finally:
        database.dispose()
    if version is None:
        print(f"attempt {args.attempt} rejected by {args.operator}")
    else:
        print(f"attempt {args.attempt} accepted: consent version {version.version} is verified")
    return 0


def cmd_recording(args: argparse.Namespace) -> int:
    from consent.identity import evidence_recording, reference_of_attempt
    from voicehub.runtime import build_runtime

    runtime = build_runtime(get_settings(), engines=EngineRegistry({}))
    try:
        with transaction(runtime.sessions) as session:
            data = evidence_recording(session, runtime.vault, runtime.storage, args.attempt)
            reference = (
                reference_of_attempt(session, runtime.vault, args.attempt)
                if args.reference_out
                else None
            )
    finally:
        runtime.close()
    Path(args.out).write_bytes(data)
    print(f"statement recording of {args.attempt} written to {args.out}")
    if reference is not None:
        Path(args.reference_out).write_bytes(reference)
        print(f"the voice's reference audio written to {args.reference_out}")
    return 0


def cmd_verify_in_person(args: argparse.Namespace) -> int:
    from consent.service import verify_in_person

    database = make_engine(get_settings().resolved_database_url)
    try:
        with transaction(make_sessionmaker(database)) as session:
            version = verify_in_person(
                session, consent_id=args.consent, operator=args.operator, note=args.note
            )
    finally:
        database.dispose()
    print(f"consent {args.consent} version {version.version} verified in person by {args.operator}")
    return 0
