"""Consent rules: granting terms, pausing, resuming and revoking, each a new version."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent.tables import Actor, Consent, ConsentStatus, ConsentVersion, Use
from models.tables import Voice
from voicehub.db import utcnow
from voicehub.errors import Conflict, InvalidInput, NotFound
from voicehub.ids import new_id


@dataclass(frozen=True)
class ConsentTerms:
    """The terms an actor signs. Dubbing is only allowed when listed explicitly."""

    allowed_uses: Sequence[str]
    languages: Sequence[str]
    currency: str
    price_per_1k_chars_micros: int
    actor_share_bps: int
    starts_at: dt.datetime
    ends_at: dt.datetime | None = None
    allowed_studio_ids: Sequence[str] = field(default_factory=tuple)

    def validate(self) -> None:
        valid_uses = {use.value for use in Use}
        unknown = sorted(set(self.allowed_uses) - valid_uses)
        if unknown:
            raise InvalidInput(
                f"Unknown uses {unknown}; valid uses are {sorted(valid_uses)}.",
                fields=["allowed_uses"],
            )
        if not self.languages:
            raise InvalidInput("Consent must name at least one language.", fields=["languages"])
        if len(self.currency) != 3 or not self.currency.isalpha() or not self.currency.isupper():
            raise InvalidInput("Currency is an ISO 4217 code such as JPY.", fields=["currency"])
        if self.price_per_1k_chars_micros < 0:
            raise InvalidInput("A price cannot be negative.", fields=["price_per_1k_chars_micros"])
        if not 0 <= self.actor_share_bps <= 10_000:
            raise InvalidInput(
                "The actor's share is in basis points, 0 to 10000.", fields=["actor_share_bps"]
            )
        if self.ends_at is not None and self.ends_at <= self.starts_at:
            raise InvalidInput("Consent must end after it starts.", fields=["ends_at"])


def create_actor(
    session: Session, name: str, *, credited_name: str = "", is_demo: bool = False
) -> Actor:
    if not name.strip():
        raise InvalidInput("An actor needs a name.", fields=["name"])
    actor = Actor(
        id=new_id("act"),
        name=name.strip(),
        credited_name=(credited_name or name).strip(),
        is_demo=is_demo,
    )
    session.add(actor)
    session.flush()
    return actor


def grant_consent(
    session: Session, *, voice: Voice, terms: ConsentTerms, changed_by: str
) -> ConsentVersion:
    """Record the actor's consent for `voice` as version 1, active from `terms.starts_at`."""
    terms.validate()
    if session.scalar(select(Consent).where(Consent.voice_id == voice.id)) is not None:
        raise Conflict("This voice already has a consent; change it with a new version.")
    consent = Consent(id=new_id("cns"), actor_id=voice.actor_id, voice_id=voice.id)
    session.add(consent)
    session.flush()
    return _append_version(
        session,
        consent,
        status=ConsentStatus.ACTIVE,
        terms=terms,
        changed_by=changed_by,
        reason="granted",
    )


def current_version(session: Session, consent: Consent) -> ConsentVersion:
    version = session.scalar(
        select(ConsentVersion).where(
            ConsentVersion.consent_id == consent.id,
            ConsentVersion.version == consent.current_version,
        )
    )
    if version is None:
        raise NotFound("The consent has no versions.")
    return version


def get_actor_consent(
    session: Session, actor_id: str, consent_id: str, *, lock: bool = False
) -> Consent:
    """An actor's own consent; another actor's is a 404."""
    query = select(Consent).where(Consent.id == consent_id, Consent.actor_id == actor_id)
    if lock:
        # Same lock the gate takes before a take commits (see consent.gate.lock_consent).
        query = query.with_for_update()
    consent = session.scalar(query)
    if consent is None:
        raise NotFound(f"No consent {consent_id}.")
    return consent


def list_versions(session: Session, consent: Consent) -> list[ConsentVersion]:
    return list(
        session.scalars(
            select(ConsentVersion)
            .where(ConsentVersion.consent_id == consent.id)
            .order_by(ConsentVersion.version)
        )
    )


_TRANSITIONS: dict[ConsentStatus, set[ConsentStatus]] = {
    ConsentStatus.ACTIVE: {ConsentStatus.PAUSED, ConsentStatus.REVOKED},
    ConsentStatus.PAUSED: {ConsentStatus.ACTIVE, ConsentStatus.REVOKED},
    ConsentStatus.REVOKED: set(),
}


def change_status(
    session: Session,
    *,
    actor_id: str,
    consent_id: str,
    status: ConsentStatus,
    changed_by: str,
    reason: str = "",
) -> ConsentVersion:
    """Pause, resume or revoke: a new version with the same terms, in force at once.

    The consent row is locked first, so a take being committed under the old
    version either finishes before this or sees the new status.
    """
    consent = get_actor_consent(session, actor_id, consent_id, lock=True)
    previous = current_version(session, consent)
    if status not in _TRANSITIONS[previous.status]:
        raise Conflict(
            f"Consent is {previous.status.value}; it cannot become {status.value}.",
            current_status=previous.status.value,
        )
    return _append_version(
        session,
        consent,
        status=status,
        terms=_terms_of(previous),
        changed_by=changed_by,
        reason=reason or status.value,
    )


def _terms_of(version: ConsentVersion) -> ConsentTerms:
    return ConsentTerms(
        allowed_uses=tuple(version.allowed_uses),
        languages=tuple(version.languages),
        currency=version.currency,
        price_per_1k_chars_micros=version.price_per_1k_chars_micros,
        actor_share_bps=version.actor_share_bps,
        starts_at=version.starts_at,
        ends_at=version.ends_at,
        allowed_studio_ids=tuple(version.allowed_studio_ids),
    )


def _append_version(
    session: Session,
    consent: Consent,
    *,
    status: ConsentStatus,
    terms: ConsentTerms,
    changed_by: str,
    reason: str,
) -> ConsentVersion:
    consent.current_version += 1
    version = ConsentVersion(
        id=new_id("cnv"),
        consent_id=consent.id,
        version=consent.current_version,
        status=status,
        allowed_uses=list(terms.allowed_uses),
        languages=list(terms.languages),
        allowed_studio_ids=list(terms.allowed_studio_ids),
        currency=terms.currency,
        price_per_1k_chars_micros=terms.price_per_1k_chars_micros,
        actor_share_bps=terms.actor_share_bps,
        starts_at=terms.starts_at,
        ends_at=terms.ends_at,
        changed_by=changed_by,
        reason=reason,
        created_at=utcnow(),
    )
    session.add(version)
    session.flush()
    return version
