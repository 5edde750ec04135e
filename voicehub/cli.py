"""The `voicehub` command: run the service, operate it, and show the demo."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import ValidationError

import voicehub.schema  # noqa: F401  (every table, whichever command runs)
from consent.cli import add_consent_commands
from voicehub.errors import VoiceHubError
from voicehub.settings import get_settings


def _cmd_migrate(_: argparse.Namespace) -> int:
    from voicehub.db import migrate

    settings = get_settings()
    migrate(settings.resolved_database_url)
    print(f"database is at the latest schema: {settings.resolved_database_url}")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app

    uvicorn.run(create_app(get_settings()), host=args.host, port=args.port, log_level="info")
    return 0


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {number}")
    return number


def _cmd_worker(args: argparse.Namespace) -> int:
    from voicehub.runtime import activate, build_runtime

    settings = get_settings()
    if args.synthesis_threads is not None:
        settings = settings.model_copy(update={"synthesis_threads": args.synthesis_threads})
    runtime = build_runtime(settings)
    activate(runtime)
    consumer = runtime.queue.huey.create_consumer(
        workers=args.workers, worker_type="thread", periodic=True
    )
    print(
        f"worker: {args.workers} job(s) at once, {settings.synthesis_threads} line(s) of a job"
        f" at once, on queue '{settings.queue_name}'; Ctrl-C stops"
    )
    consumer.run()
    return 0


def _cmd_create_studio(args: argparse.Namespace) -> int:
    from voicehub.db import make_engine, make_sessionmaker, transaction
    from voicehub.tenancy.service import create_studio, issue_api_key

    database = make_engine(get_settings().resolved_database_url)
    with transaction(make_sessionmaker(database)) as session:
        studio = create_studio(session, args.name)
        key = issue_api_key(session, studio_id=studio.id)
    print(f"studio {studio.id} '{studio.name}'")
    print(f"API key (shown once, store it now): {key.secret}")
    return 0


def _cmd_onboard_actor(args: argparse.Namespace) -> int:
    import datetime as dt

    from consent.identity import upload_reference_audio
    from consent.service import create_actor, grant_consent, verify_in_person
    from consent.tables import Representation, SignerKind
    from consent.terms import ConsentTerms
    from models.engines.registry import EngineRegistry
    from models.vault import Vault, load_master_key
    from models.voices import register_voice
    from voicehub.db import make_engine, make_sessionmaker, transaction, utcnow
    from voicehub.storage import LocalStorage
    from voicehub.tenancy.service import issue_api_key

    settings = get_settings()
    engines = EngineRegistry.load([args.engine], cache_dir=settings.data_dir / "models")
    database = make_engine(settings.resolved_database_url)
    vault = Vault(LocalStorage(settings.storage_dir), load_master_key(settings))

    def day(value: str | None) -> dt.datetime | None:
        return None if value is None else dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)

    uses = _csv(args.uses)
    with transaction(make_sessionmaker(database)) as session:
        actor = create_actor(session, args.name, credited_name=args.credited_name or "")
        voice = register_voice(
            session,
            engines,
            actor_id=actor.id,
            name=args.voice_name or f"{actor.credited_name}",
            engine=args.engine,
            speaker=args.speaker,
            language=args.language,
        )
        if args.reference_audio:
            upload_reference_audio(
                session,
                vault,
                actor_id=actor.id,
                voice_id=voice.id,
                data=Path(args.reference_audio).read_bytes(),
            )
        version = (
            None
            if args.no_consent
            else grant_consent(
                session,
                voice=voice,
                terms=ConsentTerms(
                    signer_kind=SignerKind(args.signer_kind),
                    signer_name=args.signer_name or actor.name,
                    representation=Representation(args.representation),
                    use_description=args.use_description,
                    allowed_uses=tuple(uses),
                    excluded_categories=tuple(_csv(args.exclude)),
                    blocked_terms=tuple(_csv(args.block_terms)),
                    languages=tuple(_csv(args.languages) or [args.language]),
                    territories=tuple(_csv(args.territories) or ["WW"]),
                    allowed_studio_ids=tuple(_csv(args.studios)),
                    blocked_studio_ids=tuple(_csv(args.blocked_studios)),
                    requires_project_approval=args.approval_required,
                    currency=args.currency,
                    prices_per_1k_chars_micros=dict.fromkeys(uses, args.price_per_1k_chars_micros),
                    minimum_per_line_micros=args.minimum_per_line_micros,
                    actor_share_bps=args.royalty_bps,
                    starts_at=day(args.starts) or utcnow(),
                    ends_at=day(args.ends),
                    notice_period_days=args.notice_days,
                ),
                changed_by=f"operator, signed by {args.signer_kind} {args.signer_name or actor.name}",
            )
        )
        if args.verified_in_person and version is not None:
            version = verify_in_person(
                session, consent_id=version.consent_id, operator="cli", note=args.verified_in_person
            )
        key = issue_api_key(session, actor_id=actor.id)
    print(f"actor {actor.id} '{actor.credited_name}'")
    print(f"voice {voice.id} ({voice.engine}/{voice.speaker}, {voice.language})")
    if version is None:
        print("no consent recorded: the actor gives it with POST /v1/actor/voices/{id}/consent")
        print(f"actor API key (shown once, give it to the actor or agency): {key.secret}")
        return 0
    print(
        f"consent {version.consent_id} version {version.version}: uses {', '.join(version.allowed_uses)}; "
        f"verification {version.verification.value}"
    )
    if version.verification.value != "verified":
        print("statement to record (upload with POST /v1/actor/consents/{id}/statement-recording):")
        print(f"  {version.statement_text}")
    print(f"actor API key (shown once, give it to the actor or agency): {key.secret}")
    return 0


def _csv(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _cmd_statement(args: argparse.Namespace) -> int:
    from voicehub.db import make_engine, make_sessionmaker, transaction
    from voicehub.metering.statements import royalty_statement, statement_csv

    database = make_engine(get_settings().resolved_database_url)
    with transaction(make_sessionmaker(database)) as session:
        csv_text = statement_csv(royalty_statement(session, args.actor, args.period))
    if args.out:
        Path(args.out).write_text(csv_text, encoding="utf-8")
        print(f"royalty statement written to {args.out}")
    else:
        sys.stdout.write(csv_text)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from voicehub.demo import run_demo

    return run_demo(
        output=Path(args.output),
        host=args.host,
        port=args.port,
        serve=not args.no_serve,
        fresh=args.fresh,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="voicehub", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    def command(
        name: str, handler: Callable[[argparse.Namespace], int], help_text: str
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    command("migrate", _cmd_migrate, "Bring the database schema up to date (Alembic migrations).")
    serve = command(
        "serve", _cmd_serve, "Serve the API (with an in-process queue consumer unless disabled)."
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    worker = command("worker", _cmd_worker, "Run a queue consumer that synthesizes batch jobs.")
    worker.add_argument(
        "--workers", type=int, default=1, help="queue tasks (batch jobs, webhooks) run at once"
    )
    worker.add_argument(
        "--synthesis-threads",
        type=_positive,
        help="lines of one batch job rendered at once (default: VOICEHUB_SYNTHESIS_THREADS, 2)",
    )
    studio = command(
        "create-studio", _cmd_create_studio, "Create a studio and print its first API key."
    )
    studio.add_argument("name")
    onboard = command(
        "onboard-actor",
        _cmd_onboard_actor,
        "Register an actor, their voice and the consent they signed; print the actor's API key.",
    )
    onboard.add_argument("--name", required=True)
    onboard.add_argument("--credited-name")
    onboard.add_argument("--voice-name")
    onboard.add_argument("--engine", required=True, help="piper or kokoro")
    onboard.add_argument(
        "--speaker", required=True, help="the engine's speaker, e.g. joe or jf_alpha"
    )
    onboard.add_argument("--language", required=True, help="the voice's language, e.g. en or ja")
    onboard.add_argument("--reference-audio", help="WAV of the actor's voice (stored encrypted)")
    onboard.add_argument("--signer-kind", choices=["actor", "agency", "estate"], default="actor")
    onboard.add_argument("--signer-name", help="who signs (default: the actor)")
    onboard.add_argument(
        "--representation", choices=["none", "union", "legal", "union_and_legal"], default="none"
    )
    onboard.add_argument(
        "--use-description", default="", help="specific description of intended uses"
    )
    onboard.add_argument(
        "--no-consent",
        action="store_true",
        help="register the voice only; the actor gives consent through the API",
    )
    onboard.add_argument(
        "--uses", default="", help="comma-separated; dubbing only if the actor chose it"
    )
    onboard.add_argument("--exclude", help="comma-separated excluded content categories")
    onboard.add_argument("--block-terms", help="comma-separated terms the actor blocks")
    onboard.add_argument(
        "--languages", help="comma-separated consented languages (default: --language)"
    )
    onboard.add_argument("--territories", help="comma-separated ISO 3166 codes, or WW (default)")
    onboard.add_argument(
        "--studios", help="comma-separated studio ids allowed (default: every studio)"
    )
    onboard.add_argument("--blocked-studios", help="comma-separated studio ids refused")
    onboard.add_argument(
        "--approval-required", action="store_true", help="each project needs the actor's approval"
    )
    onboard.add_argument("--currency", default="", help="ISO 4217, e.g. JPY")
    onboard.add_argument(
        "--price-per-1k-chars-micros", type=int, default=0, help="for every allowed use"
    )
    onboard.add_argument("--minimum-per-line-micros", type=int, default=0)
    onboard.add_argument("--royalty-bps", type=int, default=-1, help="actor's share, 0-10000")
    onboard.add_argument("--starts", help="YYYY-MM-DD (default: now)")
    onboard.add_argument("--ends", help="YYYY-MM-DD (default: open-ended)")
    onboard.add_argument("--notice-days", type=int, default=0, help="notice period for withdrawal")
    onboard.add_argument(
        "--verified-in-person",
        metavar="NOTE",
        help="the operator checked the signer's identity in person",
    )
    statement = command(
        "statement", _cmd_statement, "Write an actor's royalty statement for a month as CSV."
    )
    statement.add_argument("--actor", required=True, help="actor id (act_…)")
    statement.add_argument("--period", required=True, help="YYYY-MM")
    statement.add_argument("--out", help="file to write (default: standard output)")
    add_consent_commands(commands)
    demo = command(
        "demo", _cmd_demo, "Seed demo data, run a bilingual script through the whole path, serve."
    )
    demo.add_argument("--output", default="demo-output")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--no-serve", action="store_true", help="stop after writing the outputs")
    demo.add_argument("--fresh", action="store_true", help="start from an empty data directory")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        handler: Callable[[argparse.Namespace], int] = args.handler
        return handler(args)
    except VoiceHubError as error:
        print(f"error ({error.code}): {error.detail}", file=sys.stderr)
        return 2
    except ValidationError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
