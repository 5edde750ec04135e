"""The fingerprint index in the database: a take's fingerprints written with it, a clip looked up.

Both methods share one shape (a hash and its frame offset per row), so one
table and one lookup serve them; `voicehub.provenance.fingerprints` makes the
hashes and scores the candidates.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from voicehub.provenance.fingerprints import (
    Clip,
    Fingerprint,
    Match,
    Method,
    clip_from_audio,
    fingerprint,
    rank,
)
from voicehub.provenance.tables import FingerprintHash, TakeFingerprint

# Stored as a small integer per row: the index holds millions of them.
METHOD_CODES: dict[Method, int] = {Method.CHROMAPRINT: 1, Method.LANDMARKS: 2}
# Hash values per lookup query: well inside every database's bound-parameter limit.
LOOKUP_CHUNK = 500
# Chromaprint candidates verified by bit error rate: the takes with the most hits.
VERIFY_CANDIDATES = 20
INSERT_CHUNK = 2000


def take_fingerprints(audio: npt.NDArray[np.floating[Any]], sample_rate: int) -> list[Fingerprint]:
    """Every method's fingerprint of a take's delivered audio (a method the take is too short for is left out)."""
    clip = clip_from_audio(audio, sample_rate)
    return [fp for method in Method if (fp := fingerprint(clip, method)) is not None]


def store_fingerprints(
    session: Session, take_id: str, fingerprints: Iterable[Fingerprint], *, seconds: float
) -> None:
    """Write a take's fingerprints and their index rows in the caller's transaction."""
    for fp in fingerprints:
        code = METHOD_CODES[fp.method]
        rows = sorted(
            {(int(h), int(o)) for h, o in zip(fp.hashes.tolist(), fp.offsets.tolist(), strict=True)}
        )
        session.add(
            TakeFingerprint(
                take_id=take_id, method=code, hashes=len(rows), codes=fp.codes, seconds=seconds
            )
        )
        for start in range(0, len(rows), INSERT_CHUNK):
            session.execute(
                insert(FingerprintHash),
                [
                    {"method": code, "hash": h, "take_id": take_id, "offset": o}
                    for h, o in rows[start : start + INSERT_CHUNK]
                ],
            )
    session.flush()


def _hits(session: Session, fp: Fingerprint) -> Iterator[tuple[str, int, int]]:
    """Every index row that holds one of the clip's hash values, for the clip's method."""
    code = METHOD_CODES[fp.method]
    values = sorted({int(h) for h in fp.hashes.tolist()})
    for start in range(0, len(values), LOOKUP_CHUNK):
        chunk = values[start : start + LOOKUP_CHUNK]
        rows = session.execute(
            select(FingerprintHash.take_id, FingerprintHash.hash, FingerprintHash.offset).where(
                FingerprintHash.method == code, FingerprintHash.hash.in_(chunk)
            )
        )
        yield from ((take_id, value, offset) for take_id, value, offset in rows)


def lookup(session: Session, fp: Fingerprint, *, limit: int = 5) -> list[Match]:
    """The takes the clip's fingerprint identifies, best first (only those the method accepts)."""
    hits = list(_hits(session, fp))
    if not hits:
        return []
    codes: dict[str, bytes] | None = None
    if fp.method is Method.CHROMAPRINT:
        candidates = [
            take for take, _ in Counter(t for t, _, _ in hits).most_common(VERIFY_CANDIDATES)
        ]
        codes = {
            take_id: stored
            for take_id, stored in session.execute(
                select(TakeFingerprint.take_id, TakeFingerprint.codes).where(
                    TakeFingerprint.method == METHOD_CODES[fp.method],
                    TakeFingerprint.take_id.in_(candidates),
                )
            )
            if stored is not None
        }
    return rank(fp, hits, take_codes=codes, limit=limit)


def fingerprinted_methods(session: Session, take_id: str) -> list[Method]:
    """The methods a take has a fingerprint for."""
    by_code = {code: method for method, code in METHOD_CODES.items()}
    return [
        by_code[code]
        for code in session.scalars(
            select(TakeFingerprint.method)
            .where(TakeFingerprint.take_id == take_id)
            .order_by(TakeFingerprint.method)
        )
    ]


__all__ = [
    "METHOD_CODES",
    "Clip",
    "fingerprinted_methods",
    "lookup",
    "store_fingerprints",
    "take_fingerprints",
]
