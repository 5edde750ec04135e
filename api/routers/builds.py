"""The actor's own voice, built from their recordings: create it, record, start, follow."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from api.deps import ActorConsent, ActorRead, RawBody, RuntimeDep, SessionDep
from api.routers.actor import WAV_BODY
from api.schemas import BuildOut, BuildRecordingOut, BuildVoiceIn, BuildVoiceOut, Page
from consent.identity import actor_voice
from models.builds import service
from models.builds.recordings import MAX_TRANSCRIPT_CHARS
from models.builds.tables import BuildRecording, VoiceBuild
from models.tables import Voice
from voicehub.settings import Settings

router = APIRouter(prefix="/v1/actor", tags=["builds"])


def voice_out(voice: Voice) -> BuildVoiceOut:
    return BuildVoiceOut(
        id=voice.id,
        name=voice.name,
        language=voice.language,
        engine=voice.engine,
        built=bool(voice.model_sha256),
        model_sha256=voice.model_sha256 or None,
        created_at=voice.created_at,
    )


def build_out(session: SessionDep, settings: Settings, build: VoiceBuild) -> BuildOut:
    summary = service.summarize(session, build)
    return BuildOut(
        id=build.id,
        voice_id=build.voice_id,
        stage=build.stage.value,
        progress=round(build.progress, 4),
        steps_done=build.steps_done,
        steps_total=build.steps_total,
        recordings=summary.recordings,
        recorded_seconds=summary.seconds,
        min_total_seconds=settings.build_min_total_seconds,
        error_code=build.error_code or None,
        error=build.error or None,
        base_sha256=build.base_sha256 or None,
        consent_version_id=build.consent_version_id,
        model_sha256=build.model_sha256 or None,
        created_at=build.created_at,
        started_at=build.started_at,
        updated_at=build.updated_at,
        finished_at=build.finished_at,
    )


def recording_out(recording: BuildRecording) -> BuildRecordingOut:
    return BuildRecordingOut(
        id=recording.id,
        build_id=recording.build_id,
        transcript=recording.transcript,
        duration_seconds=recording.duration_ms / 1000,
        sample_rate=recording.sample_rate,
        sha256=recording.sha256,
        created_at=recording.created_at,
    )


@router.post(
    "/voices",
    status_code=status.HTTP_201_CREATED,
    summary="Create a voice of my own, to be built from my recordings",
)
def create_voice(body: BuildVoiceIn, session: SessionDep, caller: ActorConsent) -> BuildVoiceOut:
    """The voice has no model until a build succeeds; give consent for it as for any voice."""
    voice = service.create_voice(
        session, actor_id=caller.actor_id, name=body.name, language=body.language
    )
    return voice_out(voice)


@router.get("/voices/{voice_id}", summary="One of my voices, and whether its model is built")
def get_voice(voice_id: str, session: SessionDep, caller: ActorRead) -> BuildVoiceOut:
    return voice_out(actor_voice(session, caller.actor_id, voice_id))


@router.post(
    "/voices/{voice_id}/builds",
    status_code=status.HTTP_201_CREATED,
    summary="Open a build of my voice, to upload recordings to",
)
def create_build(
    voice_id: str, session: SessionDep, caller: ActorConsent, runtime: RuntimeDep
) -> BuildOut:
    build = service.create_build(session, actor_id=caller.actor_id, voice_id=voice_id)
    return build_out(session, runtime.settings, build)


@router.get("/voices/{voice_id}/builds", summary="Every build of my voice")
def list_builds(
    voice_id: str, session: SessionDep, caller: ActorRead, runtime: RuntimeDep
) -> Page[BuildOut]:
    builds = service.list_builds(session, actor_id=caller.actor_id, voice_id=voice_id)
    return Page[BuildOut](
        data=[build_out(session, runtime.settings, build) for build in builds], has_more=False
    )


@router.get(
    "/voices/{voice_id}/builds/{build_id}", summary="A build: its stage, progress and any error"
)
def get_build(
    voice_id: str, build_id: str, session: SessionDep, caller: ActorRead, runtime: RuntimeDep
) -> BuildOut:
    build = service.get_build(
        session, actor_id=caller.actor_id, voice_id=voice_id, build_id=build_id
    )
    return build_out(session, runtime.settings, build)


@router.post(
    "/voices/{voice_id}/builds/{build_id}/recordings",
    status_code=status.HTTP_201_CREATED,
    summary="Upload one recording (WAV) with its transcript",
    openapi_extra=WAV_BODY,
)
def add_recording(
    voice_id: str,
    build_id: str,
    raw: RawBody,
    session: SessionDep,
    caller: ActorConsent,
    runtime: RuntimeDep,
    transcript: Annotated[
        str,
        Query(
            max_length=4 * MAX_TRANSCRIPT_CHARS,
            description="The exact words spoken in the recording.",
        ),
    ] = "",
    reference: Annotated[
        bool,
        Query(
            description="Also make this recording the voice's reference audio, against which"
            " the spoken consent statement is verified (at least 3 seconds)."
        ),
    ] = False,
) -> BuildRecordingOut:
    """Checked before it is stored (encrypted under the voice's key): a readable WAV, within
    the length limits, not silent, not clipped, with a transcript."""
    recording = service.add_recording(
        session,
        runtime.vault,
        runtime.settings,
        actor_id=caller.actor_id,
        voice_id=voice_id,
        build_id=build_id,
        data=raw,
        transcript=transcript,
        as_reference=reference,
    )
    return recording_out(recording)


@router.get("/voices/{voice_id}/builds/{build_id}/recordings", summary="A build's recordings")
def list_recordings(
    voice_id: str, build_id: str, session: SessionDep, caller: ActorRead
) -> Page[BuildRecordingOut]:
    build = service.get_build(
        session, actor_id=caller.actor_id, voice_id=voice_id, build_id=build_id
    )
    return Page[BuildRecordingOut](
        data=[recording_out(r) for r in service.list_recordings(session, build)], has_more=False
    )


@router.post(
    "/voices/{voice_id}/builds/{build_id}/start",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Start training my voice from the build's recordings",
)
def start_build(
    voice_id: str, build_id: str, session: SessionDep, caller: ActorConsent, runtime: RuntimeDep
) -> BuildOut:
    """Needs my consent for the voice in force, verified, with `allows_voice_build`; the build
    is queued once this request commits. Follow it with GET on the build."""
    build = service.start_build(
        session,
        runtime.queue,
        runtime.settings,
        actor_id=caller.actor_id,
        voice_id=voice_id,
        build_id=build_id,
    )
    return build_out(session, runtime.settings, build)
