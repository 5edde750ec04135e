"""Metering throughput: usage postings per second on PostgreSQL, 1 writer against 4.

A posting is what a delivered take adds to the money side: its usage record and
its balanced ledger entry set, written by `voicehub.metering.service.record_usage`
in a transaction of its own, exactly as a take commits, without the synthesis.
The takes (and the studios, actors, consents, projects and lines they reference)
are made in bulk beforehand. Each writer is a separate process with its own
database engine.

Every posting moves three account balances (studio receivable, actor royalty
payable, platform revenue) and share-locks its billing period's row. The platform
revenue account is one row that every posting updates; writers for the same
studio and actor also meet on those two. So the 4 writers run twice: all on one
studio and actor, and each on its own. A third pair takes the consent row's lock
first, as `synthesize_line` does just before it writes a take: lines of one voice
commit one at a time there anyway. While the writers run, pg_stat_activity is
sampled to say how much of their time went to waiting for row locks, and the
single writer times how long each posting holds the platform revenue row: the
inverse is the most postings per second that row lets through, on any machine.

    .venv/bin/python -m bench.ledger_throughput [--postings 500] [--rounds 5]

It makes a throwaway database through --admin-url (default: the local
PostgreSQL as `postgres`) and drops it afterwards.
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing as mp
import os
import statistics
import threading
import time
import uuid
from dataclasses import dataclass
from fractions import Fraction
from multiprocessing.connection import Connection
from typing import Any

import psycopg
from sqlalchemy import event, insert, select

ADMIN_URL = os.environ.get(
    "VOICEHUB_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
WRITER_APP = "voicehub-bench-writer"


@dataclass(frozen=True)
class Party:
    """A studio and an actor (their voice, consent version and a line) that postings bill."""

    studio_id: str
    actor_id: str
    voice_id: str
    version_id: str
    project_id: str
    line_id: str


@dataclass(frozen=True)
class Config:
    label: str
    writers: int
    # Each writer on a studio and actor of its own, or all on the first.
    separate: bool
    # Take the voice's consent row lock first, as synthesize_line does.
    consent_lock: bool


CONFIGS = [
    Config("1 writer", 1, separate=False, consent_lock=False),
    Config("4 writers, one studio+actor", 4, separate=False, consent_lock=False),
    Config("4 writers, own studio+actor each", 4, separate=True, consent_lock=False),
    Config("1 writer, consent row locked", 1, separate=False, consent_lock=True),
    Config("4 writers, one actor, consent row locked", 4, separate=False, consent_lock=True),
]


def _seed(url: str, parties: int) -> list[Party]:
    """Studios, actors, verified consents, a project and a line each, through the services."""
    import datetime as dt

    from consent.service import create_actor, grant_consent, verify_in_person
    from consent.terms import ConsentTerms
    from models.engines.registry import EngineRegistry
    from models.voices import register_voice
    from voicehub.db import make_engine, make_sessionmaker, transaction, utcnow
    from voicehub.production.service import create_project, import_script, lines_of_project
    from voicehub.tenancy.service import create_studio

    engines = EngineRegistry.load(["espeak"], cache_dir=None)
    database = make_engine(url)
    made: list[Party] = []
    with transaction(make_sessionmaker(database)) as session:
        for n in range(parties):
            studio = create_studio(session, f"Bench studio {n}")
            actor = create_actor(session, f"Bench actor {n}")
            voice = register_voice(
                session,
                engines,
                actor_id=actor.id,
                name=f"Bench voice {n}",
                engine="espeak",
                speaker="en-us",
                language="en",
            )
            version = grant_consent(
                session,
                voice=voice,
                terms=ConsentTerms(
                    signer_name=f"Bench actor {n}",
                    use_description="Benchmark lines for measuring the service, never delivered.",
                    allowed_uses=("animation",),
                    languages=("en",),
                    currency="JPY",
                    prices_per_1k_chars_micros={"animation": 3_000_000_000},
                    actor_share_bps=7000,
                    starts_at=utcnow() - dt.timedelta(days=1),
                ),
                changed_by="bench",
            )
            version = verify_in_person(
                session, consent_id=version.consent_id, operator="bench", note="bench"
            )
            project = create_project(
                session,
                studio.id,
                name="Bench",
                language="en",
                use="animation",
                frame_rate=Fraction(24),
            )
            import_script(
                session,
                studio.id,
                project.id,
                raw=b'{"cuts": [{"lines": [{"character": "KEN", "text": "We leave at dawn."}]}]}',
                script_format="json",
                max_bytes=10_000,
                max_lines=10,
                max_line_chars=1000,
            )
            line = lines_of_project(session, studio.id, project.id)[0]
            made.append(Party(studio.id, actor.id, voice.id, version.id, project.id, line.id))
    database.dispose()
    return made


def _make_takes(url: str, party: Party, count: int) -> list[dict[str, Any]]:
    """`count` delivered-looking takes of the party's line, inserted in one statement."""
    from voicehub.db import make_engine, utcnow
    from voicehub.delivery.spec import LoudnessStandard
    from voicehub.ids import new_id
    from voicehub.production.tables import Take

    now = utcnow()
    rows = []
    for _ in range(count):
        take_id = new_id("take")
        rows.append(
            {
                "id": take_id,
                "line_id": party.line_id,
                "project_id": party.project_id,
                "studio_id": party.studio_id,
                "voice_id": party.voice_id,
                "consent_version_id": party.version_id,
                "text": "We leave at dawn.",
                "language": "en",
                "engine": "espeak",
                "model_sha256": "bench",
                "speaker": "en-us",
                "speed": 1.0,
                "sample_rate": 22050,
                "engine_sample_rate": 22050,
                "bit_depth": 16,
                "num_samples": 33075,
                "loudness_target": LoudnessStandard.NONE,
                "peak_limited": False,
                "audio_key": f"takes/bench/{take_id}.wav",
                "timing": {},
                "created_at": now,
            }
        )
    database = make_engine(url)
    with database.begin() as connection:
        connection.execute(insert(Take), rows)
    database.dispose()
    return rows


def _writer(url: str, inbox: Connection, go: Any) -> None:
    """One writer process: posts the takes it is sent, one transaction each, when told to go."""
    import voicehub.schema  # noqa: F401  (every table: foreign keys resolve)
    from consent.gate import lock_consent
    from consent.tables import ConsentVersion
    from voicehub.db import make_engine, make_sessionmaker, transaction
    from voicehub.ledger.tables import AccountKind, LedgerAccount
    from voicehub.metering.service import record_usage
    from voicehub.production.tables import Take

    # Named, so that the sampler finds this writer's backend in pg_stat_activity.
    database = make_engine(f"{url}?application_name={WRITER_APP}")
    sessions = make_sessionmaker(database)
    versions: dict[str, ConsentVersion] = {}
    # How long each transaction holds the platform revenue row: from the UPDATE that
    # moves its balance (and takes its lock) until the commit returns.
    platform: list[str] = []
    locked_at: list[float] = []

    @event.listens_for(database, "before_cursor_execute")
    def _platform_update(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any
    ) -> None:
        if (
            platform
            and statement.startswith("UPDATE ledger_accounts")
            and isinstance(parameters, dict)
            and platform[0] in parameters.values()
        ):
            locked_at.append(time.monotonic())

    while True:
        message = inbox.recv()
        if message is None:
            break
        generation, party, rows, consent_lock = message
        if party.version_id not in versions:
            with sessions() as session:
                version = session.get(ConsentVersion, party.version_id)
                assert version is not None
                versions[party.version_id] = version
        version = versions[party.version_id]
        takes = [Take(**row) for row in rows]
        if not platform:
            with sessions() as session:
                found = session.scalar(
                    select(LedgerAccount.id).where(
                        LedgerAccount.kind == AccountKind.PLATFORM_REVENUE
                    )
                )
                platform.extend([found] if found else [])
        inbox.send("ready")
        while go.value < generation:
            time.sleep(0.0005)
        held, holds = 0.0, 0
        start = time.monotonic()
        for take in takes:
            with transaction(sessions) as session:
                if consent_lock:
                    lock_consent(session, party.voice_id)
                record_usage(
                    session,
                    take=take,
                    version=version,
                    actor_id=party.actor_id,
                    use="animation",
                    idempotency_key=f"bench:{take.id}",
                )
            if locked_at:
                held += time.monotonic() - locked_at.pop()
                holds += 1
        inbox.send((start, time.monotonic(), len(takes), held, holds))
    database.dispose()


class WaitSampler:
    """Samples what the writers' backends are doing, every 20 ms."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.samples: collections.Counter[str] = collections.Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> WaitSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as connection:
            while not self._stop.is_set():
                for state, wait_type, wait in connection.execute(
                    "SELECT state, wait_event_type, wait_event FROM pg_stat_activity"
                    " WHERE application_name = %s AND datname = current_database()",
                    (WRITER_APP,),
                ):
                    if wait_type == "Lock":
                        self.samples[f"lock wait ({wait})"] += 1
                    elif state != "active":
                        self.samples["in the writer (Python)"] += 1
                    else:
                        self.samples[f"server ({wait_type or 'cpu'})"] += 1
                time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postings", type=int, default=500, help="per writer per run")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--admin-url", default=ADMIN_URL)
    args = parser.parse_args()
    if args.rounds < 3:
        parser.error("--rounds must be 3 or more (the median of the rounds is reported)")

    from voicehub.db import migrate

    name = f"voicehub_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(args.admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = args.admin_url.rsplit("/", 1)[0]
    libpq_url = f"{base}/{name}"
    url = libpq_url.replace("postgresql://", "postgresql+psycopg://", 1)
    context = mp.get_context("spawn")
    writers: list[tuple[Any, Connection]] = []
    go = context.Value("l", 0)
    try:
        migrate(url)
        parties = _seed(url, 4)
        for _ in range(4):
            ours, theirs = context.Pipe()
            process = context.Process(target=_writer, args=(url, theirs, go), daemon=True)
            process.start()
            writers.append((process, ours))

        rates: dict[str, list[float]] = {config.label: [] for config in CONFIGS}
        waits: dict[str, collections.Counter[str]] = {
            config.label: collections.Counter() for config in CONFIGS
        }
        # Seconds the platform revenue row stays locked per posting, from 1-writer runs.
        holds: list[float] = []
        generation = 0
        for round_ in range(args.rounds):
            # The order rotates, so no configuration always runs first (or last).
            order = CONFIGS[round_ % len(CONFIGS) :] + CONFIGS[: round_ % len(CONFIGS)]
            for config in order:
                generation += 1
                active = writers[: config.writers]
                for index, (_, pipe) in enumerate(active):
                    party = parties[index if config.separate else 0]
                    rows = _make_takes(url, party, args.postings)
                    pipe.send((generation, party, rows, config.consent_lock))
                for _, pipe in active:
                    assert pipe.recv() == "ready"
                with WaitSampler(libpq_url) as sampler:
                    go.value = generation
                    results = [pipe.recv() for _, pipe in active]
                started = min(result[0] for result in results)
                ended = max(result[1] for result in results)
                posted = sum(result[2] for result in results)
                rates[config.label].append(posted / (ended - started))
                waits[config.label] += sampler.samples
                if config.writers == 1 and results[0][4]:
                    holds.append(results[0][3] / results[0][4])

        for _, pipe in writers:
            pipe.send(None)
        for process, _ in writers:
            process.join(30)

        with psycopg.connect(libpq_url) as check:
            counted = check.execute(
                "SELECT count(*) FROM ledger_transactions WHERE kind = 'USAGE'"
            ).fetchone()
        print(
            f"usage postings on PostgreSQL ({os.cpu_count()} CPUs; database on this machine),"
            f" {args.postings} per writer per run, median of {args.rounds} rounds;"
            f" {counted[0] if counted else 0} postings in all"
        )
        medians = {label: statistics.median(values) for label, values in rates.items()}
        for config in CONFIGS:
            baseline = medians[
                "1 writer, consent row locked" if config.consent_lock else "1 writer"
            ]
            samples = waits[config.label]
            total = sum(samples.values()) or 1
            locked = sum(n for key, n in samples.items() if key.startswith("lock wait"))
            top = ", ".join(f"{key} {100 * n / total:.0f}%" for key, n in samples.most_common(3))
            print(
                f"  {config.label:<42} {medians[config.label]:7.0f} postings/s"
                f"  ×{medians[config.label] / baseline:4.2f} of 1 writer"
                f"  (runs {min(rates[config.label]):.0f}–{max(rates[config.label]):.0f});"
                f" writers' time waiting on row locks {100 * locked / total:.0f}% [{top}]"
            )
        hold = statistics.median(holds)
        print(
            f"  the platform revenue row is locked {1000 * hold:.2f} ms per posting (its UPDATE"
            f" to the commit, 1 writer, median): at most {1 / hold:.0f} postings/s in all,"
            " however many writers and cores"
        )
    finally:
        for process, _ in writers:
            if process.is_alive():
                process.kill()
        with psycopg.connect(args.admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
