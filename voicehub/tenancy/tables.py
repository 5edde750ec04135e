"""Studios and API keys."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from voicehub.db import Base, UTCDateTime, utcnow


class Studio(Base):
    """A dubbing or animation studio: the tenant every studio-side query is scoped to."""

    __tablename__ = "studios"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    is_demo: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiKey(Base):
    """A bearer key. Only its SHA-256 is stored; the secret is shown once, at creation.

    A key belongs to exactly one principal: a studio (the REST API) or an actor
    (the actor/agency API).
    """

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    studio_id: Mapped[str | None] = mapped_column(ForeignKey("studios.id"), index=True)
    actor_id: Mapped[str | None] = mapped_column(ForeignKey("actors.id"), index=True)
    secret_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
