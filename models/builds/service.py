"""Voice-build rules: a voice to build, its recordings, and when a build may start.

Training a model on an actor's recordings needs a consent in force that says so
(`allows_voice_build`): checked when the build starts, while it trains, and once
more, under the consent row's lock, just before its model is registered.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from consent.errors import (
    ConsentExpired,
    ConsentMissing,
    ConsentPaused,
    ConsentRevoked,
    ConsentUnverified,
    VoiceBuildNotAllowed,
)
from consent.gate import lock_consent
from consent.identity import actor_voice, upload_reference_audio
from consent.tables import Consent, ConsentStatus, ConsentVersion, Verification
from models.builds.errors import (
    BuildInProgress,
    BuildNotCollecting,
    BuildTooShort,
    RecordingDuplicate,
    RecordingUnusable,
    VoiceNotBuildable,
)
from models.builds.recordings import RecordingLimits, check_recording, check_transcript
from models.builds.tables import (
    RUNNING_STAGES,
    BuildRecording,
    BuildStage,
    VoiceBuild,
)
from models.builds.train import SPEAKER
from models.tables import Voice
from models.vault import Vault
from voicehub.db import utcnow
from voicehub.errors import Conflict, InvalidInput, NotFound
from voicehub.ids import new_id
from voicehub.queue import JobQueue
from voicehub.settings import Settings

# Built voices are served by the coqui engine from their own artifact, not the registry.
BUILT_ENGINE = "coqui"
RECORDING_ARTIFACT = "build_recording"
MODEL_ARTIFACT = "coqui_model"
# A running build that has reported nothing for this long has lost its worker.
STALE_AFTER = dt.timedelta(minutes=15)
# What consent.identity accepts as reference audio (its read_recording default).
REFERENCE_MIN_SECONDS = 3.0
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")


def create_voice(session: Session, *, actor_id: str, name: str, language: str) -> Voice:
    """A voice of the actor's own, to be built from their recordings; it has no model yet."""
    name = name.strip()
    if not name:
        raise InvalidInput("Name the voice.", fields=["name"])
    if not _LANGUAGE.match(language):
        raise InvalidInput(
            f"The voice's language is an ISO 639 code such as ja or en, not {language!r}.",
            fields=["language"],
        )
    voice = Voice(
        id=new_id("voice"),
        actor_id=actor_id,
        name=name,
        language=language,
        engine=BUILT_ENGINE,
        speaker=SPEAKER,
        # Empty until a build registers the model; synthesis refuses until then.
        model_sha256="",
    )
    session.add(voice)
    session.flush()
    return voice


def create_build(session: Session, *, actor_id: str, voice_id: str) -> VoiceBuild:
    """A new build of the actor's voice, collecting recordings until it is started."""
    voice = actor_voice(session, actor_id, voice_id)
    if voice.engine != BUILT_ENGINE:
        raise VoiceNotBuildable(
            f"Voice {voice.id} is served by the {voice.engine} engine; only voices created to be"
            " built (engine coqui) take builds. Create one with POST /v1/actor/voices."
        )
    if voice.shredded_at is not None:
        raise Conflict("This voice was destroyed; it cannot be built again.")
    build = VoiceBuild(
        id=new_id("bld"),
        voice_id=voice.id,
        actor_id=actor_id,
        stage=BuildStage.COLLECTING,
        progress=0.0,
        steps_done=0,
        steps_total=0,
        error="",
    )
    session.add(build)
    session.flush()
    return build


def get_build(
    session: Session, *, actor_id: str, voice_id: str, build_id: str, lock: bool = False
) -> VoiceBuild:
    """The actor's own build of that voice; anyone else's is a 404."""
    query = select(VoiceBuild).where(
        VoiceBuild.id == build_id, VoiceBuild.voice_id == voice_id, VoiceBuild.actor_id == actor_id
    )
    if lock:
        query = query.with_for_update()
    build = session.scalar(query.execution_options(populate_existing=True))
    if build is None:
        raise NotFound(f"No build {build_id} of voice {voice_id}.")
    return build


def list_builds(session: Session, *, actor_id: str, voice_id: str) -> list[VoiceBuild]:
    voice = actor_voice(session, actor_id, voice_id)
    return list(
        session.scalars(
            select(VoiceBuild)
            .where(VoiceBuild.voice_id == voice.id)
            .order_by(VoiceBuild.created_at, VoiceBuild.id)
        )
    )


def list_recordings(session: Session, build: VoiceBuild) -> list[BuildRecording]:
    return list(
        session.scalars(
            select(BuildRecording)
            .where(BuildRecording.build_id == build.id)
            .order_by(BuildRecording.created_at, BuildRecording.id)
        )
    )


def recorded_seconds(session: Session, build_id: str) -> float:
    total = session.scalar(
        select(func.coalesce(func.sum(BuildRecording.duration_ms), 0)).where(
            BuildRecording.build_id == build_id
        )
    )
    return int(total or 0) / 1000


def blank_transcripts(session: Session, voice_id: str) -> int:
    """Erase the transcripts of every recording of the voice, when the voice is shredded.

    The recordings' audio goes with the voice's key; their transcripts are plain
    text in the database and would outlive it. Returns how many were blanked.
    """
    blanked = session.execute(
        update(BuildRecording)
        .where(
            BuildRecording.build_id.in_(
                select(VoiceBuild.id).where(VoiceBuild.voice_id == voice_id)
            ),
            BuildRecording.transcript != "",
        )
        .values(transcript="")
        .execution_options(synchronize_session="fetch")
    )
    return int(getattr(blanked, "rowcount", 0) or 0)


def add_recording(
    session: Session,
    vault: Vault,
    settings: Settings,
    *,
    actor_id: str,
    voice_id: str,
    build_id: str,
    data: bytes,
    transcript: str,
    as_reference: bool = False,
) -> BuildRecording:
    """Check one recording and its transcript, and store it encrypted under the voice's key.

    With `as_reference` the same recording also becomes the voice's reference
    audio, against which the signer's spoken consent statement is verified.
    """
    build = get_build(session, actor_id=actor_id, voice_id=voice_id, build_id=build_id, lock=True)
    if build.stage is not BuildStage.COLLECTING:
        raise BuildNotCollecting(
            f"Build {build.id} is {build.stage.value}; start a new build for more recordings."
        )
    text = check_transcript(transcript)
    recording = check_recording(data, RecordingLimits.from_settings(settings))
    duplicate = session.scalar(
        select(BuildRecording.id).where(
            BuildRecording.build_id == build.id, BuildRecording.sha256 == recording.sha256
        )
    )
    if duplicate is not None:
        raise RecordingDuplicate(
            f"This exact recording is already in the build ({duplicate}).", recording_id=duplicate
        )
    artifact = vault.put_artifact(session, build.voice_id, RECORDING_ARTIFACT, data)
    row = BuildRecording(
        id=new_id("rec"),
        build_id=build.id,
        artifact_id=artifact.id,
        transcript=text,
        duration_ms=round(recording.duration_seconds * 1000),
        sample_rate=recording.sample_rate,
        sha256=recording.sha256,
    )
    session.add(row)
    session.flush()
    if as_reference and recording.duration_seconds < REFERENCE_MIN_SECONDS:
        raise RecordingUnusable(
            f"The recording is {recording.duration_seconds:.1f} seconds long; the voice's reference"
            f" audio must be at least {REFERENCE_MIN_SECONDS:g} seconds.",
            reason="too_short",
            fields=["reference"],
        )
    if as_reference:
        upload_reference_audio(session, vault, actor_id=actor_id, voice_id=voice_id, data=data)
    return row


def start_build(
    session: Session,
    queue: JobQueue,
    settings: Settings,
    *,
    actor_id: str,
    voice_id: str,
    build_id: str,
) -> VoiceBuild:
    """Queue the build (after commit) if the actor's consent allows it and it has enough speech.

    A failed build may be started again; so may one whose worker went silent for
    `STALE_AFTER` (the new run takes it over, and the old one stops if it wakes).
    """
    build = get_build(session, actor_id=actor_id, voice_id=voice_id, build_id=build_id, lock=True)
    now = utcnow()
    if build.stage is BuildStage.DONE:
        raise Conflict(f"Build {build.id} is done; start a new build to train again.")
    if build.stage in RUNNING_STAGES and now - build.updated_at < STALE_AFTER:
        raise BuildInProgress(f"Build {build.id} is already {build.stage.value}.")
    running = session.scalar(
        select(VoiceBuild.id).where(
            VoiceBuild.voice_id == build.voice_id,
            VoiceBuild.id != build.id,
            VoiceBuild.stage.in_(RUNNING_STAGES),
            VoiceBuild.updated_at > now - STALE_AFTER,
        )
    )
    if running is not None:
        raise BuildInProgress(
            f"Build {running} of this voice is running; wait for it to finish.", build_id=running
        )
    consent_to_build(session, build.voice_id, now=now)
    seconds = recorded_seconds(session, build.id)
    if seconds < settings.build_min_total_seconds:
        raise BuildTooShort(
            f"The build has {seconds:.1f} seconds of recordings; a voice needs at least"
            f" {settings.build_min_total_seconds:g}. Upload more recordings.",
            seconds=round(seconds, 3),
            min_seconds=settings.build_min_total_seconds,
        )
    build.stage = BuildStage.QUEUED
    build.progress = 0.0
    build.steps_done = 0
    build.error = ""
    build.started_at = now
    build.updated_at = now
    build.finished_at = None
    session.flush()
    queue.enqueue_voice_build(session, build.id)
    return build


def consent_to_build(
    session: Session, voice_id: str, *, now: dt.datetime | None = None, lock: bool = False
) -> ConsentVersion:
    """The consent version in force that allows a model trained on the actor's recordings.

    Fail-closed, like the gate: no consent, one not in force (revoked, even with
    a notice period running; expired; paused; not started), an unverified signer,
    or terms without `allows_voice_build` all refuse with their own code.
    """
    now = now or utcnow()
    if lock:
        lock_consent(session, voice_id)
    row = session.execute(
        select(Consent, ConsentVersion)
        .join(
            ConsentVersion,
            (ConsentVersion.consent_id == Consent.id)
            & (ConsentVersion.version == Consent.current_version),
        )
        .where(Consent.voice_id == voice_id)
        .execution_options(populate_existing=True)
    ).first()
    if row is None:
        raise ConsentMissing("The actor has not given consent for this voice.")
    version = row[1]
    if version.status is ConsentStatus.REVOKED:
        raise ConsentRevoked("The actor revoked consent for this voice; no model is built from it.")
    if version.status is ConsentStatus.EXPIRED or (
        version.ends_at is not None and now >= version.ends_at
    ):
        raise ConsentExpired("Consent for this voice has ended.")
    if version.verification is not Verification.VERIFIED:
        raise ConsentUnverified(
            "The person who signed this consent version has not been verified yet "
            f"({version.verification.value.replace('_', ' ')}); record the statement first."
        )
    if version.status is ConsentStatus.PAUSED:
        raise ConsentPaused("The actor has paused consent for this voice.")
    if now < version.starts_at:
        raise ConsentMissing(f"Consent for this voice starts on {version.starts_at:%Y-%m-%d}.")
    if not version.allows_voice_build:
        raise VoiceBuildNotAllowed(
            "The actor's terms do not allow a voice model to be trained on their recordings;"
            " sign terms with allows_voice_build to build this voice."
        )
    return version


@dataclass(frozen=True)
class BuildSummary:
    """A build with what its recordings add up to."""

    build: VoiceBuild
    recordings: int
    seconds: float


def summarize(session: Session, build: VoiceBuild) -> BuildSummary:
    count, total_ms = session.execute(
        select(
            func.count(BuildRecording.id), func.coalesce(func.sum(BuildRecording.duration_ms), 0)
        ).where(BuildRecording.build_id == build.id)
    ).one()
    return BuildSummary(build=build, recordings=int(count), seconds=int(total_ms) / 1000)
