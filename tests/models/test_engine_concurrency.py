"""One loaded engine, several threads: concurrent calls give what one thread gives.

And a batch job that renders its lines on several threads records each of them.

A batch job renders its lines on several threads through the one loaded engine
(`VOICEHUB_SYNTHESIS_THREADS`), so every engine must be safe to call at once:
Kokoro shares its onnxruntime sessions (a call alone gets every core, calls that
overlap one thread each) and a Japanese phonemizer (pyopenjtalk serialises calls
into OpenJTalk itself); Piper's espeak-ng phonemizer is global C state, which
Piper guards with its own lock. Different texts at once, so a phonemizer that
mixed up its callers would show.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from fastapi.testclient import TestClient

from models.engines.base import Engine, SynthesisResult, SynthesisSettings
from models.engines.registry import EngineRegistry
from tests.factories import cast_project, seed_studio, seed_voice
from voicehub.runtime import Runtime
from voicehub.synthesis.jobs import run_synthesis_job

NORMAL = SynthesisSettings()


def render_at_once(
    engine: Engine, speaker: str, texts: list[str], settings: SynthesisSettings
) -> list[SynthesisResult]:
    """Each text on a thread of its own, all released together."""
    start = threading.Barrier(len(texts))

    def render(text: str) -> SynthesisResult:
        start.wait()
        return engine.synthesize(text, speaker=speaker, settings=settings)

    with ThreadPoolExecutor(len(texts)) as pool:
        return list(pool.map(render, texts))


def assert_same(alone: list[SynthesisResult], together: list[SynthesisResult]) -> None:
    for one, other in zip(alone, together, strict=True):
        np.testing.assert_array_equal(one.audio, other.audio)
        assert one.phonemes == other.phonemes
        assert one.words == other.words
        assert one.morae == other.morae
    assert len({result.num_samples for result in together}) == len(together)


def test_kokoro_concurrent_calls_match_one_thread(engines: EngineRegistry) -> None:
    kokoro = engines.get("kokoro")
    texts = ["静かに。", "急いで！", "門を開けて。", "ありがとう。"]
    alone = [kokoro.synthesize(text, speaker="jf_alpha", settings=NORMAL) for text in texts]
    assert_same(alone, render_at_once(kokoro, "jf_alpha", texts, NORMAL))


def test_piper_concurrent_calls_match_one_thread(engines: EngineRegistry) -> None:
    piper = engines.get("piper")
    seeded = SynthesisSettings(seed=7)
    texts = [
        "Keep your voice down.",
        "Open the gate and wait.",
        "Nobody told me the bridge was gone.",
        "The lighthouse has been dark for years.",
    ]
    alone = [piper.synthesize(text, speaker="joe", settings=seeded) for text in texts]
    assert_same(alone, render_at_once(piper, "joe", texts, seeded))


def test_a_job_counts_every_line_that_fails_at_once(client: TestClient, runtime: Runtime) -> None:
    """Lines of one job fail on several threads at once; each failure is recorded once.

    On SQLite a failure reads the job row before its transaction takes the write
    lock, so two at once would each append to the same list and one would be lost.
    """
    runtime.settings = runtime.settings.model_copy(update={"synthesis_threads": 4})
    studio = seed_studio(runtime)
    voice = seed_voice(runtime)
    lines = [f"Line {n}, for a voice withdrawn before the batch ran." for n in range(12)]
    project = cast_project(
        client,
        studio,
        {"KEN": voice},
        [{"lines": [{"character": "KEN", "text": t} for t in lines]}],
    )
    job = client.post(
        f"/v1/projects/{project.project_id}/synthesis-jobs", headers=studio.headers
    ).json()
    client.post(f"/v1/actor/consents/{voice.consent_id}/revoke", headers=voice.actor_headers)

    run_synthesis_job(runtime, job["id"])

    done = client.get(f"/v1/synthesis-jobs/{job['id']}", headers=studio.headers).json()
    assert (done["status"], done["lines_done"], done["lines_failed"]) == ("failed", 0, 12)
    assert sorted(error["line_id"] for error in done["errors"]) == sorted(project.line_ids)
    assert {error["code"] for error in done["errors"]} == {"consent_revoked"}


def test_a_job_counts_every_line_it_renders_at_once(client: TestClient, runtime: Runtime) -> None:
    runtime.settings = runtime.settings.model_copy(update={"synthesis_threads": 4})
    studio = seed_studio(runtime)
    voice = seed_voice(runtime)
    lines = [f"Line {n}." for n in range(12)]
    project = cast_project(
        client,
        studio,
        {"KEN": voice},
        [{"lines": [{"character": "KEN", "text": t} for t in lines]}],
    )
    job = client.post(
        f"/v1/projects/{project.project_id}/synthesis-jobs", headers=studio.headers
    ).json()

    run_synthesis_job(runtime, job["id"])

    done = client.get(f"/v1/synthesis-jobs/{job['id']}", headers=studio.headers).json()
    assert (done["status"], done["lines_done"], done["lines_failed"]) == ("succeeded", 12, 0)
    cut = client.get(f"/v1/cuts/{project.cut_ids[0]}", headers=studio.headers).json()
    assert all(line["latest_take_id"] for line in cut["lines"])
