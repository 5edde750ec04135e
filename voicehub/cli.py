"""The `voicehub` command: run the service, operate it, and show the demo."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

import httpx
from pydantic import ValidationError

import voicehub.schema  # noqa: F401  (every table, whichever command runs)
from consent.cli import add_consent_commands
from voicehub.billing.cli import add_billing_commands
from voicehub.errors import VoiceHubError
from voicehub.heartbeat import DEFAULT_HEARTBEAT_FILE
from voicehub.ledger.cli import add_money_commands
from voicehub.provenance.cli import add_provenance_commands
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
    from voicehub.heartbeat import check, start_heartbeat
    from voicehub.runtime import activate, build_runtime

    if args.check:
        return check(args.heartbeat_file, args.max_age)
    settings = get_settings()
    if args.synthesis_threads is not None:
        settings = settings.model_copy(update={"synthesis_threads": args.synthesis_threads})
    runtime = build_runtime(settings)
    try:
        huey = runtime.queue.lane_huey(args.queue)
    except ValueError as exc:
        print(f"voicehub worker --queue: {exc}", file=sys.stderr)
        return 2
    activate(runtime)
    start_heartbeat(runtime.database, huey, args.heartbeat_file)
    consumer = huey.create_consumer(workers=args.workers, worker_type="thread", periodic=True)
    print(
        f"worker: {args.workers} job(s) at once, {settings.synthesis_threads} line(s) of a job"
        f" at once, on queue '{huey.name}'; Ctrl-C stops"
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


def _cmd_create_admin_key(args: argparse.Namespace) -> int:
    from voicehub.audit import service as audit_log
    from voicehub.db import make_engine, make_sessionmaker, transaction
    from voicehub.tenancy.keys import issue_admin_key

    database = make_engine(get_settings().resolved_database_url)
    with transaction(make_sessionmaker(database)) as session:
        audit_log.bind(session, audit_log.AuditContext(source="cli"))
        key = issue_admin_key(session, args.name)
    print(f"admin key {key.id} '{args.name}' (scope admin: /v1/admin/… only)")
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
    from voicehub.storage import make_storage
    from voicehub.tenancy.service import issue_api_key

    settings = get_settings()
    engines = EngineRegistry.load([args.engine], cache_dir=settings.data_dir / "models")
    database = make_engine(settings.resolved_database_url)
    vault = Vault(make_storage(settings), load_master_key(settings))

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
                    prices_per_1k_chars_micros=(
                        {}
                        if args.price_per_second_micros is not None
                        else dict.fromkeys(uses, args.price_per_1k_chars_micros)
                    ),
                    prices_per_second_micros=(
                        {}
                        if args.price_per_second_micros is None
                        else dict.fromkeys(uses, args.price_per_second_micros)
                    ),
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
    from voicehub.db import make_engine, make_sessionmaker
    from voicehub.ledger.tables import PartyKind
    from voicehub.metering.statement_pdf import statement_pdf
    from voicehub.metering.statements import build_statement, statement_csv, statement_session

    if args.format == "pdf" and not args.out:
        print("error: a PDF statement needs --out FILE", file=sys.stderr)
        return 2
    settings = get_settings()
    kind, party_id = (
        (PartyKind.ACTOR, args.actor) if args.actor else (PartyKind.STUDIO, args.studio)
    )
    database = make_engine(settings.resolved_database_url)
    with statement_session(make_sessionmaker(database)) as session:
        statement = build_statement(
            session, kind, party_id, args.period, thresholds=settings.payout_thresholds
        )
        if args.out is None:
            for chunk in statement_csv(session, statement):
                sys.stdout.write(chunk)
            return 0
        # Written beside the target and renamed at the end: never a half statement.
        partial = Path(f"{args.out}.partial")
        try:
            with partial.open("wb") as out:
                if args.format == "pdf":
                    for data in statement_pdf(session, statement):
                        out.write(data)
                else:
                    for chunk in statement_csv(session, statement):
                        out.write(chunk.encode("utf-8"))
            partial.replace(args.out)
        finally:
            partial.unlink(missing_ok=True)
    print(f"{statement.title.lower()} ({args.format}) written to {args.out}")
    return 0


class _ApiProblem(Exception):
    """An HTTP error answered by the VoiceHub API, as `voicehub synthesize` reports it."""

    def __init__(self, response: httpx.Response) -> None:
        try:
            body = response.json()
        except ValueError:
            body = {}
        if isinstance(body, dict) and "code" in body:
            message = f"error ({body['code']}): {body.get('detail', '')}"
            fields = [
                item.get("field") for item in body.get("fields", []) if isinstance(item, dict)
            ]
            if fields:
                message += f" [{', '.join(str(field) for field in fields)}]"
        else:
            message = f"error (http {response.status_code}): {response.text[:200]}"
        super().__init__(message)


class _ProgressBar:
    """A job's progress on stderr: one bar redrawn with \r on a terminal, else a line each."""

    def __init__(self, stream: TextIO, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self.terminal = stream.isatty()
        self.drawn = False

    def update(self, progress: dict[str, Any]) -> None:
        total, done, failed = (
            progress["lines_total"],
            progress["lines_done"],
            progress["lines_failed"],
        )
        counts = f"{done + failed}/{total} lines" + (f", {failed} failed" if failed else "")
        if self.terminal:
            filled = round(self.width * float(progress["progress"]))
            bar = "#" * filled + "-" * (self.width - filled)
            self.stream.write(f"\r[{bar}] {float(progress['percent']):5.1f}% {counts}")
        else:
            self.stream.write(f"progress: {float(progress['percent']):.1f}% {counts}\n")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.terminal and self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def _server_sent_events(response: httpx.Response) -> Iterator[tuple[str, str, str | None]]:
    """(event, data, id) for each event of a text/event-stream response; comments are skipped."""
    name, event_id = "message", None
    data: list[str] = []
    for line in response.iter_lines():
        if not line:
            if data:
                yield name, "\n".join(data), event_id
            name, data = "message", []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
        elif field == "id":
            event_id = value


def _follow_job(
    http: httpx.Client, job: dict[str, Any], headers: dict[str, str], bar: _ProgressBar
) -> dict[str, Any]:
    """The finished job, following its event stream (reconnecting where it left off)."""
    last_event_id: str | None = None
    reconnects = 0
    while True:
        stream_headers = {**headers, "Accept": "text/event-stream"}
        if last_event_id is not None:
            stream_headers["Last-Event-ID"] = last_event_id
        try:
            with http.stream(
                "GET", f"/v1/synthesis-jobs/{job['id']}/events", headers=stream_headers
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    raise _ApiProblem(response)
                for name, data, event_id in _server_sent_events(response):
                    if name == "progress":
                        last_event_id = event_id
                        bar.update(json.loads(data))
                    elif name == "done":
                        finished: dict[str, Any] = json.loads(data)
                        return finished
        except httpx.TransportError:
            if reconnects >= 5:
                raise
        # The stream ended before the job did (a server restart, a proxy's timeout).
        reconnects += 1
        time.sleep(min(2.0**reconnects / 4, 5.0))


def _cmd_synthesize(args: argparse.Namespace) -> int:
    key = args.key or os.environ.get("VOICEHUB_API_KEY")
    if not key:
        print("error: no API key; pass --key or set VOICEHUB_API_KEY", file=sys.stderr)
        return 2
    body: dict[str, Any] = {}
    if args.cut:
        body["cut_ids"] = args.cut
    if args.speed is not None:
        body["speed"] = args.speed
    if args.seed is not None:
        body["seed"] = args.seed
    if args.fit is not None:
        body["fit"] = {"mode": args.fit}
    if args.approve:
        body["approve"] = True
    headers = {"Authorization": f"Bearer {key}"}
    bar = _ProgressBar(sys.stderr)
    try:
        with httpx.Client(base_url=args.api, timeout=httpx.Timeout(30.0, read=60.0)) as http:
            response = http.post(
                f"/v1/projects/{args.project}/synthesis-jobs",
                json=body,
                # A retried request (by a proxy, say) starts the job once.
                headers={**headers, "Idempotency-Key": f"cli-{uuid.uuid4().hex}"},
            )
            if response.status_code >= 400:
                raise _ApiProblem(response)
            job: dict[str, Any] = response.json()
            print(f"job {job['id']}: {job['lines_total']} line(s) queued", file=sys.stderr)
            job = _follow_job(http, job, headers, bar)
    except _ApiProblem as problem:
        bar.close()
        print(problem, file=sys.stderr)
        return 2
    except httpx.HTTPError as error:
        bar.close()
        print(f"error: cannot talk to {args.api}: {error}", file=sys.stderr)
        return 2
    bar.close()
    print(
        f"job {job['id']} {job['status']}: {job['lines_done']} of {job['lines_total']} line(s)"
        f" done, {job['lines_failed']} failed"
    )
    for failure in job["errors"]:
        print(f"  {failure['line_id']}  {failure['code']}  {failure['detail']}")
    return 1 if job["lines_failed"] else 0


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
    worker.add_argument(
        "--queue",
        default="",
        metavar="LANE",
        help="consume only this engine queue of VOICEHUB_ENGINE_QUEUES (e.g. gpu);"
        " default: the default queue, which also runs the sweeps, exports and webhooks",
    )
    worker.add_argument(
        "--heartbeat-file",
        type=Path,
        default=DEFAULT_HEARTBEAT_FILE,
        help="where the worker records that it reaches its database and queue"
        " (default: %(default)s)",
    )
    worker.add_argument(
        "--check",
        action="store_true",
        help="exit 0 if the worker's heartbeat is fresh, 1 if not (a container health check)",
    )
    worker.add_argument(
        "--max-age", type=float, default=60.0, help="seconds a heartbeat stays fresh (--check)"
    )
    studio = command(
        "create-studio", _cmd_create_studio, "Create a studio and print its first API key."
    )
    studio.add_argument("name")
    admin_key = command(
        "create-admin-key",
        _cmd_create_admin_key,
        "Create a platform operator's admin key (the /v1/admin/… endpoints) and print it.",
    )
    admin_key.add_argument("name", help="whose key it is, e.g. the operator's name")
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
    onboard.add_argument(
        "--price-per-second-micros",
        type=int,
        help="price every allowed use per second of audio instead of per 1,000 characters",
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
        "statement",
        _cmd_statement,
        "Write an actor's royalty statement or a studio's usage statement for a month"
        " (CSV or PDF), the same document the API serves.",
    )
    whose = statement.add_mutually_exclusive_group(required=True)
    whose.add_argument("--actor", help="actor id (act_…): the royalty statement")
    whose.add_argument("--studio", help="studio id (std_…): the usage statement")
    statement.add_argument("--period", required=True, help="YYYY-MM")
    statement.add_argument("--format", choices=["csv", "pdf"], default="csv")
    statement.add_argument(
        "--out", help="file to write (default: standard output; a PDF needs a file)"
    )
    synthesize = command(
        "synthesize",
        _cmd_synthesize,
        "Synthesize a project (or some of its cuts) on a running VoiceHub and follow its progress;"
        " exits 1 when lines failed, 2 on a refused request.",
    )
    synthesize.add_argument(
        "--api",
        default=os.environ.get("VOICEHUB_API_URL", "http://127.0.0.1:8000"),
        help="the server's base URL (default: VOICEHUB_API_URL, else http://127.0.0.1:8000)",
    )
    synthesize.add_argument("--key", help="a studio API key (default: VOICEHUB_API_KEY)")
    synthesize.add_argument("--project", required=True, help="project id (prj_…)")
    synthesize.add_argument(
        "--cut", action="append", help="only this cut's lines (cut_…); repeat for more cuts"
    )
    synthesize.add_argument("--speed", type=float, help="speaking rate, 0.5 to 2.0")
    synthesize.add_argument("--seed", type=int, help="the seed every line is rendered with")
    synthesize.add_argument(
        "--fit",
        choices=["window", "max", "off"],
        help="fit each take into its line's window (default: window)",
    )
    synthesize.add_argument(
        "--approve",
        action="store_true",
        help="approve each new take whose line has no approved take yet",
    )
    add_consent_commands(commands)
    add_money_commands(commands)
    add_billing_commands(commands)
    add_provenance_commands(commands)
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
