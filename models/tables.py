"""The voice registry: a voice is an actor's voice bound to an engine and a model artifact."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from voicehub.db import Base, UTCDateTime, utcnow


class Voice(Base):
    __tablename__ = "voices"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    actor_id: Mapped[str] = mapped_column(ForeignKey("actors.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(16))
    engine: Mapped[str] = mapped_column(String(32))
    speaker: Mapped[str] = mapped_column(String(64))
    # Content hash of the model artifact the voice was registered with.
    model_sha256: Mapped[str] = mapped_column(String(64))
    is_demo: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when the voice's key was destroyed: its artifacts can never be read again.
    shredded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class VoiceKey(Base):
    """A voice's data key, wrapped by the platform's master key. Destroying it shreds the voice."""

    __tablename__ = "voice_keys"

    voice_id: Mapped[str] = mapped_column(ForeignKey("voices.id"), primary_key=True)
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    destroyed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    destroyed_reason: Mapped[str | None] = mapped_column(Text)


class VoiceArtifact(Base):
    """An encrypted file that belongs to a voice: reference audio, model weights."""

    __tablename__ = "voice_artifacts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    voice_id: Mapped[str] = mapped_column(ForeignKey("voices.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    storage_key: Mapped[str] = mapped_column(String(200))
    # Hash of the plaintext, so a decrypted copy can be checked.
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
