"""Provenance: who made a clip found in the wild, and what a take's Content Credentials say."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import PrincipalDep, RawBody, RuntimeDep, SessionDep, StudioRead
from api.schemas import CredentialsOut, IdentificationOut
from voicehub.production.tables import Take
from voicehub.provenance.credentials import CredentialsReport, read_credentials
from voicehub.provenance.identify import identify
from voicehub.tenancy.scope import get_owned

router = APIRouter(tags=["provenance"])

CLIP_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            media: {
                "schema": {"type": "string", "format": "binary"},
                "example": "(the clip's bytes: any audio ffmpeg reads, at least 1 s of sound)",
            }
            for media in ("audio/wav", "audio/mpeg", "audio/flac", "audio/ogg", "audio/mp4")
        },
    }
}


def credentials_out(report: CredentialsReport) -> CredentialsOut:
    return CredentialsOut.model_validate(report.as_json())


@router.post(
    "/v1/identify",
    summary="Identify a clip: which take, line, voice, actor and studio",
    openapi_extra=CLIP_BODY,
)
def post_identify(
    raw: RawBody, session: SessionDep, principal: PrincipalDep, runtime: RuntimeDep
) -> IdentificationOut:
    """Send the clip's bytes (WAV, MP3, FLAC, Ogg or M4A; at least 1 s of sound).

    Each take is fingerprinted twice when it is made: Chromaprint (clips of about
    3 s and more) and spectral-peak landmarks (made for short speech, from 1 s).
    The clip may be re-encoded, resampled, an excerpt, louder or quieter, or a
    scene with other lines in it. Only a match a method accepts is returned;
    otherwise `identified` is false and nobody is named. A clip too short,
    silent, corrupt or not audio is refused with `clip_unusable` and its
    `reason`. Studio and actor keys with the `read` scope may ask.
    """
    principal.require("read")
    found = identify(session, raw, trust_anchors_pem=runtime.signing_identity.trust_anchors_pem)
    actor_ids = [] if principal.actor_id is None else [principal.actor_id]
    return IdentificationOut.model_validate(
        found.as_json(studio_id=principal.studio_id, actor_ids=actor_ids)
    )


@router.get(
    "/v1/takes/{take_id}/credentials", summary="Read back a take's Content Credentials (C2PA)"
)
def get_take_credentials(
    take_id: str, session: SessionDep, caller: StudioRead, runtime: RuntimeDep
) -> CredentialsOut:
    """The manifest in the take's delivered WAV, verified: `trusted` only when the platform's
    certificate chains to a trust anchor the operator configured (a development certificate
    reads `untrusted`)."""
    take = get_owned(session, Take, caller.studio_id, take_id)
    report = read_credentials(
        runtime.storage.get(take.audio_key),
        trust_anchors_pem=runtime.signing_identity.trust_anchors_pem,
    )
    return credentials_out(report)
