"""The consent gate refuses, fail-closed, with a stable code — and writes nothing."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from consent.errors import ConsentRevoked
from consent.service import change_status, create_actor
from consent.tables import ConsentStatus
from models.engines import Engine, EngineInfo, SynthesisResult, SynthesisSettings
from models.engines.registry import EngineRegistry
from models.voices import register_voice
from tests.factories import SeededStudio, cast_project, one_line, seed_studio, seed_voice
from voicehub.db import transaction, utcnow
from voicehub.metering.tables import UsageRecord
from voicehub.production.tables import Take
from voicehub.runtime import Runtime
from voicehub.synthesis.service import synthesize_line


def _counts(runtime: Runtime) -> tuple[int, int]:
    with runtime.sessions() as session:
        return (
            session.scalar(select(func.count()).select_from(Take)) or 0,
            session.scalar(select(func.count()).select_from(UsageRecord)) or 0,
        )


def _synthesize(
    client: TestClient, studio: SeededStudio, line_id: str
) -> tuple[int, dict[str, object]]:
    response = client.post(f"/v1/lines/{line_id}/takes", headers=studio.headers)
    return response.status_code, response.json()


def test_revoking_through_the_api_stops_the_very_next_synthesis(
    client: TestClient, runtime: Runtime
) -> None:
    studio = seed_studio(runtime)
    voice = seed_voice(runtime)
    project = cast_project(client, studio, {"KEN": voice}, one_line())
    assert _synthesize(client, studio, project.line_ids[0])[0] == 201

    revoked = client.post(
        f"/v1/actor/consents/{voice.consent_id}/revoke",
        json={"reason": "no more"},
        headers=voice.actor_headers,
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["current"]["status"] == "revoked"
    assert revoked.json()["current"]["version"] == 3  # granted, verified, revoked

    status, body = _synthesize(client, studio, project.line_ids[0])
    assert status == 403
    assert body["code"] == "consent_revoked"
    assert "revoked" in str(body["detail"])
    assert _counts(runtime) == (1, 1), "the refused line made no take and no charge"

    history = client.get(
        f"/v1/actor/consents/{voice.consent_id}/versions", headers=voice.actor_headers
    ).json()
    assert [(v["status"], v["verification"]) for v in history["data"]] == [
        ("active", "pending"),
        ("active", "verified"),
        ("revoked", "verified"),
    ]
    again = client.post(
        f"/v1/actor/consents/{voice.consent_id}/resume", headers=voice.actor_headers
    )
    assert again.status_code == 409, "a revoked consent cannot be resumed"


def test_pause_and_resume(client: TestClient, runtime: Runtime) -> None:
    studio = seed_studio(runtime)
    voice = seed_voice(runtime)
    project = cast_project(client, studio, {"KEN": voice}, one_line())
    client.post(
        f"/v1/actor/consents/{voice.consent_id}/pause",
        json={"reason": "strike"},
        headers=voice.actor_headers,
    )
    status, body = _synthesize(client, studio, project.line_ids[0])
    assert (status, body["code"]) == (403, "consent_paused")
    listed = client.get("/v1/voices", headers=studio.headers).json()["data"]
    assert [v["consent_status"] for v in listed] == ["paused"]

    client.post(f"/v1/actor/consents/{voice.consent_id}/resume", headers=voice.actor_headers)
    assert _synthesize(client, studio, project.line_ids[0])[0] == 201


@pytest.mark.parametrize(
    ("consent", "project_use", "code", "field"),
    [
        ({"uses": ("animation",)}, "dubbing", "out_of_scope", "use"),
        ({"languages": ("ja",)}, "animation", "out_of_scope", "language"),
        ({"studio_ids": ("std_someoneelse",)}, "animation", "out_of_scope", "studio"),
        (
            {
                "ends_at": utcnow() - dt.timedelta(hours=1),
                "starts_at": utcnow() - dt.timedelta(days=9),
            },
            "animation",
            "consent_expired",
            None,
        ),
        ({"starts_at": utcnow() + dt.timedelta(days=1)}, "animation", "consent_missing", None),
    ],
)
def test_scope_and_time_refusals_name_the_reason(
    client: TestClient,
    runtime: Runtime,
    consent: dict[str, object],
    project_use: str,
    code: str,
    field: str | None,
) -> None:
    studio = seed_studio(runtime)
    voice = seed_voice(runtime, **consent)  # type: ignore[arg-type]
    project = cast_project(client, studio, {"KEN": voice}, one_line(), use=project_use)

    status, body = _synthesize(client, studio, project.line_ids[0])

    assert status == 403
    assert body["code"] == code
    assert body.get("field") == field
    listed = {
        v["id"]: v["consent_status"]
        for v in client.get("/v1/voices", headers=studio.headers).json()["data"]
    }
    assert listed.get(voice.voice_id) == {
        "consent_expired": "expired",
        "consent_missing": "not_started",
    }.get(code, "active" if field != "studio" else None), (
        "the catalogue tells the studio where it stands"
    )
    assert body["type"] == f"urn:voicehub:problem:{code}"
    assert isinstance(body["detail"], str) and body["detail"]
    assert _counts(runtime) == (0, 0)


def test_dubbing_is_refused_unless_the_actor_turned_it_on(
    client: TestClient, runtime: Runtime
) -> None:
    studio = seed_studio(runtime)
    default_voice = seed_voice(runtime, name="Default", uses=("animation", "games", "audiobooks"))
    dubbing_voice = seed_voice(runtime, name="Dubber", uses=("dubbing",))
    project = cast_project(
        client,
        studio,
        {"KEN": default_voice, "AMI": dubbing_voice},
        [{"lines": [{"character": "KEN", "text": "One."}, {"character": "AMI", "text": "Two."}]}],
        use="dubbing",
    )
    assert _synthesize(client, studio, project.line_ids[0])[1]["code"] == "out_of_scope"
    assert _synthesize(client, studio, project.line_ids[1])[0] == 201


def test_a_voice_without_consent_is_refused(client: TestClient, runtime: Runtime) -> None:
    studio = seed_studio(runtime)
    with transaction(runtime.sessions) as session:
        actor = create_actor(session, "Never asked")
        voice = register_voice(
            session,
            runtime.engines,
            actor_id=actor.id,
            name="v",
            engine="piper",
            speaker="joe",
            language="en",
        )
        voice_id = voice.id
    response = client.post(
        "/v1/projects",
        json={"name": "P", "language": "en", "use": "animation"},
        headers=studio.headers,
    )
    project_id = response.json()["id"]
    client.post(
        f"/v1/projects/{project_id}/script", json={"cuts": one_line()}, headers=studio.headers
    )
    client.post(
        f"/v1/projects/{project_id}/cast",
        json={"character": "KEN", "voice_id": voice_id},
        headers=studio.headers,
    )
    cut = client.get(f"/v1/projects/{project_id}/cuts", headers=studio.headers).json()["data"][0]
    status, body = _synthesize(client, studio, cut["lines"][0]["id"])
    assert (status, body["code"]) == (403, "consent_missing")


@dataclass
class RevokingDuringSynthesis:
    """The real Piper engine; while it renders, the actor revokes in another transaction."""

    engine: Engine
    runtime: Runtime
    actor_id: str
    consent_id: str

    @property
    def info(self) -> EngineInfo:
        return self.engine.info

    def load(self) -> None:
        self.engine.load()

    def synthesize(
        self, text: str, *, speaker: str, settings: SynthesisSettings
    ) -> SynthesisResult:
        result = self.engine.synthesize(text, speaker=speaker, settings=settings)
        with transaction(self.runtime.sessions) as session:
            change_status(
                session,
                self.runtime.consent_effects,
                actor_id=self.actor_id,
                consent_id=self.consent_id,
                status=ConsentStatus.REVOKED,
                changed_by="actor",
            )
        return result


def test_a_revocation_that_lands_during_synthesis_wins(
    client: TestClient, runtime: Runtime
) -> None:
    studio = seed_studio(runtime)
    voice = seed_voice(runtime)
    project = cast_project(client, studio, {"KEN": voice}, one_line())
    racing = EngineRegistry(
        {
            "piper": RevokingDuringSynthesis(
                runtime.engines.get("piper"), runtime, voice.actor_id, voice.consent_id
            )
        }
    )
    with pytest.raises(ConsentRevoked), transaction(runtime.sessions) as session:
        synthesize_line(
            session,
            replace(runtime.synthesizer, engines=racing),
            studio_id=studio.id,
            line_id=project.line_ids[0],
        )
    assert _counts(runtime) == (0, 0), "not delivered, not charged"
    assert not list(runtime.storage.root.rglob("*.wav")), "no audio left behind"
