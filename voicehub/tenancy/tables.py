"""Studios and API keys."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Enum, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from voicehub.db import Base, UTCDateTime, utcnow
from voicehub.delivery.spec import DeliverySpec, LoudnessStandard


class Studio(Base):
    """A dubbing or animation studio: the tenant every studio-side query is scoped to."""

    __tablename__ = "studios"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    is_demo: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiKey(Base):
    """A bearer key. Only its SHA-256 is stored; the secret is shown once, at creation.

    A key belongs to a studio (the REST API), an actor (the actor/agency API), or
    to neither: the platform operator's admin keys. A rotated key keeps working
    until `expires_at`; a revoked one stops at once.
    """

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    studio_id: Mapped[str | None] = mapped_column(ForeignKey("studios.id"), index=True)
    actor_id: Mapped[str | None] = mapped_column(ForeignKey("actors.id"), index=True)
    secret_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class StudioDelivery(Base):
    """A studio's delivery spec, once it has set one; until then it gets `DeliverySpec()`."""

    __tablename__ = "studio_deliveries"

    studio_id: Mapped[str] = mapped_column(ForeignKey("studios.id"), primary_key=True)
    sample_rate: Mapped[int] = mapped_column(Integer)
    bit_depth: Mapped[int] = mapped_column(Integer)
    loudness: Mapped[LoudnessStandard] = mapped_column(
        Enum(LoudnessStandard, native_enum=False, length=16, validate_strings=True)
    )
    true_peak_ceiling_dbtp: Mapped[float] = mapped_column()
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def spec(self) -> DeliverySpec:
        return DeliverySpec(
            self.sample_rate, self.bit_depth, self.loudness, self.true_peak_ceiling_dbtp
        )
