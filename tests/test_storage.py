"""Storage behind one interface: a directory, and an S3 bucket on moto's S3 server.

S3's HTTP API is a boundary VoiceHub does not own, so the bucket is moto's
threaded server on loopback, spoken to by boto3 over real HTTP; everything on
VoiceHub's side (the API, the synthesis path, the transaction hooks) is real.
"""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from fastapi.testclient import TestClient
from moto.server import ThreadedMotoServer

from api.app import create_app
from models.engines.registry import EngineRegistry
from tests.factories import cast_project, one_line, seed_studio, seed_voice
from voicehub.db import transaction
from voicehub.runtime import Runtime, build_runtime
from voicehub.settings import Settings
from voicehub.storage import PART_BYTES, LocalStorage, S3Storage, Storage, make_storage
from voicehub.synthesis.service import synthesize_line


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on a free loopback port, for this module."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials the way an operator gives them: the usual AWS variables."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "voicehub-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "voicehub-test-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture
def bucket(s3_endpoint: str, s3_env: None) -> Any:
    """A fresh bucket and a boto3 client to look inside it behind VoiceHub's back."""
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    name = f"voicehub-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    client.voicehub_bucket = name
    return client


def _objects(client: Any, prefix: str = "") -> set[str]:
    listed = client.list_objects_v2(Bucket=client.voicehub_bucket, Prefix=prefix)
    return {item["Key"] for item in listed.get("Contents", [])}


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    """Each backend in turn, built from settings as a process builds it."""
    if request.param == "local":
        return make_storage(Settings(environment="test", data_dir=tmp_path))
    client = request.getfixturevalue("bucket")
    endpoint = request.getfixturevalue("s3_endpoint")
    return make_storage(
        Settings(
            environment="test",
            data_dir=tmp_path,
            storage_url=f"s3://{client.voicehub_bucket}/studio-a",
            s3_endpoint_url=endpoint,
        )
    )


def test_settings_pick_the_backend(tmp_path: Path, s3_env: None) -> None:
    local = make_storage(Settings(environment="test", data_dir=tmp_path))
    assert isinstance(local, LocalStorage) and local.root == tmp_path / "storage"
    s3 = make_storage(Settings(environment="test", storage_url="s3://takes-bucket/prod/eu"))
    assert isinstance(s3, S3Storage)
    assert (s3.bucket, s3.object_key("takes/t.wav")) == ("takes-bucket", "prod/eu/takes/t.wav")
    with pytest.raises(ValueError, match="VOICEHUB_STORAGE_URL"):
        Settings(environment="test", storage_url="https://takes-bucket/prod")


def test_objects_round_trip(storage: Storage) -> None:
    storage.put("takes/std_1/tk_1.wav", b"RIFF one")
    storage.put("takes/std_1/tk_1.wav", b"RIFF one, replaced")
    assert storage.get("takes/std_1/tk_1.wav") == b"RIFF one, replaced"
    assert storage.size("takes/std_1/tk_1.wav") == len(b"RIFF one, replaced")
    with storage.open("takes/std_1/tk_1.wav") as file:
        assert file.read(4) == b"RIFF"
        assert file.read() == b" one, replaced"
    storage.delete("takes/std_1/tk_1.wav")
    storage.delete("takes/std_1/tk_1.wav")
    for read in (storage.get, storage.size, storage.open):
        with pytest.raises(FileNotFoundError):
            read("takes/std_1/tk_1.wav")


def test_a_large_file_streams_in_and_out_with_its_digest(storage: Storage) -> None:
    # More than two multipart parts, the last one short.
    data = bytes(range(256)) * ((2 * PART_BYTES + 12345) // 256)
    source = io.BytesIO(b"skipped" + data)
    source.seek(len(b"skipped"))

    digest = storage.put_file("exports/prj_1.zip", source)

    assert digest == hashlib.sha256(data).hexdigest()
    assert storage.size("exports/prj_1.zip") == len(data)
    with storage.open("exports/prj_1.zip") as file:
        assert hashlib.sha256(file.read()).hexdigest() == digest


@pytest.mark.parametrize("key", ["../outside.wav", "takes/../../outside.wav", "/etc/passwd"])
def test_a_key_cannot_leave_the_root(storage: Storage, key: str) -> None:
    with pytest.raises(ValueError, match="escapes the root"):
        storage.put(key, b"x")


def test_a_prefix_keeps_studios_objects_under_it(bucket: Any, s3_endpoint: str) -> None:
    storage = S3Storage.from_url(
        f"s3://{bucket.voicehub_bucket}/tenant-a/", endpoint_url=s3_endpoint
    )
    storage.put("takes/tk_1.wav", b"RIFF")
    assert _objects(bucket) == {"tenant-a/takes/tk_1.wav"}


@pytest.fixture
def s3_runtime(
    tmp_path: Path,
    runtime: Runtime,
    engines: EngineRegistry,
    bucket: Any,
    s3_endpoint: str,
) -> Iterator[Runtime]:
    """A process on the test database and queue that keeps everything in the bucket."""
    settings = runtime.settings.model_copy(
        update={
            "storage_url": f"s3://{bucket.voicehub_bucket}/voicehub",
            "s3_endpoint_url": s3_endpoint,
        }
    )
    built = build_runtime(settings, engines=engines)
    built.__dict__["speaker_verifier"] = runtime.speaker_verifier
    yield built
    built.close()


def test_a_take_synthesized_through_the_api_lives_in_the_bucket(
    s3_runtime: Runtime, bucket: Any, tmp_path: Path
) -> None:
    assert isinstance(s3_runtime.storage, S3Storage)
    with TestClient(create_app(runtime=s3_runtime, run_worker=False)) as client:
        studio = seed_studio(s3_runtime)
        ken = seed_voice(s3_runtime, name="Ken")
        project = cast_project(client, studio, {"KEN": ken}, one_line())
        created = client.post(f"/v1/lines/{project.line_ids[0]}/takes", headers=studio.headers)
        assert created.status_code == 201, created.text
        take_id = created.json()["id"]
        downloaded = client.get(f"/v1/takes/{take_id}/audio", headers=studio.headers)

    assert downloaded.status_code == 200
    [key] = [key for key in _objects(bucket, "voicehub/") if take_id in key]
    held = bucket.get_object(Bucket=bucket.voicehub_bucket, Key=key)["Body"].read()
    assert downloaded.content == held
    assert held[:4] == b"RIFF"
    assert not (tmp_path / "storage").exists(), "nothing went to the local directory"


def test_a_rolled_back_take_leaves_no_object_in_the_bucket(
    s3_runtime: Runtime, bucket: Any
) -> None:
    with TestClient(create_app(runtime=s3_runtime, run_worker=False)) as client:
        studio = seed_studio(s3_runtime)
        ken = seed_voice(s3_runtime, name="Ken")
        project = cast_project(client, studio, {"KEN": ken}, one_line())
    before = _objects(bucket)
    stored: list[str] = []

    with pytest.raises(RuntimeError), transaction(s3_runtime.sessions) as session:
        take, _ = synthesize_line(
            session, s3_runtime.synthesizer, studio_id=studio.id, line_id=project.line_ids[0]
        )
        stored.extend(_objects(bucket) - before)
        raise RuntimeError("the request failed after the take was rendered")

    assert len(stored) == 1 and take.id in stored[0], "the take was in the bucket before"
    assert _objects(bucket) == before
