"""The consent gate: every synthesis passes it, and any doubt refuses (fail-closed)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from consent.errors import (
    ApprovalDeclined,
    ApprovalPending,
    ApprovalRevoked,
    BlockedTerm,
    ConsentExpired,
    ConsentMissing,
    ConsentPaused,
    ConsentRevoked,
    ConsentUnverified,
    ExcludedContent,
    OutOfScope,
)
from consent.tables import (
    ApprovalStatus,
    Consent,
    ConsentStatus,
    ConsentVersion,
    ProjectApproval,
    Verification,
)
from consent.terms import WORLDWIDE
from voicehub.db import utcnow
from voicehub.production.tables import Character


@dataclass(frozen=True)
class GateRequest:
    """What a studio asks to do with a voice: which project, use, language, where, and what text."""

    voice_id: str
    studio_id: str
    project_id: str
    use: str
    language: str
    territories: Sequence[str]
    text: str


def consent_gate(
    session: Session,
    request: GateRequest,
    *,
    now: dt.datetime | None = None,
    lock: bool = False,
    passed: ConsentVersion | None = None,
) -> ConsentVersion:
    """The consent version that allows `request` now, or a `ConsentRefused` naming why.

    With `lock=True` the consent row is locked until the transaction ends, so a
    revocation cannot slip in between this check and the commit of the take.
    `passed` is the version an earlier check of the same request allowed: if it
    is still the version in force, its terms (scope, content) need no second
    look, since versions never change; status, dates and approval always do.
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
    _check_status(session, version, request, now)
    if passed is None or passed.id != version.id:
        _check_scope(version, request)
        _check_content(version, request.text)
    if version.requires_project_approval:
        _check_approval(session, request)
    return version


def _check_status(
    session: Session, version: ConsentVersion, request: GateRequest, now: dt.datetime
) -> None:
    if version.status is ConsentStatus.REVOKED:
        notice = version.notice_ends_at
        if notice is None or now >= notice:
            raise ConsentRevoked(
                f"The actor revoked consent for this voice on {version.created_at:%Y-%m-%d}."
            )
        if not _project_predates(session, request, version.created_at):
            raise ConsentRevoked(
                "The actor revoked consent for this voice; projects that used it before then "
                f"may finish until {notice:%Y-%m-%dT%H:%M:%SZ}, new ones are refused.",
                notice_ends_at=notice.isoformat().replace("+00:00", "Z"),
            )
    if version.status is ConsentStatus.EXPIRED:
        raise ConsentExpired(f"Consent for this voice ended on {version.created_at:%Y-%m-%d}.")
    if version.verification is not Verification.VERIFIED:
        raise ConsentUnverified(
            "The person who signed this consent version has not been verified yet "
            f"({version.verification.value.replace('_', ' ')})."
        )
    if version.status is ConsentStatus.PAUSED:
        raise ConsentPaused("The actor has paused consent for this voice; try again once resumed.")
    if now < version.starts_at:
        raise ConsentMissing(f"Consent for this voice starts on {version.starts_at:%Y-%m-%d}.")
    if version.ends_at is not None and now >= version.ends_at:
        raise ConsentExpired(f"Consent for this voice ended on {version.ends_at:%Y-%m-%d}.")


def _project_predates(session: Session, request: GateRequest, moment: dt.datetime) -> bool:
    """Was the voice cast in this project (or the project approved) before `moment`?"""
    approved = session.scalar(
        select(ProjectApproval.id).where(
            ProjectApproval.voice_id == request.voice_id,
            ProjectApproval.project_id == request.project_id,
            ProjectApproval.status == ApprovalStatus.APPROVED,
            ProjectApproval.decided_at < moment,
        )
    )
    if approved is not None:
        return True
    cast = session.scalar(
        select(Character.id).where(
            Character.project_id == request.project_id,
            Character.voice_id == request.voice_id,
            Character.cast_at < moment,
        )
    )
    return cast is not None


def _check_scope(version: ConsentVersion, request: GateRequest) -> None:
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
    if WORLDWIDE not in version.territories:
        outside = [t for t in request.territories if t not in version.territories]
        if outside:
            raise OutOfScope(
                f"The project is distributed in {', '.join(outside)}, outside the consented "
                f"territories ({', '.join(version.territories)}).",
                field="territory",
            )
    if request.studio_id in version.blocked_studio_ids or (
        version.allowed_studio_ids and request.studio_id not in version.allowed_studio_ids
    ):
        raise OutOfScope("The actor has not consented to use by this studio.", field="studio")


def _check_content(version: ConsentVersion, text: str) -> None:
    if not (version.excluded_categories or version.blocked_terms):
        return
    from consent.content import screen

    match = screen(
        text, categories=version.excluded_categories, blocked_terms=version.blocked_terms
    )
    if match is None:
        return
    if match.kind == "term":
        raise BlockedTerm(
            f"The line contains '{match.term}', a term the actor blocked.", term=match.term
        )
    raise ExcludedContent(
        f"The line contains '{match.term}', which falls under '{match.label}', content the actor excluded.",
        category=match.category,
        term=match.term,
    )


def _check_approval(session: Session, request: GateRequest) -> None:
    status = session.scalar(
        select(ProjectApproval.status).where(
            ProjectApproval.voice_id == request.voice_id,
            ProjectApproval.project_id == request.project_id,
        )
    )
    if status is ApprovalStatus.APPROVED:
        return
    if status is ApprovalStatus.DECLINED:
        raise ApprovalDeclined("The actor declined the use of their voice in this project.")
    if status is ApprovalStatus.REVOKED:
        raise ApprovalRevoked("The actor withdrew their approval of this project.")
    raise ApprovalPending(
        "The actor's terms require approval of each project; this project is waiting for it."
    )


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
