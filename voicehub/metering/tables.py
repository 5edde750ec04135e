"""Usage records: what was delivered, to whom, under which consent, for how much."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from voicehub.db import Base, UTCDateTime, utcnow


class UsageRecord(Base):
    """Exactly one per delivered take; amounts in micro-units (1e-6) of `currency`."""

    __tablename__ = "usage_records"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    take_id: Mapped[str] = mapped_column(ForeignKey("takes.id"), unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    studio_id: Mapped[str] = mapped_column(ForeignKey("studios.id"), index=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), index=True)
    actor_id: Mapped[str] = mapped_column(ForeignKey("actors.id"), index=True)
    voice_id: Mapped[str] = mapped_column(ForeignKey("voices.id"))
    consent_version_id: Mapped[str] = mapped_column(ForeignKey("consent_versions.id"))
    use: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(16))
    characters: Mapped[int] = mapped_column(Integer)
    audio_ms: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    # What the line was priced by: "1k_chars" (per 1,000 billable characters) or
    # "second" (per second of delivered audio), and the rate per that unit.
    price_unit: Mapped[str] = mapped_column(String(16), server_default="1k_chars")
    rate_micros: Mapped[int] = mapped_column(BigInteger)
    amount_micros: Mapped[int] = mapped_column(BigInteger)
    actor_royalty_micros: Mapped[int] = mapped_column(BigInteger)
    platform_micros: Mapped[int] = mapped_column(BigInteger)
    # The calendar month (UTC) the take committed in: "2026-11".
    period: Mapped[str] = mapped_column(String(7), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
