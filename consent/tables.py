"""Actors, consents and their immutable versions."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import JSON, BigInteger, Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from voicehub.db import Base, UTCDateTime, utcnow


class Actor(Base):
    """A voice actor (seiyuu) whose voice VoiceHub may serve, on their terms."""

    __tablename__ = "actors"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    credited_name: Mapped[str] = mapped_column(String(200))
    is_demo: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConsentStatus(enum.StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    REVOKED = "revoked"


class Use(enum.StrEnum):
    """What a studio uses a voice for. Dubbing is off unless the actor turns it on."""

    DUBBING = "dubbing"
    ANIMATION = "animation"
    GAMES = "games"
    ADVERTISING = "advertising"
    AUDIOBOOKS = "audiobooks"
    ELEARNING = "elearning"


class Consent(Base):
    """An actor's consent for one voice. Its terms live in versions, never edited in place."""

    __tablename__ = "consents"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    actor_id: Mapped[str] = mapped_column(ForeignKey("actors.id"), index=True)
    voice_id: Mapped[str] = mapped_column(ForeignKey("voices.id"), unique=True)
    # Bumped with every new version: the row revocation and take commits lock.
    current_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConsentVersion(Base):
    """One immutable state of a consent: its terms and its status, who made it and when."""

    __tablename__ = "consent_versions"
    __table_args__ = (UniqueConstraint("consent_id", "version"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    consent_id: Mapped[str] = mapped_column(ForeignKey("consents.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[ConsentStatus] = mapped_column(
        Enum(ConsentStatus, native_enum=False, length=16, validate_strings=True)
    )
    allowed_uses: Mapped[list[str]] = mapped_column(JSON)
    languages: Mapped[list[str]] = mapped_column(JSON)
    # Empty means every studio may use the voice.
    allowed_studio_ids: Mapped[list[str]] = mapped_column(JSON)
    currency: Mapped[str] = mapped_column(String(3))
    price_per_1k_chars_micros: Mapped[int] = mapped_column(BigInteger)
    actor_share_bps: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    changed_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
