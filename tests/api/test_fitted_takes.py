"""Takes fitted into their lines' windows, and retakes with another voice, through the API."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import (
    CastProject,
    SeededStudio,
    audio_frames,
    cast_project,
    seed_studio,
    seed_voice,
)
from voicehub.db import transaction
from voicehub.production.takes import approve_take
from voicehub.runtime import Runtime
from voicehub.synthesis.jobs import run_synthesis_job

TEXT = "Hello there, how are you today? We leave at dawn."
SEED = 7  # At speed 1.0 Piper speaks TEXT in about 2.9 s with this seed.
# One cut, four lines: a window too short for the line as spoken, one too long,
# one far too short, and a line with no end (no window).
WINDOWS = [
    {
        "number": "C-001",
        "start": 0,
        "end": 12,
        "lines": [
            {"character": "KEN", "text": TEXT, "start": 0.0, "end": 2.3},
            {"character": "KEN", "text": TEXT, "start": 3.0, "end": 6.4},
            {"character": "KEN", "text": TEXT, "start": 7.0, "end": 8.0},
            {"character": "KEN", "text": TEXT, "start": 9.0},
        ],
    }
]
ONE_SAMPLE = 1 / 48000


def _project(client: TestClient, runtime: Runtime) -> tuple[SeededStudio, CastProject]:
    studio = seed_studio(runtime)
    voice = seed_voice(runtime)
    return studio, cast_project(client, studio, {"KEN": voice}, WINDOWS)


def _take(
    client: TestClient, studio: SeededStudio, line_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    response = client.post(f"/v1/lines/{line_id}/takes", json=body, headers=studio.headers)
    assert response.status_code == 201, response.text
    take: dict[str, Any] = response.json()
    return take


def test_a_line_too_long_for_its_window_is_fitted_into_it_with_exact_timing(
    client: TestClient, runtime: Runtime
) -> None:
    studio, project = _project(client, runtime)

    take = _take(client, studio, project.line_ids[0], {"seed": SEED})

    fit = take["fit"]
    assert fit["status"] == "fitted" and fit["mode"] == "window"
    assert fit["target_seconds"] == 2.3 and take["window_seconds"] == 2.3
    assert fit["rendered_seconds"] > 2.5
    assert 1.0 < fit["engine_speed"] <= 1.25 and 0.8 <= fit["stretch_ratio"] < 1.0
    assert (fit["min_ratio"], fit["max_ratio"]) == (0.8, 1.25)
    assert take["duration_seconds"] == pytest.approx(2.3, abs=ONE_SAMPLE)
    assert take["speed"] == 1.0, "the take records the speed asked for"
    assert take["stale"] is False and take["approved"] is False

    timing = client.get(take["timing_url"], headers=studio.headers).json()
    assert sum(p["samples"] for p in timing["phonemes"]) == timing["num_samples"]
    assert timing["phonemes"][-1]["end_seconds"] == take["duration_seconds"]
    assert 0 < timing["words"][-1]["end_seconds"] <= take["duration_seconds"]
    assert client.get(f"/v1/takes/{take['id']}", headers=studio.headers).json() == take
    listed = client.get(f"/v1/lines/{project.line_ids[0]}/takes", headers=studio.headers).json()
    assert listed["data"] == [take]


def test_a_short_take_is_lengthened_in_window_mode_and_kept_in_max_mode(
    client: TestClient, runtime: Runtime
) -> None:
    studio, project = _project(client, runtime)
    line = project.line_ids[1]

    lengthened = _take(client, studio, line, {"seed": SEED})
    kept = _take(client, studio, line, {"seed": SEED, "fit": {"mode": "max"}})
    off = _take(client, studio, line, {"seed": SEED, "fit": {"mode": "off"}})

    assert lengthened["fit"]["status"] == "fitted"
    assert lengthened["fit"]["engine_speed"] < 1.0
    assert lengthened["duration_seconds"] == pytest.approx(3.4, abs=ONE_SAMPLE)
    assert kept["fit"]["status"] == "fits" and kept["fit"]["mode"] == "max"
    assert kept["fit"]["stretch_ratio"] == 1.0 and kept["fit"]["off_seconds"] < 0
    assert kept["duration_seconds"] == pytest.approx(kept["fit"]["rendered_seconds"], abs=1e-3)
    assert kept["duration_seconds"] < 3.0
    assert off["fit"] is None and off["window_seconds"] == 3.4
    assert off["duration_seconds"] == pytest.approx(kept["duration_seconds"], abs=ONE_SAMPLE)


def test_a_window_too_short_for_any_allowed_stretch_is_delivered_as_cannot_fit(
    client: TestClient, runtime: Runtime
) -> None:
    studio, project = _project(client, runtime)

    take = _take(client, studio, project.line_ids[2], {"seed": SEED})

    fit = take["fit"]
    assert fit["status"] == "cannot_fit"
    assert fit["stretch_ratio"] == pytest.approx(0.8, abs=1e-4) and fit["engine_speed"] == 1.25
    assert fit["off_seconds"] > 0.5 and "too long" in fit["detail"]
    assert take["duration_seconds"] == pytest.approx(fit["fitted_seconds"], abs=1e-4)
    assert take["usage_id"].startswith("use_"), "delivered and charged: the studio decides"


def test_a_line_without_a_window_is_not_fitted(client: TestClient, runtime: Runtime) -> None:
    studio, project = _project(client, runtime)

    take = _take(client, studio, project.line_ids[3], {"fit": {"mode": "window"}})

    assert take["fit"] is None and take["window_seconds"] is None


@pytest.mark.parametrize(
    ("fit", "field"),
    [
        ({"min_ratio": 0.3}, "body.fit.min_ratio"),
        ({"min_ratio": 1.2}, "body.fit.min_ratio"),
        ({"max_ratio": 0.9}, "body.fit.max_ratio"),
        ({"max_ratio": 3}, "body.fit.max_ratio"),
        ({"mode": "stretch"}, "body.fit.mode"),
        ({"ratio": 1.0}, "body.fit.ratio"),
    ],
)
def test_fit_options_out_of_range_are_refused(
    client: TestClient, runtime: Runtime, fit: dict[str, Any], field: str
) -> None:
    studio, project = _project(client, runtime)
    line = project.line_ids[0]

    response = client.post(f"/v1/lines/{line}/takes", json={"fit": fit}, headers=studio.headers)

    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "validation_error"
    assert [f["field"] for f in problem["fields"]] == [field]
    assert client.get(f"/v1/lines/{line}/takes", headers=studio.headers).json()["data"] == []


def test_a_retake_with_another_voice_passes_that_voices_consent(
    client: TestClient, runtime: Runtime
) -> None:
    studio = seed_studio(runtime)
    cast = seed_voice(runtime, name="Cast")
    other = seed_voice(runtime, name="Other")
    project = cast_project(client, studio, {"KEN": cast}, WINDOWS)
    line = project.line_ids[0]

    first = _take(client, studio, line, {"seed": SEED})
    retake = _take(client, studio, line, {"seed": SEED, "voice_id": other.voice_id})

    assert first["voice_id"] == cast.voice_id and retake["voice_id"] == other.voice_id
    assert retake["consent_version_id"] != first["consent_version_id"]
    assert retake["fit"]["status"] == "fitted"
    characters = client.get(
        f"/v1/projects/{project.project_id}/characters", headers=studio.headers
    ).json()["data"]
    assert [c["voice_id"] for c in characters] == [cast.voice_id], "the cast is unchanged"


def test_a_voice_the_studio_may_not_use_is_refused(client: TestClient, runtime: Runtime) -> None:
    studio = seed_studio(runtime)
    cast = seed_voice(runtime, name="Cast")
    blocked = seed_voice(runtime, name="Blocked", blocked_studio_ids=[studio.id])
    needs_approval = seed_voice(runtime, name="Asks", requires_project_approval=True)
    project = cast_project(client, studio, {"KEN": cast}, WINDOWS)
    line = project.line_ids[0]

    def refused(voice_id: str) -> tuple[int, dict[str, Any]]:
        response = client.post(
            f"/v1/lines/{line}/takes", json={"voice_id": voice_id}, headers=studio.headers
        )
        return response.status_code, response.json()

    status, problem = refused("voice_doesnotexist")
    assert (status, problem["code"]) == (404, "not_found")
    assert [f["field"] for f in problem["fields"]] == ["voice_id"]
    status, problem = refused(blocked.voice_id)
    assert (status, problem["code"], problem["field"]) == (403, "out_of_scope", "studio")
    status, problem = refused(needs_approval.voice_id)
    assert (status, problem["code"]) == (403, "approval_pending")
    assert client.get(f"/v1/lines/{line}/takes", headers=studio.headers).json()["data"] == []


def test_a_fitted_take_is_made_again_byte_for_byte_from_its_seed(
    client: TestClient, runtime: Runtime
) -> None:
    studio, project = _project(client, runtime)
    line = project.line_ids[0]

    drawn = _take(client, studio, line, {})
    again = _take(client, studio, line, {"seed": drawn["seed"]})

    assert drawn["fit"]["status"] == again["fit"]["status"] == "fitted"
    assert drawn["fit"] == again["fit"]
    audio = [
        audio_frames(client.get(t["audio_url"], headers=studio.headers).content)
        for t in (drawn, again)
    ]
    assert audio[0] == audio[1]


def test_a_take_says_whether_it_is_the_approved_one(client: TestClient, runtime: Runtime) -> None:
    studio, project = _project(client, runtime)
    line = project.line_ids[3]
    first = _take(client, studio, line, {"seed": SEED})
    second = _take(client, studio, line, {"seed": SEED + 1})

    with transaction(runtime.sessions) as session:
        approve_take(session, None, studio.id, second["id"])

    listed = client.get(f"/v1/lines/{line}/takes", headers=studio.headers).json()["data"]
    assert [(t["id"], t["approved"]) for t in listed] == [
        (first["id"], False),
        (second["id"], True),
    ]


def test_a_batch_lists_the_takes_it_could_not_fit_as_warnings(
    client: TestClient, runtime: Runtime
) -> None:
    studio, project = _project(client, runtime)
    job = client.post(
        f"/v1/projects/{project.project_id}/synthesis-jobs",
        json={"seed": SEED, "line_ids": project.line_ids[:3]},
        headers=studio.headers,
    ).json()
    run_synthesis_job(runtime, job["id"])

    done = client.get(f"/v1/synthesis-jobs/{job['id']}", headers=studio.headers).json()
    assert (done["status"], done["lines_done"], done["errors"]) == ("succeeded", 3, [])
    # Only the third line's window is beyond the stretch bounds; it is still delivered.
    [warning] = done["warnings"]
    assert (warning["line_id"], warning["code"]) == (project.line_ids[2], "cannot_fit")
    take = client.get(f"/v1/takes/{warning['take_id']}", headers=studio.headers).json()
    assert take["fit"]["status"] == "cannot_fit" and warning["detail"] == take["fit"]["detail"]
