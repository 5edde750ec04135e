"""The actor's (or agency's, or estate's) side: consent terms, verification, approvals,
the off switch, receipts and royalty statements."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel
from sqlalchemy import select

from api.deps import ActorConsent, ActorRead, RawBody, RuntimeDep, SessionDep
from api.schemas import (
    ApprovalDecisionIn,
    ApprovalOut,
    ArtifactOut,
    ConsentOut,
    ConsentVersionOut,
    Page,
    RevokeIn,
    StatementOut,
    StatusChangeIn,
    TermsIn,
    VerificationAttemptOut,
    VerificationResultOut,
)
from consent import service
from consent.identity import (
    REFERENCE_AUDIO,
    Thresholds,
    actor_voice,
    submit_statement,
    upload_reference_audio,
)
from consent.receipts import sign_receipt
from consent.tables import (
    ApprovalStatus,
    Consent,
    ConsentStatus,
    ConsentVersion,
    ProjectApproval,
    Representation,
    SignerKind,
    Verification,
    VerificationAttempt,
)
from consent.terms import ConsentTerms
from models.tables import Voice, VoiceArtifact
from voicehub.db import utcnow

router = APIRouter(prefix="/v1/actor", tags=["actor"])

WAV_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "audio/wav": {
                "schema": {"type": "string", "format": "binary"},
                "example": "(a WAV file: PCM 16/24/32-bit or 32-bit float, mono or stereo, 3 to 120 seconds)",
            }
        },
    }
}


def version_out(version: ConsentVersion) -> ConsentVersionOut:
    return ConsentVersionOut(
        id=version.id,
        version=version.version,
        status=version.status.value,
        verification=version.verification.value,
        signer_kind=version.signer_kind.value,
        signer_name=version.signer_name,
        representation=version.representation.value,
        use_description=version.use_description,
        allowed_uses=version.allowed_uses,
        excluded_categories=version.excluded_categories,
        blocked_terms=version.blocked_terms,
        languages=version.languages,
        territories=version.territories,
        allowed_studio_ids=version.allowed_studio_ids,
        blocked_studio_ids=version.blocked_studio_ids,
        requires_project_approval=version.requires_project_approval,
        allows_voice_build=version.allows_voice_build,
        currency=version.currency,
        prices_per_1k_chars_micros=version.prices_per_1k_chars_micros,
        prices_per_second_micros=version.prices_per_second_micros or {},
        minimum_per_line_micros=version.minimum_per_line_micros,
        actor_share_bps=version.actor_share_bps,
        starts_at=version.starts_at,
        ends_at=version.ends_at,
        notice_period_days=version.notice_period_days,
        notice_ends_at=version.notice_ends_at,
        changed_by=version.changed_by,
        reason=version.reason,
        created_at=version.created_at,
    )


def consent_out(session: SessionDep, consent: Consent) -> ConsentOut:
    return ConsentOut(
        id=consent.id,
        voice_id=consent.voice_id,
        current=version_out(service.current_version(session, consent)),
    )


def attempt_out(attempt: VerificationAttempt) -> VerificationAttemptOut:
    return VerificationAttemptOut(
        id=attempt.id,
        consent_version_id=attempt.consent_version_id,
        recording_sha256=attempt.recording_sha256,
        duration_seconds=attempt.duration_ms / 1000,
        score=attempt.score,
        accept_threshold=attempt.accept_threshold,
        reject_threshold=attempt.reject_threshold,
        decision=attempt.decision.value,
        reason=attempt.reason,
        model=attempt.model,
        decided_by=attempt.decided_by,
        created_at=attempt.created_at,
    )


def terms_from(body: TermsIn) -> ConsentTerms:
    return ConsentTerms(
        signer_kind=SignerKind(body.signer_kind),
        signer_name=body.signer_name,
        representation=Representation(body.representation),
        use_description=body.use_description,
        allowed_uses=tuple(body.allowed_uses),
        excluded_categories=tuple(body.excluded_categories),
        blocked_terms=tuple(body.blocked_terms),
        languages=tuple(body.languages),
        territories=tuple(body.territories),
        allowed_studio_ids=tuple(body.allowed_studio_ids),
        blocked_studio_ids=tuple(body.blocked_studio_ids),
        requires_project_approval=body.requires_project_approval,
        allows_voice_build=body.allows_voice_build,
        currency=body.currency,
        prices_per_1k_chars_micros=dict(body.prices_per_1k_chars_micros),
        prices_per_second_micros=dict(body.prices_per_second_micros),
        minimum_per_line_micros=body.minimum_per_line_micros,
        actor_share_bps=body.actor_share_bps,
        starts_at=body.starts_at or utcnow(),
        ends_at=body.ends_at,
        notice_period_days=body.notice_period_days,
    )


def _who(caller: ActorConsent) -> str:
    return f"actor:{caller.actor_id} via {caller.principal.key_id}"


@router.get("/consents", summary="List my consents")
def list_consents(session: SessionDep, caller: ActorRead) -> Page[ConsentOut]:
    rows = session.scalars(
        select(Consent)
        .where(Consent.actor_id == caller.actor_id)
        .order_by(Consent.created_at, Consent.id)
    )
    return Page[ConsentOut](data=[consent_out(session, c) for c in rows], has_more=False)


class VoiceOfActorOut(BaseModel):
    id: str
    name: str
    language: str
    engine: str
    consent_id: str | None
    has_reference_audio: bool
    shredded_at: dt.datetime | None


@router.get("/voices", summary="My voices, with their consent (if given) and reference audio")
def list_my_voices(session: SessionDep, caller: ActorRead) -> Page[VoiceOfActorOut]:
    voices = list(
        session.scalars(
            select(Voice)
            .where(Voice.actor_id == caller.actor_id)
            .order_by(Voice.created_at, Voice.id)
        )
    )
    ids = [v.id for v in voices]
    consents: dict[str, str] = {
        voice_id: consent_id
        for voice_id, consent_id in session.execute(
            select(Consent.voice_id, Consent.id).where(Consent.voice_id.in_(ids))
        )
    }
    referenced = set(
        session.scalars(
            select(VoiceArtifact.voice_id).where(
                VoiceArtifact.voice_id.in_(ids), VoiceArtifact.kind == REFERENCE_AUDIO
            )
        )
    )
    return Page[VoiceOfActorOut](
        data=[
            VoiceOfActorOut(
                id=v.id,
                name=v.name,
                language=v.language,
                engine=v.engine,
                consent_id=consents.get(v.id),
                has_reference_audio=v.id in referenced,
                shredded_at=v.shredded_at,
            )
            for v in voices
        ],
        has_more=False,
    )


@router.post(
    "/voices/{voice_id}/consent",
    status_code=status.HTTP_201_CREATED,
    summary="Give consent for one of my voices, on these terms",
)
def grant_consent(
    voice_id: str, body: TermsIn, session: SessionDep, caller: ActorConsent
) -> ConsentOut:
    """Version 1 of the consent. It is not in force until the signer records the statement."""
    voice = actor_voice(session, caller.actor_id, voice_id)
    version = service.grant_consent(
        session, voice=voice, terms=terms_from(body), changed_by=_who(caller)
    )
    return consent_out(
        session, service.get_actor_consent(session, caller.actor_id, version.consent_id)
    )


@router.post(
    "/consents/{consent_id}/versions",
    status_code=status.HTTP_201_CREATED,
    summary="Change my terms (a new version to verify)",
)
def amend_consent(
    consent_id: str, body: TermsIn, session: SessionDep, caller: ActorConsent, runtime: RuntimeDep
) -> ConsentOut:
    service.amend_terms(
        session,
        runtime.consent_effects,
        actor_id=caller.actor_id,
        consent_id=consent_id,
        terms=terms_from(body),
        changed_by=_who(caller),
    )
    return consent_out(session, service.get_actor_consent(session, caller.actor_id, consent_id))


@router.get("/consents/{consent_id}/versions", summary="A consent's full version history")
def list_consent_versions(
    consent_id: str, session: SessionDep, caller: ActorRead
) -> Page[ConsentVersionOut]:
    consent = service.get_actor_consent(session, caller.actor_id, consent_id)
    return Page[ConsentVersionOut](
        data=[version_out(v) for v in service.list_versions(session, consent)], has_more=False
    )


@router.get(
    "/consents/{consent_id}/statement", summary="The statement to read aloud for this version"
)
def get_statement(consent_id: str, session: SessionDep, caller: ActorRead) -> StatementOut:
    consent = service.get_actor_consent(session, caller.actor_id, consent_id)
    version = service.current_version(session, consent)
    voice = session.get(Voice, consent.voice_id)
    assert voice is not None
    return StatementOut(
        consent_id=consent.id,
        consent_version_id=version.id,
        language=voice.language,
        text=version.statement_text,
        challenge=version.challenge,
        verification=version.verification.value,
    )


@router.post(
    "/voices/{voice_id}/reference-audio",
    status_code=status.HTTP_201_CREATED,
    summary="Upload my voice's reference recording (WAV)",
    openapi_extra=WAV_BODY,
)
def put_reference_audio(
    voice_id: str, raw: RawBody, session: SessionDep, caller: ActorConsent, runtime: RuntimeDep
) -> ArtifactOut:
    """Stored encrypted under the voice's own key, and destroyed with it."""
    artifact = upload_reference_audio(
        session, runtime.vault, actor_id=caller.actor_id, voice_id=voice_id, data=raw
    )
    return ArtifactOut(
        id=artifact.id,
        voice_id=artifact.voice_id,
        kind=artifact.kind,
        sha256=artifact.sha256,
        size=artifact.size,
        created_at=artifact.created_at,
    )


@router.post(
    "/consents/{consent_id}/statement-recording",
    summary="Upload my recording of the statement (WAV) and get the verification result",
    openapi_extra=WAV_BODY,
)
def post_statement_recording(
    consent_id: str, raw: RawBody, session: SessionDep, caller: ActorConsent, runtime: RuntimeDep
) -> VerificationResultOut:
    settings = runtime.settings
    attempt, _ = submit_statement(
        session,
        vault=runtime.vault,
        storage=runtime.storage,
        verifier=runtime.speaker_verifier,
        thresholds=Thresholds(settings.verify_accept_threshold, settings.verify_reject_threshold),
        actor_id=caller.actor_id,
        consent_id=consent_id,
        data=raw,
    )
    consent = service.get_actor_consent(session, caller.actor_id, consent_id)
    return VerificationResultOut(
        attempt=attempt_out(attempt), consent=consent_out(session, consent)
    )


@router.get("/consents/{consent_id}/verification-attempts", summary="Every verification attempt")
def list_attempts(
    consent_id: str, session: SessionDep, caller: ActorRead
) -> Page[VerificationAttemptOut]:
    consent = service.get_actor_consent(session, caller.actor_id, consent_id)
    rows = session.scalars(
        select(VerificationAttempt)
        .join(ConsentVersion, ConsentVersion.id == VerificationAttempt.consent_version_id)
        .where(ConsentVersion.consent_id == consent.id)
        .order_by(VerificationAttempt.created_at, VerificationAttempt.id)
    )
    return Page[VerificationAttemptOut](data=[attempt_out(a) for a in rows], has_more=False)


def _change(
    session: SessionDep,
    caller: ActorConsent,
    runtime: RuntimeDep,
    consent_id: str,
    new_status: ConsentStatus,
    reason: str,
    *,
    immediately: bool = False,
) -> ConsentOut:
    service.change_status(
        session,
        runtime.consent_effects,
        actor_id=caller.actor_id,
        consent_id=consent_id,
        status=new_status,
        changed_by=_who(caller),
        reason=reason,
        immediately=immediately,
    )
    return consent_out(session, service.get_actor_consent(session, caller.actor_id, consent_id))


@router.post("/consents/{consent_id}/revoke", summary="Revoke consent")
def revoke_consent(
    consent_id: str,
    session: SessionDep,
    caller: ActorConsent,
    runtime: RuntimeDep,
    body: RevokeIn | None = None,
) -> ConsentOut:
    """New projects stop at once. With a notice period, projects already using the voice may
    finish until `notice_ends_at`; with none, or `immediately`, everything stops now and the
    voice is destroyed. Past lines stay attributed and paid."""
    body = body or RevokeIn()
    return _change(
        session,
        caller,
        runtime,
        consent_id,
        ConsentStatus.REVOKED,
        body.reason,
        immediately=body.immediately,
    )


@router.post("/consents/{consent_id}/pause", summary="Pause consent (e.g. during a strike)")
def pause_consent(
    consent_id: str,
    session: SessionDep,
    caller: ActorConsent,
    runtime: RuntimeDep,
    body: StatusChangeIn | None = None,
) -> ConsentOut:
    return _change(
        session,
        caller,
        runtime,
        consent_id,
        ConsentStatus.PAUSED,
        (body or StatusChangeIn()).reason,
    )


@router.post("/consents/{consent_id}/resume", summary="Resume a paused consent")
def resume_consent(
    consent_id: str,
    session: SessionDep,
    caller: ActorConsent,
    runtime: RuntimeDep,
    body: StatusChangeIn | None = None,
) -> ConsentOut:
    return _change(
        session,
        caller,
        runtime,
        consent_id,
        ConsentStatus.ACTIVE,
        (body or StatusChangeIn()).reason,
    )


@router.get(
    "/consents/{consent_id}/receipt", summary="My signed consent receipt (verifiable offline)"
)
def get_receipt(
    consent_id: str, session: SessionDep, caller: ActorRead, runtime: RuntimeDep
) -> dict[str, object]:
    """The terms in force, the statement and the verification result, signed with Ed25519."""
    consent = service.get_actor_consent(session, caller.actor_id, consent_id)
    version = service.current_version(session, consent)
    # The attempt that verified these terms: same statement (challenge), decided "verified".
    attempt = session.scalar(
        select(VerificationAttempt)
        .join(ConsentVersion, ConsentVersion.id == VerificationAttempt.consent_version_id)
        .where(
            ConsentVersion.consent_id == consent.id,
            ConsentVersion.challenge == version.challenge,
            VerificationAttempt.decision == Verification.VERIFIED,
        )
        .order_by(VerificationAttempt.created_at.desc(), VerificationAttempt.id.desc())
    )
    body = {
        "type": "voicehub.consent_receipt",
        "issued_at": utcnow().isoformat().replace("+00:00", "Z"),
        "actor_id": consent.actor_id,
        "voice_id": consent.voice_id,
        "consent_id": consent.id,
        "version": version.version,
        "consent_version_id": version.id,
        "terms": service.version_summary(version),
        "verification": {"status": version.verification.value}
        if attempt is None or version.verification is not Verification.VERIFIED
        else {
            "status": "verified",
            "attempt_id": attempt.id,
            "verified_version_id": attempt.consent_version_id,
            "score": attempt.score,
            "accept_threshold": attempt.accept_threshold,
            "reject_threshold": attempt.reject_threshold,
            "model": attempt.model,
            "recording_sha256": attempt.recording_sha256,
            "decided_by": attempt.decided_by,
        },
    }
    return sign_receipt(runtime.receipt_key, body)


@router.get("/approvals", summary="Projects asking to use my voices")
def list_approvals(
    session: SessionDep,
    caller: ActorRead,
    status_filter: Annotated[
        Literal["pending", "approved", "declined", "revoked"] | None, Query(alias="status")
    ] = None,
) -> Page[ApprovalOut]:
    query = select(ProjectApproval).where(ProjectApproval.actor_id == caller.actor_id)
    if status_filter is not None:
        query = query.where(ProjectApproval.status == ApprovalStatus(status_filter))
    rows = session.scalars(query.order_by(ProjectApproval.created_at, ProjectApproval.id))
    return Page[ApprovalOut](data=[ApprovalOut.of(a) for a in rows], has_more=False)


def _decide(
    session: SessionDep,
    caller: ActorConsent,
    runtime: RuntimeDep,
    approval_id: str,
    new_status: ApprovalStatus,
    body: ApprovalDecisionIn | None,
) -> ApprovalOut:
    approval = service.decide_approval(
        session,
        runtime.consent_effects,
        actor_id=caller.actor_id,
        approval_id=approval_id,
        status=new_status,
        note=(body or ApprovalDecisionIn()).note,
    )
    return ApprovalOut.of(approval)


@router.post("/approvals/{approval_id}/approve", summary="Approve a project")
def approve_project(
    approval_id: str,
    session: SessionDep,
    caller: ActorConsent,
    runtime: RuntimeDep,
    body: ApprovalDecisionIn | None = None,
) -> ApprovalOut:
    return _decide(session, caller, runtime, approval_id, ApprovalStatus.APPROVED, body)


@router.post("/approvals/{approval_id}/decline", summary="Decline a project")
def decline_project(
    approval_id: str,
    session: SessionDep,
    caller: ActorConsent,
    runtime: RuntimeDep,
    body: ApprovalDecisionIn | None = None,
) -> ApprovalOut:
    return _decide(session, caller, runtime, approval_id, ApprovalStatus.DECLINED, body)


@router.post("/approvals/{approval_id}/revoke", summary="Withdraw an approval")
def revoke_project_approval(
    approval_id: str,
    session: SessionDep,
    caller: ActorConsent,
    runtime: RuntimeDep,
    body: ApprovalDecisionIn | None = None,
) -> ApprovalOut:
    return _decide(session, caller, runtime, approval_id, ApprovalStatus.REVOKED, body)
