"""Idempotency keys for POSTs that create or charge: a replay returns the first response."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from sqlalchemy import JSON, Integer, String, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from voicehub.db import Base, UTCDateTime, utcnow
from voicehub.errors import IdempotencyKeyInUse, IdempotencyKeyReused, InvalidInput
from voicehub.ids import new_id


class IdempotentRequest(Base):
    __tablename__ = "idempotent_requests"
    __table_args__ = (UniqueConstraint("principal_id", "key"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    principal_id: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


def fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"\0".join([method.encode(), path.encode(), body])).hexdigest()


def replay(
    session: Session, principal_id: str, key: str, request_fingerprint: str
) -> IdempotentRequest | None:
    """The stored first response for `key`, or None; a different request under it is a 409."""
    if not 1 <= len(key) <= 255:
        raise InvalidInput(
            "Idempotency-Key must be 1 to 255 characters.", fields=["Idempotency-Key"]
        )
    stored = session.scalar(
        select(IdempotentRequest).where(
            IdempotentRequest.principal_id == principal_id, IdempotentRequest.key == key
        )
    )
    if stored is not None and stored.fingerprint != request_fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different request."
        )
    return stored


def remember(
    session: Session,
    principal_id: str,
    key: str,
    request_fingerprint: str,
    status_code: int,
    response: dict[str, Any],
) -> None:
    """Store the response in the request's own transaction: it commits with the work.

    A concurrent request that stored the same key first makes this one fail
    whole (the caller's transaction rolls back), so the work is done once.
    """
    session.add(
        IdempotentRequest(
            id=new_id("idk"),
            principal_id=principal_id,
            key=key,
            fingerprint=request_fingerprint,
            status_code=status_code,
            response=response,
        )
    )
    try:
        session.flush()
    except IntegrityError as exc:
        raise IdempotencyKeyInUse(
            "Another request with this Idempotency-Key finished first; retry to get its response."
        ) from exc
