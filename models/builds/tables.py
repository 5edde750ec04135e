"""A voice build, its recordings, and how far it got."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Enum, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from voicehub.db import Base, UTCDateTime, utcnow


class BuildStage(enum.StrEnum):
    """Where a build stands: it collects recordings until started, then runs to done or failed."""

    COLLECTING = "collecting"
    QUEUED = "queued"
    PREPARING = "preparing"
    TRAINING = "training"
    PACKAGING = "packaging"
    DONE = "done"
    FAILED = "failed"


RUNNING_STAGES = (
    BuildStage.QUEUED,
    BuildStage.PREPARING,
    BuildStage.TRAINING,
    BuildStage.PACKAGING,
)


class VoiceBuild(Base):
    """One attempt to train a voice's model from the recordings uploaded to it."""

    __tablename__ = "voice_builds"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    voice_id: Mapped[str] = mapped_column(ForeignKey("voices.id"), index=True)
    actor_id: Mapped[str] = mapped_column(ForeignKey("actors.id"), index=True)
    stage: Mapped[BuildStage] = mapped_column(
        Enum(BuildStage, native_enum=False, length=16, validate_strings=True)
    )
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    steps_done: Mapped[int] = mapped_column(Integer, default=0)
    steps_total: Mapped[int] = mapped_column(Integer, default=0)
    # Why it failed: a stable code (as in the API's errors) and the message.
    error_code: Mapped[str] = mapped_column(String(64), default="")
    error: Mapped[str] = mapped_column(Text, default="")
    # What the model was fine-tuned from: the base checkpoint's hash, or "" for from scratch.
    base_sha256: Mapped[str] = mapped_column(String(64), default="")
    # The consent version that allowed the model to be registered (re-checked at packaging).
    consent_version_id: Mapped[str | None] = mapped_column(ForeignKey("consent_versions.id"))
    model_artifact_id: Mapped[str | None] = mapped_column(ForeignKey("voice_artifacts.id"))
    model_sha256: Mapped[str] = mapped_column(String(64), default="")
    # The run that owns the build: a later run takes it over, an earlier one then stops.
    run_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Touched by every progress report: a running build that stops touching it has died.
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class BuildRecording(Base):
    """One uploaded recording and its transcript; the audio is a vault artifact of the voice."""

    __tablename__ = "build_recordings"
    __table_args__ = (UniqueConstraint("build_id", "sha256"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    build_id: Mapped[str] = mapped_column(ForeignKey("voice_builds.id"), index=True)
    artifact_id: Mapped[str] = mapped_column(ForeignKey("voice_artifacts.id"))
    transcript: Mapped[str] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer)
    sample_rate: Mapped[int] = mapped_column(Integer)
    # Hash of the uploaded bytes: the same take uploaded twice to one build is refused.
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
