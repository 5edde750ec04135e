"""A batch over some cuts, fitted and approved, followed live as server-sent events."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

import api.routers.jobs as jobs_router
from api.app import create_app
from tests.factories import cast_project, seed_studio, seed_voice
from voicehub.runtime import Runtime
from voicehub.synthesis.jobs import run_synthesis_job

SCRIPT = [
    {
        "number": "C-001",
        "start": 0,
        "end": 4,
        "lines": [
            {"character": "KEN", "text": "We leave at dawn.", "start": 0.5, "end": 2.0},
            {"character": "HARU", "text": "Bring the lantern.", "start": 2.2, "end": 3.8},
        ],
    },
    {"number": "C-002", "start": 4, "end": 8, "lines": [{"character": "KEN", "text": "Quiet."}]},
    {
        "number": "C-003",
        "start": 8,
        "end": 12,
        "lines": [{"character": "HARU", "text": "Over there, by the rocks."}],
    },
]


@contextmanager
def serve(runtime: Runtime) -> Iterator[str]:
    """The API on a free loopback port, served by uvicorn in a thread; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(runtime=runtime, run_worker=False),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            timeout_graceful_shutdown=2,
        )
    )
    thread = threading.Thread(target=server.run, name="voicehub-test-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def parse_events(text: str) -> list[tuple[str, str | None, dict[str, object]]]:
    """(event, id, data) of each event of a text/event-stream body."""
    events = []
    for block in text.split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":")
        )
        if "data" in fields:
            events.append((fields["event"], fields.get("id"), json.loads(fields["data"])))
    return events


def test_a_job_over_some_cuts_streams_its_progress_and_approves_first_takes(
    client: TestClient, runtime: Runtime, worker: None
) -> None:
    studio = seed_studio(runtime)
    ken, haru = seed_voice(runtime, name="Ken"), seed_voice(runtime, name="Haru")
    project = cast_project(client, studio, {"KEN": ken, "HARU": haru}, SCRIPT)
    earlier = client.post(f"/v1/lines/{project.line_ids[0]}/takes", headers=studio.headers).json()
    client.post(f"/v1/takes/{earlier['id']}/approve", headers=studio.headers)

    accepted = client.post(
        f"/v1/projects/{project.project_id}/synthesis-jobs",
        # Cut order on the timeline, whatever order they are asked in; duplicates dropped.
        json={
            "cut_ids": [project.cut_ids[2], project.cut_ids[0], project.cut_ids[2]],
            "fit": {"mode": "max", "min_ratio": 0.7},
            "approve": True,
        },
        headers=studio.headers,
    )
    assert accepted.status_code == 202, accepted.text
    job = accepted.json()
    assert (job["lines_total"], job["percent"], job["approve"]) == (3, 0.0, True)
    assert job["fit"] == {"mode": "max", "min_ratio": 0.7, "max_ratio": 1.25}

    with client.stream(
        "GET", f"/v1/synthesis-jobs/{job['id']}/events", headers=studio.headers
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = parse_events(response.read().decode())

    names = [name for name, _, _ in events]
    assert names[-1] == "done" and set(names[:-1]) == {"progress"}, names
    progress = [data for name, _, data in events if name == "progress"]
    ids = [int(event_id or "-1") for name, event_id, _ in events if name == "progress"]
    assert ids == sorted(set(ids)) and ids[-1] == 3, "one event per change, ids count the lines"
    assert progress[-1] | {"status": None} == {
        "id": job["id"],
        "status": None,
        "progress": 1.0,
        "percent": 100.0,
        "lines_total": 3,
        "lines_done": 3,
        "lines_failed": 0,
    }
    done = events[-1][2]
    assert (done["status"], done["lines_done"], done["percent"]) == ("succeeded", 3, 100.0)

    takes = {
        line_id: client.get(f"/v1/lines/{line_id}/takes", headers=studio.headers).json()["data"]
        for line_id in project.line_ids
    }
    assert [len(takes[line_id]) for line_id in project.line_ids] == [2, 1, 0, 1]
    state = client.get(
        f"/v1/projects/{project.project_id}/approvals", headers=studio.headers
    ).json()
    approved = [line["take_id"] for line in state["data"]]
    assert approved == [earlier["id"], takes[project.line_ids[1]][0]["id"], None,
                        takes[project.line_ids[3]][0]["id"]], "an approved line keeps its take"  # fmt: skip
    fitted = takes[project.line_ids[0]][-1]["fit"]
    assert fitted is not None and fitted["mode"] == "max" and fitted["min_ratio"] == 0.7

    again = client.get(
        f"/v1/synthesis-jobs/{job['id']}/events",
        headers={**studio.headers, "Last-Event-ID": "3"},
    )
    assert [name for name, _, _ in parse_events(again.text)] == ["done"]


def test_the_stream_holds_no_connection_while_it_waits_and_sends_heartbeats(
    client: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs_router, "HEARTBEAT_SECONDS", 0.3)
    studio = seed_studio(runtime)
    project = cast_project(client, studio, {"KEN": seed_voice(runtime, name="Ken")}, SCRIPT[1:2])
    job = client.post(
        f"/v1/projects/{project.project_id}/synthesis-jobs", headers=studio.headers
    ).json()

    with (
        serve(runtime) as base_url,
        httpx.Client(base_url=base_url, timeout=30) as http,
        http.stream(
            "GET", f"/v1/synthesis-jobs/{job['id']}/events", headers=studio.headers
        ) as response,
    ):
        lines = response.iter_lines()
        seen: list[str] = []
        while ": heartbeat" not in seen:
            seen.append(next(lines))
        assert "event: progress" in seen and "id: 0" in seen
        # The job waits in the queue: the stream sleeps between reads without a connection.
        assert runtime.database.pool.checkedout() == 0
        run_synthesis_job(runtime, job["id"])
        rest = "\n".join([*seen, *lines])
    events = parse_events(rest)
    assert [(name, event_id) for name, event_id, _ in events] == [
        ("progress", "0"),
        ("progress", "1"),
        ("done", "done"),
    ]
    assert events[-1][2]["status"] == "succeeded"


def test_job_input_is_refused_clearly(client: TestClient, runtime: Runtime) -> None:
    studio = seed_studio(runtime)
    other = seed_studio(runtime, "Other studio")
    voice = seed_voice(runtime, name="Ken")
    project = cast_project(client, studio, {"KEN": voice}, SCRIPT[1:2])
    elsewhere = cast_project(client, other, {"KEN": voice}, SCRIPT[1:2])
    url = f"/v1/projects/{project.project_id}/synthesis-jobs"

    def refused(body: dict[str, object]) -> tuple[int, str, list[str], str]:
        response = client.post(url, json=body, headers=studio.headers)
        problem = response.json()
        fields = [f["field"] for f in problem.get("fields", [])]
        return response.status_code, problem["code"], fields, problem["detail"]

    status, code, fields, detail = refused({"cut_ids": [elsewhere.cut_ids[0], "cut_nope"]})
    assert (status, code, fields) == (422, "invalid_input", ["cut_ids"])
    assert elsewhere.cut_ids[0] in detail and "cut_nope" in detail
    assert refused({"cut_ids": []})[:3] == (422, "invalid_input", ["cut_ids"])
    assert refused({"line_ids": []})[:3] == (422, "invalid_input", ["line_ids"])
    assert refused({"cut_ids": project.cut_ids, "line_ids": project.line_ids})[2] == [
        "line_ids",
        "cut_ids",
    ]
    assert refused({"fit": {"mode": "squeeze"}})[:2] == (422, "validation_error")
    assert refused({"fit": {"max_ratio": 3}})[:2] == (422, "validation_error")
    empty = client.post(
        "/v1/projects", json={"name": "P", "language": "en", "use": "games"}, headers=studio.headers
    ).json()
    nothing = client.post(f"/v1/projects/{empty['id']}/synthesis-jobs", headers=studio.headers)
    assert (nothing.status_code, nothing.json()["code"]) == (422, "invalid_input")

    foreign = client.post(
        f"/v1/projects/{elsewhere.project_id}/synthesis-jobs", headers=other.headers
    ).json()
    stream = client.get(f"/v1/synthesis-jobs/{foreign['id']}/events", headers=studio.headers)
    assert (stream.status_code, stream.json()["code"]) == (404, "not_found")
