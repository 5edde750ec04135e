"""Proving it was them: the voice's reference audio, and the recorded consent statement.

The statement recording is scored against the reference with a speaker-embedding
model: at or above the accept threshold the version is verified; below the
reject threshold it is another speaker; in between an operator decides, with
both recordings available. Recordings are kept as sealed evidence; the
reference audio is a voice artifact, destroyed with the voice's key.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent.errors import ConsentMissing
from consent.service import pending_version, record_verification
from consent.speaker import SpeakerVerifier, decide
from consent.tables import Consent, ConsentVersion, SignerKind, Verification, VerificationAttempt
from consent.verification import RecordingRejected, RejectionReason, read_recording
from models.tables import Voice, VoiceArtifact
from models.vault import Vault
from voicehub.errors import Conflict, NotFound
from voicehub.ids import new_id
from voicehub.storage import Storage

REFERENCE_AUDIO = "reference_audio"


@dataclass(frozen=True)
class Thresholds:
    accept: float
    reject: float


def actor_voice(session: Session, actor_id: str, voice_id: str) -> Voice:
    voice = session.scalar(select(Voice).where(Voice.id == voice_id, Voice.actor_id == actor_id))
    if voice is None:
        raise NotFound(f"No voice {voice_id}.")
    return voice


def upload_reference_audio(
    session: Session, vault: Vault, *, actor_id: str, voice_id: str, data: bytes
) -> VoiceArtifact:
    """Store the voice's reference recording, encrypted under the voice's own key."""
    voice = actor_voice(session, actor_id, voice_id)
    if voice.shredded_at is not None:
        raise Conflict("This voice was destroyed; it cannot take new recordings.")
    read_recording(data)
    return vault.put_artifact(session, voice.id, REFERENCE_AUDIO, data)


def reference_audio(session: Session, vault: Vault, voice_id: str) -> bytes:
    return vault.read_artifact(session, latest_reference(session, voice_id).id)


def latest_reference(session: Session, voice_id: str) -> VoiceArtifact:
    artifact = session.scalar(
        select(VoiceArtifact)
        .where(VoiceArtifact.voice_id == voice_id, VoiceArtifact.kind == REFERENCE_AUDIO)
        .order_by(VoiceArtifact.created_at.desc(), VoiceArtifact.id.desc())
    )
    if artifact is None:
        raise Conflict("Upload the voice's reference audio before recording the statement.")
    return artifact


def submit_statement(
    session: Session,
    *,
    vault: Vault,
    storage: Storage,
    verifier: SpeakerVerifier,
    thresholds: Thresholds,
    actor_id: str,
    consent_id: str,
    data: bytes,
) -> tuple[VerificationAttempt, ConsentVersion | None]:
    """Score the signer's recording of the statement; verify the version when it matches.

    Returns the attempt and, when verified, the new version in force.
    """
    consent, version = pending_version(session, actor_id, consent_id)
    recording = read_recording(data)
    replayed = session.scalar(
        select(VerificationAttempt.id).where(
            VerificationAttempt.recording_sha256 == recording.sha256
        )
    )
    if replayed is not None:
        # Without speech recognition the challenge words cannot be checked; a
        # byte-identical recording, though, is certainly not a new one.
        raise RecordingRejected(
            "This exact recording was already submitted; record the statement again.",
            reason=RejectionReason.REPLAYED,
        )
    artifact = latest_reference(session, consent.voice_id)
    reference = read_recording(vault.read_artifact(session, artifact.id), min_seconds=0.5)
    score = verifier.similarity(recording, reference)
    decision, reason = decide(score, accept=thresholds.accept, reject=thresholds.reject)
    if version.signer_kind is not SignerKind.ACTOR:
        # An agency's or estate's representative is not the voice on the reference:
        # the machine cannot decide either way, so an operator checks identity and authority.
        decision = Verification.OPERATOR_REVIEW
        reason = (
            f"signed by the {version.signer_kind.value} ({version.signer_name}); the recording is of "
            f"the representative, so an operator reviews it (speaker score {score:.2f})"
        )
    attempt_id = new_id("vfy")
    key = f"evidence/{consent.id}/{attempt_id}.bin"
    storage.put_in_transaction(session, key, vault.seal_evidence(data, context=attempt_id))
    attempt = VerificationAttempt(
        id=attempt_id,
        consent_version_id=version.id,
        recording_key=key,
        recording_sha256=recording.sha256,
        reference_artifact_id=artifact.id,
        duration_ms=round(recording.duration_seconds * 1000),
        score=round(score, 4),
        accept_threshold=thresholds.accept,
        reject_threshold=thresholds.reject,
        decision=decision,
        reason=reason,
        model=verifier.model_name,
        decided_by="voicehub: speaker verification",
    )
    return attempt, record_verification(session, consent=consent, version=version, attempt=attempt)


def evidence_recording(session: Session, vault: Vault, storage: Storage, attempt_id: str) -> bytes:
    """An attempt's statement recording, unsealed (for the operator's review)."""
    attempt = session.get(VerificationAttempt, attempt_id)
    if attempt is None or not attempt.recording_key:
        raise NotFound(f"No recording for verification attempt {attempt_id}.")
    return vault.open_evidence(storage.get(attempt.recording_key), context=attempt.id)


def consent_of_voice(session: Session, voice_id: str) -> Consent:
    consent = session.scalar(select(Consent).where(Consent.voice_id == voice_id))
    if consent is None:
        raise ConsentMissing("The actor has not given consent for this voice.")
    return consent


def reference_of_attempt(session: Session, vault: Vault, attempt_id: str) -> bytes:
    """The reference audio an attempt was scored against (for the operator's review)."""
    attempt = session.get(VerificationAttempt, attempt_id)
    if attempt is None or attempt.reference_artifact_id is None:
        raise NotFound(f"No reference audio recorded for verification attempt {attempt_id}.")
    return vault.read_artifact(session, attempt.reference_artifact_id)
