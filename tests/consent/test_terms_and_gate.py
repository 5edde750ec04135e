"""The gate enforces every term an actor signs, each refusal with its own stable code."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from consent.tables import ConsentLogEntry, ConsentVersion
from tests.factories import JAPANESE, SeededStudio, cast_project, one_line, seed_studio, seed_voice
from voicehub.metering.tables import UsageRecord
from voicehub.runtime import Runtime


def _take(client: TestClient, studio: SeededStudio, line_id: str) -> tuple[int, dict[str, object]]:
    response = client.post(f"/v1/lines/{line_id}/takes", headers=studio.headers)
    return response.status_code, response.json()


def test_an_unverified_consent_is_not_in_force(client: TestClient, runtime: Runtime) -> None:
    studio = seed_studio(runtime)
    voice = seed_voice(runtime, verified=False)
    project = cast_project(client, studio, {"KEN": voice}, one_line())
    status, body = _take(client, studio, project.line_ids[0])
    assert (status, body["code"]) == (403, "consent_unverified")
    listed = client.get("/v1/voices", headers=studio.headers).json()["data"]
    assert listed[0]["consent_status"] == "unverified"


def test_excluded_content_and_blocked_terms_name_what_matched(
    client: TestClient, runtime: Runtime
) -> None:
    studio = seed_studio(runtime)
    en = seed_voice(
        runtime, name="En", excluded_categories=("violence",), blocked_terms=("Acme Cola",)
    )
    ja = seed_voice(runtime, name="Ja", voice=JAPANESE, excluded_categories=("violence",))
    project = cast_project(
        client,
        studio,
        {"KEN": en, "HARU": ja},
        [
            {
                "lines": [
                    {"character": "KEN", "text": "Drink ACME cola, the taste of summer!"},
                    {"character": "KEN", "text": "I will kill you for this."},
                    {"character": "HARU", "text": "お前をぶっ殺してやる！", "language": "ja"},
                    {"character": "KEN", "text": "Skill beats luck, every time."},
                ]
            }
        ],
    )
    status, term = _take(client, studio, project.line_ids[0])
    assert (status, term["code"], term["term"]) == (403, "blocked_term", "Acme Cola")
    status, violent = _take(client, studio, project.line_ids[1])
    assert (status, violent["code"], violent["category"]) == (403, "excluded_content", "violence")
    assert "kill" in str(violent["detail"])
    status, japanese = _take(client, studio, project.line_ids[2])
    assert (status, japanese["code"], japanese["category"]) == (403, "excluded_content", "violence")
    assert _take(client, studio, project.line_ids[3])[0] == 201, "'skill' is not 'kill'"


def test_territories_and_blocked_studios(client: TestClient, runtime: Runtime) -> None:
    studio, blocked = seed_studio(runtime, "Ok"), seed_studio(runtime, "Blocked")
    voice = seed_voice(runtime, territories=("JP", "US"), blocked_studio_ids=())
    project = cast_project(client, studio, {"KEN": voice}, one_line())
    response = client.post(
        "/v1/projects",
        json={"name": "Global", "language": "en", "use": "animation", "territories": ["JP", "FR"]},
        headers=studio.headers,
    )
    assert response.json()["territories"] == ["JP", "FR"]
    client.post(
        f"/v1/projects/{response.json()['id']}/script",
        json={"cuts": one_line()},
        headers=studio.headers,
    )
    client.post(
        f"/v1/projects/{response.json()['id']}/cast",
        json={"character": "KEN", "voice_id": voice.voice_id},
        headers=studio.headers,
    )
    line = client.get(f"/v1/projects/{response.json()['id']}/cuts", headers=studio.headers).json()[
        "data"
    ][0]
    status, body = _take(client, studio, line["lines"][0]["id"])
    assert (status, body["code"], body["field"]) == (403, "out_of_scope", "territory")
    assert "FR" in str(body["detail"])
    assert _take(client, studio, project.line_ids[0])[1]["code"] == "out_of_scope", (
        "WW is wider than JP, US"
    )

    walled = seed_voice(runtime, name="Walled", blocked_studio_ids=(blocked.id,))
    other = cast_project(client, blocked, {"KEN": walled}, one_line())
    status, body = _take(client, blocked, other.line_ids[0])
    assert (status, body["code"], body["field"]) == (403, "out_of_scope", "studio")
    assert walled.voice_id not in {
        v["id"] for v in client.get("/v1/voices", headers=blocked.headers).json()["data"]
    }


def test_per_project_approval(client: TestClient, runtime: Runtime) -> None:
    studio = seed_studio(runtime)
    voice = seed_voice(runtime, requires_project_approval=True)
    response = client.post(
        "/v1/projects",
        json={"name": "Ep", "language": "en", "use": "animation"},
        headers=studio.headers,
    )
    project_id = response.json()["id"]
    client.post(
        f"/v1/projects/{project_id}/script", json={"cuts": one_line()}, headers=studio.headers
    )
    cast = client.post(
        f"/v1/projects/{project_id}/cast",
        json={
            "character": "KEN",
            "voice_id": voice.voice_id,
            "use_description": "The lead in a 12-episode anime series.",
        },
        headers=studio.headers,
    ).json()
    approval = cast["approval"]
    assert (approval["status"], approval["expected_lines"], approval["territories"]) == (
        "pending",
        1,
        ["WW"],
    )
    line_id = client.get(f"/v1/projects/{project_id}/cuts", headers=studio.headers).json()["data"][
        0
    ]["lines"][0]["id"]
    assert _take(client, studio, line_id)[1]["code"] == "approval_pending"

    inbox = client.get(
        "/v1/actor/approvals", params={"status": "pending"}, headers=voice.actor_headers
    ).json()
    assert [a["use_description"] for a in inbox["data"]] == [
        "The lead in a 12-episode anime series."
    ]
    client.post(
        f"/v1/actor/approvals/{approval['id']}/decline",
        json={"note": "Not this one."},
        headers=voice.actor_headers,
    )
    assert _take(client, studio, line_id)[1]["code"] == "approval_declined"
    client.post(f"/v1/actor/approvals/{approval['id']}/approve", headers=voice.actor_headers)
    assert _take(client, studio, line_id)[0] == 201
    revoked = client.post(
        f"/v1/actor/approvals/{approval['id']}/revoke", headers=voice.actor_headers
    )
    assert revoked.json()["status"] == "revoked"
    assert _take(client, studio, line_id)[1]["code"] == "approval_revoked"
    events = [e["type"] for e in client.get("/v1/events", headers=studio.headers).json()["data"]]
    assert events == ["approval.declined", "approval.approved", "approval.revoked"]


def test_amended_terms_must_be_verified_and_past_takes_keep_their_version(
    client: TestClient, runtime: Runtime
) -> None:
    studio = seed_studio(runtime)
    voice = seed_voice(runtime)
    project = cast_project(client, studio, {"KEN": voice}, one_line())
    first = _take(client, studio, project.line_ids[0])[1]
    terms = client.get(
        f"/v1/actor/consents/{voice.consent_id}/versions", headers=voice.actor_headers
    ).json()
    current = terms["data"][-1]
    amended = client.post(
        f"/v1/actor/consents/{voice.consent_id}/versions",
        json={
            "signer_name": current["signer_name"],
            "use_description": current["use_description"],
            "allowed_uses": ["animation", "games"],
            "languages": ["en"],
            "currency": "JPY",
            "prices_per_1k_chars_micros": {"animation": 2_000_000_000, "games": 2_500_000_000},
            "actor_share_bps": 7500,
        },
        headers=voice.actor_headers,
    )
    assert amended.status_code == 201, amended.text
    assert amended.json()["current"]["verification"] == "pending"
    assert _take(client, studio, project.line_ids[0])[1]["code"] == "consent_unverified"
    assert first["consent_version_id"] == current["id"], (
        "the old take still names the version it was made under"
    )
    statement = client.get(
        f"/v1/actor/consents/{voice.consent_id}/statement", headers=voice.actor_headers
    ).json()
    assert statement["consent_version_id"] == amended.json()["current"]["id"]
    assert "VoiceHub" in statement["text"] and statement["challenge"] in statement["text"]
    assert [e["type"] for e in client.get("/v1/events", headers=studio.headers).json()["data"]] == [
        "consent.updated"
    ]


def test_bad_terms_are_refused_with_the_field(client: TestClient, runtime: Runtime) -> None:
    voice = seed_voice(runtime)
    base = {
        "signer_name": "A",
        "use_description": "Voices for the studio's animated series and trailers.",
        "allowed_uses": ["animation"],
        "languages": ["en"],
        "currency": "JPY",
        "prices_per_1k_chars_micros": {"animation": 1},
        "actor_share_bps": 7000,
    }
    cases = {
        "use_description": {"use_description": "anything"},
        "prices_per_1k_chars_micros": {
            "prices_per_1k_chars_micros": {"animation": 1, "dubbing": 1}
        },
        "excluded_categories": {"excluded_categories": ["weird"]},
        "territories": {"territories": ["Japan"]},
        "allowed_uses": {"allowed_uses": ["opera"], "prices_per_1k_chars_micros": {"opera": 1}},
        "notice_period_days": {"notice_period_days": -1},
    }
    for field, change in cases.items():
        response = client.post(
            f"/v1/actor/consents/{voice.consent_id}/versions",
            json={**base, **change},
            headers=voice.actor_headers,
        )
        assert response.status_code == 422, field
        assert response.json()["fields"][0]["field"] == field, response.json()


def test_minimum_and_per_use_price(client: TestClient, runtime: Runtime) -> None:
    studio = seed_studio(runtime)
    voice = seed_voice(runtime, price_per_1k_chars_micros=1_000_000, minimum_per_line_micros=5_000)
    project = cast_project(client, studio, {"KEN": voice}, one_line("Hi."))
    take = _take(client, studio, project.line_ids[0])[1]
    assert take["amount_micros"] == 5_000, "three characters at 1 per 1,000 would be 3,000"
    with runtime.sessions() as session:
        assert session.scalar(select(func.sum(UsageRecord.amount_micros))) == 5_000


def test_every_change_is_in_the_log(client: TestClient, runtime: Runtime) -> None:
    voice = seed_voice(runtime)
    client.post(f"/v1/actor/consents/{voice.consent_id}/pause", headers=voice.actor_headers)
    client.post(f"/v1/actor/consents/{voice.consent_id}/resume", headers=voice.actor_headers)
    with runtime.sessions() as session:
        events = list(session.scalars(select(ConsentLogEntry.event).order_by(ConsentLogEntry.seq)))
        versions = session.scalar(select(func.count()).select_from(ConsentVersion))
    assert events[0] == "consent.terms"
    assert "verification.attempt" in events
    assert events[-2:] == ["consent.paused", "consent.resumed"]
    assert versions == 4  # granted, verified, paused, resumed


def test_no_approval_request_for_a_project_the_terms_cannot_cover(
    client: TestClient, runtime: Runtime
) -> None:
    studio = seed_studio(runtime)
    voice = seed_voice(runtime, requires_project_approval=True, territories=("JP",))
    response = client.post(
        "/v1/projects",
        json={"name": "Abroad", "language": "en", "use": "animation", "territories": ["FR"]},
        headers=studio.headers,
    )
    project_id = response.json()["id"]
    client.post(
        f"/v1/projects/{project_id}/script", json={"cuts": one_line()}, headers=studio.headers
    )
    cast = client.post(
        f"/v1/projects/{project_id}/cast",
        json={"character": "KEN", "voice_id": voice.voice_id},
        headers=studio.headers,
    ).json()
    assert cast["approval"] is None
    assert client.get("/v1/actor/approvals", headers=voice.actor_headers).json()["data"] == []
    line_id = client.get(f"/v1/projects/{project_id}/cuts", headers=studio.headers).json()["data"][
        0
    ]["lines"][0]["id"]
    assert _take(client, studio, line_id)[1]["field"] == "territory"


def test_thresholds_must_be_in_order() -> None:
    from pydantic import ValidationError

    from voicehub.settings import Settings

    try:
        Settings(verify_accept_threshold=0.5, verify_reject_threshold=0.7)
    except ValidationError as error:
        assert "must not exceed" in str(error)
    else:
        raise AssertionError("a reject threshold above the accept threshold was accepted")
