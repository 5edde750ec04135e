"""Consent statements, recording uploads and the real speaker-embedding match.

The bundled voices stand in for signers: two Piper "joe" sentences are the
same person, a Kokoro "jf_alpha" sentence is someone else.
"""

from __future__ import annotations

import datetime as dt
import io
import struct
import subprocess
import sys
import wave
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
import pytest

from consent.speaker import SpeakerVerifier, decide
from consent.tables import SignerKind, Verification
from consent.verification import (
    Recording,
    RecordingRejected,
    RejectionReason,
    Statement,
    consent_statement,
    read_recording,
)
from models.engines.base import SynthesisSettings
from models.engines.registry import EngineRegistry
from voicehub.audio import wav_bytes
from voicehub.errors import InvalidInput
from voicehub.settings import Settings

ACCEPT = Settings().verify_accept_threshold
REJECT = Settings().verify_reject_threshold


def statement_for(**overrides: object) -> Statement:
    terms: dict[str, object] = {
        "actor_name": "Rin Mori",
        "signer_name": "Rin Mori",
        "signer_kind": SignerKind.ACTOR,
        "language": "en",
        "uses": ["animation", "games"],
        "languages": ["en"],
        "territories": ["JP"],
        "ends_at": dt.datetime(2027, 12, 31, tzinfo=dt.UTC),
    }
    terms.update(overrides)
    return consent_statement(**terms)  # type: ignore[arg-type]


# --- Statements ----------------------------------------------------------------


def test_english_statement_names_voicehub_the_actor_the_scope_and_the_challenge() -> None:
    statement = statement_for()
    assert statement.language == "en"
    assert statement.text.startswith(
        "I, Rin Mori, agree that VoiceHub may use recordings of my voice"
    )
    assert (
        "for animation and games, in English, in Japan, until 31 December 2027." in statement.text
    )
    assert "I can withdraw this consent at any time." in statement.text
    assert statement.text.endswith(f"My challenge words are: {statement.challenge}.")
    words = statement.challenge.split(", ")
    assert len(words) == 3
    assert len(set(words)) == 3


def test_open_ended_worldwide_statement_says_so() -> None:
    statement = statement_for(ends_at=None, territories=["WW"], languages=["en", "ja"])
    assert "in English and Japanese, anywhere in the world, until I withdraw it." in statement.text


def test_an_actor_signing_under_another_name_names_both() -> None:
    statement = statement_for(actor_name="Rin", signer_name="Rin Mori")
    assert statement.text.startswith("I, Rin Mori, credited as Rin, agree")
    assert "recordings of my voice" in statement.text


def test_agency_and_estate_sign_for_the_actor() -> None:
    # The kind may arrive as the stored string as well as the enum.
    agency = statement_for(signer_kind="agency", signer_name="Kenji Sato")
    estate = statement_for(signer_kind=SignerKind.ESTATE, signer_name="Aya Mori")
    assert agency.text.startswith("I, Kenji Sato, for the agency of Rin Mori, agree")
    assert "recordings of Rin Mori's voice" in agency.text
    assert estate.text.startswith("I, Aya Mori, for the estate of Rin Mori, agree")


def test_two_statements_get_different_challenges() -> None:
    challenges = {statement_for().challenge for _ in range(5)}
    # 249,984 phrases: five draws colliding down to one is a broken generator.
    assert len(challenges) > 1


def test_a_given_challenge_rebuilds_the_same_text() -> None:
    first = statement_for()
    again = statement_for(challenge=first.challenge)
    assert again == first


def test_japanese_statement_is_in_japanese() -> None:
    statement = statement_for(actor_name="森りん", signer_name="森りん", language="ja-JP")
    assert statement.language == "ja"
    assert statement.text.startswith("私、森りんは、VoiceHubが私の声の録音を使い、")
    assert "アニメーション・ゲームのための合成音声" in statement.text
    assert "言語は英語、地域は日本、期間は2027年12月31日までです。" in statement.text
    assert "撤回できます" in statement.text
    assert statement.challenge in statement.text
    assert "、" in statement.challenge
    assert not any("a" <= char <= "z" for char in statement.challenge)


def test_other_languages_fall_back_to_english() -> None:
    statement = statement_for(language="fr")
    assert statement.language == "en"
    assert "agree that VoiceHub" in statement.text


def test_a_statement_needs_a_scope() -> None:
    with pytest.raises(InvalidInput) as caught:
        statement_for(uses=[])
    assert caught.value.extra["fields"] == ["uses"]


# --- Recordings ----------------------------------------------------------------

RATE = 16_000


def tone(seconds: float, *, amplitude: float = 0.3, rate: int = RATE) -> npt.NDArray[np.float32]:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * 220.0 * t)).astype(np.float32)


def rejection(data: bytes) -> RecordingRejected:
    with pytest.raises(RecordingRejected) as caught:
        read_recording(data)
    assert caught.value.status == 422
    assert caught.value.code == "recording_rejected"
    assert caught.value.extra["reason"] == caught.value.reason
    return caught.value


def test_a_mono_16_bit_wav_is_read_back() -> None:
    audio = tone(4.0)
    data = wav_bytes(audio, RATE)
    recording = read_recording(data)
    assert recording.sample_rate == RATE
    assert recording.duration_seconds == pytest.approx(4.0)
    assert recording.samples.dtype == np.float32
    assert np.abs(recording.samples - audio).max() < 1e-4
    assert len(recording.sha256) == 64
    assert recording.sha256 != read_recording(wav_bytes(audio * 0.5, RATE)).sha256


def wav_24_bit_stereo(left: npt.NDArray[np.float32], right: npt.NDArray[np.float32]) -> bytes:
    ints = (np.stack([left, right], axis=1).reshape(-1) * 8_388_607).astype("<i4")
    triples = ints.view(np.uint8).reshape(-1, 4)[:, :3]
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(3)
        out.setframerate(48_000)
        out.writeframes(triples.tobytes())
    return buffer.getvalue()


def test_stereo_24_bit_is_mixed_down_to_mono() -> None:
    left = tone(3.5, amplitude=0.6, rate=48_000)
    right = -0.5 * left
    recording = read_recording(wav_24_bit_stereo(left, right))
    assert recording.sample_rate == 48_000
    assert recording.samples.ndim == 1
    assert recording.duration_seconds == pytest.approx(3.5)
    # (l + r) / 2 = 0.25 * l: a mix-down, not the left channel alone.
    assert np.abs(recording.samples - 0.25 * left).max() < 1e-5


def wav_float32(audio: npt.NDArray[np.float32], rate: int) -> bytes:
    pcm = audio.astype("<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, rate, rate * 4, 4, 32)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(pcm)) + pcm
    return b"RIFF" + struct.pack("<I", len(body)) + body


def test_32_bit_float_wav_is_read() -> None:
    audio = tone(3.2)
    recording = read_recording(wav_float32(audio, RATE))
    assert np.array_equal(recording.samples, audio)


def test_silence_is_rejected() -> None:
    error = rejection(wav_bytes(np.zeros(RATE * 5, dtype=np.float32), RATE))
    assert error.reason is RejectionReason.SILENT
    assert "silent" in error.detail


def test_a_quiet_room_is_rejected_as_silent() -> None:
    hiss = np.random.default_rng(1).normal(0.0, 10 ** (-60 / 20), RATE * 5).astype(np.float32)
    assert rejection(wav_bytes(hiss, RATE)).reason is RejectionReason.SILENT


def test_one_click_in_a_long_silence_is_rejected_as_silent() -> None:
    audio = np.zeros(RATE * 30, dtype=np.float32)
    audio[RATE : RATE + RATE // 2] = tone(0.5, amplitude=0.9)
    assert rejection(wav_bytes(audio, RATE)).reason is RejectionReason.SILENT


def test_a_one_second_clip_is_too_short() -> None:
    error = rejection(wav_bytes(tone(1.0), RATE))
    assert error.reason is RejectionReason.TOO_SHORT
    assert "1.0 seconds" in error.detail
    assert "at least 3 seconds" in error.detail


def test_a_200_second_file_is_too_long() -> None:
    error = rejection(wav_bytes(tone(200.0, rate=8_000), 8_000))
    assert error.reason is RejectionReason.TOO_LONG
    assert "200.0 seconds" in error.detail


@pytest.mark.parametrize(
    "data",
    [
        np.random.default_rng(2).bytes(50_000),
        b"",
        b"ID3\x04" + bytes(5000),
        b"RIFF\x00\x00\x00\x00WAVEfmt ",
    ],
    ids=["random bytes", "empty", "mp3 header", "truncated header"],
)
def test_what_is_not_a_wav_is_rejected_as_format(data: bytes) -> None:
    error = rejection(data)
    assert error.reason is RejectionReason.FORMAT
    assert "WAV" in error.detail


def test_an_8_bit_wav_is_an_unsupported_encoding() -> None:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(1)
        out.setframerate(RATE)
        out.writeframes(bytes([128]) * RATE * 4)
    error = rejection(buffer.getvalue())
    assert error.reason is RejectionReason.FORMAT
    assert "8-bit" in error.detail


# --- The speaker match ---------------------------------------------------------


def test_importing_the_verifier_does_not_import_torch() -> None:
    # Checked in a clean interpreter: this test process may have torch already.
    probe = "import sys, consent.speaker; print('torch' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


@pytest.fixture(scope="module")
def registry() -> Iterator[EngineRegistry]:
    yield EngineRegistry.load(["piper", "kokoro"], cache_dir=None)


@pytest.fixture(scope="module")
def verifier() -> SpeakerVerifier:
    loaded = SpeakerVerifier()
    loaded.load()
    return loaded


def rendered(registry: EngineRegistry, engine: str, speaker: str, text: str) -> Recording:
    result = registry.get(engine).synthesize(text, speaker=speaker, settings=SynthesisSettings())
    return read_recording(wav_bytes(result.audio, result.sample_rate))


@pytest.fixture(scope="module")
def joe_reference(registry: EngineRegistry) -> Recording:
    return rendered(
        registry,
        "piper",
        "joe",
        "The quick brown fox jumps over the lazy dog, then runs back across the meadow.",
    )


@pytest.fixture(scope="module")
def joe_statement(registry: EngineRegistry) -> Recording:
    return rendered(
        registry,
        "piper",
        "joe",
        "I agree that VoiceHub may use recordings of my voice to create a synthetic voice.",
    )


@pytest.fixture(scope="module")
def alpha_statement(registry: EngineRegistry) -> Recording:
    return rendered(
        registry,
        "kokoro",
        "jf_alpha",
        "私は、VoiceHubが私の声の録音を使い、合成音声を作ることに同意します。",
    )


def test_the_model_is_named() -> None:
    assert SpeakerVerifier().model_name.startswith("resemblyzer-0.1.")


def test_embeddings_are_unit_vectors(verifier: SpeakerVerifier, joe_statement: Recording) -> None:
    embedding = verifier.embed(joe_statement)
    assert embedding.shape == (256,)
    assert float(np.linalg.norm(embedding)) == pytest.approx(1.0, abs=1e-5)


def test_the_same_speaker_is_verified(
    verifier: SpeakerVerifier, joe_reference: Recording, joe_statement: Recording
) -> None:
    score = verifier.similarity(joe_statement, joe_reference)
    assert score >= ACCEPT
    decision, reason = decide(score, accept=ACCEPT, reject=REJECT)
    assert decision is Verification.VERIFIED
    assert f"{score:.2f}" in reason


def test_another_speaker_is_rejected(
    verifier: SpeakerVerifier, joe_reference: Recording, alpha_statement: Recording
) -> None:
    score = verifier.similarity(alpha_statement, joe_reference)
    assert score < REJECT
    decision, reason = decide(score, accept=ACCEPT, reject=REJECT)
    assert decision is Verification.REJECTED
    assert "does not match" in reason


def test_similarity_is_symmetric(
    verifier: SpeakerVerifier, joe_reference: Recording, alpha_statement: Recording
) -> None:
    forward = verifier.similarity(alpha_statement, joe_reference)
    backward = verifier.similarity(joe_reference, alpha_statement)
    assert forward == pytest.approx(backward, abs=1e-6)


def test_a_recording_without_speech_is_refused_before_scoring(verifier: SpeakerVerifier) -> None:
    # A steady 6 kHz whistle: loud enough for the level check, nothing the VAD calls a voice.
    whistle = (0.3 * np.sin(2 * np.pi * 6000.0 * np.arange(RATE * 4) / RATE)).astype(np.float32)
    recording = read_recording(wav_bytes(whistle, RATE))
    with pytest.raises(RecordingRejected) as caught:
        verifier.embed(recording)
    assert caught.value.reason is RejectionReason.SILENT


def test_embedding_before_load_says_the_model_is_not_loaded(joe_statement: Recording) -> None:
    with pytest.raises(Exception, match="not loaded") as caught:
        SpeakerVerifier().embed(joe_statement)
    assert getattr(caught.value, "status", None) == 503


# --- Decisions -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (0.80, Verification.VERIFIED),
        (0.95, Verification.VERIFIED),
        (0.7999, Verification.OPERATOR_REVIEW),
        (0.65, Verification.OPERATOR_REVIEW),
        (0.6499, Verification.REJECTED),
        (-0.2, Verification.REJECTED),
    ],
)
def test_decide_boundaries(score: float, expected: Verification) -> None:
    assert decide(score, accept=0.80, reject=0.65)[0] is expected


def test_decide_reasons_name_the_score_and_thresholds() -> None:
    assert decide(0.51, accept=0.80, reject=0.65)[1] == (
        "the voice in the recording does not match the voice's reference audio "
        "(score 0.51, below 0.65)"
    )
    review = decide(0.72, accept=0.80, reject=0.65)[1]
    assert "score 0.72, between 0.65 and 0.80" in review
    assert "operator" in review
    assert "score 0.92, at or above 0.80" in decide(0.92, accept=0.80, reject=0.65)[1]


def test_a_score_just_under_a_threshold_is_not_printed_as_the_threshold() -> None:
    reason = decide(0.7999, accept=0.80, reject=0.65)[1]
    assert "score 0.7999" in reason


def test_decide_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        decide(float("nan"), accept=0.80, reject=0.65)
    with pytest.raises(ValueError):
        decide(0.7, accept=0.60, reject=0.65)
