"""The audit log's one table."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from voicehub.db import Base, UTCDateTime, utcnow


class AuditEvent(Base):
    """One security-relevant action, written in the same transaction as the action itself.

    Rows are never edited or deleted: triggers made by migration 0009 refuse
    UPDATE and DELETE (as they do for the ledger, and under the same guard).
    The ids are plain strings, not foreign keys, so an entry outlives what it names.
    """

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_at_id", "at", "id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    action: Mapped[str] = mapped_column(String(64), index=True)
    # Who acted: `api` (with the key), `cli`, or `system` (workers, sweeps, webhooks).
    source: Mapped[str] = mapped_column(String(16))
    key_id: Mapped[str | None] = mapped_column(String(32))
    studio_id: Mapped[str | None] = mapped_column(String(32), index=True)
    actor_id: Mapped[str | None] = mapped_column(String(32), index=True)
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str] = mapped_column(String(64), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    request_id: Mapped[str | None] = mapped_column(String(128))
    ip: Mapped[str | None] = mapped_column(String(64))
