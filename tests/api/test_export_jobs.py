"""Project exports through the queue: checked at once, built with progress, downloaded as often
as needed, the same zip as the synchronous export."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from tests.api.test_job_progress import parse_events
from tests.factories import SeededStudio, cast_project, one_line, seed_studio, seed_voice
from voicehub.db import transaction
from voicehub.production.export_jobs import run_export_job
from voicehub.production.tables import ExportJob, Take
from voicehub.runtime import Runtime

# Two cuts of one line each: every cut format, two takes, the project's files.
SCRIPT = [
    {
        "number": "C-001",
        "start": 0,
        "end": 3,
        "lines": [{"character": "KEN", "text": "Bring me the map.", "start": 0.5}],
    },
    {
        "number": "C-002",
        "start": 5,
        "end": 8,
        "lines": [{"character": "KEN", "text": "Up the hill.", "start": 5.2}],
    },
]


@dataclass(frozen=True)
class Approved:
    studio: SeededStudio
    project_id: str
    line_ids: list[str]
    take_ids: list[str]


def _approved_project(client: TestClient, runtime: Runtime, *, approve: bool = True) -> Approved:
    studio = seed_studio(runtime)
    project = cast_project(client, studio, {"KEN": seed_voice(runtime, name="Ken")}, SCRIPT)
    take_ids = []
    for line_id in project.line_ids:
        take = client.post(f"/v1/lines/{line_id}/takes", headers=studio.headers)
        assert take.status_code == 201, take.text
        take_ids.append(take.json()["id"])
        if approve:
            approved = client.post(f"/v1/takes/{take_ids[-1]}/approve", headers=studio.headers)
            assert approved.status_code == 200, approved.text
    return Approved(studio, project.project_id, project.line_ids, take_ids)


def _post(client: TestClient, project: Approved, **body: Any) -> Any:
    return client.post(
        f"/v1/projects/{project.project_id}/exports", json=body, headers=project.studio.headers
    )


def _manifest(data: bytes) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("manifest.json"))
    manifest.pop("generated_at")
    return manifest


def test_an_export_job_streams_its_progress_and_downloads_the_synchronous_zip(
    client: TestClient, runtime: Runtime, worker: None
) -> None:
    project = _approved_project(client, runtime)
    headers = project.studio.headers
    accepted = _post(client, project, shape_set="anime3")
    assert accepted.status_code == 202, accepted.text
    job = accepted.json()
    assert accepted.headers["location"] == f"/v1/export-jobs/{job['id']}"
    assert job["id"].startswith("exp_") and job["status"] in ("queued", "running")
    # Per cut: its take, nine formats; then four project files and the manifest.
    assert job["files_total"] == 2 * (1 + 9) + 4 + 1
    assert (job["download_url"], job["draft"], job["options"]["shape_set"]) == (
        None,
        False,
        "anime3",
    )

    with client.stream("GET", f"/v1/export-jobs/{job['id']}/events", headers=headers) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        events = parse_events(stream.read().decode())
    names = [name for name, _, _ in events]
    assert names[-1] == "done" and set(names[:-1]) == {"progress"}, names
    ids = [int(event_id or "-1") for name, event_id, _ in events if name == "progress"]
    assert ids == sorted(set(ids)) and ids[-1] == job["files_total"]
    last = [data for name, _, data in events if name == "progress"][-1]
    assert (last["percent"], last["files_done"], last["status"]) == (
        100.0,
        job["files_total"],
        "succeeded",
    )
    assert events[-1][2]["status"] == "succeeded"

    done = client.get(f"/v1/export-jobs/{job['id']}", headers=headers).json()
    assert (done["status"], done["progress"], done["percent"]) == ("succeeded", 1.0, 100.0)
    assert done["download_url"] == f"/v1/export-jobs/{job['id']}/download"
    assert done["error"] is None and done["finished_at"] is not None

    first = client.get(done["download_url"], headers=headers)
    again = client.get(done["download_url"], headers=headers)
    assert first.status_code == 200, first.text
    assert first.headers["content-type"] == "application/zip"
    assert f'filename="{project.project_id}.zip"' in first.headers["content-disposition"]
    assert first.content == again.content and len(first.content) == done["size"]
    digest = hashlib.sha256(first.content).hexdigest()
    assert first.headers["x-voicehub-sha256"] == digest == done["sha256"]

    direct = client.get(
        f"/v1/projects/{project.project_id}/exports/zip",
        params={"shape_set": "anime3"},
        headers=headers,
    )
    assert direct.status_code == 200, direct.text
    queued_zip = zipfile.ZipFile(io.BytesIO(first.content))
    assert queued_zip.namelist() == zipfile.ZipFile(io.BytesIO(direct.content)).namelist()
    assert len(queued_zip.namelist()) == job["files_total"]
    assert _manifest(first.content) == _manifest(direct.content)
    assert {f"takes/{take_id}.wav" for take_id in project.take_ids} <= set(queued_zip.namelist())


def test_review_sheets_can_be_left_out_of_both_exports(
    client: TestClient, runtime: Runtime
) -> None:
    project = _approved_project(client, runtime)
    headers = project.studio.headers
    job = _post(client, project, review_sheets=False).json()
    assert job["options"]["review_sheets"] is False
    assert job["files_total"] == 2 * (1 + 8) + 4 + 1
    run_export_job(runtime, job["id"])

    queued = client.get(f"/v1/export-jobs/{job['id']}/download", headers=headers)
    assert queued.status_code == 200, queued.text
    direct = client.get(
        f"/v1/projects/{project.project_id}/exports/zip",
        params={"review_sheets": "false"},
        headers=headers,
    )
    for data in (queued.content, direct.content):
        names = zipfile.ZipFile(io.BytesIO(data)).namelist()
        assert not [name for name in names if name.endswith(".png")], names
        assert "C-001/C-001.xdts" in names and "project.otio" in names
    assert len(zipfile.ZipFile(io.BytesIO(queued.content)).namelist()) == job["files_total"]
    with_sheets = client.get(f"/v1/projects/{project.project_id}/exports/zip", headers=headers)
    assert "C-002/C-002.review.png" in zipfile.ZipFile(io.BytesIO(with_sheets.content)).namelist()


def test_export_problems_are_answered_before_anything_is_queued(
    client: TestClient, runtime: Runtime
) -> None:
    project = _approved_project(client, runtime, approve=False)
    client.post(f"/v1/takes/{project.take_ids[0]}/approve", headers=project.studio.headers)

    unapproved = _post(client, project)
    assert (unapproved.status_code, unapproved.json()["code"]) == (409, "no_approved_take")
    assert unapproved.json()["line_ids"] == project.line_ids[1:]
    for body, code, field in (
        ({"fps": "60"}, "invalid_input", "fps"),
        ({"min_hold": 0}, "invalid_input", "min_hold"),
        ({"bridge_ms": 2000}, "invalid_input", "bridge_ms"),
        ({"shape_set": "moho"}, "validation_error", "shape_set"),
        ({"takes": "best"}, "validation_error", "takes"),
        ({"review_sheet": False}, "validation_error", "review_sheet"),
    ):
        refused = _post(client, project, **{"takes": "latest", **body})
        problem = refused.json()
        assert (refused.status_code, problem["code"]) == (422, code), (body, problem)
        assert field in str(problem["fields"]), problem

    studio = seed_studio(runtime, name="New studio")
    silent = cast_project(client, studio, {"KEN": seed_voice(runtime)}, one_line())
    nothing = client.post(f"/v1/projects/{silent.project_id}/exports", headers=studio.headers)
    assert (nothing.status_code, nothing.json()["code"]) == (409, "no_takes")

    assert runtime.queue.pending() == 0
    with runtime.sessions() as session:
        assert session.query(ExportJob).count() == 0

    draft = _post(client, project, takes="latest")
    assert draft.status_code == 202 and draft.json()["draft"] is True
    assert runtime.queue.pending() == 1


def test_a_job_is_another_studios_404_and_409_until_it_has_succeeded(
    client: TestClient, runtime: Runtime
) -> None:
    project = _approved_project(client, runtime)
    headers = project.studio.headers
    keyed = {**headers, "Idempotency-Key": "export-1"}
    url = f"/v1/projects/{project.project_id}/exports"
    job = client.post(url, json={}, headers=keyed).json()
    assert client.post(url, json={}, headers=keyed).json()["id"] == job["id"]
    assert runtime.queue.pending() == 1, "a replayed request queues nothing more"

    waiting = client.get(f"/v1/export-jobs/{job['id']}/download", headers=headers)
    assert (waiting.status_code, waiting.json()["code"]) == (409, "export_not_ready")
    assert waiting.json()["job_status"] == "queued"

    other = seed_studio(runtime, name="Other")
    for path in ("", "/events", "/download"):
        response = client.get(f"/v1/export-jobs/{job['id']}{path}", headers=other.headers)
        assert (response.status_code, response.json()["code"]) == (404, "not_found"), path
    foreign = client.post(url, headers=other.headers)
    assert (foreign.status_code, foreign.json()["code"]) == (404, "not_found")

    run_export_job(runtime, job["id"])
    finished = client.get(f"/v1/export-jobs/{job['id']}", headers=headers).json()
    run_export_job(runtime, job["id"])
    assert client.get(f"/v1/export-jobs/{job['id']}", headers=headers).json() == finished
    ready = client.get(f"/v1/export-jobs/{job['id']}/download", headers=headers)
    assert ready.status_code == 200
    assert hashlib.sha256(ready.content).hexdigest() == finished["sha256"]

    again = client.get(
        f"/v1/export-jobs/{job['id']}/events", headers={**headers, "Last-Event-ID": "25"}
    )
    assert [name for name, _, _ in parse_events(again.text)] == ["done"]


def test_a_bundle_that_cannot_be_built_fails_its_job_with_a_reason(
    client: TestClient, runtime: Runtime
) -> None:
    project = _approved_project(client, runtime)
    headers = project.studio.headers
    job = _post(client, project).json()
    # The take's audio went missing from storage after the job was queued.
    with transaction(runtime.sessions) as session:
        take = session.get(Take, project.take_ids[1])
        assert take is not None
        runtime.storage.delete(take.audio_key)

    run_export_job(runtime, job["id"])
    failed = client.get(f"/v1/export-jobs/{job['id']}", headers=headers).json()
    assert failed["status"] == "failed" and failed["finished_at"] is not None
    assert failed["error"]["code"] == "export_failed" and failed["download_url"] is None
    download = client.get(f"/v1/export-jobs/{job['id']}/download", headers=headers)
    assert (download.status_code, download.json()["code"]) == (409, "export_failed")
    events = parse_events(client.get(f"/v1/export-jobs/{job['id']}/events", headers=headers).text)
    assert events[-1][0] == "done" and events[-1][2]["status"] == "failed"
