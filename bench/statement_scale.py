"""Royalty statements for an actor with 10k, 100k and 1M lines in a month: time and memory.

One PostgreSQL database (made for the run, dropped after) holds an actor per
size, each with that many usage records in the same month, spread over 20
studios and 200 projects, with the takes, lines, cuts and characters the
statement joins, each record's ledger entry set (three entries) and a refund
for one line in a thousand. The rows are loaded with COPY.

Each measurement runs in a fresh process, so its peak resident set
(`VmHWM`) is that of one statement: the JSON summary (figures and
subtotals), the CSV and the PDF (every line). The baseline is PostgreSQL
itself: `COPY (the statement's line query) TO STDOUT` read raw through
psycopg, the least any statement of those lines can cost. The baseline,
JSON and CSV are then timed again with a candidate index for the lines
query, `usage_records (actor_id, period, created_at, id)`.

    .venv/bin/python -m bench.statement_scale [--sizes 10000,100000,1000000] [--no-pdf]

Needs PostgreSQL on 127.0.0.1:5432 (`--admin-url`); without it the
benchmark says so and stops.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import itertools
import json
import os
import random
import resource
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PERIOD = "2026-10"
STUDIOS = 20
PROJECTS_PER_STUDIO = 10
INDEX = (
    "CREATE INDEX ix_usage_records_actor_period ON usage_records (actor_id, period, created_at, id)"
)
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _reachable(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


class _Ids:
    """Ids shaped like VoiceHub's (prefix and 20 base62 characters), made fast and repeatably."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)

    def __call__(self, prefix: str) -> str:
        return prefix + "_" + "".join(self.random.choices(_ALPHABET, k=20))


def _copy(cursor: Any, table: str, columns: str, rows: Iterator[str]) -> int:
    """COPY text-format rows (tab-separated, no escaping needed) in 4 MB writes."""
    count = 0
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        buffer = io.StringIO()
        for row in rows:
            buffer.write(row)
            count += 1
            if buffer.tell() > 4_000_000:
                copy.write(buffer.getvalue())
                buffer = io.StringIO()
        copy.write(buffer.getvalue())
    return count


@dataclass(frozen=True)
class Seeded:
    """The small rows every actor's lines hang from."""

    studios: list[tuple[str, str]]  # (id, name)
    projects: list[tuple[str, str]]  # (id, studio id)
    platform_account: str


def _seed_small(url: str) -> tuple[Seeded, Any]:
    """Studios and projects through VoiceHub's own services and tables."""
    from voicehub.db import make_engine, make_sessionmaker, transaction
    from voicehub.ledger.service import PLATFORM, account_ids
    from voicehub.ledger.tables import AccountKind
    from voicehub.production.tables import Project
    from voicehub.tenancy.service import create_studio

    database = make_engine(url)
    sessions = make_sessionmaker(database)
    ids = _Ids(1)
    studios, projects = [], []
    with transaction(sessions) as session:
        for s in range(STUDIOS):
            studio = create_studio(session, f"Studio {s + 1:02d} スタジオ")
            studios.append((studio.id, studio.name))
            for p in range(PROJECTS_PER_STUDIO):
                project = Project(
                    id=ids("prj"),
                    studio_id=studio.id,
                    name=f"Episode {p + 1} 第{p + 1}話",
                    language="ja",
                    use="animation",
                    territories=["WW"],
                    fps_num=24,
                    fps_den=1,
                )
                session.add(project)
                projects.append((project.id, studio.id))
        session.flush()
        platform = account_ids(session, "JPY", [(AccountKind.PLATFORM_REVENUE, PLATFORM)])
    return Seeded(studios, projects, platform[(AccountKind.PLATFORM_REVENUE, PLATFORM)]), sessions


def _seed_actor(sessions: Any, name: str) -> tuple[str, str, str]:
    """(actor id, voice id, consent version id), through the consent service."""
    from consent.service import create_actor, grant_consent
    from consent.terms import ConsentTerms
    from models.tables import Voice
    from voicehub.db import transaction, utcnow
    from voicehub.ids import new_id

    with transaction(sessions) as session:
        actor = create_actor(session, name)
        voice = Voice(
            id=new_id("voice"),
            actor_id=actor.id,
            name=f"{name} voice",
            language="ja",
            engine="kokoro",
            speaker="jf_alpha",
            model_sha256="0" * 64,
        )
        session.add(voice)
        session.flush()
        version = grant_consent(
            session,
            voice=voice,
            terms=ConsentTerms(
                signer_name=name,
                use_description="Benchmark lines for measuring statements, never delivered.",
                allowed_uses=("animation",),
                languages=("ja",),
                currency="JPY",
                prices_per_1k_chars_micros={"animation": 3_333_333_333},
                actor_share_bps=6667,
                starts_at=utcnow() - dt.timedelta(days=400),
            ),
            changed_by="bench",
        )
        return actor.id, voice.id, version.id


def _load(url: str, sizes: list[int]) -> dict[int, str]:
    """Every size's actor and lines; returns {size: actor id}."""
    import psycopg

    seeded, sessions = _seed_small(url)
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    actors = {
        size: _load_actor(dsn, seeded, sessions, size, chr(ord("A") + k))
        for k, size in enumerate(sizes)
    }
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(
            "INSERT INTO billing_periods (period, status, created_at)"
            " VALUES (%s, 'OPEN', now()) ON CONFLICT DO NOTHING",
            (PERIOD,),
        )
        connection.execute("VACUUM ANALYZE")
    return actors


def _load_actor(dsn: str, seeded: Seeded, sessions: Any, size: int, tag: str) -> str:
    """An actor with `size` lines in the month, and everything they hang from, by COPY;
    `tag` starts the actor's cut numbers (unique within a project)."""
    import psycopg

    from bench.common import LINES, LINES_JA
    from voicehub.ledger.service import account_ids
    from voicehub.ledger.tables import AccountKind
    from voicehub.metering.service import billable_characters, price_line

    texts = [*LINES_JA, *LINES]
    chars = [billable_characters(t) for t in texts]
    ids = _Ids(size)
    start = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    began = time.perf_counter()
    actor_id, voice_id, version_id = _seed_actor(sessions, f"Bench actor {size:,}")
    with sessions() as session:
        accounts = account_ids(
            session,
            "JPY",
            [(AccountKind.ACTOR_ROYALTY_PAYABLE, actor_id)]
            + [(AccountKind.STUDIO_RECEIVABLE, s) for s, _ in seeded.studios],
        )
        session.commit()
    payable = accounts[(AccountKind.ACTOR_ROYALTY_PAYABLE, actor_id)]
    receivable = {s: accounts[(AccountKind.STUDIO_RECEIVABLE, s)] for s, _ in seeded.studios}
    rng = random.Random(size)
    n_cuts = max(1, size // 30)
    n_lines = max(1, size * 5 // 6)
    characters = [(ids("chr"), p, s) for p, s in seeded.projects]
    cuts = [(ids("cut"), *seeded.projects[i % len(seeded.projects)]) for i in range(n_cuts)]
    lines = []
    with psycopg.connect(dsn) as connection, connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        _copy(
            cursor,
            "characters",
            "id, studio_id, project_id, name, voice_id",
            (f"{c}\t{s}\t{p}\tHARU {size}\t{voice_id}\n" for c, p, s in characters),
        )
        char_of = {p: c for c, p, _ in characters}
        _copy(
            cursor,
            "cuts",
            "id, studio_id, project_id, number, start_ms, end_ms, fps_num, fps_den",
            (
                f"{c}\t{s}\t{p}\t{tag}-{i // len(seeded.projects) + 1:05d}\t0\t4000\t24\t1\n"
                for i, (c, p, s) in enumerate(cuts)
            ),
        )

        def line_rows() -> Iterator[str]:
            for i in range(n_lines):
                cut, project, studio = cuts[i % n_cuts]
                line = ids("line")
                text = i % len(texts)
                lines.append((line, cut, project, studio, text))
                yield (
                    f"{line}\t{studio}\t{project}\t{cut}\t{char_of[project]}\t{i}\t"
                    f"{texts[text]}\tja\t{start.isoformat()}\n"
                )

        _copy(
            cursor,
            "lines",
            "id, studio_id, project_id, cut_id, character_id, position, text, language, created_at",
            line_rows(),
        )
        takes: list[tuple[str, str, str, str, int, int, dt.datetime]] = []
        span = 30 * 86400 - 1
        for t in range(size):
            line, _, project, studio, text = lines[t % n_lines]
            at = start + dt.timedelta(seconds=t * span // size, microseconds=t % 1000)
            audio_ms = rng.randint(800, 6000)
            takes.append((ids("take"), line, project, studio, text, audio_ms, at))
        _copy(
            cursor,
            "takes",
            "id, line_id, project_id, studio_id, voice_id, consent_version_id, text, language,"
            " engine, model_sha256, speaker, speed, sample_rate, engine_sample_rate,"
            " bit_depth, num_samples, loudness_target, peak_limited, audio_key, timing,"
            " created_at",
            (
                f"{take}\t{line}\t{project}\t{studio}\t{voice_id}\t{version_id}\t"
                f"{texts[text]}\tja\tkokoro\t{'0' * 64}\tjf_alpha\t1.0\t48000\t24000\t24\t"
                f"{audio_ms * 48}\tEBU_R128\tf\ttakes/{take}.wav\t{{}}\t{at.isoformat()}\n"
                for take, line, project, studio, text, audio_ms, at in takes
            ),
        )
        usage: list[tuple[str, str, str, int, int, int, dt.datetime]] = []

        def usage_rows() -> Iterator[str]:
            for take, _, project, studio, text, audio_ms, at in takes:
                price = price_line(chars[text], 3_333_333_333, 6667)
                use_id = ids("use")
                usage.append(
                    (
                        use_id,
                        take,
                        studio,
                        price.amount_micros,
                        price.actor_royalty_micros,
                        price.platform_micros,
                        at,
                    )
                )
                yield (
                    f"{use_id}\t{take}\tbench:{take}\t{studio}\t{project}\t{actor_id}\t"
                    f"{voice_id}\t{version_id}\tanimation\tja\t{chars[text]}\t{audio_ms}\t"
                    f"JPY\t1k_chars\t3333333333\t{price.amount_micros}\t"
                    f"{price.actor_royalty_micros}\t{price.platform_micros}\t{PERIOD}\t"
                    f"{at.isoformat()}\n"
                )

        _copy(
            cursor,
            "usage_records",
            "id, take_id, idempotency_key, studio_id, project_id, actor_id, voice_id,"
            " consent_version_id, use, language, characters, audio_ms, currency, price_unit,"
            " rate_micros, amount_micros, actor_royalty_micros, platform_micros, period,"
            " created_at",
            usage_rows(),
        )
        # One entry set per line, and a refund (the same entries negated) per thousand.
        sets: list[tuple[str, int, str, int, int, int]] = []

        def transaction_rows() -> Iterator[str]:
            for i, (use_id, take, studio, amount, royalty, platform, at) in enumerate(usage):
                tx = ids("ltx")
                sets.append((tx, 1, studio, amount, royalty, platform))
                yield (
                    f"{tx}\tUSAGE\tJPY\t{PERIOD}\tusage:{take}\t{take}\t{use_id}\t\\N\t"
                    f"bench\tsystem\t{at.isoformat()}\n"
                )
                if i % 1000 == 999:
                    refund = ids("ltx")
                    sets.append((refund, -1, studio, amount, royalty, platform))
                    yield (
                        f"{refund}\tREFUND\tJPY\t{PERIOD}\trefund:{take}\t{take}\t{use_id}\t"
                        f"{tx}\tA retake replaced it\tbench\t"
                        f"{(at + dt.timedelta(hours=1)).isoformat()}\n"
                    )

        _copy(
            cursor,
            "ledger_transactions",
            "id, kind, currency, period, reference, take_id, usage_record_id, reverses_id,"
            " memo, created_by, created_at",
            transaction_rows(),
        )
        _copy(
            cursor,
            "ledger_entries",
            "transaction_id, account_id, amount_micros",
            (
                row
                for tx, sign, studio, amount, royalty, platform in sets
                for row in (
                    f"{tx}\t{receivable[studio]}\t{sign * amount}\n",
                    f"{tx}\t{payable}\t{-sign * royalty}\n",
                    f"{tx}\t{seeded.platform_account}\t{-sign * platform}\n",
                )
            ),
        )
        # Balances as posting would have kept them (`voicehub ledger check` agrees).
        cursor.execute(
            "UPDATE ledger_accounts a SET balance_micros = coalesce("
            "(SELECT sum(amount_micros) FROM ledger_entries e WHERE e.account_id = a.id), 0)"
        )
        connection.commit()
    print(
        f"  loaded {size:>9,} lines for {actor_id}"
        f" ({len(sets) - size} refunds) in {time.perf_counter() - began:5.1f} s",
        flush=True,
    )
    return actor_id


def _child(mode: str, actor_id: str, out: str | None) -> None:
    """One measurement in this (fresh) process: prints seconds, bytes and peak RSS as JSON."""
    import psycopg

    from voicehub.db import make_engine, make_sessionmaker
    from voicehub.ledger.tables import PartyKind
    from voicehub.metering.statement_pdf import statement_pdf
    from voicehub.metering.statements import (
        Party,
        build_statement,
        lines_query,
        statement_csv,
        statement_json,
        statement_session,
    )
    from voicehub.settings import Settings

    url = os.environ["VOICEHUB_DATABASE_URL"]
    sessions = make_sessionmaker(make_engine(url))
    thresholds = Settings(database_url=url).payout_thresholds
    size = 0
    began = time.perf_counter()
    if mode == "copy":
        query = lines_query(Party(PartyKind.ACTOR, actor_id, ""), PERIOD, "JPY")
        with sessions() as session:
            sql = str(
                query.compile(
                    dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True}
                )
            )
        dsn = url.replace("postgresql+psycopg://", "postgresql://")
        with (
            psycopg.connect(dsn) as connection,
            connection.cursor() as cursor,
            cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)") as copy,
        ):
            for block in copy:
                size += len(block)
    else:
        with statement_session(sessions) as session:
            statement = build_statement(
                session, PartyKind.ACTOR, actor_id, PERIOD, thresholds=thresholds
            )
            assert all(c.reconciled for c in statement.currencies), "the statement must reconcile"
            if mode == "json":
                size = len(json.dumps(statement_json(statement), default=str))
            elif mode == "csv":
                size = sum(len(chunk.encode()) for chunk in statement_csv(session, statement))
            else:
                sink = open(out, "wb") if out else None  # noqa: SIM115
                try:
                    for chunk in statement_pdf(session, statement):
                        size += len(chunk)
                        if sink:
                            sink.write(chunk)
                finally:
                    if sink:
                        sink.close()
    seconds = time.perf_counter() - began
    print(json.dumps({"seconds": seconds, "bytes": size, "rss_mb": _peak_rss_mb()}))


def _peak_rss_mb() -> float:
    """This process's peak resident set. On Linux `VmHWM`, which starts again at exec;
    `ru_maxrss` would also count the pages of the parent the child was forked from."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _measure(url: str, mode: str, actor_id: str, out: str | None = None) -> dict[str, float]:
    command = [sys.executable, "-m", "bench.statement_scale", "--child", mode, actor_id]
    if out:
        command += ["--out", out]
    done = subprocess.run(
        command,
        env={**os.environ, "VOICEHUB_DATABASE_URL": url},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{mode} for {actor_id} failed:\n{done.stderr}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@contextmanager
def _database(admin: str, keep: bool) -> Iterator[str]:
    import psycopg

    from voicehub.db import migrate

    name = f"voicehub_bench_statements_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    base = admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    url = f"{base}/{name}"
    try:
        migrate(url)
        yield url
    finally:
        if keep:
            print(f"kept the database: {url}")
        else:
            with psycopg.connect(admin, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _table(title: str, results: dict[int, dict[str, dict[str, float]]], modes: list[str]) -> None:
    sizes = sorted(results)
    print(f"\n{title}")
    print(
        f"  {'lines':>9}  {'what':<5} {'seconds':>8} {'lines/s':>10} {'peak RSS':>9} {'output':>9}"
        f"  {'× COPY':>6}"
    )
    for size in sizes:
        for mode in modes:
            r = results[size].get(mode)
            if r is None:
                continue
            ratio = (
                r["seconds"] / results[size]["copy"]["seconds"] if "copy" in results[size] else 0
            )
            print(
                f"  {size:>9,}  {mode:<5} {r['seconds']:8.2f} {size / r['seconds']:10,.0f}"
                f" {r['rss_mb']:7.0f} MB {r['bytes'] / 1e6:7.1f} MB  {ratio:6.1f}"
            )
    if len(sizes) > 1:
        print("  growth (time ×, peak RSS ×) from each size to the next:")
        for mode in modes:
            steps = []
            for small, large in itertools.pairwise(sizes):
                a, b = results[small].get(mode), results[large].get(mode)
                if a and b:
                    steps.append(
                        f"{small:,}→{large:,}: {b['seconds'] / a['seconds']:5.1f}×,"
                        f" {b['rss_mb'] / a['rss_mb']:4.2f}×"
                    )
            if steps:
                print(f"    {mode:<5} " + "   ".join(steps))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--admin-url", default=PG_ADMIN)
    parser.add_argument("--no-pdf", action="store_true", help="skip the PDFs (the slowest)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "ACTOR"), help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], args.child[1], args.out)
        return
    host_port = args.admin_url.split("@")[-1].split("/")[0]
    host, _, port = host_port.partition(":")
    if not _reachable(host, int(port or 5432)):
        print(f"PostgreSQL is not reachable at {host_port}: the statement benchmark needs it.")
        return
    sizes = sorted(int(s) for s in args.sizes.split(","))
    with _database(args.admin_url, args.keep) as url:
        print(f"loading {sum(sizes):,} lines into a fresh database (COPY)…", flush=True)
        actors = _load(url, sizes)
        modes = ["copy", "json", "csv", *([] if args.no_pdf else ["pdf"])]
        before: dict[int, dict[str, dict[str, float]]] = {}
        for size in sizes:
            before[size] = {}
            for mode in modes:
                out = None
                if mode == "pdf" and size == sizes[0]:
                    out = os.path.join(os.environ.get("TMPDIR", "/tmp"), "statement-bench.pdf")
                before[size][mode] = _measure(url, mode, actors[size], out)
                print(f"  {size:>9,} {mode:<5} {before[size][mode]['seconds']:8.2f} s", flush=True)
        _check_pdf(os.path.join(os.environ.get("TMPDIR", "/tmp"), "statement-bench.pdf"))
        import psycopg

        dsn = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn, autocommit=True) as connection:
            began = time.perf_counter()
            connection.execute(INDEX)
            connection.execute("ANALYZE usage_records")
            built = time.perf_counter() - began
        after: dict[int, dict[str, dict[str, float]]] = {}
        for size in sizes:
            after[size] = {
                mode: _measure(url, mode, actors[size]) for mode in ("copy", "json", "csv")
            }
        _table("With the schema as migrated:", before, modes)
        _table(
            f"With {INDEX[len('CREATE INDEX ') :]} (built in {built:.1f} s):",
            after,
            ["copy", "json", "csv"],
        )


def _check_pdf(path: str) -> None:
    """The smallest PDF read back (pypdf, a dev dependency): its pages and last footer."""
    if not os.path.exists(path):
        return
    try:
        from pypdf import PdfReader
    except ImportError:
        return
    reader = PdfReader(path)
    footer = [line for line in reader.pages[-1].extract_text().splitlines() if "Page" in line]
    print(f"  the smallest PDF reads back: {len(reader.pages)} pages, last footer {footer[-1]!r}")
    os.unlink(path)


if __name__ == "__main__":
    main()
