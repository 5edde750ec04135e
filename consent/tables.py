"""Actors, consents and their immutable versions."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Enum,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
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
    EXPIRED = "expired"


class Verification(enum.StrEnum):
    """Whether the person who signed a version proved it was them, by voice."""

    PENDING = "pending"
    OPERATOR_REVIEW = "operator_review"
    VERIFIED = "verified"
    REJECTED = "rejected"


class SignerKind(enum.StrEnum):
    ACTOR = "actor"
    AGENCY = "agency"
    ESTATE = "estate"


class Representation(enum.StrEnum):
    """Whether the signer had union or legal representation (AB 2602 asks which)."""

    NONE = "none"
    UNION = "union"
    LEGAL = "legal"
    UNION_AND_LEGAL = "union_and_legal"


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
    # Who signs, for whom, with what representation.
    signer_kind: Mapped[SignerKind] = mapped_column(
        Enum(SignerKind, native_enum=False, length=16, validate_strings=True)
    )
    signer_name: Mapped[str] = mapped_column(String(200))
    representation: Mapped[Representation] = mapped_column(
        Enum(Representation, native_enum=False, length=16, validate_strings=True)
    )
    # A reasonably specific description of the intended uses, in the signer's words.
    use_description: Mapped[str] = mapped_column(Text)
    allowed_uses: Mapped[list[str]] = mapped_column(JSON)
    excluded_categories: Mapped[list[str]] = mapped_column(JSON)
    blocked_terms: Mapped[list[str]] = mapped_column(JSON)
    languages: Mapped[list[str]] = mapped_column(JSON)
    # ISO 3166-1 alpha-2 codes, or "WW" for worldwide.
    territories: Mapped[list[str]] = mapped_column(JSON)
    # Empty means every studio may use the voice.
    allowed_studio_ids: Mapped[list[str]] = mapped_column(JSON)
    blocked_studio_ids: Mapped[list[str]] = mapped_column(JSON)
    requires_project_approval: Mapped[bool] = mapped_column()
    # Training a voice model on the actor's recordings is its own, explicit yes.
    allows_voice_build: Mapped[bool] = mapped_column(default=False, server_default=false())
    currency: Mapped[str] = mapped_column(String(3))
    # Price per allowed use: per 1,000 billable characters, or per second of delivered
    # audio. Each allowed use is priced in exactly one of the two.
    prices_per_1k_chars_micros: Mapped[dict[str, int]] = mapped_column(JSON)
    prices_per_second_micros: Mapped[dict[str, int]] = mapped_column(
        JSON, default=dict, server_default="{}"
    )
    minimum_per_line_micros: Mapped[int] = mapped_column(BigInteger)
    actor_share_bps: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    notice_period_days: Mapped[int] = mapped_column(Integer)
    # Set on a revocation that honours the notice period: approved projects may
    # continue until then; everything else stops at once.
    notice_ends_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The spoken statement this version's signer must record, with its one-time challenge.
    statement_text: Mapped[str] = mapped_column(Text)
    challenge: Mapped[str] = mapped_column(String(200))
    verification: Mapped[Verification] = mapped_column(
        Enum(Verification, native_enum=False, length=16, validate_strings=True)
    )
    changed_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class VerificationAttempt(Base):
    """One recording of a version's consent statement, scored against the voice's reference."""

    __tablename__ = "verification_attempts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    consent_version_id: Mapped[str] = mapped_column(ForeignKey("consent_versions.id"), index=True)
    # The recording is kept as evidence, encrypted under the platform's evidence key.
    recording_key: Mapped[str] = mapped_column(String(200))
    recording_sha256: Mapped[str] = mapped_column(String(64), index=True)
    # The reference audio the recording was scored against, if any.
    reference_artifact_id: Mapped[str | None] = mapped_column(String(32))
    duration_ms: Mapped[int] = mapped_column(Integer)
    score: Mapped[float | None] = mapped_column(Float)
    accept_threshold: Mapped[float] = mapped_column(Float)
    reject_threshold: Mapped[float] = mapped_column(Float)
    decision: Mapped[Verification] = mapped_column(
        Enum(Verification, native_enum=False, length=16, validate_strings=True)
    )
    reason: Mapped[str] = mapped_column(Text)
    model: Mapped[str] = mapped_column(String(100))
    decided_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ApprovalStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"
    REVOKED = "revoked"


class ProjectApproval(Base):
    """An actor's yes or no to one project using their voice, when their terms ask for it."""

    __tablename__ = "project_approvals"
    __table_args__ = (UniqueConstraint("voice_id", "project_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    consent_id: Mapped[str] = mapped_column(ForeignKey("consents.id"), index=True)
    voice_id: Mapped[str] = mapped_column(ForeignKey("voices.id"))
    actor_id: Mapped[str] = mapped_column(ForeignKey("actors.id"), index=True)
    studio_id: Mapped[str] = mapped_column(ForeignKey("studios.id"), index=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), index=True)
    character_name: Mapped[str] = mapped_column(String(200))
    use: Mapped[str] = mapped_column(String(32))
    use_description: Mapped[str] = mapped_column(Text)
    expected_lines: Mapped[int] = mapped_column(Integer)
    territories: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[ApprovalStatus] = mapped_column(
        Enum(ApprovalStatus, native_enum=False, length=16, validate_strings=True)
    )
    note: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConsentLogEntry(Base):
    """One consent event in a hash chain: each entry's hash covers the one before it."""

    __tablename__ = "consent_log"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    actor_id: Mapped[str | None] = mapped_column(String(32), index=True)
    consent_id: Mapped[str | None] = mapped_column(String(32), index=True)
    event: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ConsentLogHead(Base):
    """The chain's single head row: appends lock it, so entries are strictly sequential."""

    __tablename__ = "consent_log_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    entry_hash: Mapped[str] = mapped_column(String(64))
