"""The consent gate: every synthesis passes it, and any doubt refuses (fail-closed)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from consent.errors import ConsentExpired, ConsentMissing, ConsentPaused, ConsentRevoked, OutOfScope
from consent.tables import Consent, ConsentStatus, ConsentVersion
from voicehub.db import utcnow


@dataclass(frozen=True)
class GateRequest:
    """What a studio asks to do with a voice."""

    voice_id: str
    studio_id: str
    use: str
    language: str


def consent_gate(
    session: Session, request: GateRequest, *, now: dt.datetime | None = None, lock: bool = False
) -> ConsentVersion:
    """The consent version that allows `request` now, or a `ConsentRefused` naming why.

    With `lock=True` the consent row is locked until the transaction ends, so a
    revocation cannot slip in between this check and the commit of the take.
    """
    now = now or utcnow()
    if lock:
        lock_consent(session, request.voice_id)
    # One query for the consent and its version in force. populate_existing: a
    # consent loaded earlier in this transaction may be stale.
    row = session.execute(
        select(Consent, ConsentVersion)
        .join(
            ConsentVersion,
            (ConsentVersion.consent_id == Consent.id)
            & (ConsentVersion.version == Consent.current_version),
        )
        .where(Consent.voice_id == request.voice_id)
        .execution_options(populate_existing=True)
    ).first()
    if row is None:
        raise ConsentMissing("The actor has not given consent for this voice.")
    version = row[1]
    if version.status is ConsentStatus.REVOKED:
        raise ConsentRevoked(
            f"The actor revoked consent for this voice on {version.created_at:%Y-%m-%d}."
        )
    if version.status is ConsentStatus.PAUSED:
        raise ConsentPaused("The actor has paused consent for this voice; try again once resumed.")
    if now < version.starts_at:
        raise ConsentMissing(f"Consent for this voice starts on {version.starts_at:%Y-%m-%d}.")
    if version.ends_at is not None and now >= version.ends_at:
        raise ConsentExpired(f"Consent for this voice ended on {version.ends_at:%Y-%m-%d}.")
    if request.use not in version.allowed_uses:
        raise OutOfScope(
            f"The actor has not consented to '{request.use}'; "
            f"allowed uses: {', '.join(version.allowed_uses) or 'none'}.",
            field="use",
        )
    if request.language not in version.languages:
        raise OutOfScope(
            f"The actor has not consented to language '{request.language}'; "
            f"allowed: {', '.join(version.languages)}.",
            field="language",
        )
    if version.allowed_studio_ids and request.studio_id not in version.allowed_studio_ids:
        raise OutOfScope("The actor has not consented to use by this studio.", field="studio")
    return version


def lock_consent(session: Session, voice_id: str) -> None:
    """Take the consent row's write lock until the transaction ends.

    A no-op UPDATE rather than SELECT … FOR UPDATE, because it locks on every
    database: a row lock on PostgreSQL, the single writer lock on SQLite.
    Revocation updates the same row, so the two are serialised.
    """
    session.execute(
        update(Consent)
        .where(Consent.voice_id == voice_id)
        .values(current_version=Consent.current_version)
        .execution_options(synchronize_session=False)
    )
