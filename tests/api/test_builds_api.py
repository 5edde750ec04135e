"""An actor's own voice, end to end through the API: record, consent, verify, build, serve, revoke.

Piper's "joe" stands in for the actor: it reads the recordings and the consent
statements. The build is the real coqui-tts recipe, two CPU steps on the
reduced model, run by a real queue worker.
"""

from __future__ import annotations

import io
import time
import wave
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from consent.service import create_actor, verify_in_person
from consent.tables import ConsentLogEntry
from models.builds.service import MODEL_ARTIFACT
from models.engines import SynthesisSettings
from models.serving import engine_for_voice
from models.tables import Voice, VoiceArtifact
from models.vault import ArtifactShredded
from tests.factories import (
    SeededStudio,
    SeededVoice,
    cast_project,
    one_line,
    seed_studio,
    seed_voice,
)
from voicehub.audio import wav_bytes
from voicehub.db import transaction
from voicehub.runtime import Runtime
from voicehub.tenancy.service import issue_api_key

LINES = (
    "This is my own voice, read slowly and clearly for the recording of this line.",
    "The quick brown fox jumps over the lazy dog.",
    "She sells sea shells by the sea shore.",
    "A voice is a gift, so treat it with care.",
)


def _terms(*, allows_voice_build: bool) -> dict[str, Any]:
    return {
        "signer_name": "Joe",
        "use_description": "Narration of the studio's English animated series and its trailers.",
        "allowed_uses": ["animation"],
        "languages": ["en"],
        "currency": "JPY",
        "prices_per_1k_chars_micros": {"animation": 1_000_000_000},
        "actor_share_bps": 7000,
        "starts_at": "2020-01-01T00:00:00Z",
        "allows_voice_build": allows_voice_build,
    }


@pytest.fixture
def build_settings(runtime: Runtime) -> Iterator[Runtime]:
    """Builds of a few seconds of audio, two CPU steps on the reduced model."""
    runtime.settings = runtime.settings.model_copy(
        update={
            "build_steps": 2,
            "build_batch_size": 2,
            "build_model_size": "reduced",
            "build_min_total_seconds": 8.0,
        }
    )
    yield runtime


class Actor:
    def __init__(self, client: TestClient, runtime: Runtime) -> None:
        with transaction(runtime.sessions) as session:
            actor = create_actor(session, "Joe")
            key = issue_api_key(session, actor_id=actor.id)
        self.client = client
        self.runtime = runtime
        self.headers = {"Authorization": f"Bearer {key.secret}"}

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.client.post(f"/v1/actor{path}", headers=self.headers, **kwargs)

    def get(self, path: str) -> Any:
        return self.client.get(f"/v1/actor{path}", headers=self.headers)

    def speak(self, text: str) -> bytes:
        result = self.runtime.engines.get("piper").synthesize(
            text, speaker="joe", settings=SynthesisSettings(seed=7)
        )
        return wav_bytes(result.audio, result.sample_rate)

    def upload(self, path: str, audio: bytes, **params: Any) -> Any:
        return self.client.post(
            f"/v1/actor{path}",
            content=audio,
            params=params,
            headers={**self.headers, "Content-Type": "audio/wav"},
        )

    def verify_by_voice(self, consent_id: str) -> str:
        """Read the statement in force aloud and upload it; the statement's text."""
        statement = self.get(f"/consents/{consent_id}/statement").json()
        result = self.upload(
            f"/consents/{consent_id}/statement-recording", self.speak(statement["text"])
        )
        assert result.status_code == 200, result.text
        assert result.json()["consent"]["current"]["verification"] == "verified", result.text
        text: str = statement["text"]
        return text


def _problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


def _wav_frames(data: bytes) -> int:
    with wave.open(io.BytesIO(data)) as wav:
        return wav.getnframes()


def test_an_actor_builds_their_voice_and_a_studio_speaks_with_it(
    client: TestClient, build_settings: Runtime, worker: None
) -> None:
    runtime = build_settings
    actor = Actor(client, runtime)
    created = actor.post("/voices", json={"name": "Joe (own voice)", "language": "en"})
    assert created.status_code == 201, created.text
    voice = created.json()
    assert voice["engine"] == "coqui" and voice["built"] is False
    voice_id = voice["id"]
    consent = actor.post(f"/voices/{voice_id}/consent", json=_terms(allows_voice_build=False))
    assert consent.status_code == 201, consent.text
    consent_id = consent.json()["id"]
    assert consent.json()["current"]["allows_voice_build"] is False

    build = actor.post(f"/voices/{voice_id}/builds").json()
    assert build["stage"] == "collecting" and build["min_total_seconds"] == 8.0
    base = f"/voices/{voice_id}/builds/{build['id']}"
    for index, text in enumerate(LINES):
        # The first recording is long enough to be the reference the statement is matched to.
        uploaded = actor.upload(
            f"{base}/recordings", actor.speak(text), transcript=text, reference=index == 0
        )
        assert uploaded.status_code == 201, uploaded.text
    listed = actor.get(f"{base}/recordings").json()["data"]
    assert [r["transcript"] for r in listed] == list(LINES)
    assert all(r["sample_rate"] == 22050 for r in listed)
    assert actor.get("/voices").json()["data"][0]["has_reference_audio"] is True

    # Not verified yet; then verified, but the terms do not allow training.
    _problem(actor.post(f"{base}/start"), 403, "consent_unverified")
    assert "train a voice model" not in actor.verify_by_voice(consent_id)
    _problem(actor.post(f"{base}/start"), 403, "voice_build_not_allowed")
    amended = actor.post(f"/consents/{consent_id}/versions", json=_terms(allows_voice_build=True))
    assert amended.json()["current"]["allows_voice_build"] is True
    _problem(actor.post(f"{base}/start"), 403, "consent_unverified")
    # The signer says it aloud: the recorded statement now includes the yes to training.
    assert "train a voice model on recordings of my voice" in actor.verify_by_voice(consent_id)
    receipt = actor.get(f"/consents/{consent_id}/receipt").json()
    assert receipt["receipt"]["terms"]["allows_voice_build"] is True

    started = actor.post(f"{base}/start")
    assert started.status_code == 202, started.text
    assert started.json()["stage"] == "queued" and started.json()["recorded_seconds"] >= 8.0
    _problem(actor.post(f"{base}/recordings", content=b""), 409, "build_not_collecting")

    seen: set[str] = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        build = actor.get(base).json()
        seen.add(build["stage"])
        if build["stage"] in ("done", "failed"):
            break
        time.sleep(0.1)
    assert build["stage"] == "done", build
    assert build["progress"] == 1.0 and build["steps_done"] == build["steps_total"] == 2
    assert {"training", "done"} <= seen
    assert build["base_sha256"] is None
    assert (
        build["consent_version_id"]
        == actor.get(f"/consents/{consent_id}/versions").json()["data"][-1]["id"]
    )
    built = actor.get(f"/voices/{voice_id}").json()
    assert built["built"] is True and built["model_sha256"] == build["model_sha256"]

    # A studio casts the voice and synthesizes a line with the built model.
    studio = seed_studio(runtime)
    assert _catalogued(client, studio, voice_id)["model_status"] == "ready"
    project = cast_project(
        client, studio, {"KEN": _seeded(voice_id, consent_id)}, one_line("Hello there, friend.")
    )
    take = client.post(f"/v1/lines/{project.line_ids[0]}/takes", json={}, headers=studio.headers)
    assert take.status_code == 201, take.text
    assert take.json()["engine"] == "coqui"
    assert take.json()["model_sha256"] == build["model_sha256"]
    audio = client.get(take.json()["audio_url"], headers=studio.headers)
    timing = client.get(take.json()["timing_url"], headers=studio.headers).json()
    frames = _wav_frames(audio.content)
    assert frames > 0
    assert sum(p["samples"] for p in timing["phonemes"]) == timing["num_samples"] == frames

    # Revoked at once: the model is shredded with the voice's key, loaded copy or not.
    revoked = actor.post(f"/consents/{consent_id}/revoke", json={"immediately": True})
    assert revoked.status_code == 200, revoked.text
    with runtime.sessions() as session:
        model = session.scalars(
            select(VoiceArtifact).where(
                VoiceArtifact.voice_id == voice_id, VoiceArtifact.kind == MODEL_ARTIFACT
            )
        ).one()
        with pytest.raises(ArtifactShredded):
            runtime.vault.read_artifact(session, model.id)
        stored = session.get(Voice, voice_id)
        assert stored is not None
        with pytest.raises(ArtifactShredded):
            engine_for_voice(session, runtime.engines, stored)
    again = client.post(f"/v1/lines/{project.line_ids[0]}/takes", json={}, headers=studio.headers)
    _problem(again, 403, "consent_revoked")
    # The recordings went with the key; their transcripts, plain text, went with the shred.
    assert [r["transcript"] for r in actor.get(f"{base}/recordings").json()["data"]] == [""] * len(
        LINES
    )
    with runtime.sessions() as session:
        shredded = [
            entry.payload
            for entry in session.scalars(
                select(ConsentLogEntry).where(ConsentLogEntry.event == "voice.shredded")
            )
            if entry.payload["voice_id"] == voice_id
        ]
        assert [payload["transcripts_blanked"] for payload in shredded] == [len(LINES)]


def _catalogued(client: TestClient, studio: SeededStudio, voice_id: str) -> dict[str, Any]:
    """The voice as the studio's catalogue (GET /v1/voices) shows it."""
    listed = client.get("/v1/voices", headers=studio.headers)
    assert listed.status_code == 200, listed.text
    voices: dict[str, dict[str, Any]] = {v["id"]: v for v in listed.json()["data"]}
    return voices[voice_id]


def _seeded(voice_id: str, consent_id: str) -> SeededVoice:
    """The voice as `cast_project` takes it (it reads only the voice id)."""
    return SeededVoice(actor_id="", voice_id=voice_id, consent_id=consent_id, actor_key="")


def test_recordings_are_checked_and_a_voice_without_a_model_is_not_spoken(
    client: TestClient, build_settings: Runtime
) -> None:
    runtime = build_settings
    actor = Actor(client, runtime)
    voice_id = actor.post("/voices", json={"name": "Joe", "language": "en"}).json()["id"]
    build = actor.post(f"/voices/{voice_id}/builds").json()
    base = f"/voices/{voice_id}/builds/{build['id']}"
    line = actor.speak(LINES[1])

    silent = wav_bytes(np.zeros(44100, dtype=np.float32), 22050)
    assert (
        _problem(
            actor.upload(f"{base}/recordings", silent, transcript="Hello."),
            422,
            "recording_unusable",
        )["reason"]
        == "silent"
    )
    unreadable = actor.upload(f"{base}/recordings", b"not a wav file at all", transcript="Hi.")
    assert _problem(unreadable, 422, "recording_unusable")["reason"] == "format"
    untranscribed = actor.upload(f"{base}/recordings", line)
    assert _problem(untranscribed, 422, "recording_unusable")["reason"] == "transcript_empty"
    assert actor.upload(f"{base}/recordings", line, transcript=LINES[1]).status_code == 201
    _problem(
        actor.upload(f"{base}/recordings", line, transcript=LINES[1]), 409, "recording_duplicate"
    )
    assert actor.get(base).json()["recordings"] == 1

    # Another actor sees none of it.
    stranger = Actor(client, runtime)
    _problem(stranger.get(base), 404, "not_found")
    _problem(stranger.upload(f"{base}/recordings", line, transcript=LINES[1]), 404, "not_found")

    # Consent in force, but nothing built: a studio's take is refused with the reason.
    consent = actor.post(f"/voices/{voice_id}/consent", json=_terms(allows_voice_build=True))
    consent_id = consent.json()["id"]
    with transaction(runtime.sessions) as session:
        verify_in_person(session, consent_id=consent_id, operator="test", note="ID checked")
    studio: SeededStudio = seed_studio(runtime)
    # The catalogue says so before any line is tried; a voice on an installed engine is ready.
    installed = seed_voice(runtime)
    unbuilt = _catalogued(client, studio, voice_id)
    assert unbuilt["engine"] == "coqui" and unbuilt["consent_status"] == "active"
    assert unbuilt["model_status"] == "not_built"
    assert _catalogued(client, studio, installed.voice_id)["model_status"] == "ready"
    project = cast_project(client, studio, {"KEN": _seeded(voice_id, consent_id)}, one_line())
    take = client.post(f"/v1/lines/{project.line_ids[0]}/takes", json={}, headers=studio.headers)
    _problem(take, 409, "voice_not_built")
    # Builds are for voices made to be built, not for the bundled engines' voices.
    _problem(actor.post("/voices/voice_nope/builds"), 404, "not_found")
