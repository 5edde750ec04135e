"""One studio never sees another's data: every other tenant's id is a 404."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import cast_project, one_line, seed_studio, seed_voice
from voicehub.runtime import Runtime


def test_another_studios_resources_are_not_found(client: TestClient, runtime: Runtime) -> None:
    owner, intruder = seed_studio(runtime, "Owner"), seed_studio(runtime, "Intruder")
    voice = seed_voice(runtime)
    project = cast_project(client, owner, {"KEN": voice}, one_line())
    line_id, cut_id = project.line_ids[0], project.cut_ids[0]
    take = client.post(f"/v1/lines/{line_id}/takes", headers=owner.headers).json()
    approved = client.post(f"/v1/takes/{take['id']}/approve", headers=owner.headers)
    assert approved.status_code == 200, approved.text
    job = client.post(
        f"/v1/projects/{project.project_id}/synthesis-jobs", headers=owner.headers
    ).json()

    reads = [
        f"/v1/projects/{project.project_id}",
        f"/v1/projects/{project.project_id}/cuts",
        f"/v1/projects/{project.project_id}/characters",
        f"/v1/cuts/{cut_id}",
        f"/v1/lines/{line_id}/takes",
        f"/v1/takes/{take['id']}",
        f"/v1/takes/{take['id']}/audio",
        f"/v1/takes/{take['id']}/timing",
        f"/v1/lines/{line_id}/approval",
        f"/v1/cuts/{cut_id}/approvals",
        f"/v1/projects/{project.project_id}/approvals",
        *(
            f"/v1/cuts/{cut_id}/exports/{file_format}"
            for file_format in (
                "json",
                "rhubarb",
                "rhubarb-json",
                "moho",
                "xdts",
                "srt",
                "vtt",
                "ass",
                "review.png",
                "zip",
            )
        ),
        *(
            f"/v1/projects/{project.project_id}/exports/{file_format}"
            for file_format in ("srt", "vtt", "ass", "otio", "zip")
        ),
        f"/v1/synthesis-jobs/{job['id']}",
    ]
    for url in reads:
        response = client.get(url, headers=intruder.headers)
        assert response.status_code == 404, url
        assert response.json()["code"] == "not_found", url
        assert client.get(url, headers=owner.headers).status_code == 200, url
    # The job's event stream runs until the job ends; the intruder is refused before it starts.
    stream = client.get(f"/v1/synthesis-jobs/{job['id']}/events", headers=intruder.headers)
    assert (stream.status_code, stream.json()["code"]) == (404, "not_found")

    writes = [
        (f"/v1/projects/{project.project_id}/script", {"cuts": one_line()}),
        (
            f"/v1/projects/{project.project_id}/cast",
            {"character": "KEN", "voice_id": voice.voice_id},
        ),
        (f"/v1/lines/{line_id}/takes", {}),
        (f"/v1/projects/{project.project_id}/synthesis-jobs", {}),
        (f"/v1/takes/{take['id']}/approve", None),
    ]
    for url, body in writes:
        response = client.post(url, json=body, headers=intruder.headers)
        assert response.status_code == 404, url
    for method, url, body in (
        ("PUT", f"/v1/lines/{line_id}/approval", {"take_id": take["id"]}),
        ("DELETE", f"/v1/lines/{line_id}/approval", None),
    ):
        response = client.request(method, url, json=body, headers=intruder.headers)
        assert response.status_code == 404, (method, url)
    assert (
        client.get(f"/v1/lines/{line_id}/approval", headers=owner.headers).json()["take_id"]
        == take["id"]
    )

    assert client.get("/v1/projects", headers=intruder.headers).json()["data"] == []
    assert client.get("/v1/usage", headers=intruder.headers).json()["data"] == []
    assert len(client.get("/v1/usage", headers=owner.headers).json()["data"]) == 1
    assert (
        client.get(
            "/v1/projects", params={"starting_after": project.project_id}, headers=intruder.headers
        ).status_code
        == 422
    ), "another tenant's id is not a usable cursor"


def test_an_actor_can_only_change_their_own_consent(client: TestClient, runtime: Runtime) -> None:
    mine, theirs = seed_voice(runtime, name="Mine"), seed_voice(runtime, name="Theirs")
    response = client.post(
        f"/v1/actor/consents/{theirs.consent_id}/revoke", headers=mine.actor_headers
    )
    assert response.status_code == 404
    listed = client.get("/v1/actor/consents", headers=mine.actor_headers).json()["data"]
    assert [c["id"] for c in listed] == [mine.consent_id]


def test_keys_are_checked_and_scoped(client: TestClient, runtime: Runtime) -> None:
    reader = seed_studio(runtime, "Reader", scopes=("read",))
    voice = seed_voice(runtime)
    assert client.get("/v1/projects").status_code == 401
    wrong = client.get("/v1/projects", headers={"Authorization": "Bearer vh_live_not-a-real-key"})
    assert wrong.status_code == 401 and wrong.json()["code"] == "unauthenticated"
    assert wrong.headers["WWW-Authenticate"] == "Bearer"
    assert client.get("/v1/projects", headers=reader.headers).status_code == 200
    denied = client.post(
        "/v1/projects", json={"name": "P", "language": "en", "use": "games"}, headers=reader.headers
    )
    assert denied.status_code == 403 and denied.json()["code"] == "insufficient_scope"
    assert client.get("/v1/projects", headers=voice.actor_headers).status_code == 403
    assert client.get("/v1/actor/consents", headers=reader.headers).status_code == 403
