"""Pause, revoke (with and without notice), expiry, crypto-shredding and studio notices."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from consent.identity import reference_audio, upload_reference_audio
from consent.service import expire_and_shred_due
from consent.tables import ConsentStatus
from models.engines import SynthesisSettings
from models.tables import Voice, VoiceKey
from models.vault import ArtifactShredded
from tests.factories import cast_project, one_line, seed_studio, seed_voice
from voicehub.audio import wav_bytes
from voicehub.db import transaction, utcnow
from voicehub.metering.tables import UsageRecord
from voicehub.production.tables import Take
from voicehub.runtime import Runtime


def _reference(runtime: Runtime) -> bytes:
    result = runtime.engines.get("piper").synthesize(
        "This is a calm and steady passage, read aloud slowly for the reference recording of my voice.",
        speaker="joe",
        settings=SynthesisSettings(),
    )
    return wav_bytes(result.audio, result.sample_rate)


def _upload_reference(runtime: Runtime, actor_id: str, voice_id: str) -> None:
    with transaction(runtime.sessions) as session:
        upload_reference_audio(
            session, runtime.vault, actor_id=actor_id, voice_id=voice_id, data=_reference(runtime)
        )


def test_revoking_without_notice_stops_everything_and_shreds_the_voice(
    client: TestClient, runtime: Runtime
) -> None:
    studio = seed_studio(runtime)
    voice = seed_voice(runtime)
    _upload_reference(runtime, voice.actor_id, voice.voice_id)
    project = cast_project(client, studio, {"KEN": voice}, one_line())
    take = client.post(f"/v1/lines/{project.line_ids[0]}/takes", headers=studio.headers).json()

    revoked = client.post(
        f"/v1/actor/consents/{voice.consent_id}/revoke",
        json={"reason": "retiring"},
        headers=voice.actor_headers,
    )

    assert revoked.json()["current"]["notice_ends_at"] is None
    assert (
        client.post(f"/v1/lines/{project.line_ids[0]}/takes", headers=studio.headers).json()["code"]
        == "consent_revoked"
    )
    with runtime.sessions() as session:
        voice_row = session.get(Voice, voice.voice_id)
        key = session.get(VoiceKey, voice.voice_id)
        assert voice_row is not None and voice_row.shredded_at is not None
        assert key is not None and key.wrapped_key is None and key.destroyed_at is not None
        with pytest.raises(ArtifactShredded):
            reference_audio(session, runtime.vault, voice.voice_id)
        # History stays: the take, its usage record and its audio are intact.
        assert session.get(Take, take["id"]) is not None
        assert session.scalar(select(func.count()).select_from(UsageRecord)) == 1
    assert client.get(f"/v1/takes/{take['id']}/audio", headers=studio.headers).status_code == 200
    event = client.get("/v1/events", headers=studio.headers).json()["data"][-1]
    assert event["type"] == "consent.revoked"
    assert event["data"]["voice_id"] == voice.voice_id and event["data"]["notice_ends_at"] is None


def test_a_notice_period_lets_existing_projects_finish_and_refuses_new_ones(
    client: TestClient, runtime: Runtime
) -> None:
    studio = seed_studio(runtime)
    voice = seed_voice(runtime, notice_period_days=30)
    _upload_reference(runtime, voice.actor_id, voice.voice_id)
    existing = cast_project(client, studio, {"KEN": voice}, one_line())

    revoked = client.post(
        f"/v1/actor/consents/{voice.consent_id}/revoke", headers=voice.actor_headers
    ).json()

    notice_ends = dt.datetime.fromisoformat(revoked["current"]["notice_ends_at"])
    assert dt.timedelta(days=29, hours=23) < notice_ends - utcnow() <= dt.timedelta(days=30)
    listed = {v["id"]: v for v in client.get("/v1/voices", headers=studio.headers).json()["data"]}
    assert listed[voice.voice_id]["consent_status"] == "revoked"
    assert listed[voice.voice_id]["notice_ends_at"] == revoked["current"]["notice_ends_at"]
    assert (
        client.post(f"/v1/lines/{existing.line_ids[0]}/takes", headers=studio.headers).status_code
        == 201
    )
    newcomer = cast_project(client, studio, {"KEN": voice}, one_line("A new project."))
    refused = client.post(f"/v1/lines/{newcomer.line_ids[0]}/takes", headers=studio.headers).json()
    assert refused["code"] == "consent_revoked" and refused["notice_ends_at"]
    with runtime.sessions() as session:
        assert session.get(Voice, voice.voice_id).shredded_at is None  # type: ignore[union-attr]

    # When the notice ends, the sweep destroys the voice; the old project stops too.
    with transaction(runtime.sessions) as session:
        done = expire_and_shred_due(
            session, runtime.consent_effects, now=notice_ends + dt.timedelta(seconds=1)
        )
    assert done == [voice.voice_id]
    with runtime.sessions() as session:
        assert session.get(Voice, voice.voice_id).shredded_at is not None  # type: ignore[union-attr]


def test_cutting_the_notice_short(client: TestClient, runtime: Runtime) -> None:
    studio = seed_studio(runtime)
    voice = seed_voice(runtime, notice_period_days=90)
    existing = cast_project(client, studio, {"KEN": voice}, one_line())
    client.post(f"/v1/actor/consents/{voice.consent_id}/revoke", headers=voice.actor_headers)
    now = client.post(
        f"/v1/actor/consents/{voice.consent_id}/revoke",
        json={"immediately": True},
        headers=voice.actor_headers,
    )
    assert now.status_code == 200 and now.json()["current"]["notice_ends_at"] is None
    assert (
        client.post(f"/v1/lines/{existing.line_ids[0]}/takes", headers=studio.headers).json()[
            "code"
        ]
        == "consent_revoked"
    )
    again = client.post(
        f"/v1/actor/consents/{voice.consent_id}/revoke", headers=voice.actor_headers
    )
    assert again.status_code == 409


def test_the_sweep_expires_consents_at_their_end_date(client: TestClient, runtime: Runtime) -> None:
    studio = seed_studio(runtime)
    ends = utcnow() + dt.timedelta(days=3)
    voice = seed_voice(runtime, ends_at=ends)
    project = cast_project(client, studio, {"KEN": voice}, one_line())
    assert (
        client.post(f"/v1/lines/{project.line_ids[0]}/takes", headers=studio.headers).status_code
        == 201
    )

    with transaction(runtime.sessions) as session:
        assert (
            expire_and_shred_due(session, runtime.consent_effects, now=ends - dt.timedelta(hours=1))
            == []
        )
    with transaction(runtime.sessions) as session:
        done = expire_and_shred_due(
            session, runtime.consent_effects, now=ends + dt.timedelta(minutes=1)
        )
    assert len(done) == 1
    consent = client.get("/v1/actor/consents", headers=voice.actor_headers).json()["data"][0]
    assert consent["current"]["status"] == ConsentStatus.EXPIRED.value
    assert [e["type"] for e in client.get("/v1/events", headers=studio.headers).json()["data"]] == [
        "consent.expired"
    ]
    with runtime.sessions() as session:
        assert session.get(Voice, voice.voice_id).shredded_at is not None  # type: ignore[union-attr]
    with transaction(runtime.sessions) as session:
        assert (
            expire_and_shred_due(session, runtime.consent_effects, now=ends + dt.timedelta(days=1))
            == []
        )


def test_pause_notifies_every_studio_that_cast_the_voice(
    client: TestClient, runtime: Runtime
) -> None:
    one, two, bystander = (
        seed_studio(runtime, "One"),
        seed_studio(runtime, "Two"),
        seed_studio(runtime, "Three"),
    )
    voice = seed_voice(runtime)
    cast_project(client, one, {"KEN": voice}, one_line())
    cast_project(client, two, {"AMI": voice}, one_line(character="AMI"))
    client.post(
        f"/v1/actor/consents/{voice.consent_id}/pause",
        json={"reason": "strike"},
        headers=voice.actor_headers,
    )
    for studio in (one, two):
        (event,) = client.get("/v1/events", headers=studio.headers).json()["data"]
        assert event["type"] == "consent.paused" and event["data"]["reason"] == "strike"
    assert client.get("/v1/events", headers=bystander.headers).json()["data"] == []
