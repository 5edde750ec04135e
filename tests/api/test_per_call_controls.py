"""Speed, sentence pause and seed: from the request, through the engine, to the take."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
import soundfile
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from models.engines.base import SynthesisSettings
from models.engines.registry import EngineRegistry
from tests.factories import (
    JAPANESE,
    CastProject,
    SeededStudio,
    audio_frames,
    cast_project,
    one_line,
    seed_studio,
    seed_voice,
)
from voicehub.production.tables import Take
from voicehub.runtime import Runtime
from voicehub.synthesis.jobs import run_synthesis_job
from voicehub.synthesis.tables import SynthesisJob

TWO_SENTENCES = "Bring the lantern. We leave at dawn."


def _project(
    client: TestClient, runtime: Runtime, text: str = TWO_SENTENCES
) -> tuple[SeededStudio, CastProject]:
    studio = seed_studio(runtime)
    voice = seed_voice(runtime)
    return studio, cast_project(client, studio, {"KEN": voice}, one_line(text))


def _take(
    client: TestClient, studio: SeededStudio, line_id: str, body: dict[str, Any]
) -> tuple[dict[str, Any], bytes]:
    response = client.post(f"/v1/lines/{line_id}/takes", json=body, headers=studio.headers)
    assert response.status_code == 201, response.text
    take = response.json()
    return take, audio_frames(client.get(take["audio_url"], headers=studio.headers).content)


def test_the_same_seed_gives_the_same_take_and_the_take_says_how_it_was_made(
    client: TestClient, runtime: Runtime
) -> None:
    studio, project = _project(client, runtime)
    line = project.line_ids[0]
    body = {"speed": 1.1, "sentence_pause": 0.3, "seed": 1234}

    first, first_audio = _take(client, studio, line, body)
    again, again_audio = _take(client, studio, line, body)
    other, other_audio = _take(client, studio, line, {**body, "seed": 1235})

    assert first["id"] != again["id"]
    assert (first["speed"], first["sentence_pause"], first["seed"]) == (1.1, 0.3, 1234)
    assert first_audio == again_audio, "same line, settings and seed: the same audio bytes"
    assert other["seed"] == 1235 and other_audio != first_audio
    listed = client.get(f"/v1/lines/{line}/takes", headers=studio.headers).json()["data"]
    assert [t["seed"] for t in listed] == [1234, 1234, 1235]
    assert client.get(f"/v1/takes/{first['id']}", headers=studio.headers).json() == first


def test_an_unseeded_take_reports_the_seed_that_remakes_it(
    client: TestClient, runtime: Runtime
) -> None:
    studio, project = _project(client, runtime)
    line = project.line_ids[0]

    drawn, drawn_audio = _take(client, studio, line, {})
    assert isinstance(drawn["seed"], int) and 0 <= drawn["seed"] < 2**31
    assert drawn["sentence_pause"] is None and drawn["speed"] == 1.0
    remade, remade_audio = _take(client, studio, line, {"seed": drawn["seed"]})
    assert remade["seed"] == drawn["seed"] and remade_audio == drawn_audio


def test_the_sentence_pause_is_silence_of_that_length_in_the_timing(
    client: TestClient, runtime: Runtime
) -> None:
    studio, project = _project(client, runtime)
    line = project.line_ids[0]

    tight, _ = _take(client, studio, line, {"seed": 5, "sentence_pause": 0})
    paused, _ = _take(client, studio, line, {"seed": 5, "sentence_pause": 0.8})

    assert paused["duration_seconds"] - tight["duration_seconds"] == pytest.approx(0.8, abs=1e-4)
    timing = client.get(paused["timing_url"], headers=studio.headers).json()
    pauses = [p for p in timing["phonemes"] if p["phoneme"] == "_"]
    assert len(pauses) == 1 and pauses[0]["is_pause"]
    assert pauses[0]["samples"] == round(0.8 * 48000)
    words = [w["text"] for w in timing["words"]]
    assert words == ["Bring", "the", "lantern", "We", "leave", "at", "dawn"]
    lantern, we = timing["words"][2], timing["words"][3]
    assert lantern["end_seconds"] <= pauses[0]["start_seconds"] < we["start_seconds"]
    # The delivered file, signed Content Credentials and all, as libsndfile reads it.
    delivered = client.get(paused["audio_url"], headers=studio.headers).content
    samples, rate = soundfile.read(io.BytesIO(delivered), dtype="float64")
    assert rate == 48000 and len(samples) == timing["num_samples"]
    start = pauses[0]["start_sample"]
    inside = samples[start + 480 : start + pauses[0]["samples"] - 480]
    assert float(np.abs(inside).max()) < 1e-4, "the pause is silent"


def test_bad_controls_are_refused_by_field(client: TestClient, runtime: Runtime) -> None:
    studio, project = _project(client, runtime)
    cases = {
        "speed": {"speed": 0},
        "sentence_pause": {"sentence_pause": 9},
        "seed": {"seed": -1},
    }
    for field, body in cases.items():
        for url in (
            f"/v1/lines/{project.line_ids[0]}/takes",
            f"/v1/projects/{project.project_id}/synthesis-jobs",
        ):
            response = client.post(url, json=body, headers=studio.headers)
            assert response.status_code == 422, (url, body)
            assert response.json()["code"] == "invalid_input"
            assert [f["field"] for f in response.json()["fields"]] == [field]
    too_big = client.post(
        f"/v1/lines/{project.line_ids[0]}/takes", json={"seed": 2**31}, headers=studio.headers
    )
    assert too_big.status_code == 422 and too_big.json()["fields"][0]["field"] == "seed"
    fraction = client.post(
        f"/v1/lines/{project.line_ids[0]}/takes", json={"seed": 1.5}, headers=studio.headers
    )
    assert fraction.status_code == 422 and fraction.json()["code"] == "validation_error"
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Take)) == 0
        assert session.scalar(select(func.count()).select_from(SynthesisJob)) == 0


def test_an_idempotency_key_reused_with_another_seed_is_a_conflict(
    client: TestClient, runtime: Runtime
) -> None:
    studio, project = _project(client, runtime, "Again, please.")
    url = f"/v1/lines/{project.line_ids[0]}/takes"
    headers = {**studio.headers, "Idempotency-Key": "take-seeded"}

    first = client.post(url, json={"seed": 1}, headers=headers)
    replay = client.post(url, json={"seed": 1}, headers=headers)
    other = client.post(url, json={"seed": 2}, headers=headers)

    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Take)) == 1


def test_a_job_renders_every_line_with_its_controls(client: TestClient, runtime: Runtime) -> None:
    studio, project = _project(client, runtime)
    controls = {"speed": 1.2, "sentence_pause": 0.2, "seed": 7}
    response = client.post(
        f"/v1/projects/{project.project_id}/synthesis-jobs", json=controls, headers=studio.headers
    )
    assert response.status_code == 202, response.text
    job = response.json()
    assert (job["speed"], job["sentence_pause"], job["seed"]) == (1.2, 0.2, 7)

    run_synthesis_job(runtime, job["id"])

    with runtime.sessions() as session:
        take = session.scalars(select(Take).where(Take.job_id == job["id"])).one()
        assert (take.speed, take.sentence_pause, take.seed) == (1.2, 0.2, 7)
        job_audio = audio_frames(runtime.storage.get(take.audio_key))
    _, single_audio = _take(client, studio, project.line_ids[0], controls)
    assert job_audio == single_audio, "a job's take is the single-line take with the same controls"


def test_a_deterministic_engine_reports_no_seed(client: TestClient, runtime: Runtime) -> None:
    studio = seed_studio(runtime)
    voice = seed_voice(runtime, voice=JAPANESE)
    project = cast_project(
        client, studio, {"HARU": voice}, one_line("わかった。", "HARU"), language="ja"
    )
    take, audio = _take(client, studio, project.line_ids[0], {"seed": 3})
    again, again_audio = _take(client, studio, project.line_ids[0], {"seed": 4})
    assert take["seed"] is None and again["seed"] is None, "Kokoro draws no noise"
    assert audio == again_audio


def test_piper_seeds_are_independent_across_threads(engines: EngineRegistry) -> None:
    """No process-global seed: lines rendered at once come out as they do one by one."""
    piper = engines.get("piper")

    def render(seed: int) -> bytes:
        settings = SynthesisSettings(seed=seed)
        return piper.synthesize(
            "We leave at dawn.", speaker="joe", settings=settings
        ).audio.tobytes()

    alone = [render(seed) for seed in (1, 2, 3)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        together = list(pool.map(render, (1, 2, 3)))
    assert together == alone
    assert len(set(alone)) == 3
