"""Bad input gets a 4xx with a stable code and a clear message, and nothing half-written."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.factories import cast_project, one_line, seed_studio, seed_voice
from voicehub.production.tables import Character, Cut, Line
from voicehub.runtime import Runtime


def _project(client: TestClient, headers: dict[str, str]) -> str:
    response = client.post(
        "/v1/projects", json={"name": "P", "language": "en", "use": "animation"}, headers=headers
    )
    return str(response.json()["id"])


def _nothing_imported(runtime: Runtime) -> bool:
    with runtime.sessions() as session:
        return all(
            session.scalar(select(func.count()).select_from(table)) == 0
            for table in (Cut, Line, Character)
        )


def test_script_text_limits(client: TestClient, runtime: Runtime) -> None:
    studio = seed_studio(runtime)
    project_id = _project(client, studio.headers)
    url = f"/v1/projects/{project_id}/script"
    good_line = {"character": "KEN", "text": "Fine."}

    empty = client.post(
        url,
        json={"cuts": [{"lines": [good_line, {"character": "KEN", "text": "   "}]}]},
        headers=studio.headers,
    )
    assert empty.status_code == 422
    assert empty.headers["content-type"] == "application/problem+json"
    assert empty.json()["code"] == "text_empty"
    assert [f["field"] for f in empty.json()["fields"]] == ["cuts.0.lines.1.text"]

    too_long = client.post(
        url,
        json={"cuts": [{"lines": [{"character": "KEN", "text": "a" * 5000}]}]},
        headers=studio.headers,
    )
    assert too_long.status_code == 422
    assert too_long.json()["code"] == "text_too_long"
    assert "5000" in too_long.json()["detail"] and too_long.json()["limit"] == 1000
    assert _nothing_imported(runtime), "a refused script writes nothing, not even its valid lines"


def test_malformed_srt_says_where(client: TestClient, runtime: Runtime) -> None:
    studio = seed_studio(runtime)
    project_id = _project(client, studio.headers)
    headers = {**studio.headers, "Content-Type": "application/x-subrip"}
    url = f"/v1/projects/{project_id}/script"
    cases = {
        b"1\n00:00:01,000 --> 00:00:02,000\nKEN: ok\n\n2\n00:00:03 --> 00:00:04,000\nKEN: broken\n": "00:00:03 --> 00:00:04,000",
        b"1\n00:00:05,000 --> 00:00:04,000\nKEN: backwards\n": "not after the start",
        b"hello\n": "expected an index",
        b"": "empty",
        b"\xff\xfe\x00": "UTF-8",
    }
    for raw, hint in cases.items():
        response = client.post(url, content=raw, headers=headers)
        assert response.status_code == 422, raw
        assert response.json()["code"] == "script_invalid", raw
        assert hint in response.json()["detail"], (raw, response.json()["detail"])
    assert _nothing_imported(runtime)


def test_unknown_format_and_wrong_json(client: TestClient, runtime: Runtime) -> None:
    studio = seed_studio(runtime)
    project_id = _project(client, studio.headers)
    url = f"/v1/projects/{project_id}/script"
    plain = client.post(
        url, content=b"text", headers={**studio.headers, "Content-Type": "text/plain"}
    )
    assert plain.status_code == 422 and [f["field"] for f in plain.json()["fields"]] == ["format"]
    shape = client.post(url, json={"cuts": [{"lines": [{"who": "KEN"}]}]}, headers=studio.headers)
    assert shape.status_code == 422 and shape.json()["code"] == "script_invalid"
    assert {f["field"] for f in shape.json()["fields"]} >= {
        "cuts.0.lines.0.character",
        "cuts.0.lines.0.who",
    }
    not_json = client.post(
        url, content=b"{nope", headers={**studio.headers, "Content-Type": "application/json"}
    )
    assert not_json.status_code == 422 and not_json.json()["code"] == "script_invalid"


def test_unknown_voice_and_uncast_character(client: TestClient, runtime: Runtime) -> None:
    studio = seed_studio(runtime)
    project_id = _project(client, studio.headers)
    client.post(
        f"/v1/projects/{project_id}/script", json={"cuts": one_line()}, headers=studio.headers
    )
    unknown = client.post(
        f"/v1/projects/{project_id}/cast",
        json={"character": "KEN", "voice_id": "voice_nope"},
        headers=studio.headers,
    )
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"
    assert "voice_nope" in unknown.json()["detail"]
    line_id = client.get(f"/v1/projects/{project_id}/cuts", headers=studio.headers).json()["data"][
        0
    ]["lines"][0]["id"]
    uncast = client.post(f"/v1/lines/{line_id}/takes", headers=studio.headers)
    assert uncast.status_code == 409 and uncast.json()["code"] == "character_not_cast"
    assert (
        client.get(
            f"/v1/cuts/{client.get(f'/v1/projects/{project_id}/cuts', headers=studio.headers).json()['data'][0]['id']}/exports/json",
            headers=studio.headers,
        ).json()["code"]
        == "no_takes"
    )


def test_request_validation_is_a_problem_with_fields(client: TestClient, runtime: Runtime) -> None:
    studio = seed_studio(runtime)
    voice = seed_voice(runtime)
    project = cast_project(client, studio, {"KEN": voice}, one_line())
    bad_speed = client.post(
        f"/v1/lines/{project.line_ids[0]}/takes", json={"speed": 9}, headers=studio.headers
    )
    assert bad_speed.status_code == 422 and [f["field"] for f in bad_speed.json()["fields"]] == [
        "speed"
    ]
    bad_type = client.post(
        f"/v1/lines/{project.line_ids[0]}/takes", json={"speed": "fast"}, headers=studio.headers
    )
    assert bad_type.status_code == 422 and bad_type.json()["code"] == "validation_error"
    assert bad_type.json()["fields"][0]["field"] == "body.speed"
    bad_rate = client.post(
        "/v1/projects",
        json={"name": "P", "language": "en", "use": "games", "frame_rate": 17},
        headers=studio.headers,
    )
    assert bad_rate.status_code == 422 and [f["field"] for f in bad_rate.json()["fields"]] == [
        "frame_rate"
    ]
    missing = client.get("/v1/nowhere", headers=studio.headers)
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert (
        client.get("/v1/usage", params={"period": "2026-13"}, headers=studio.headers).json()["code"]
        == "invalid_input"
    )


def test_bodies_over_the_upload_limit_are_refused(client: TestClient, runtime: Runtime) -> None:
    runtime.settings.max_upload_bytes = 2_000
    studio = seed_studio(runtime)
    voice = seed_voice(runtime)
    project_id = _project(client, studio.headers)
    big = client.post(
        f"/v1/projects/{project_id}/script",
        content=b"1\n00:00:01,000 --> 00:00:02,000\nKEN: " + b"a" * 5_000 + b"\n",
        headers={**studio.headers, "Content-Type": "application/x-subrip"},
    )
    assert big.status_code == 413 and big.json()["code"] == "payload_too_large"
    wav = client.post(
        f"/v1/actor/voices/{voice.voice_id}/reference-audio",
        content=b"RIFF" + b"\0" * 10_000,
        headers={**voice.actor_headers, "Content-Type": "audio/wav"},
    )
    assert wav.status_code == 413
    assert _nothing_imported(runtime)
    small = client.post(
        f"/v1/projects/{project_id}/script",
        content=b"1\n00:00:01,000 --> 00:00:02,000\nKEN: Fine.\n",
        headers={**studio.headers, "Content-Type": "application/x-subrip", "Idempotency-Key": "s1"},
    )
    assert small.status_code == 201, (
        "a body under the limit is read once, for the import and its key"
    )
