"""The `voicehub` command: run the service, operate it, and show the demo."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

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


def _cmd_worker(args: argparse.Namespace) -> int:
    from voicehub.runtime import activate, build_runtime

    runtime = build_runtime(get_settings())
    activate(runtime)
    consumer = runtime.queue.huey.create_consumer(
        workers=args.workers, worker_type="thread", periodic=False
    )
    print(
        f"worker: {args.workers} thread(s) on queue '{runtime.settings.queue_name}'; Ctrl-C stops"
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
    worker.add_argument("--workers", type=int, default=1)
    studio = command(
        "create-studio", _cmd_create_studio, "Create a studio and print its first API key."
    )
    studio.add_argument("name")
    statement = command(
        "statement", _cmd_statement, "Write an actor's royalty statement for a month as CSV."
    )
    statement.add_argument("--actor", required=True, help="actor id (act_…)")
    statement.add_argument("--period", required=True, help="YYYY-MM")
    statement.add_argument("--out", help="file to write (default: standard output)")
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


if __name__ == "__main__":
    raise SystemExit(main())
