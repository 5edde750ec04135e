"""The actor's (or agency's) side: their consents, the off switch, royalty statements."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy import select

from api.deps import ActorConsent, ActorRead, SessionDep
from api.schemas import ConsentOut, ConsentVersionOut, Page, StatusChangeIn
from consent import service
from consent.tables import Consent, ConsentStatus, ConsentVersion
from voicehub.metering.statements import royalty_statement, statement_csv

router = APIRouter(prefix="/v1/actor", tags=["actor"])


def version_out(version: ConsentVersion) -> ConsentVersionOut:
    return ConsentVersionOut(
        id=version.id,
        version=version.version,
        status=version.status.value,
        allowed_uses=version.allowed_uses,
        languages=version.languages,
        allowed_studio_ids=version.allowed_studio_ids,
        currency=version.currency,
        price_per_1k_chars_micros=version.price_per_1k_chars_micros,
        actor_share_bps=version.actor_share_bps,
        starts_at=version.starts_at,
        ends_at=version.ends_at,
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


@router.get("/consents", summary="List my consents")
def list_consents(session: SessionDep, caller: ActorRead) -> Page[ConsentOut]:
    rows = session.scalars(
        select(Consent)
        .where(Consent.actor_id == caller.actor_id)
        .order_by(Consent.created_at, Consent.id)
    )
    return Page[ConsentOut](data=[consent_out(session, c) for c in rows], has_more=False)


@router.get("/consents/{consent_id}/versions", summary="A consent's full version history")
def list_consent_versions(
    consent_id: str, session: SessionDep, caller: ActorRead
) -> Page[ConsentVersionOut]:
    consent = service.get_actor_consent(session, caller.actor_id, consent_id)
    return Page[ConsentVersionOut](
        data=[version_out(v) for v in service.list_versions(session, consent)], has_more=False
    )


def _change(
    session: SessionDep,
    caller: ActorConsent,
    consent_id: str,
    status: ConsentStatus,
    body: StatusChangeIn | None,
) -> ConsentOut:
    service.change_status(
        session,
        actor_id=caller.actor_id,
        consent_id=consent_id,
        status=status,
        changed_by=f"actor:{caller.actor_id} via {caller.principal.key_id}",
        reason=(body or StatusChangeIn()).reason,
    )
    return consent_out(session, service.get_actor_consent(session, caller.actor_id, consent_id))


@router.post("/consents/{consent_id}/revoke", summary="Revoke consent: no new synthesis, at once")
def revoke_consent(
    consent_id: str, session: SessionDep, caller: ActorConsent, body: StatusChangeIn | None = None
) -> ConsentOut:
    """Takes effect for the very next synthesis, queued jobs included. Past lines stay attributed and paid."""
    return _change(session, caller, consent_id, ConsentStatus.REVOKED, body)


@router.post("/consents/{consent_id}/pause", summary="Pause consent (e.g. during a strike)")
def pause_consent(
    consent_id: str, session: SessionDep, caller: ActorConsent, body: StatusChangeIn | None = None
) -> ConsentOut:
    return _change(session, caller, consent_id, ConsentStatus.PAUSED, body)


@router.post("/consents/{consent_id}/resume", summary="Resume a paused consent")
def resume_consent(
    consent_id: str, session: SessionDep, caller: ActorConsent, body: StatusChangeIn | None = None
) -> ConsentOut:
    return _change(session, caller, consent_id, ConsentStatus.ACTIVE, body)


@router.get(
    "/royalty-statements/{period}",
    summary="My royalty statement for a month, as CSV",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def get_royalty_statement(period: str, session: SessionDep, caller: ActorRead) -> Response:
    statement = royalty_statement(session, caller.actor_id, period)
    return Response(
        statement_csv(statement),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="royalties-{caller.actor_id}-{period}.csv"'
        },
    )
