"""Batch jobs routed per engine: a coqui-cast job waits on the "gpu" queue for a gpu worker.

Real queue (Redis when reachable, else SQLite), real consumers, a real coqui-tts
VITS model (tests/coqui_models.py, built in about a second) next to Piper.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from huey import Huey
from sqlalchemy import select

from api.app import create_app
from models.engines.coqui import CoquiEngine, CoquiEngineConfig
from models.engines.registry import EngineRegistry
from tests.coqui_models import TinyModel, build_tiny_model
from tests.factories import SeededStudio, cast_project, seed_studio, seed_voice
from voicehub.cli import main
from voicehub.db import utcnow
from voicehub.heartbeat import beat
from voicehub.heartbeat import main as heartbeat_main
from voicehub.production.tables import Take
from voicehub.queue import DEFAULT_LANE, JobQueue, make_huey, make_job_queue
from voicehub.runtime import Runtime
from voicehub.settings import Settings
from voicehub.synthesis.jobs import requeue_lost_jobs

COQUI = {"engine": "coqui:tiny", "speaker": "tiny", "language": "en"}
AOI_LINE = {"character": "AOI", "text": "We leave at dawn."}
KEN_LINE = {"character": "KEN", "text": "Bring the lantern."}


def _script(*lines: dict[str, str]) -> list[dict[str, object]]:
    return [{"number": "C-001", "lines": list(lines)}]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> TinyModel:
    return build_tiny_model(tmp_path_factory.mktemp("coqui") / "tiny")


@pytest.fixture
def routed(runtime: Runtime, engines: EngineRegistry, tiny: TinyModel) -> Iterator[Runtime]:
    """The test runtime with coqui:tiny loaded and `VOICEHUB_ENGINE_QUEUES=coqui=gpu`."""
    coqui = CoquiEngine(CoquiEngineConfig(checkpoint_path=tiny.directory, name="coqui:tiny"))
    coqui.load()
    runtime.engines = EngineRegistry(
        {"piper": engines.get("piper"), "espeak": engines.get("espeak"), "coqui:tiny": coqui}
    )
    runtime.settings = runtime.settings.model_copy(update={"engine_queues": "coqui=gpu"})
    runtime.queue = make_job_queue(runtime.settings)
    yield runtime
    for lane in runtime.queue.lanes.values():
        lane.flush()


@pytest.fixture
def client(routed: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=routed, run_worker=False)) as test_client:
        yield test_client


def _job(client: TestClient, studio: SeededStudio, job_id: str) -> dict[str, object]:
    body: dict[str, object] = client.get(
        f"/v1/synthesis-jobs/{job_id}", headers=studio.headers
    ).json()
    return body


def _wait(client: TestClient, studio: SeededStudio, job_id: str) -> dict[str, object]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = _job(client, studio, job_id)
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish")


def _start_job(client: TestClient, studio: SeededStudio, project_id: str) -> str:
    accepted = client.post(f"/v1/projects/{project_id}/synthesis-jobs", headers=studio.headers)
    assert accepted.status_code == 202, accepted.text
    return str(accepted.json()["id"])


def _waiting(huey: Huey) -> list[str]:
    return [str(task.args[0]) for task in huey.pending()]


def test_a_coqui_job_waits_on_the_gpu_queue_until_a_gpu_worker_runs_it(
    client: TestClient, routed: Runtime
) -> None:
    studio = seed_studio(routed)
    aoi = seed_voice(routed, name="Aoi", voice=COQUI)
    ken = seed_voice(routed, name="Ken")
    mixed = cast_project(client, studio, {"AOI": aoi, "KEN": ken}, _script(AOI_LINE, KEN_LINE))
    piper_only = cast_project(client, studio, {"KEN": ken}, _script(KEN_LINE))

    heavy = _start_job(client, studio, mixed.project_id)
    light = _start_job(client, studio, piper_only.project_id)

    gpu = routed.queue.lanes["gpu"]
    assert gpu.name == f"{routed.settings.queue_name}-gpu"
    assert _waiting(gpu) == [heavy], "a job with any coqui voice goes to the gpu queue"
    assert _waiting(routed.queue.huey) == [light]

    default_worker = routed.queue.embedded_consumer(periodic=False)
    default_worker.start()
    try:
        assert _wait(client, studio, light)["status"] == "succeeded"
        # The default worker has drained its own queue and left the gpu job alone.
        assert _job(client, studio, heavy)["status"] == "queued"
        assert _waiting(gpu) == [heavy]
    finally:
        default_worker.stop(graceful=True)

    gpu_worker = routed.queue.embedded_consumer(periodic=False, lane="gpu")
    gpu_worker.start()
    try:
        done = _wait(client, studio, heavy)
    finally:
        gpu_worker.stop(graceful=True)
    assert (done["status"], done["lines_done"]) == ("succeeded", 2), done
    with routed.sessions() as session:
        engines = dict(
            session.execute(select(Take.line_id, Take.engine).where(Take.job_id == heavy)).all()
        )
    assert engines == dict(zip(mixed.line_ids, ["coqui:tiny", "piper"], strict=True))
    assert _waiting(gpu) == []


def test_a_lost_gpu_job_is_queued_again_on_the_gpu_queue(
    client: TestClient, routed: Runtime
) -> None:
    studio = seed_studio(routed)
    aoi = seed_voice(routed, name="Aoi", voice=COQUI)
    project = cast_project(client, studio, {"AOI": aoi}, _script(AOI_LINE))
    job_id = _start_job(client, studio, project.project_id)
    gpu = routed.queue.lanes["gpu"]
    after_lease = utcnow() + dt.timedelta(seconds=routed.settings.job_lease_seconds + 60)
    assert requeue_lost_jobs(routed, now=after_lease) == [], "its task still waits on the gpu queue"
    gpu.flush()  # the task is lost with its worker

    assert requeue_lost_jobs(routed, now=after_lease) == [job_id]
    assert _waiting(gpu) == [job_id]
    assert _waiting(routed.queue.huey) == []


def test_lanes_follow_the_configured_routes_heaviest_first(tmp_path: Path) -> None:
    settings = Settings(
        environment="test", data_dir=tmp_path, engine_queues="coqui=gpu, kokoro=cpu-heavy"
    )
    queue = make_job_queue(settings)
    assert sorted(queue.lanes) == ["cpu-heavy", "gpu"]
    assert queue.lane_for_engines(["piper", "espeak"]) == DEFAULT_LANE
    assert queue.lane_for_engines(["piper", "kokoro"]) == "cpu-heavy"
    assert queue.lane_for_engines(["kokoro", "coqui:aoi"]) == "gpu"
    exact = JobQueue(
        make_huey(settings), lanes={"slow": make_huey(settings, "slow")}, routes={"espeak": "slow"}
    )
    assert exact.lane_for_engines(["espeak"]) == "slow"
    assert make_job_queue(Settings(environment="test", data_dir=tmp_path)).lanes == {}


@pytest.mark.parametrize("value", ["coqui", "coqui=GPU", "coqui=gpu,coqui=cpu", "=gpu"])
def test_malformed_engine_queues_are_refused_at_start_up(value: str) -> None:
    with pytest.raises(ValueError, match="VOICEHUB_ENGINE_QUEUES"):
        Settings(environment="test", engine_queues=value)


def test_worker_check_reads_the_heartbeat(routed: Runtime, tmp_path: Path) -> None:
    heartbeat = tmp_path / "worker.heartbeat"
    check = ["worker", "--check", "--heartbeat-file", str(heartbeat)]
    assert main(check) == 1, "no heartbeat yet"
    beat(routed.database, routed.queue.lanes["gpu"], heartbeat)
    assert main(check) == 0
    assert heartbeat_main(["--heartbeat-file", str(heartbeat)]) == 0
    heartbeat.write_text(f"{time.time() - 120:.3f}\n")
    assert main([*check, "--max-age", "60"]) == 1
    assert heartbeat_main(["--heartbeat-file", str(heartbeat), "--max-age", "60"]) == 1
