"""The operator's commands and a separate `voicehub worker` process, as production runs them."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from voicehub.runtime import Runtime


def _cli_env(runtime: Runtime) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("VOICEHUB_")}
    return env | {
        "VOICEHUB_DATA_DIR": str(runtime.settings.data_dir),
        "VOICEHUB_DATABASE_URL": runtime.settings.resolved_database_url,
        "VOICEHUB_QUEUE_URL": runtime.settings.queue_url,
        "VOICEHUB_QUEUE_NAME": runtime.settings.queue_name,
    }


def _voicehub(runtime: Runtime, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "voicehub.cli", *args],
        env=_cli_env(runtime),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture
def worker_process(runtime: Runtime, tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    log = (tmp_path / "worker.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "voicehub.cli", "worker"],
        env=_cli_env(runtime),
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    yield process
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


def test_onboarding_and_a_separate_worker_process(
    client: TestClient, runtime: Runtime, worker_process: subprocess.Popen[str], tmp_path: Path
) -> None:
    studio_out = _voicehub(runtime, "create-studio", "Harbour Dubbing")
    studio_key = re.search(r"(vh_live_\S+)", studio_out)
    assert studio_key is not None, studio_out
    actor_out = _voicehub(
        runtime,
        "onboard-actor",
        "--name", "Rin Mori",
        "--engine", "piper",
        "--speaker", "joe",
        "--language", "en",
        "--uses", "animation,games",
        "--currency", "JPY",
        "--price-per-1k-chars-micros", "3000000000",
        "--royalty-bps", "7000",
        "--use-description", "Narration and side characters in the studio's mobile games.",
        "--verified-in-person", "passport checked at the studio",
    )  # fmt: skip
    voice_id = re.search(r"voice (voice_\w+)", actor_out)
    actor_key = re.search(r"(vh_live_\S+)", actor_out)
    assert voice_id and actor_key, actor_out
    headers = {"Authorization": f"Bearer {studio_key.group(1)}"}
    project = client.post(
        "/v1/projects", json={"name": "Pilot", "language": "en", "use": "games"}, headers=headers
    ).json()
    script = {"cuts": [{"lines": [{"character": "RIN", "text": "Ready when you are."}]}]}
    client.post(f"/v1/projects/{project['id']}/script", json=script, headers=headers)
    client.post(
        f"/v1/projects/{project['id']}/cast",
        json={"character": "RIN", "voice_id": voice_id.group(1)},
        headers=headers,
    )

    job = client.post(f"/v1/projects/{project['id']}/synthesis-jobs", headers=headers).json()
    deadline = time.monotonic() + 120
    while job["status"] in ("queued", "running") and time.monotonic() < deadline:
        assert worker_process.poll() is None, (tmp_path / "worker.log").read_text()
        time.sleep(0.3)
        job = client.get(f"/v1/synthesis-jobs/{job['id']}", headers=headers).json()

    assert job["status"] == "succeeded", (job, (tmp_path / "worker.log").read_text())
    consents = client.get(
        "/v1/actor/consents", headers={"Authorization": f"Bearer {actor_key.group(1)}"}
    ).json()
    assert consents["data"][0]["current"]["allowed_uses"] == ["animation", "games"]
    assert "operator" in consents["data"][0]["current"]["changed_by"]


def test_a_command_with_bad_input_says_why(runtime: Runtime) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "voicehub.cli",
            "statement",
            "--actor",
            "act_x",
            "--period",
            "2026-11",
        ],
        env=_cli_env(runtime),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "error (not_found): No actor act_x."


def test_a_voice_registered_without_consent_gets_it_from_the_actor(
    client: TestClient, runtime: Runtime
) -> None:
    out = _voicehub(
        runtime,
        "onboard-actor",
        "--name", "Aoi Sato",
        "--engine", "kokoro",
        "--speaker", "jf_nezumi",
        "--language", "ja",
        "--no-consent",
    )  # fmt: skip
    voice_id = re.search(r"voice (voice_\w+)", out)
    actor_key = re.search(r"(vh_live_\S+)", out)
    assert voice_id and actor_key and "no consent recorded" in out, out
    headers = {"Authorization": f"Bearer {actor_key.group(1)}"}
    assert client.get("/v1/actor/voices", headers=headers).json()["data"][0]["consent_id"] is None
    given = client.post(
        f"/v1/actor/voices/{voice_id.group(1)}/consent",
        json={
            "signer_name": "Aoi Sato",
            "use_description": "Side characters in TV anime, Japanese only, no advertising.",
            "allowed_uses": ["animation"],
            "languages": ["ja"],
            "territories": ["JP"],
            "currency": "JPY",
            "prices_per_1k_chars_micros": {"animation": 3_000_000_000},
            "actor_share_bps": 7000,
        },
        headers=headers,
    )
    assert given.status_code == 201, given.text
    assert given.json()["current"]["verification"] == "pending"
    assert (
        "VoiceHub"
        in client.get(f"/v1/actor/consents/{given.json()['id']}/statement", headers=headers).json()[
            "text"
        ]
    )
