"""Projects, characters, cuts, lines and takes.

Every table carries `studio_id`, so one helper (`voicehub.tenancy.scope.owned`)
scopes every query to the calling studio.
"""

from __future__ import annotations

import datetime as dt
import enum
from fractions import Fraction
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Enum,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from voicehub.db import Base, UTCDateTime, utcnow
from voicehub.delivery.spec import LoudnessStandard


class Project(Base):
    """A show, episode or film: its language, intended use and frame rate."""

    __tablename__ = "projects"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    studio_id: Mapped[str] = mapped_column(ForeignKey("studios.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(16))
    use: Mapped[str] = mapped_column(String(32))
    # Where the production is distributed: ISO 3166-1 alpha-2 codes, or "WW".
    territories: Mapped[list[str]] = mapped_column(JSON)
    # Frame rate as an exact fraction: 24/1, 24000/1001, …
    fps_num: Mapped[int] = mapped_column(Integer)
    fps_den: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def frame_rate(self) -> Fraction:
        return Fraction(self.fps_num, self.fps_den)


class Character(Base):
    """A role in a project, cast to a voice."""

    __tablename__ = "characters"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    studio_id: Mapped[str] = mapped_column(ForeignKey("studios.id"), index=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    voice_id: Mapped[str | None] = mapped_column(ForeignKey("voices.id"))
    cast_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Cut(Base):
    """A cut of picture (C-001…) with its place on the timeline and its frame rate."""

    __tablename__ = "cuts"
    __table_args__ = (UniqueConstraint("project_id", "number"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    studio_id: Mapped[str] = mapped_column(ForeignKey("studios.id"), index=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), index=True)
    number: Mapped[str] = mapped_column(String(16))
    start_ms: Mapped[int] = mapped_column(Integer)
    end_ms: Mapped[int] = mapped_column(Integer)
    fps_num: Mapped[int] = mapped_column(Integer)
    fps_den: Mapped[int] = mapped_column(Integer)

    @property
    def frame_rate(self) -> Fraction:
        return Fraction(self.fps_num, self.fps_den)


class Line(Base):
    """One line of dialogue: who says it, what, in which cut, within which window."""

    __tablename__ = "lines"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    studio_id: Mapped[str] = mapped_column(ForeignKey("studios.id"), index=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), index=True)
    cut_id: Mapped[str] = mapped_column(ForeignKey("cuts.id"), index=True)
    character_id: Mapped[str] = mapped_column(ForeignKey("characters.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(16))
    # The line's target window on the project timeline, when the script gives one.
    start_ms: Mapped[int | None] = mapped_column(Integer)
    end_ms: Mapped[int | None] = mapped_column(Integer)
    # An explicit length to fit the take into, when the script gives one instead of
    # (or besides) a window; it wins over end_ms - start_ms.
    target_ms: Mapped[int | None] = mapped_column(Integer)
    # What identifies the line across re-imports of a revised script (the script's
    # own id for the line, or one derived from its cut, speaker and order).
    source_key: Mapped[str | None] = mapped_column(String(200), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Take(Base):
    """One rendering of a line: audio, timing, and the consent and model it was made under.

    Immutable once made. Its usage record is written in the same transaction.
    """

    __tablename__ = "takes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    line_id: Mapped[str] = mapped_column(ForeignKey("lines.id"), index=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), index=True)
    studio_id: Mapped[str] = mapped_column(ForeignKey("studios.id"), index=True)
    voice_id: Mapped[str] = mapped_column(ForeignKey("voices.id"), index=True)
    consent_version_id: Mapped[str] = mapped_column(ForeignKey("consent_versions.id"))
    job_id: Mapped[str | None] = mapped_column(ForeignKey("synthesis_jobs.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(16))
    engine: Mapped[str] = mapped_column(String(32))
    model_sha256: Mapped[str] = mapped_column(String(64))
    speaker: Mapped[str] = mapped_column(String(64))
    speed: Mapped[float] = mapped_column()
    # Seconds between sentences as asked for; None: the engine's own pause.
    sentence_pause: Mapped[float | None] = mapped_column()
    # The seed the engine used (asked for or drawn); None for a deterministic engine.
    seed: Mapped[int | None] = mapped_column(Integer)
    # The file as delivered (the studio's spec), and the engine's rate it was made at.
    sample_rate: Mapped[int] = mapped_column(Integer)
    engine_sample_rate: Mapped[int] = mapped_column(Integer)
    bit_depth: Mapped[int] = mapped_column(Integer)
    num_samples: Mapped[int] = mapped_column(Integer)
    loudness_target: Mapped[LoudnessStandard] = mapped_column(
        Enum(LoudnessStandard, native_enum=False, length=16, validate_strings=True)
    )
    # Measured on the delivered file; None for silence and for takes made before delivery specs.
    loudness_lufs: Mapped[float | None] = mapped_column()
    true_peak_dbtp: Mapped[float | None] = mapped_column()
    # The true-peak ceiling held the gain down, so the loudness is below the target.
    peak_limited: Mapped[bool] = mapped_column(default=False)
    audio_key: Mapped[str] = mapped_column(String(200))
    # {"phonemes": [[symbol, start, samples, is_pause], …], "words": [[text, start, samples], …]}
    timing: Mapped[dict[str, Any]] = mapped_column(JSON)
    # How the take was fitted into its line's target window (see voicehub.delivery.fitting);
    # None when the line had no window or fitting was off.
    fit: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class LineApproval(Base):
    """The take a studio approved for a line: the one every export uses.

    One row per line; approving another take replaces it. Takes themselves never change.
    """

    __tablename__ = "line_approvals"

    line_id: Mapped[str] = mapped_column(ForeignKey("lines.id"), primary_key=True)
    studio_id: Mapped[str] = mapped_column(ForeignKey("studios.id"), index=True)
    take_id: Mapped[str] = mapped_column(ForeignKey("takes.id"), index=True)
    approved_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ExportStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class ExportJob(Base):
    """A project bundle (zip) built through the queue, with its progress and, once done, its file.

    The file lives in storage under `result_key`; `sha256` and `size` describe it.
    """

    __tablename__ = "export_jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    studio_id: Mapped[str] = mapped_column(ForeignKey("studios.id"), index=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), index=True)
    status: Mapped[ExportStatus] = mapped_column(
        Enum(ExportStatus, native_enum=False, length=16, validate_strings=True)
    )
    # ExportOptions.as_json() and "review_sheets": whether each cut's review PNG is drawn.
    options: Mapped[dict[str, Any]] = mapped_column(JSON)
    files_total: Mapped[int] = mapped_column(Integer, default=0)
    files_done: Mapped[int] = mapped_column(Integer, default=0)
    # [{"code": "stale_take" | "missing_take", "line_id": …, "take_id": …, "detail": …}]
    warnings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_detail: Mapped[str | None] = mapped_column(Text)
    result_key: Mapped[str | None] = mapped_column(String(200))
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    @property
    def progress(self) -> float:
        if self.status == ExportStatus.SUCCEEDED:
            return 1.0
        if self.files_total <= 0:
            return 0.0
        return min(self.files_done, self.files_total) / self.files_total
