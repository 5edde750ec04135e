"""Lookup latency of the fingerprint index as it grows to 100,000 takes, on PostgreSQL and SQLite.

Forty-eight real takes are rendered (Piper "joe" in English, Kokoro "jf_alpha" in
Japanese), mastered to the default delivery spec and fingerprinted with
`take_fingerprints`, then stored with `store_fingerprints` on the real schema
(`voicehub.db.migrate`). Every fourth of them is a donor: the rest of the index is
synthetic takes drawn from the donors. A synthetic take copies a donor's length (its
landmark anchor frames and its number of Chromaprint frames); each of its landmark
hashes is drawn from the donors' landmark hashes and each of its Chromaprint codes from
the donors' codes (indexed as two halves, like a real code), so a clip's hash hits as
many synthetic rows, on average, as it would hit rows of real takes of these voices.
The clips looked up are never a donor's, so none of them finds its own hashes copied.

The synthetic rows reference takes that do not exist: the bench database drops the
foreign keys from `fingerprint_hashes` and `take_fingerprints` to `takes` (PostgreSQL),
or loads with `PRAGMA foreign_keys=OFF` (SQLite). On PostgreSQL the index rows are
loaded by binary COPY with the primary key and the take_id index dropped, and both are
rebuilt (same names, same columns) and the table vacuumed and analysed before the
lookups are timed; SQLite inserts into the indexed table in batches sorted by hash.

At each size `voicehub.provenance.index.lookup` is timed, per method, for MP3 excerpts
of the real takes (each must be identified as its take: the bench stops otherwise) and
for clips VoiceHub never made. Storing a take (`store_fingerprints` in a transaction
that is then rolled back) is timed at each size too.

    .venv/bin/python -m bench.identify_lookup --sizes 1000,10000,100000
    .venv/bin/python -m bench.identify_lookup --sizes 1000 --databases sqlite

It makes a throwaway PostgreSQL database through --admin-url (default: the local
PostgreSQL as `postgres`) and drops it afterwards; SQLite runs on a temporary file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import struct
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg
from sqlalchemy import Engine, event, func, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from bench.identify_corpus import (
    KOKORO,
    PIPER,
    Voice,
    distinct_texts,
    english_text,
    japanese_text,
    synthesize,
)
from bench.identify_corpus import lookup as memory_lookup
from models.engines.registry import EngineRegistry
from tests.provenance import clips
from voicehub.audio import wav_bytes
from voicehub.db import make_engine, make_sessionmaker, migrate
from voicehub.delivery.mastering import master
from voicehub.delivery.spec import DeliverySpec
from voicehub.errors import ClipUnusable
from voicehub.provenance.fingerprints import (
    Fingerprint,
    MemoryIndex,
    Method,
    decode_clip,
    fingerprint,
)
from voicehub.provenance.index import (
    LOOKUP_CHUNK,
    METHOD_CODES,
    lookup,
    store_fingerprints,
    take_fingerprints,
)
from voicehub.provenance.tables import FingerprintHash, TakeFingerprint

ADMIN_URL = os.environ.get(
    "VOICEHUB_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
BATCH_TAKES = 2000
ESPEAK = Voice("espeak", "en-us", "en")
EXCERPT_SECONDS = 4.0
QUERY_SECONDS = {Method.CHROMAPRINT: 4.0, Method.LANDMARKS: 1.0}
"""Shorter clips are not looked up by the method: Chromaprint says little under 4 s."""
DONOR_EVERY = 4
"""Every fourth real take is a donor (lengths cycle in threes, so donors are of every length)."""


# ---------------------------------------------------------------------------------------------
# Real takes and the clips looked up


@dataclass(frozen=True)
class RealTake:
    take_id: str
    text: str
    seconds: float
    fingerprints: list[Fingerprint]


@dataclass(frozen=True)
class Query:
    """A clip's fingerprint; `take_id` is the take it must be identified as (None: a stranger)."""

    take_id: str | None
    text: str
    fp: Fingerprint


def render_real(
    engines: EngineRegistry, count: int, seed: int
) -> tuple[list[RealTake], list[RealTake], list[Query]]:
    """Real takes as the take path makes them: (all, the donors, MP3 clips of the others)."""
    rng = np.random.default_rng(seed)
    japanese = max(1, count // 6)
    texts = [(PIPER, t) for t in distinct_texts(english_text, count - japanese, rng)]
    texts += [(KOKORO, t) for t in distinct_texts(japanese_text, japanese, rng)]
    takes: list[RealTake] = []
    donors: list[RealTake] = []
    queries: list[Query] = []
    for number, (voice, line) in enumerate(texts):
        mastered = master(synthesize(engines, voice, line, seed + number), DeliverySpec())
        audio, rate = mastered.result.audio, mastered.result.sample_rate
        take = RealTake(uuid.uuid4().hex, line, mastered.result.duration_seconds, [])
        take.fingerprints.extend(take_fingerprints(audio, rate))
        takes.append(take)
        if number % DONOR_EVERY == DONOR_EVERY - 1:
            donors.append(take)
            continue
        uploads = [clips.mp3_64k(mastered.wav)]
        for _ in range(3 if take.seconds >= EXCERPT_SECONDS + 1.0 else 0):
            start = round(rng.uniform(0.0, take.seconds - EXCERPT_SECONDS) * rate)
            part = audio[start : start + round(EXCERPT_SECONDS * rate)]
            uploads.append(clips.mp3_64k(wav_bytes(part, rate)))
        queries += _queries(take.take_id, line, uploads)
    return takes, donors, identifiable(takes, queries)


def _queries(take_id: str | None, line: str, uploads: list[bytes]) -> list[Query]:
    out: list[Query] = []
    for data in uploads:
        try:
            clip = decode_clip(data)
        except ClipUnusable:  # a line too short to identify is not a lookup
            continue
        out += [
            Query(take_id, line, fp)
            for method in Method
            if clip.seconds >= QUERY_SECONDS[method] and (fp := fingerprint(clip, method))
        ]
    return out


def identifiable(takes: list[RealTake], queries: list[Query]) -> list[Query]:
    """The clips that the real takes alone identify: at every size they must still be."""
    index = MemoryIndex()
    for take in takes:
        for fp in take.fingerprints:
            index.add(take.take_id, fp)
    kept = [
        query
        for query in queries
        if [match.take_id for match in memory_lookup(index, query.fp)][:1] == [query.take_id]
    ]
    if len(kept) < len(queries):
        print(f"  {len(queries) - len(kept)} of {len(queries)} real clips not identified at all")
    return kept


def render_strangers(engines: EngineRegistry, count: int, seed: int) -> list[Query]:
    """Long lines VoiceHub never made (Piper "joe" and espeak-ng), fingerprinted as MP3 uploads."""
    rng = np.random.default_rng(seed + 1)
    out: list[Query] = []
    for number, line in enumerate(distinct_texts(english_text, 3 * count, rng)[2::3]):
        voice = ESPEAK if number % 4 == 3 else PIPER
        result = synthesize(engines, voice, line, seed + 50_000 + number)
        upload = clips.mp3_64k(wav_bytes(result.audio, result.sample_rate))
        out += _queries(None, f"{voice.engine}: {line}", [upload])
    return out


# ---------------------------------------------------------------------------------------------
# Synthetic index rows


@dataclass(frozen=True)
class Shape:
    """What synthetic takes are drawn from: donor takes' lengths, hashes and Chromaprint codes."""

    landmark_offsets: list[npt.NDArray[np.int64]]
    chroma_frames: list[int]
    seconds: list[float]
    landmark_hashes: npt.NDArray[np.int64]
    chroma_codes: npt.NDArray[np.uint32]

    @classmethod
    def of(cls, donors: list[RealTake]) -> Shape:
        landmark_offsets: list[npt.NDArray[np.int64]] = []
        chroma_frames: list[int] = []
        hashes: list[npt.NDArray[np.int64]] = []
        codes: list[npt.NDArray[np.uint32]] = []
        for take in donors:
            by_method = {fp.method: fp for fp in take.fingerprints}
            marks = by_method[Method.LANDMARKS]
            landmark_offsets.append(marks.offsets.astype(np.int64))
            hashes.append(marks.hashes)
            chroma = by_method.get(Method.CHROMAPRINT)
            if chroma is None or chroma.codes is None:
                chroma_frames.append(0)
                continue
            codes.append(np.frombuffer(chroma.codes, dtype="<u4").astype(np.uint32))
            chroma_frames.append(int(codes[-1].shape[0]))
        return cls(
            landmark_offsets,
            chroma_frames,
            [take.seconds for take in donors],
            np.concatenate(hashes),
            np.concatenate(codes),
        )


@dataclass
class Batch:
    """Synthetic takes' index rows (one array per column) and their take_fingerprints rows."""

    methods: npt.NDArray[np.int16]
    hashes: npt.NDArray[np.int32]
    takes: npt.NDArray[np.int64]
    offsets: npt.NDArray[np.int32]
    take_ids: list[str]
    fingerprints: list[dict[str, Any]] = field(default_factory=list)


def synthetic_batch(shape: Shape, rng: np.random.Generator, count: int) -> Batch:
    """`count` synthetic takes, each the length of a real take drawn at random."""
    take_ids = [rng.bytes(16).hex() for _ in range(count)]
    template = rng.integers(0, len(shape.seconds), count)
    now = dt.datetime.now(dt.UTC)
    # Landmarks: the template's anchor frames, each hash drawn from the donors' hashes.
    sizes = np.array([shape.landmark_offsets[t].shape[0] for t in template], dtype=np.int64)
    owner = np.repeat(np.arange(count, dtype=np.int64), sizes)
    offsets = np.concatenate([shape.landmark_offsets[t] for t in template])
    total = int(sizes.sum())
    marks = shape.landmark_hashes[rng.integers(0, shape.landmark_hashes.shape[0], total)]
    # Chromaprint: the template's frame count, each code drawn from the donors' codes and
    # indexed as its two 16-bit halves like a real one.
    frames = np.array([shape.chroma_frames[t] for t in template], dtype=np.int64)
    n = int(frames.sum())
    starts = np.cumsum(frames) - frames
    codes = shape.chroma_codes[rng.integers(0, shape.chroma_codes.shape[0], n)]
    chroma_owner = np.repeat(np.arange(count, dtype=np.int64), frames)
    frame = np.arange(n, dtype=np.int64) - np.repeat(starts, frames)
    wide = codes.astype(np.int64)
    halves = np.stack([wide >> 16, (wide & 0xFFFF) | (1 << 16)], axis=1).reshape(-1)
    methods = np.concatenate(
        [
            np.full(total, METHOD_CODES[Method.LANDMARKS], dtype=np.int64),
            np.full(2 * n, METHOD_CODES[Method.CHROMAPRINT], dtype=np.int64),
        ]
    )
    keys = np.stack(
        [
            methods,
            np.concatenate([marks, halves]),
            np.concatenate([owner, np.repeat(chroma_owner, 2)]),
            np.concatenate([offsets, np.repeat(frame, 2)]),
        ],
        axis=1,
    )
    # One row per (method, hash, take, offset), as store_fingerprints writes them; sorted by
    # hash, which is the order the primary key wants them in.
    keys = np.unique(keys, axis=0)
    batch = Batch(
        keys[:, 0].astype(np.int16),
        keys[:, 1].astype(np.int32),
        keys[:, 2],
        keys[:, 3].astype(np.int32),
        take_ids,
    )
    per_take = np.bincount(keys[:, 2] + count * (keys[:, 0] - 1), minlength=2 * count)
    for number, take_id in enumerate(take_ids):
        seconds = shape.seconds[int(template[number])]
        batch.fingerprints.append(
            {
                "take_id": take_id,
                "method": METHOD_CODES[Method.LANDMARKS],
                "hashes": int(per_take[count + number]),
                "codes": None,
                "seconds": seconds,
                "created_at": now,
            }
        )
        if frames[number]:
            low = int(starts[number])
            batch.fingerprints.append(
                {
                    "take_id": take_id,
                    "method": METHOD_CODES[Method.CHROMAPRINT],
                    "hashes": int(per_take[number]),
                    "codes": codes[low : low + int(frames[number])].astype("<u4").tobytes(),
                    "seconds": seconds,
                    "created_at": now,
                }
            )
    return batch


# ---------------------------------------------------------------------------------------------
# The two databases


_PG_COPY_ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("method_size", ">i4"),
        ("method", ">i2"),
        ("hash_size", ">i4"),
        ("hash", ">i4"),
        ("take_size", ">i4"),
        ("take_id", "S32"),
        ("offset_size", ">i4"),
        ("offset", ">i4"),
    ]
)
_PG_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_PG_COPY_TRAILER = struct.pack(">h", -1)


class Database:
    """One database under test: its URL, how it loads synthetic rows, how big its index is."""

    name = ""

    def __init__(self, url: str) -> None:
        self.url = url
        migrate(url)
        self.engine = self._engine()
        self.sessions: sessionmaker[Session] = make_sessionmaker(self.engine)

    def _engine(self) -> Engine:
        return make_engine(self.url)

    def load(self, batches: Iterator[Batch]) -> int:
        """Write the batches' rows; returns how many index rows that was."""
        raise NotImplementedError

    def index_bytes(self) -> int:
        raise NotImplementedError

    def close(self) -> None:
        self.engine.dispose()


class Postgres(Database):
    name = "PostgreSQL"

    def __init__(self, url: str, libpq_url: str) -> None:
        self.libpq_url = libpq_url
        super().__init__(url)
        with self.engine.begin() as connection:
            # Synthetic takes have no `takes` row: the bench database alone loses these keys.
            connection.execute(
                text(
                    "ALTER TABLE fingerprint_hashes"
                    " DROP CONSTRAINT fk_fingerprint_hashes_take_id_takes"
                )
            )
            connection.execute(
                text(
                    "ALTER TABLE take_fingerprints DROP CONSTRAINT fk_take_fingerprints_take_id_takes"
                )
            )

    def load(self, batches: Iterator[Batch]) -> int:
        rows = 0
        with psycopg.connect(self.libpq_url) as connection:
            connection.execute("SET maintenance_work_mem = '1GB'")
            connection.execute(
                "ALTER TABLE fingerprint_hashes DROP CONSTRAINT pk_fingerprint_hashes"
            )
            connection.execute("DROP INDEX ix_fingerprint_hashes_take_id")
            for batch in batches:
                rows += batch.hashes.shape[0]
                _copy_index_rows(connection, batch)
                _copy_fingerprints(connection, batch)
            connection.execute(
                "ALTER TABLE fingerprint_hashes ADD CONSTRAINT pk_fingerprint_hashes"
                ' PRIMARY KEY (method, hash, take_id, "offset")'
            )
            connection.execute(
                "CREATE INDEX ix_fingerprint_hashes_take_id ON fingerprint_hashes (take_id)"
            )
            connection.commit()
        with psycopg.connect(self.libpq_url, autocommit=True) as connection:
            connection.execute("VACUUM ANALYZE fingerprint_hashes")
            connection.execute("VACUUM ANALYZE take_fingerprints")
        return rows

    def index_bytes(self) -> int:
        with self.engine.connect() as connection:
            return int(
                connection.execute(
                    text("SELECT pg_total_relation_size('fingerprint_hashes')")
                ).scalar_one()
            )


def _copy_index_rows(connection: psycopg.Connection[Any], batch: Batch) -> None:
    rows = np.zeros(batch.hashes.shape[0], dtype=_PG_COPY_ROW)
    rows["fields"] = 4
    rows["method_size"], rows["hash_size"], rows["take_size"], rows["offset_size"] = 2, 4, 32, 4
    rows["method"], rows["hash"], rows["offset"] = batch.methods, batch.hashes, batch.offsets
    rows["take_id"] = np.array(batch.take_ids, dtype="S32")[batch.takes]
    with connection.cursor().copy(
        'COPY fingerprint_hashes (method, hash, take_id, "offset") FROM STDIN (FORMAT BINARY)'
    ) as copy:
        copy.write(_PG_COPY_HEADER + rows.tobytes() + _PG_COPY_TRAILER)


def _copy_fingerprints(connection: psycopg.Connection[Any], batch: Batch) -> None:
    columns = ("take_id", "method", "hashes", "codes", "seconds", "created_at")
    with connection.cursor().copy(
        f"COPY take_fingerprints ({', '.join(columns)}) FROM STDIN"
    ) as copy:
        for row in batch.fingerprints:
            copy.write_row([row[column] for column in columns])


class Sqlite(Database):
    name = "SQLite"

    def _engine(self) -> Engine:
        engine = make_engine(self.url)

        # After make_engine's own pragmas: synthetic takes have no `takes` row.
        @event.listens_for(engine, "connect")
        def _no_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA foreign_keys=OFF")

        return engine

    def load(self, batches: Iterator[Batch]) -> int:
        rows = 0
        with self.engine.begin() as connection:
            raw = connection.connection.driver_connection
            assert raw is not None
            # A large page cache while loading only; lookups run with SQLite's default one.
            default_cache = raw.execute("PRAGMA cache_size").fetchone()[0]
            raw.execute("PRAGMA cache_size=-1048576")
            for batch in batches:
                rows += batch.hashes.shape[0]
                take_ids = np.array(batch.take_ids, dtype=object)[batch.takes]
                raw.executemany(
                    'INSERT INTO fingerprint_hashes (method, hash, take_id, "offset")'
                    " VALUES (?, ?, ?, ?)",
                    zip(
                        batch.methods.tolist(),
                        batch.hashes.tolist(),
                        take_ids.tolist(),
                        batch.offsets.tolist(),
                        strict=True,
                    ),
                )
                connection.execute(insert(TakeFingerprint), batch.fingerprints)
            raw.execute(f"PRAGMA cache_size={int(default_cache)}")
        with self.engine.connect() as connection:
            connection.execute(text("ANALYZE"))
            connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        return rows

    def index_bytes(self) -> int:
        with self.engine.connect() as connection:
            try:
                return int(
                    connection.execute(
                        text(
                            "SELECT SUM(pgsize) FROM dbstat WHERE name LIKE '%fingerprint_hashes%'"
                        )
                    ).scalar_one()
                )
            except Exception:  # dbstat is a compile-time option: fall back to the whole file
                return Path(self.url.removeprefix("sqlite:///")).stat().st_size


@contextmanager
def postgres(admin_url: str) -> Iterator[Postgres]:
    name = f"voicehub_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    libpq_url = f"{admin_url.rsplit('/', 1)[0]}/{name}"
    database: Postgres | None = None
    try:
        database = Postgres(
            libpq_url.replace("postgresql://", "postgresql+psycopg://", 1), libpq_url
        )
        yield database
    finally:
        if database is not None:
            database.close()
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def sqlite() -> Iterator[Sqlite]:
    with tempfile.TemporaryDirectory(prefix="voicehub-bench-") as folder:
        database = Sqlite(f"sqlite:///{folder}/index.db")
        try:
            yield database
        finally:
            database.close()


# ---------------------------------------------------------------------------------------------
# Measuring


@dataclass(frozen=True)
class Row:
    database: str
    takes: int
    index_rows: int
    index_mb: float
    load_s: float
    store_ms: float
    latency: dict[tuple[str, Method], Latency]
    strangers_matched: list[str]


def store_cost(database: Database, takes: list[RealTake]) -> float:
    """Milliseconds per take that `store_fingerprints` takes at this size (rolled back after)."""
    session = database.sessions()
    try:
        start = time.perf_counter()
        for take in takes:
            store_fingerprints(session, uuid.uuid4().hex, take.fingerprints, seconds=take.seconds)
        return 1000.0 * (time.perf_counter() - start) / len(takes)
    finally:
        session.rollback()
        session.close()


@dataclass(frozen=True)
class Latency:
    median_ms: float
    p95_ms: float
    lookups: int
    rows: float
    """Median index rows a lookup reads (the rows holding one of the clip's hashes)."""


def rows_read(session: Session, fp: Fingerprint) -> int:
    """How many index rows `lookup` reads for the fingerprint (counted apart, untimed)."""
    values = sorted({int(h) for h in fp.hashes.tolist()})
    return sum(
        session.execute(
            select(func.count()).where(
                FingerprintHash.method == METHOD_CODES[fp.method],
                FingerprintHash.hash.in_(values[start : start + LOOKUP_CHUNK]),
            )
        ).scalar_one()
        for start in range(0, len(values), LOOKUP_CHUNK)
    )


def time_lookups(
    database: Database, queries: list[Query], rounds: int, texts: dict[str, str]
) -> tuple[dict[tuple[str, Method], Latency], list[str]]:
    """Latency per (kind, method), and what each stranger that matched was taken for."""
    took: dict[tuple[str, Method], list[float]] = {}
    read: dict[tuple[str, Method], list[int]] = {}
    matched: set[str] = set()
    with database.sessions() as session:
        for query in queries:  # warm the caches once
            lookup(session, query.fp)
        for _ in range(rounds):
            for query in queries:
                start = time.perf_counter()
                matches = lookup(session, query.fp)
                elapsed = time.perf_counter() - start
                kind = "real clip" if query.take_id is not None else "stranger"
                took.setdefault((kind, query.fp.method), []).append(elapsed)
                if query.take_id is None:
                    matched.update(
                        f"{query.fp.method.value}: {query.text!r} -> {texts[m.take_id]!r}"
                        f" ({m.confidence:.2f})"
                        for m in matches[:1]
                    )
                elif not matches or matches[0].take_id != query.take_id:
                    raise AssertionError(
                        f"{database.name}: a clip of {query.take_id} ({query.fp.method}) was"
                        f" answered {[(m.take_id, m.confidence) for m in matches]}"
                    )
        for query in queries:
            kind = "real clip" if query.take_id is not None else "stranger"
            read.setdefault((kind, query.fp.method), []).append(rows_read(session, query.fp))
    out: dict[tuple[str, Method], Latency] = {}
    for key, samples in took.items():
        ordered = sorted(samples)
        p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
        out[key] = Latency(
            1000.0 * statistics.median(ordered),
            1000.0 * p95,
            len(ordered),
            float(statistics.median(read[key])),
        )
    return out, sorted(matched)


def grow(
    database: Database,
    real: list[RealTake],
    donors: list[RealTake],
    queries: list[Query],
    sizes: list[int],
    seed: int,
    rounds: int,
    budget_s: float,
) -> Iterator[Row]:
    """Store the real takes, then at each size load synthetic takes up to it and measure."""
    with database.sessions() as session:
        for take in real:
            store_fingerprints(session, take.take_id, take.fingerprints, seconds=take.seconds)
        session.commit()
    shape = Shape.of(donors)
    rng = np.random.default_rng(seed + 2)
    present = len(real)
    rows = sum(fp.hashes.shape[0] for take in real for fp in take.fingerprints)
    spent = 0.0
    for size in sizes:
        wanted = size - present
        started = time.perf_counter()

        def batches(wanted: int = wanted) -> Iterator[Batch]:
            for low in range(0, wanted, BATCH_TAKES):
                yield synthetic_batch(shape, rng, min(BATCH_TAKES, wanted - low))

        rows += database.load(batches()) if wanted > 0 else 0
        load_s = time.perf_counter() - started
        present = max(present, size)
        latency, matched = time_lookups(
            database, queries, rounds, {take.take_id: take.text for take in real}
        )
        yield Row(
            database.name,
            present,
            rows,
            database.index_bytes() / 1e6,
            load_s,
            store_cost(database, real),
            latency,
            matched,
        )
        spent += time.perf_counter() - started
        following = [s for s in sizes if s > size]
        if following and spent * following[0] / max(size, 1) > budget_s:
            print(
                f"  {database.name}: stopping at {size} takes; {following[0]} would take about"
                f" {spent * following[0] / size:.0f} s (over the --budget of {budget_s:.0f} s)"
            )
            return


def print_rows(rows: list[Row]) -> None:
    print("\n#### Lookup latency (ms, median / p95) as the index grows\n")
    kinds = [
        ("real clip", Method.CHROMAPRINT),
        ("real clip", Method.LANDMARKS),
        ("stranger", Method.CHROMAPRINT),
        ("stranger", Method.LANDMARKS),
    ]
    header = " | ".join(f"{kind}, {method.value}" for kind, method in kinds)
    print("Each cell: median / p95 ms (median index rows read per lookup, lookups).\n")
    print(f"| database | takes | index rows | index MB | {header} | strangers matched |")
    print("|---" * (len(kinds) + 5) + "|")
    for row in rows:
        cells = []
        for key in kinds:
            cell = row.latency.get(key)
            cells.append(
                "-"
                if cell is None
                else f"{cell.median_ms:.1f} / {cell.p95_ms:.1f} ({cell.rows:,.0f} rows, n={cell.lookups})"
            )
        print(
            f"| {row.database} | {row.takes:,} | {row.index_rows:,} | {row.index_mb:.0f} |"
            f" {' | '.join(cells)} | {len(row.strangers_matched)} |"
        )
    for description in sorted({m for row in rows for m in row.strangers_matched}):
        print(f"  stranger matched: {description}")
    print("\n#### Loading and storing\n")
    print("| database | takes | synthetic load s | store_fingerprints ms per take |")
    print("|---|---|---|---|")
    for row in rows:
        print(f"| {row.database} | {row.takes:,} | {row.load_s:.1f} | {row.store_ms:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000,10000,100000", help="takes in the index")
    parser.add_argument("--databases", default="postgresql,sqlite")
    parser.add_argument("--real", type=int, default=48, help="real takes rendered")
    parser.add_argument("--strangers", type=int, default=32, help="clips VoiceHub never made")
    parser.add_argument("--rounds", type=int, default=1, help="timed passes over the clips")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument(
        "--budget", type=float, default=300.0, help="seconds a database may spend growing"
    )
    parser.add_argument("--admin-url", default=ADMIN_URL)
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.sizes.split(","))
    began = time.perf_counter()
    engines = EngineRegistry.load(["piper", "kokoro", "espeak"], cache_dir=None)
    real, donors, queries = render_real(engines, args.real, args.seed)
    queries += render_strangers(engines, args.strangers, args.seed)
    per_take = {
        method: statistics.mean(
            fp.hashes.shape[0] for take in real for fp in take.fingerprints if fp.method is method
        )
        for method in Method
    }
    print(
        f"{len(real)} real takes ({sum(t.seconds for t in real) / len(real):.1f} s on average),"
        f" index rows per take: "
        + ", ".join(f"{method.value} {rows:.0f}" for method, rows in per_take.items())
        + f"; {len(queries)} query fingerprints; rendered in {time.perf_counter() - began:.0f} s"
    )
    rows: list[Row] = []
    for name in args.databases.split(","):
        opened = postgres(args.admin_url) if name == "postgresql" else sqlite()
        with opened as database:
            for row in grow(
                database, real, donors, queries, sizes, args.seed, args.rounds, args.budget
            ):
                print(
                    f"  {row.database} {row.takes:,} takes: {row.index_rows:,} rows,"
                    f" {row.index_mb:.0f} MB, loaded in {row.load_s:.0f} s"
                )
                rows.append(row)
    print_rows(rows)
    print(f"\nTotal run time {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
