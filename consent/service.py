"""Consent rules: terms, verification, approvals, pause/resume/revoke/expiry — each change a new version.

Versions are never edited. Every change is appended to the consent log (a hash
chain) and studios that use the voice are told through events and webhooks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent.log import append_event
from consent.tables import (
    Actor,
    ApprovalStatus,
    Consent,
    ConsentStatus,
    ConsentVersion,
    ProjectApproval,
    Verification,
    VerificationAttempt,
)
from consent.terms import ConsentTerms, terms_of
from models.tables import Voice
from voicehub.audit import service as audit_log
from voicehub.db import utcnow
from voicehub.errors import Conflict, InvalidInput, NotFound
from voicehub.ids import new_id
from voicehub.production.tables import Character

# What a consent change does beyond its own tables: tell studios, destroy a voice.
Notify = Callable[[Session, str, str, dict[str, Any]], None]  # (session, studio_id, type, data)
Shred = Callable[[Session, str, str], None]  # (session, voice_id, reason)


@dataclass(frozen=True)
class Effects:
    notify: Notify
    shred: Shred


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
    """Record the signed terms as version 1. Not in force until the signer is verified."""
    terms.validate()
    if session.scalar(select(Consent).where(Consent.voice_id == voice.id)) is not None:
        raise Conflict("This voice already has a consent; change it with a new version.")
    consent = Consent(id=new_id("cns"), actor_id=voice.actor_id, voice_id=voice.id)
    session.add(consent)
    session.flush()
    return _new_terms_version(
        session, consent, voice, terms, ConsentStatus.ACTIVE, changed_by, "granted"
    )


def amend_terms(
    session: Session,
    effects: Effects,
    *,
    actor_id: str,
    consent_id: str,
    terms: ConsentTerms,
    changed_by: str,
) -> ConsentVersion:
    """New terms are a new version the signer must verify again; until then the gate refuses."""
    terms.validate()
    consent = get_actor_consent(session, actor_id, consent_id, lock=True)
    previous = current_version(session, consent)
    if previous.status in (ConsentStatus.REVOKED, ConsentStatus.EXPIRED):
        raise Conflict(f"Consent is {previous.status.value}; it cannot be amended.")
    voice = session.get(Voice, consent.voice_id)
    assert voice is not None
    version = _new_terms_version(
        session, consent, voice, terms, previous.status, changed_by, "terms amended"
    )
    _tell_studios(session, effects, consent, "consent.updated", version)
    return version


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
        # Same row the gate locks before a take commits (see consent.gate.lock_consent).
        query = query.with_for_update()
    consent = session.scalar(query.execution_options(populate_existing=True))
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


STATUS_EVENTS = {
    ConsentStatus.ACTIVE: "consent.resumed",
    ConsentStatus.PAUSED: "consent.paused",
    ConsentStatus.REVOKED: "consent.revoked",
    ConsentStatus.EXPIRED: "consent.expired",
}

_TRANSITIONS: dict[ConsentStatus, set[ConsentStatus]] = {
    ConsentStatus.ACTIVE: {ConsentStatus.PAUSED, ConsentStatus.REVOKED, ConsentStatus.EXPIRED},
    ConsentStatus.PAUSED: {ConsentStatus.ACTIVE, ConsentStatus.REVOKED, ConsentStatus.EXPIRED},
    ConsentStatus.REVOKED: set(),
    ConsentStatus.EXPIRED: set(),
}


def change_status(
    session: Session,
    effects: Effects,
    *,
    actor_id: str,
    consent_id: str,
    status: ConsentStatus,
    changed_by: str,
    reason: str = "",
    immediately: bool = False,
) -> ConsentVersion:
    """Pause, resume or revoke: a new version with the same terms, in force at once.

    The consent row is locked first, so a take being committed under the old
    version either commits before this or sees the new status. A revocation
    honours the notice period unless `immediately`: new projects stop at once,
    approved ones may finish until the notice ends. A revocation that takes
    full effect now destroys the voice's artifacts.
    """
    consent = get_actor_consent(session, actor_id, consent_id, lock=True)
    previous = current_version(session, consent)
    now = utcnow()
    notice_ends_at: dt.datetime | None = None
    if status is ConsentStatus.REVOKED and previous.status is ConsentStatus.REVOKED:
        # Cutting a running notice period short is the only change after a revocation.
        if not (immediately and previous.notice_ends_at and previous.notice_ends_at > now):
            raise Conflict("Consent is already revoked.", current_status="revoked")
    elif status not in _TRANSITIONS[previous.status]:
        raise Conflict(
            f"Consent is {previous.status.value}; it cannot become {status.value}.",
            current_status=previous.status.value,
        )
    if status is ConsentStatus.REVOKED and not immediately and previous.notice_period_days > 0:
        notice_ends_at = now + dt.timedelta(days=previous.notice_period_days)
    event = STATUS_EVENTS[status]
    version = _append_version(
        session,
        consent,
        previous,
        event=event,
        status=status,
        changed_by=changed_by,
        reason=reason or status.value,
        notice_ends_at=notice_ends_at,
    )
    _tell_studios(session, effects, consent, event, version)
    if status in (ConsentStatus.REVOKED, ConsentStatus.EXPIRED) and notice_ends_at is None:
        effects.shred(session, consent.voice_id, f"consent {status.value}: {version.id}")
    return version


def expire_and_shred_due(
    session: Session, effects: Effects, *, now: dt.datetime | None = None
) -> list[str]:
    """The sweep: expire consents past their end date, shred voices whose notice has ended.

    Run by the worker every minute and by `voicehub consent sweep`; safe to repeat.
    Returns the ids of the versions it appended or the voices it shredded.
    """
    now = now or utcnow()
    done: list[str] = []
    rows = session.execute(
        select(Consent, ConsentVersion).join(
            ConsentVersion,
            (ConsentVersion.consent_id == Consent.id)
            & (ConsentVersion.version == Consent.current_version),
        )
    ).all()
    for consent, version in rows:
        if (
            version.status in (ConsentStatus.ACTIVE, ConsentStatus.PAUSED)
            and version.ends_at
            and version.ends_at <= now
        ):
            expired = change_status(
                session,
                effects,
                actor_id=consent.actor_id,
                consent_id=consent.id,
                status=ConsentStatus.EXPIRED,
                changed_by="voicehub: end date reached",
            )
            done.append(expired.id)
        elif (
            version.status is ConsentStatus.REVOKED
            and version.notice_ends_at is not None
            and version.notice_ends_at <= now
        ):
            # Several workers may sweep at once: shred under the consent row's lock,
            # reading the voice afresh, so it happens (and is logged) once.
            from consent.gate import lock_consent

            lock_consent(session, consent.voice_id)
            voice = session.scalar(
                select(Voice)
                .where(Voice.id == consent.voice_id)
                .execution_options(populate_existing=True)
            )
            if voice is not None and voice.shredded_at is None:
                effects.shred(session, voice.id, f"notice period ended: {version.id}")
                done.append(voice.id)
    return done


def _new_terms_version(
    session: Session,
    consent: Consent,
    voice: Voice,
    terms: ConsentTerms,
    status: ConsentStatus,
    changed_by: str,
    reason: str,
) -> ConsentVersion:
    from consent.verification import consent_statement

    actor = session.get(Actor, consent.actor_id)
    assert actor is not None
    statement = consent_statement(
        actor_name=actor.credited_name,
        signer_name=terms.signer_name,
        signer_kind=terms.signer_kind.value,
        language=voice.language,
        uses=list(terms.allowed_uses),
        languages=list(terms.languages),
        territories=list(terms.territories),
        ends_at=terms.ends_at,
        voice_build=terms.allows_voice_build,
    )
    return _write_version(
        session,
        consent,
        terms,
        status=status,
        verification=Verification.PENDING,
        statement_text=statement.text,
        challenge=statement.challenge,
        notice_ends_at=None,
        changed_by=changed_by,
        reason=reason,
        event="consent.terms",
    )


def _normalized(terms: Any) -> list[str]:
    from consent.content import normalize_terms

    return list(normalize_terms(terms))


def _append_version(
    session: Session,
    consent: Consent,
    previous: ConsentVersion,
    *,
    event: str,
    changed_by: str,
    reason: str,
    status: ConsentStatus | None = None,
    verification: Verification | None = None,
    notice_ends_at: dt.datetime | None = None,
) -> ConsentVersion:
    """A new version that keeps `previous`'s terms and statement, changing status or verification."""
    return _write_version(
        session,
        consent,
        terms_of(previous),
        status=status or previous.status,
        verification=verification or previous.verification,
        statement_text=previous.statement_text,
        challenge=previous.challenge,
        notice_ends_at=notice_ends_at,
        changed_by=changed_by,
        reason=reason,
        event=event,
    )


def _write_version(
    session: Session,
    consent: Consent,
    terms: ConsentTerms,
    *,
    status: ConsentStatus,
    verification: Verification,
    statement_text: str,
    challenge: str,
    notice_ends_at: dt.datetime | None,
    changed_by: str,
    reason: str,
    event: str,
) -> ConsentVersion:
    """Append the next version of `consent` and log it: the one place versions are made."""
    consent.current_version += 1
    version = ConsentVersion(
        id=new_id("cnv"),
        consent_id=consent.id,
        version=consent.current_version,
        status=status,
        signer_kind=terms.signer_kind,
        signer_name=terms.signer_name.strip(),
        representation=terms.representation,
        use_description=terms.use_description.strip(),
        allowed_uses=list(terms.allowed_uses),
        excluded_categories=list(terms.excluded_categories),
        blocked_terms=_normalized(terms.blocked_terms),
        languages=list(terms.languages),
        territories=list(terms.territories),
        allowed_studio_ids=list(terms.allowed_studio_ids),
        blocked_studio_ids=list(terms.blocked_studio_ids),
        requires_project_approval=terms.requires_project_approval,
        allows_voice_build=terms.allows_voice_build,
        currency=terms.currency,
        prices_per_1k_chars_micros=dict(terms.prices_per_1k_chars_micros),
        prices_per_second_micros=dict(terms.prices_per_second_micros),
        minimum_per_line_micros=terms.minimum_per_line_micros,
        actor_share_bps=terms.actor_share_bps,
        starts_at=terms.starts_at,
        ends_at=terms.ends_at,
        notice_period_days=terms.notice_period_days,
        notice_ends_at=notice_ends_at,
        statement_text=statement_text,
        challenge=challenge,
        verification=verification,
        changed_by=changed_by,
        reason=reason,
        created_at=utcnow(),
    )
    session.add(version)
    session.flush()
    _log(session, consent, version, event)
    _audit(session, consent, version, event)
    return version


def _log(session: Session, consent: Consent, version: ConsentVersion, event: str) -> None:
    append_event(
        session,
        event=event,
        actor_id=consent.actor_id,
        consent_id=consent.id,
        payload=version_summary(version),
    )


def _audit(session: Session, consent: Consent, version: ConsentVersion, event: str) -> None:
    """Every consent change in the audit log too, with who made it."""
    if event == "consent.terms":
        event = "consent.given" if version.version == 1 else "consent.terms_changed"
    audit_log.record(
        session,
        event,
        target_type="consent",
        target_id=consent.id,
        details={
            "actor_id": consent.actor_id,
            "voice_id": consent.voice_id,
            "consent_version_id": version.id,
            "version": version.version,
            "status": version.status.value,
            "verification": version.verification.value,
            "changed_by": version.changed_by,
            "reason": version.reason,
        },
    )


def version_summary(version: ConsentVersion) -> dict[str, Any]:
    """A version as plain JSON: what the log, receipts and events carry."""
    return {
        "consent_version_id": version.id,
        "version": version.version,
        "status": version.status.value,
        "verification": version.verification.value,
        "signer_kind": version.signer_kind.value,
        "signer_name": version.signer_name,
        "representation": version.representation.value,
        "use_description": version.use_description,
        "allowed_uses": version.allowed_uses,
        "excluded_categories": version.excluded_categories,
        "blocked_terms": version.blocked_terms,
        "languages": version.languages,
        "territories": version.territories,
        "allowed_studio_ids": version.allowed_studio_ids,
        "blocked_studio_ids": version.blocked_studio_ids,
        "requires_project_approval": version.requires_project_approval,
        "allows_voice_build": version.allows_voice_build,
        "currency": version.currency,
        "prices_per_1k_chars_micros": version.prices_per_1k_chars_micros,
        "prices_per_second_micros": version.prices_per_second_micros or {},
        "minimum_per_line_micros": version.minimum_per_line_micros,
        "actor_share_bps": version.actor_share_bps,
        "starts_at": _iso(version.starts_at),
        "ends_at": _iso(version.ends_at),
        "notice_period_days": version.notice_period_days,
        "notice_ends_at": _iso(version.notice_ends_at),
        "statement_text": version.statement_text,
        "changed_by": version.changed_by,
        "reason": version.reason,
        "created_at": _iso(version.created_at),
    }


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def studios_using_voice(session: Session, voice_id: str) -> list[str]:
    """Every studio that cast the voice or asked to: they are told of every change."""
    cast = session.scalars(select(Character.studio_id).where(Character.voice_id == voice_id))
    asked = session.scalars(
        select(ProjectApproval.studio_id).where(ProjectApproval.voice_id == voice_id)
    )
    return sorted(set(cast) | set(asked))


def _tell_studios(
    session: Session, effects: Effects, consent: Consent, event_type: str, version: ConsentVersion
) -> None:
    data = {
        "voice_id": consent.voice_id,
        "consent_id": consent.id,
        "consent_version_id": version.id,
        "status": version.status.value,
        "verification": version.verification.value,
        "notice_ends_at": _iso(version.notice_ends_at),
        "reason": version.reason,
    }
    for studio_id in studios_using_voice(session, consent.voice_id):
        effects.notify(session, studio_id, event_type, data)


# ---- verification of the person -------------------------------------------------


def record_verification(
    session: Session,
    *,
    consent: Consent,
    version: ConsentVersion,
    attempt: VerificationAttempt,
) -> ConsentVersion | None:
    """Store an attempt; when it verifies the version in force, append the verified version."""
    session.add(attempt)
    session.flush()
    append_event(
        session,
        event="verification.attempt",
        actor_id=consent.actor_id,
        consent_id=consent.id,
        payload={
            "attempt_id": attempt.id,
            "consent_version_id": version.id,
            "recording_sha256": attempt.recording_sha256,
            "score": attempt.score,
            "accept_threshold": attempt.accept_threshold,
            "reject_threshold": attempt.reject_threshold,
            "decision": attempt.decision.value,
            "reason": attempt.reason,
            "model": attempt.model,
            "decided_by": attempt.decided_by,
        },
    )
    if attempt.decision is not Verification.VERIFIED:
        return None
    return _append_version(
        session,
        consent,
        version,
        event="consent.verified",
        verification=Verification.VERIFIED,
        changed_by=attempt.decided_by,
        reason=f"verified: {attempt.reason}",
    )


def pending_version(
    session: Session, actor_id: str, consent_id: str
) -> tuple[Consent, ConsentVersion]:
    """The consent and its version in force, which must still await verification."""
    consent = get_actor_consent(session, actor_id, consent_id, lock=True)
    version = current_version(session, consent)
    if version.verification is Verification.VERIFIED:
        raise Conflict("This consent version is already verified.")
    if version.status in (ConsentStatus.REVOKED, ConsentStatus.EXPIRED):
        raise Conflict(f"Consent is {version.status.value}; there is nothing to verify.")
    return consent, version


def review_attempt(
    session: Session, *, attempt_id: str, operator: str, accept: bool, note: str
) -> ConsentVersion | None:
    """An operator's decision on an attempt that scored between the thresholds."""
    attempt = session.get(VerificationAttempt, attempt_id, with_for_update=True)
    if attempt is None:
        raise NotFound(f"No verification attempt {attempt_id}.")
    if attempt.decision is not Verification.OPERATOR_REVIEW or attempt.reviewed_at is not None:
        raise Conflict(f"Attempt {attempt_id} is not waiting for review (already decided).")
    recorded = session.get(ConsentVersion, attempt.consent_version_id)
    assert recorded is not None
    consent = session.get(Consent, recorded.consent_id, with_for_update=True)
    assert consent is not None
    # A pause or resume while the review waited keeps the statement; new terms do not.
    version = current_version(session, consent)
    if version.challenge != recorded.challenge:
        raise Conflict(
            "The terms changed since this recording; the signer must record the new statement."
        )
    if version.verification is Verification.VERIFIED:
        raise Conflict("This consent version is already verified.")
    decision = Verification.VERIFIED if accept else Verification.REJECTED
    reviewed = VerificationAttempt(
        id=new_id("vfy"),
        consent_version_id=version.id,
        recording_key=attempt.recording_key,
        recording_sha256=attempt.recording_sha256,
        reference_artifact_id=attempt.reference_artifact_id,
        duration_ms=attempt.duration_ms,
        score=attempt.score,
        accept_threshold=attempt.accept_threshold,
        reject_threshold=attempt.reject_threshold,
        decision=decision,
        reason=f"operator review of {attempt.id}: {note or decision.value}",
        model=attempt.model,
        decided_by=f"operator:{operator}",
        reviewed_at=utcnow(),
    )
    attempt.reviewed_at = reviewed.reviewed_at
    if consent.current_version != version.version and decision is Verification.VERIFIED:
        raise Conflict(
            "The consent changed since this recording; the signer must record the new statement."
        )
    return record_verification(session, consent=consent, version=version, attempt=reviewed)


def verify_in_person(
    session: Session, *, consent_id: str, operator: str, note: str
) -> ConsentVersion:
    """An operator who checked the signer's identity in person verifies the version in force."""
    consent = session.get(Consent, consent_id, with_for_update=True)
    if consent is None:
        raise NotFound(f"No consent {consent_id}.")
    _, version = pending_version(session, consent.actor_id, consent_id)
    verified = record_verification(
        session,
        consent=consent,
        version=version,
        attempt=VerificationAttempt(
            id=new_id("vfy"),
            consent_version_id=version.id,
            recording_key="",
            recording_sha256="",
            duration_ms=0,
            score=None,
            accept_threshold=0.0,
            reject_threshold=0.0,
            decision=Verification.VERIFIED,
            reason=f"verified in person: {note}",
            model="none",
            decided_by=f"operator:{operator}",
        ),
    )
    assert verified is not None
    return verified


# ---- per-project approval ------------------------------------------------------


def request_approval(
    session: Session,
    effects: Effects,
    *,
    voice: Voice,
    studio_id: str,
    project_id: str,
    character_name: str,
    use: str,
    use_description: str,
    expected_lines: int,
    territories: list[str],
) -> ProjectApproval | None:
    """When the voice's terms ask for it, an approval request for this project (once)."""
    consent = session.scalar(select(Consent).where(Consent.voice_id == voice.id))
    if consent is None or consent.current_version == 0:
        return None
    version = current_version(session, consent)
    if not version.requires_project_approval or not _could_allow(
        version, studio_id, use, territories
    ):
        # A project the terms cannot cover gets no request: synthesis names the reason.
        return None
    existing = session.scalar(
        select(ProjectApproval).where(
            ProjectApproval.voice_id == voice.id, ProjectApproval.project_id == project_id
        )
    )
    if existing is not None:
        return existing
    approval = ProjectApproval(
        id=new_id("apr"),
        consent_id=consent.id,
        voice_id=voice.id,
        actor_id=consent.actor_id,
        studio_id=studio_id,
        project_id=project_id,
        character_name=character_name,
        use=use,
        use_description=use_description,
        expected_lines=expected_lines,
        territories=territories,
        status=ApprovalStatus.PENDING,
    )
    session.add(approval)
    session.flush()
    _log_approval(session, approval, "approval.requested")
    return approval


def _could_allow(version: ConsentVersion, studio_id: str, use: str, territories: list[str]) -> bool:
    """Whether the terms could ever allow this project (use, studio, territories)."""
    if use not in version.allowed_uses or studio_id in version.blocked_studio_ids:
        return False
    if version.allowed_studio_ids and studio_id not in version.allowed_studio_ids:
        return False
    return "WW" in version.territories or all(t in version.territories for t in territories)


_APPROVAL_MOVES: dict[ApprovalStatus, set[ApprovalStatus]] = {
    ApprovalStatus.PENDING: {ApprovalStatus.APPROVED, ApprovalStatus.DECLINED},
    ApprovalStatus.APPROVED: {ApprovalStatus.REVOKED},
    ApprovalStatus.DECLINED: {ApprovalStatus.APPROVED},
    ApprovalStatus.REVOKED: set(),
}


def decide_approval(
    session: Session,
    effects: Effects,
    *,
    actor_id: str,
    approval_id: str,
    status: ApprovalStatus,
    note: str = "",
) -> ProjectApproval:
    """The actor approves, declines, or later revokes a project's use of their voice."""
    approval = session.scalar(
        select(ProjectApproval)
        .where(ProjectApproval.id == approval_id, ProjectApproval.actor_id == actor_id)
        .with_for_update()
    )
    if approval is None:
        raise NotFound(f"No approval request {approval_id}.")
    if status not in _APPROVAL_MOVES[approval.status]:
        raise Conflict(f"The request is {approval.status.value}; it cannot become {status.value}.")
    # Serialise with takes being committed for this voice (see consent.gate.lock_consent).
    from consent.gate import lock_consent

    lock_consent(session, approval.voice_id)
    approval.status = status
    approval.note = note
    approval.decided_at = utcnow()
    session.flush()
    _log_approval(session, approval, f"approval.{status.value}")
    effects.notify(
        session,
        approval.studio_id,
        f"approval.{status.value}",
        {
            "approval_id": approval.id,
            "project_id": approval.project_id,
            "voice_id": approval.voice_id,
            "character": approval.character_name,
            "status": status.value,
            "note": note,
        },
    )
    return approval


def _log_approval(session: Session, approval: ProjectApproval, event: str) -> None:
    append_event(
        session,
        event=event,
        actor_id=approval.actor_id,
        consent_id=approval.consent_id,
        payload={
            "approval_id": approval.id,
            "studio_id": approval.studio_id,
            "project_id": approval.project_id,
            "character": approval.character_name,
            "use": approval.use,
            "use_description": approval.use_description,
            "expected_lines": approval.expected_lines,
            "territories": approval.territories,
            "status": approval.status.value,
            "note": approval.note,
        },
    )
