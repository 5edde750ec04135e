"""Batch synthesis jobs."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column

from voicehub.db import Base, UTCDateTime, utcnow


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    COMPLETED_WITH_ERRORS = "completed_with_errors"
    FAILED = "failed"


# A job in one of these has ended: a worker leaves it alone, its event stream closes.
FINISHED = (JobStatus.SUCCEEDED, JobStatus.COMPLETED_WITH_ERRORS, JobStatus.FAILED)


class SynthesisJob(Base):
    """A batch of lines synthesized through the queue, with progress and per-line errors."""

    __tablename__ = "synthesis_jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    studio_id: Mapped[str] = mapped_column(ForeignKey("studios.id"), index=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), index=True)
    status: Mapped[JobStatus] = mapped_column(
        Enum(JobStatus, native_enum=False, length=32, validate_strings=True)
    )
    line_ids: Mapped[list[str]] = mapped_column(JSON)
    lines_done: Mapped[int] = mapped_column(Integer, default=0)
    lines_failed: Mapped[int] = mapped_column(Integer, default=0)
    # [{"line_id": …, "code": …, "detail": …}]
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Per-call settings every line of the job is rendered with (see SynthesisSettings).
    speed: Mapped[float] = mapped_column(default=1.0)
    sentence_pause: Mapped[float | None] = mapped_column()
    seed: Mapped[int | None] = mapped_column(Integer)
    # How each line is fitted into its target window (FitOptions.to_json()); None: not fitted.
    fit: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Each new take becomes its line's approved take when the line has none yet.
    approve: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Touched by the worker running the job as each line ends. A running job whose
    # heartbeat is older than the lease was lost with its worker and is queued again.
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # How many times the job was queued again after losing its worker; a job that keeps
    # losing it (a crash it causes itself) is failed instead of retried for ever.
    requeues: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    @property
    def total(self) -> int:
        return len(self.line_ids)

    @property
    def progress(self) -> float:
        if not self.line_ids:
            return 1.0
        return (self.lines_done + self.lines_failed) / len(self.line_ids)
