"""Each take's acoustic fingerprints, and the index a clip is looked up in.

A take is fingerprinted by every method when it is made, in the transaction
that writes it: a take exists exactly when its fingerprints do. The index
(`fingerprint_hashes`) is one row per hash of a take's fingerprint; its primary
key leads with (method, hash), so a lookup of a clip's hashes reads the index
alone.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, LargeBinary, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from voicehub.db import Base, UTCDateTime, utcnow


class TakeFingerprint(Base):
    """One method's fingerprint of one take: how many hashes it indexed, and (Chromaprint) its codes."""

    __tablename__ = "take_fingerprints"

    take_id: Mapped[str] = mapped_column(ForeignKey("takes.id"), primary_key=True)
    # `voicehub.provenance.index.METHOD_CODES`: 1 chromaprint, 2 landmarks.
    method: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    hashes: Mapped[int] = mapped_column(Integer)
    # Chromaprint's raw 32-bit subfingerprints (little-endian), to verify a candidate by
    # bit error rate; None for methods that verify by their hashes alone.
    codes: Mapped[bytes | None] = mapped_column(LargeBinary)
    seconds: Mapped[float] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class FingerprintHash(Base):
    """One hash of a take's fingerprint at its frame offset in the take."""

    __tablename__ = "fingerprint_hashes"

    method: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    hash: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    take_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("takes.id"), primary_key=True, index=True
    )
    offset: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
