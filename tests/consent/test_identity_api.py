"""Proving it was them, through the actor API, with the real speaker-embedding model.

The bundled voices stand in for recordings: Piper's "joe" reads the reference
and the statement (same speaker); Kokoro's "jf_alpha" plays another speaker.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from consent.receipts import verify_receipt
from consent.tables import SignerKind
from models.engines import SynthesisSettings
from tests.factories import JAPANESE, SeededVoice, seed_voice
from voicehub.audio import wav_bytes
from voicehub.cli import main
from voicehub.runtime import Runtime
from voicehub.settings import get_settings

REFERENCE = (
    "This is a calm and steady passage, read aloud slowly for the reference recording of my voice."
)


def _speak(runtime: Runtime, engine: str, speaker: str, text: str) -> bytes:
    result = runtime.engines.get(engine).synthesize(
        text, speaker=speaker, settings=SynthesisSettings()
    )
    return wav_bytes(result.audio, result.sample_rate)


def _record_statement(client: TestClient, voice: SeededVoice, audio: bytes) -> dict[str, object]:
    response = client.post(
        f"/v1/actor/consents/{voice.consent_id}/statement-recording",
        content=audio,
        headers={**voice.actor_headers, "Content-Type": "audio/wav"},
    )
    assert response.status_code in (200, 422), response.text
    return response.json()  # type: ignore[no-any-return]


def _upload_reference(client: TestClient, runtime: Runtime, voice: SeededVoice) -> None:
    response = client.post(
        f"/v1/actor/voices/{voice.voice_id}/reference-audio",
        content=_speak(runtime, "piper", "joe", REFERENCE),
        headers={**voice.actor_headers, "Content-Type": "audio/wav"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["kind"] == "reference_audio"


def test_the_same_voice_verifies_the_consent(client: TestClient, runtime: Runtime) -> None:
    voice = seed_voice(runtime, verified=False)
    _upload_reference(client, runtime, voice)
    statement = client.get(
        f"/v1/actor/consents/{voice.consent_id}/statement", headers=voice.actor_headers
    ).json()
    assert statement["verification"] == "pending" and "VoiceHub" in statement["text"]

    result = _record_statement(client, voice, _speak(runtime, "piper", "joe", statement["text"]))

    attempt = result["attempt"]
    assert attempt["decision"] == "verified"  # type: ignore[index]
    assert attempt["score"] >= 0.80 and attempt["accept_threshold"] == 0.80  # type: ignore[index, operator]
    assert "resemblyzer" in attempt["model"].lower()  # type: ignore[index, union-attr]
    assert result["consent"]["current"]["verification"] == "verified"  # type: ignore[index]
    again = client.post(
        f"/v1/actor/consents/{voice.consent_id}/statement-recording",
        content=b"RIFF",
        headers=voice.actor_headers,
    )
    assert again.status_code == 409, "a verified version needs no more recordings"


def test_another_speaker_is_rejected_with_the_reason(client: TestClient, runtime: Runtime) -> None:
    voice = seed_voice(runtime, verified=False)
    _upload_reference(client, runtime, voice)
    impostor = _speak(
        runtime,
        "kokoro",
        "jf_alpha",
        "私は、この声の使用に同意します。録音はボイスハブのためのものです。",
    )

    result = _record_statement(client, voice, impostor)

    attempt = result["attempt"]
    assert attempt["decision"] == "rejected"  # type: ignore[index]
    assert attempt["score"] < 0.65  # type: ignore[index, operator]
    assert "does not match" in attempt["reason"]  # type: ignore[index, operator]
    assert result["consent"]["current"]["verification"] == "pending"  # type: ignore[index]
    attempts = client.get(
        f"/v1/actor/consents/{voice.consent_id}/verification-attempts", headers=voice.actor_headers
    ).json()["data"]
    assert [a["decision"] for a in attempts] == ["rejected"]


def test_unusable_recordings_are_refused_with_the_reason(
    client: TestClient, runtime: Runtime
) -> None:
    voice = seed_voice(runtime, verified=False)
    _upload_reference(client, runtime, voice)
    silent = wav_bytes(__import__("numpy").zeros(24000 * 5, dtype="float32"), 24000)
    short = _speak(runtime, "piper", "joe", "Yes.")
    for audio, reason in (
        (b"not a wav at all", "format"),
        (silent, "silent"),
        (short, "too_short"),
    ):
        body = _record_statement(client, voice, audio)
        assert (body["code"], body["reason"]) == ("recording_rejected", reason)


def test_between_the_thresholds_an_operator_decides(
    client: TestClient, runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime.settings.verify_accept_threshold = 0.99
    runtime.settings.verify_reject_threshold = 0.10
    voice = seed_voice(runtime, verified=False)
    _upload_reference(client, runtime, voice)
    statement = client.get(
        f"/v1/actor/consents/{voice.consent_id}/statement", headers=voice.actor_headers
    ).json()
    recording = _speak(runtime, "piper", "joe", statement["text"])
    attempt: dict[str, str] = _record_statement(client, voice, recording)["attempt"]  # type: ignore[assignment]
    assert attempt["decision"] == "operator_review"

    # The operator gets both recordings, then decides, with the real CLI.
    for name, value in {
        "VOICEHUB_DATABASE_URL": runtime.settings.resolved_database_url,
        "VOICEHUB_DATA_DIR": str(runtime.settings.data_dir),
        "VOICEHUB_QUEUE_URL": runtime.settings.queue_url,
        "VOICEHUB_QUEUE_NAME": runtime.settings.queue_name,
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        out, ref = tmp_path / "statement.wav", tmp_path / "reference.wav"
        exported = main(
            ["consent", "recording", attempt["id"], "--out", str(out), "--reference-out", str(ref)]
        )
        assert exported == 0
        assert out.read_bytes() == recording, "the evidence is the recording as uploaded"
        assert ref.read_bytes()[:4] == b"RIFF" and ref.read_bytes() != recording
        decided = main(
            [
                "consent",
                "review",
                attempt["id"],
                "--accept",
                "--operator",
                "ops@voicehub",
                "--note",
                "ok",
            ]
        )
        assert decided == 0
    finally:
        get_settings.cache_clear()
    consent = client.get("/v1/actor/consents", headers=voice.actor_headers).json()["data"][0]
    assert consent["current"]["verification"] == "verified"

    receipt = client.get(
        f"/v1/actor/consents/{voice.consent_id}/receipt", headers=voice.actor_headers
    ).json()
    key = client.get("/v1/receipt-key").json()
    body = verify_receipt(receipt, key["public_key_pem"].encode())
    assert body["terms"]["verification"] == "verified"
    assert body["verification"]["decided_by"] == "operator:ops@voicehub"
    receipt["receipt"]["terms"]["actor_share_bps"] = 9999
    (tmp_path / "receipt.json").write_text(json.dumps(receipt))
    try:
        verify_receipt(receipt, key["public_key_pem"].encode())
    except Exception as error:
        assert getattr(error, "code", None) == "receipt_invalid"
    else:
        raise AssertionError("a tampered receipt verified")


def test_reference_audio_is_validated_and_scoped(client: TestClient, runtime: Runtime) -> None:
    mine, theirs = (
        seed_voice(runtime, name="Mine"),
        seed_voice(runtime, name="Theirs", voice=JAPANESE),
    )
    response = client.post(
        f"/v1/actor/voices/{theirs.voice_id}/reference-audio",
        content=_speak(runtime, "piper", "joe", REFERENCE),
        headers=mine.actor_headers,
    )
    assert response.status_code == 404
    junk = client.post(
        f"/v1/actor/voices/{mine.voice_id}/reference-audio",
        content=b"MP3?",
        headers=mine.actor_headers,
    )
    assert junk.status_code == 422 and junk.json()["reason"] == "format"


def test_an_agency_signature_always_goes_to_an_operator(
    client: TestClient, runtime: Runtime
) -> None:
    voice = seed_voice(runtime, verified=False, signer_kind=SignerKind.AGENCY)
    _upload_reference(client, runtime, voice)
    statement = client.get(
        f"/v1/actor/consents/{voice.consent_id}/statement", headers=voice.actor_headers
    ).json()
    assert "agency" in statement["text"].lower() or "事務所" in statement["text"]
    attempt = _record_statement(client, voice, _speak(runtime, "piper", "joe", statement["text"]))[
        "attempt"
    ]
    assert attempt["decision"] == "operator_review"  # type: ignore[index]
    assert "agency" in attempt["reason"]  # type: ignore[index, operator]


def test_a_replayed_recording_is_refused(client: TestClient, runtime: Runtime) -> None:
    voice = seed_voice(runtime, verified=False)
    _upload_reference(client, runtime, voice)
    impostor = _speak(
        runtime,
        "kokoro",
        "jf_alpha",
        "私は、この声の使用に同意します。録音はボイスハブのためのものです。",
    )
    assert _record_statement(client, voice, impostor)["attempt"]["decision"] == "rejected"  # type: ignore[index]
    again = _record_statement(client, voice, impostor)
    assert (again["code"], again["reason"]) == ("recording_rejected", "replayed")


def test_the_receipt_never_pairs_new_terms_with_an_old_verification(
    client: TestClient, runtime: Runtime
) -> None:
    voice = seed_voice(runtime)
    key = client.get("/v1/receipt-key").json()["public_key_pem"].encode()
    before = verify_receipt(
        client.get(
            f"/v1/actor/consents/{voice.consent_id}/receipt", headers=voice.actor_headers
        ).json(),
        key,
    )
    assert before["verification"]["status"] == "verified" and before["version"] == 2
    current = before["terms"]
    client.post(
        f"/v1/actor/consents/{voice.consent_id}/versions",
        json={
            "signer_name": current["signer_name"],
            "use_description": current["use_description"],
            "allowed_uses": ["animation"],
            "languages": ["en"],
            "currency": "JPY",
            "prices_per_1k_chars_micros": {"animation": 5},
            "actor_share_bps": 8000,
        },
        headers=voice.actor_headers,
    )
    after = verify_receipt(
        client.get(
            f"/v1/actor/consents/{voice.consent_id}/receipt", headers=voice.actor_headers
        ).json(),
        key,
    )
    assert after["version"] == 3 and after["terms"]["actor_share_bps"] == 8000
    assert after["verification"] == {"status": "pending"}


def test_actor_listings_and_bad_filters(client: TestClient, runtime: Runtime) -> None:
    voice = seed_voice(runtime)
    mine = client.get("/v1/actor/voices", headers=voice.actor_headers).json()["data"]
    assert [(v["id"], v["consent_id"], v["has_reference_audio"]) for v in mine] == [
        (voice.voice_id, voice.consent_id, False)
    ]
    bad = client.get("/v1/actor/approvals", params={"status": "bogus"}, headers=voice.actor_headers)
    assert bad.status_code == 422 and bad.json()["code"] == "validation_error"
