"""The catalogue of voices a studio may cast."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter
from sqlalchemy import select

from api.deps import SessionDep, StudioRead
from api.schemas import Page, VoiceOut
from consent.tables import Actor, Consent, ConsentStatus, ConsentVersion, Verification
from models.serving import has_model
from models.tables import Voice
from voicehub.db import utcnow

router = APIRouter(prefix="/v1/voices", tags=["voices"])


def effective_status(version: ConsentVersion, now: dt.datetime) -> str:
    """What a studio can expect right now: the status, or expired / not_started / unverified."""
    if version.status is not ConsentStatus.ACTIVE:
        return version.status.value
    if version.verification is not Verification.VERIFIED:
        return "unverified"
    if now < version.starts_at:
        return "not_started"
    if version.ends_at is not None and now >= version.ends_at:
        return "expired"
    return version.status.value


@router.get("", summary="List the voices this studio may cast")
def list_voices(session: SessionDep, caller: StudioRead) -> Page[VoiceOut]:
    """Every voice whose actor has given consent that does not exclude this studio.

    Paused and revoked voices stay listed with their status, so a studio is
    never left guessing why a voice stopped working.
    """
    # One query: each voice with its actor and the consent version in force.
    rows = session.execute(
        select(Voice, Actor, ConsentVersion)
        .join(Actor, Actor.id == Voice.actor_id)
        .join(Consent, Consent.voice_id == Voice.id)
        .join(
            ConsentVersion,
            (ConsentVersion.consent_id == Consent.id)
            & (ConsentVersion.version == Consent.current_version),
        )
        .order_by(Voice.created_at, Voice.id)
    )
    now = utcnow()
    out: list[VoiceOut] = []
    for voice, actor, version in rows:
        if caller.studio_id in version.blocked_studio_ids or (
            version.allowed_studio_ids and caller.studio_id not in version.allowed_studio_ids
        ):
            continue
        out.append(
            VoiceOut(
                id=voice.id,
                name=voice.name,
                actor_id=actor.id,
                actor_credit=actor.credited_name,
                language=voice.language,
                engine=voice.engine,
                model_status="ready" if has_model(voice) else "not_built",
                consent_status=effective_status(version, now),
                consent_version_id=version.id,
                allowed_uses=version.allowed_uses,
                languages=version.languages,
                territories=version.territories,
                requires_project_approval=version.requires_project_approval,
                currency=version.currency,
                prices_per_1k_chars_micros=version.prices_per_1k_chars_micros,
                prices_per_second_micros=version.prices_per_second_micros or {},
                minimum_per_line_micros=version.minimum_per_line_micros,
                ends_at=version.ends_at,
                notice_ends_at=version.notice_ends_at,
            )
        )
    return Page[VoiceOut](data=out, has_more=False)
