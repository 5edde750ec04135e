"""GET /v1/engines: what a studio can synthesize with on this server, and on what hardware."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from models.engines.coqui import CoquiEngine, CoquiEngineConfig
from models.engines.registry import EngineRegistry, gpu_available
from tests.coqui_models import TinyModel, build_tiny_model
from tests.factories import seed_studio
from voicehub.runtime import Runtime, build_runtime


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> TinyModel:
    return build_tiny_model(tmp_path_factory.mktemp("coqui") / "tiny")


@pytest.fixture
def coqui_client(
    runtime: Runtime, engines: EngineRegistry, tiny: TinyModel
) -> Iterator[TestClient]:
    """The test server with the bundled engines and an operator's coqui model "coqui:tiny"."""
    coqui = CoquiEngine(CoquiEngineConfig(checkpoint_path=tiny.directory, name="coqui:tiny"))
    coqui.load()
    runtime.engines = EngineRegistry(
        {"piper": engines.get("piper"), "kokoro": engines.get("kokoro"), "coqui:tiny": coqui}
    )
    with TestClient(create_app(runtime=runtime, run_worker=False)) as test_client:
        yield test_client


def test_lists_installed_engines_with_models_and_gpu_facts(
    coqui_client: TestClient, runtime: Runtime, tiny: TinyModel
) -> None:
    studio = seed_studio(runtime, scopes=("read",))
    response = coqui_client.get("/v1/engines", headers=studio.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["gpu_available"] == gpu_available()
    engines = {engine["name"]: engine for engine in body["data"]}
    assert list(engines) == ["piper", "kokoro", "coqui:tiny"]
    assert engines["coqui:tiny"] == {
        "name": "coqui:tiny",
        "languages": ["en"],
        "sample_rate": 22050,
        "speakers": ["tiny"],
        "model_sha256": hashlib.sha256(Path(tiny.checkpoint).read_bytes()).hexdigest(),
        "gpu_capable": True,
        "gpu_in_use": False,
    }
    assert engines["piper"]["speakers"] == ["joe"]
    assert engines["kokoro"]["languages"] == ["ja"]
    # The onnx engines run on onnxruntime's CPU provider here.
    assert not engines["piper"]["gpu_in_use"] and not engines["kokoro"]["gpu_in_use"]


def test_engines_need_a_studio_key_with_read_scope(
    coqui_client: TestClient, runtime: Runtime
) -> None:
    assert coqui_client.get("/v1/engines").status_code == 401
    billing = seed_studio(runtime, "Billing only", scopes=("billing",))
    refused = coqui_client.get("/v1/engines", headers=billing.headers)
    assert refused.status_code == 403
    assert refused.json()["code"] == "insufficient_scope"


def test_a_process_serves_the_operator_s_coqui_models_from_its_settings(
    runtime: Runtime, tiny: TinyModel
) -> None:
    settings = runtime.settings.model_copy(
        update={"engines": "", "coqui_models": f"aoi={tiny.directory}"}
    )
    started = build_runtime(settings)
    try:
        assert [info.name for info in started.engines.infos()] == ["coqui:aoi"]
        assert started.engines.get("coqui:aoi").info.speakers == ("tiny",)
    finally:
        started.close()
