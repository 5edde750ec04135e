"""Approving one take per line: replacing, withdrawing, stale takes, and the project's state."""

from __future__ import annotations

import copy

from fastapi.testclient import TestClient

from tests.factories import SeededStudio, cast_project, seed_studio, seed_voice
from voicehub.runtime import Runtime

SCRIPT = [
    {
        "number": "C-001",
        "start": 0,
        "end": 4,
        "lines": [
            {"character": "KEN", "text": "We leave at dawn."},
            {"character": "KEN", "text": "Bring the lantern."},
        ],
    },
    {"number": "C-002", "start": 4, "end": 8, "lines": [{"character": "KEN", "text": "Quiet."}]},
]


def _take(client: TestClient, studio: SeededStudio, line_id: str, **body: object) -> str:
    response = client.post(f"/v1/lines/{line_id}/takes", json=body, headers=studio.headers)
    assert response.status_code == 201, response.text
    take_id: str = response.json()["id"]
    return take_id


def _reimport_revised(client: TestClient, studio: SeededStudio, project_id: str) -> None:
    """Re-import the script with its second line rewritten: that line's takes become stale."""
    revised = copy.deepcopy(SCRIPT)
    revised[0]["lines"][1]["text"] = "Bring the lantern and the map."  # type: ignore[index]
    response = client.post(
        f"/v1/projects/{project_id}/script", json={"cuts": revised}, headers=studio.headers
    )
    assert response.status_code == 201, response.text
    assert len(response.json()["updated"]) == 1


def test_one_take_per_line_is_approved_and_can_be_replaced_or_withdrawn(
    client: TestClient, runtime: Runtime
) -> None:
    studio = seed_studio(runtime)
    project = cast_project(client, studio, {"KEN": seed_voice(runtime, name="Ken")}, SCRIPT)
    line_id = project.line_ids[0]
    first = _take(client, studio, line_id, seed=1)
    second = _take(client, studio, line_id, seed=2, speed=1.1)

    approved = client.post(f"/v1/takes/{first}/approve", headers=studio.headers)
    assert approved.status_code == 200, approved.text
    assert approved.json() | {"approved_at": None} == {
        "object": "line_approval",
        "line_id": line_id,
        "cut_id": project.cut_ids[0],
        "take_id": first,
        "approved_at": None,
        "stale": False,
        "takes_count": 2,
    }
    again = client.post(f"/v1/takes/{first}/approve", headers=studio.headers)
    assert again.json() == approved.json(), "approving the approved take changes nothing"

    replaced = client.post(f"/v1/takes/{second}/approve", headers=studio.headers).json()
    assert replaced["take_id"] == second
    assert client.get(f"/v1/lines/{line_id}/approval", headers=studio.headers).json() == replaced
    events = client.get("/v1/events?type=take.approved", headers=studio.headers).json()["data"]
    assert [e["data"]["take_id"] for e in events] == [first, second]
    assert events[0]["data"] | {"take_id": None} == {
        "take_id": None,
        "line_id": line_id,
        "cut_id": project.cut_ids[0],
        "project_id": project.project_id,
        "stale": False,
        "job_id": None,
    }

    withdrawn = client.delete(f"/v1/lines/{line_id}/approval", headers=studio.headers)
    assert withdrawn.status_code == 204
    after = client.get(f"/v1/lines/{line_id}/approval", headers=studio.headers).json()
    assert (after["take_id"], after["approved_at"], after["takes_count"]) == (None, None, 2)
    assert client.delete(f"/v1/lines/{line_id}/approval", headers=studio.headers).status_code == 204

    put = client.put(
        f"/v1/lines/{line_id}/approval", json={"take_id": first}, headers=studio.headers
    )
    assert put.status_code == 200 and put.json()["take_id"] == first


def test_a_stale_take_is_approved_only_when_asked_for(client: TestClient, runtime: Runtime) -> None:
    studio = seed_studio(runtime)
    project = cast_project(client, studio, {"KEN": seed_voice(runtime, name="Ken")}, SCRIPT)
    line_id = project.line_ids[1]
    take = _take(client, studio, line_id)
    _reimport_revised(client, studio, project.project_id)
    shown = client.get(f"/v1/takes/{take}", headers=studio.headers).json()
    assert (shown["stale"], shown["approved"]) == (True, False)

    refused = client.post(f"/v1/takes/{take}/approve", headers=studio.headers)
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert (refused.json()["code"], refused.json()["take_id"]) == ("take_stale", take)
    assert (
        client.get(f"/v1/lines/{line_id}/approval", headers=studio.headers).json()["take_id"]
        is None
    )

    forced = client.post(f"/v1/takes/{take}/approve?allow_stale=true", headers=studio.headers)
    assert forced.status_code == 200
    assert (forced.json()["take_id"], forced.json()["stale"]) == (take, True)
    state = client.get(
        f"/v1/projects/{project.project_id}/approvals", headers=studio.headers
    ).json()
    assert (state["lines_total"], state["lines_approved"], state["lines_stale"]) == (3, 1, 1)


def test_the_project_lists_every_line_with_its_approval(
    client: TestClient, runtime: Runtime
) -> None:
    studio = seed_studio(runtime)
    project = cast_project(client, studio, {"KEN": seed_voice(runtime, name="Ken")}, SCRIPT)
    take = _take(client, studio, project.line_ids[2])
    _take(client, studio, project.line_ids[0])
    client.post(f"/v1/takes/{take}/approve", headers=studio.headers)
    url = f"/v1/projects/{project.project_id}/approvals"

    state = client.get(url, headers=studio.headers).json()
    assert [line["line_id"] for line in state["data"]] == project.line_ids, "timeline order"
    assert [(line["take_id"], line["takes_count"]) for line in state["data"]] == [
        (None, 1),
        (None, 0),
        (take, 1),
    ]
    assert (state["lines_approved"], state["lines_unapproved"], state["lines_stale"]) == (1, 2, 0)
    missing = client.get(f"{url}?approved=false", headers=studio.headers).json()
    assert [line["line_id"] for line in missing["data"]] == project.line_ids[:2]
    first_cut = client.get(f"{url}?cut_id={project.cut_ids[0]}", headers=studio.headers).json()
    assert (first_cut["lines_total"], first_cut["lines_approved"]) == (2, 0)
    by_cut = client.get(f"/v1/cuts/{project.cut_ids[1]}/approvals", headers=studio.headers).json()
    assert [(line["line_id"], line["take_id"]) for line in by_cut["data"]] == [
        (project.line_ids[2], take)
    ]


def test_approval_input_is_checked_and_scoped(client: TestClient, runtime: Runtime) -> None:
    studio = seed_studio(runtime)
    other = seed_studio(runtime, "Other studio")
    reader = seed_studio(runtime, "Reader", scopes=("read",))
    voice = seed_voice(runtime, name="Ken")
    project = cast_project(client, studio, {"KEN": voice}, SCRIPT)
    elsewhere = cast_project(client, other, {"KEN": voice}, SCRIPT)
    take = _take(client, studio, project.line_ids[0])
    foreign_take = _take(client, other, elsewhere.line_ids[0])

    stranger = client.post(f"/v1/takes/{foreign_take}/approve", headers=studio.headers)
    assert (stranger.status_code, stranger.json()["code"]) == (404, "not_found")
    assert (
        client.get(
            f"/v1/lines/{elsewhere.line_ids[0]}/approval", headers=studio.headers
        ).status_code
        == 404
    )
    assert (
        client.delete(
            f"/v1/lines/{elsewhere.line_ids[0]}/approval", headers=studio.headers
        ).status_code
        == 404
    )
    assert (
        client.get(
            f"/v1/projects/{elsewhere.project_id}/approvals", headers=studio.headers
        ).status_code
        == 404
    )

    mismatch = client.put(
        f"/v1/lines/{project.line_ids[1]}/approval", json={"take_id": take}, headers=studio.headers
    )
    assert mismatch.status_code == 422
    assert (mismatch.json()["code"], mismatch.json()["fields"][0]["field"]) == (
        "take_line_mismatch",
        "take_id",
    )
    foreign_cut = client.get(
        f"/v1/projects/{project.project_id}/approvals?cut_id={elsewhere.cut_ids[0]}",
        headers=studio.headers,
    )
    assert foreign_cut.status_code == 422
    assert elsewhere.cut_ids[0] in foreign_cut.json()["detail"]
    unknown = client.post("/v1/takes/take_nope/approve", headers=studio.headers)
    assert unknown.status_code == 404

    read_only = client.post(f"/v1/takes/{take}/approve", headers=reader.headers)
    assert (read_only.status_code, read_only.json()["code"]) == (403, "insufficient_scope")
    assert (
        client.get(f"/v1/lines/{project.line_ids[0]}/approval", headers=studio.headers).json()[
            "take_id"
        ]
        is None
    )
