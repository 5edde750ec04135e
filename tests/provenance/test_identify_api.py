"""`POST /v1/identify`, `GET /v1/takes/{id}/credentials` and `voicehub identify`, on real takes.

Takes are made through the studio API by the real engines, so each one was
signed and fingerprinted on the path of one line; the clips sent back are the
delivered files, transformed the way a clip found in the wild is.
"""

from __future__ import annotations

import io
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select

from api.app import create_app
from models.engines.base import SynthesisSettings
from tests.factories import SeededStudio, cast_project, seed_studio, seed_voice
from voicehub.audio import read_wav, wav_bytes
from voicehub.cli import main as voicehub_main
from voicehub.production.tables import Take
from voicehub.provenance.tables import FingerprintHash, TakeFingerprint
from voicehub.runtime import Runtime, build_runtime

LONG = "The lantern burns low, so we leave the valley before the river floods at dawn."
SHORT = "Run now, they are already here!"


@dataclass(frozen=True)
class Made:
    studio: SeededStudio
    actor_id: str
    actor_key: str
    long_take: dict[str, object]
    short_take: dict[str, object]
    long_wav: bytes
    short_wav: bytes


def _make(client: TestClient, runtime: Runtime) -> Made:
    studio = seed_studio(runtime)
    voice = seed_voice(runtime, name="Kenji Sato")
    script = [
        {
            "number": "C-001",
            "start": 0,
            "end": 20,
            "lines": [
                {"character": "KEN", "text": LONG, "start": 0.5},
                {"character": "KEN", "text": SHORT, "start": 12},
            ],
        }
    ]
    project = cast_project(client, studio, {"KEN": voice}, script)
    takes, wavs = [], []
    for line_id in project.line_ids:
        response = client.post(
            f"/v1/lines/{line_id}/takes", json={"fit": {"mode": "off"}}, headers=studio.headers
        )
        assert response.status_code == 201, response.text
        takes.append(response.json())
        wavs.append(client.get(takes[-1]["audio_url"], headers=studio.headers).content)
    return Made(studio, voice.actor_id, voice.actor_key, takes[0], takes[1], wavs[0], wavs[1])


def _identify(client: TestClient, headers: dict[str, str], clip: bytes) -> dict[str, object]:
    response = client.post("/v1/identify", content=clip, headers=headers)
    assert response.status_code == 200, response.text
    answer: dict[str, object] = response.json()
    return answer


def _mp3(wav: bytes, *, start: float = 0.0, seconds: float | None = None) -> bytes:
    """The clip as MP3 at 64 kbit/s (optionally an excerpt), as ffmpeg's libmp3lame writes it."""
    window = ["-ss", str(start)] + ([] if seconds is None else ["-t", str(seconds)])
    return subprocess.run(
        [
            *("ffmpeg", "-nostdin", "-loglevel", "error", "-i", "pipe:0", *window),
            *("-codec:a", "libmp3lame", "-b:a", "64k", "-f", "mp3", "pipe:1"),
        ],
        input=wav,
        capture_output=True,
        check=True,
    ).stdout


def _outcomes(answer: dict[str, object]) -> dict[str, str]:
    return {m["method"]: m["outcome"] for m in answer["methods"]}  # type: ignore[attr-defined,index]


def test_a_delivered_take_is_identified_with_everyone_it_names(
    client: TestClient, runtime: Runtime
) -> None:
    made = _make(client, runtime)
    answer = _identify(client, made.studio.headers, made.long_wav)

    assert answer["identified"] is True
    match = answer["matches"][0]  # type: ignore[index]
    assert match["take_id"] == made.long_take["id"]
    assert match["line_id"] == made.long_take["line_id"]
    assert match["voice_id"] == made.long_take["voice_id"]
    assert match["actor"] == {"id": made.actor_id, "credited_name": "Kenji Sato"}
    assert match["studio"]["id"] == made.studio.id
    assert match["text"] == LONG, "the studio that made it sees its line"
    assert match["confidence"] >= 0.5
    assert set(match["methods"]) == {"chromaprint", "landmarks"}
    assert abs(match["take_start_seconds"]) < 0.1
    assert _outcomes(answer) == {"chromaprint": "matched", "landmarks": "matched"}
    credentials = answer["content_credentials"]
    assert credentials["state"] == "untrusted", "a development certificate is not trusted"  # type: ignore[index]
    assert credentials["credit"]["take_id"] == made.long_take["id"]  # type: ignore[index]


def test_a_short_line_is_identified_by_landmarks_while_chromaprint_says_too_short(
    client: TestClient, runtime: Runtime
) -> None:
    made = _make(client, runtime)
    seconds = made.short_take["duration_seconds"]
    assert 1.0 <= seconds < 3.0  # type: ignore[operator]
    answer = _identify(client, made.studio.headers, _mp3(made.short_wav))

    assert _outcomes(answer) == {"chromaprint": "too_short", "landmarks": "matched"}
    assert [m["take_id"] for m in answer["matches"]] == [made.short_take["id"]]  # type: ignore[attr-defined]
    assert answer["content_credentials"]["state"] == "absent", "the re-encode lost the manifest"  # type: ignore[index]


def test_a_re_encoded_excerpt_is_still_traced(client: TestClient, runtime: Runtime) -> None:
    made = _make(client, runtime)
    answer = _identify(client, made.studio.headers, _mp3(made.long_wav, start=1.0, seconds=3.5))
    assert answer["identified"] is True
    match = answer["matches"][0]  # type: ignore[index]
    assert match["take_id"] == made.long_take["id"]
    assert match["take_start_seconds"] == pytest.approx(-1.0, abs=0.1), "the clip starts 1 s in"


def test_another_studio_learns_who_made_it_but_not_the_line(
    client: TestClient, runtime: Runtime
) -> None:
    made = _make(client, runtime)
    other = seed_studio(runtime, name="Another Studio")
    match = _identify(client, other.headers, made.long_wav)["matches"][0]  # type: ignore[index]
    assert match["take_id"] == made.long_take["id"]
    assert match["studio"]["id"] == made.studio.id
    assert (match["text"], match["project_id"], match["cut_id"]) == (None, None, None)

    mine = _identify(client, {"Authorization": f"Bearer {made.actor_key}"}, made.long_wav)
    assert mine["matches"][0]["text"] == LONG, "the actor whose voice it is sees the line"  # type: ignore[index]


def test_clips_voicehub_never_made_name_nobody(client: TestClient, runtime: Runtime) -> None:
    made = _make(client, runtime)
    rng = np.random.default_rng(7)
    noise = wav_bytes(rng.normal(0, 0.1, 48000 * 5).clip(-1, 1), 48000)
    espeak = runtime.engines.get("espeak").synthesize(
        LONG, speaker="en-us", settings=SynthesisSettings(language="en")
    )
    spoken_by_another = wav_bytes(espeak.audio, espeak.sample_rate)
    for clip in (noise, spoken_by_another):
        answer = _identify(client, made.studio.headers, clip)
        assert answer["identified"] is False and answer["matches"] == []
        assert set(_outcomes(answer).values()) == {"no_match"}


@pytest.mark.parametrize(
    ("clip", "reason"),
    [
        (wav_bytes(np.zeros(48000 * 4), 48000), "silent"),
        (wav_bytes(0.3 * np.sin(np.arange(19200) / 48000 * 2 * np.pi * 220), 48000), "too_short"),
        (b"\x89PNG\r\n\x1a\n" + bytes(2000), "unsupported_format"),
        (b"Hello, this is a text file, not audio at all.\n" * 40, "unsupported_format"),
    ],
    ids=["silence", "0.4 s", "png", "text"],
)
def test_unusable_clips_are_refused_with_their_reason(
    client: TestClient, runtime: Runtime, clip: bytes, reason: str
) -> None:
    studio = seed_studio(runtime)
    response = client.post("/v1/identify", content=clip, headers=studio.headers)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert (problem["code"], problem["reason"]) == ("clip_unusable", reason)


def test_a_corrupt_wav_is_refused_as_corrupt(client: TestClient, runtime: Runtime) -> None:
    made = _make(client, runtime)
    truncated = made.long_wav[:44] + bytes(range(256)) * 3
    response = client.post("/v1/identify", content=truncated, headers=made.studio.headers)
    assert response.status_code == 422, response.text
    assert response.json()["reason"] in ("corrupt", "too_short")


def test_every_take_is_fingerprinted_with_it_and_nothing_when_the_take_is_refused(
    client: TestClient, runtime: Runtime
) -> None:
    made = _make(client, runtime)
    with runtime.sessions() as session:
        methods = dict(
            session.execute(
                select(TakeFingerprint.take_id, func.count()).group_by(TakeFingerprint.take_id)
            ).all()
        )
        takes = session.scalar(select(func.count()).select_from(Take))
        rows = session.scalar(
            select(func.count())
            .select_from(FingerprintHash)
            .where(FingerprintHash.take_id == made.long_take["id"])
        )
    assert methods == {made.long_take["id"]: 2, made.short_take["id"]: 1}, "short: landmarks only"
    assert takes == 2 and rows and rows > 50


def test_take_credentials_read_untrusted_until_the_operator_trusts_the_ca(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    made = _make(client, runtime)
    url = f"/v1/takes/{made.long_take['id']}/credentials"
    untrusted = client.get(url, headers=made.studio.headers).json()
    assert untrusted["state"] == "untrusted"
    assert "signingCredential.untrusted" in untrusted["validation_codes"]
    assert untrusted["credit"]["actor_name"] == "Kenji Sato"
    assert untrusted["digital_source_type"].endswith("trainedAlgorithmicMedia")

    anchors = runtime.settings.keys_dir / "c2pa" / "ca.pem"
    assert anchors.exists(), "the development CA the takes were signed under"
    trusting = build_runtime(
        runtime.settings.model_copy(update={"c2pa_trust_anchors_path": anchors}),
        engines=runtime.engines,
    )
    with TestClient(create_app(runtime=trusting, run_worker=False)) as operator_client:
        trusted = operator_client.get(url, headers=made.studio.headers).json()
    trusting.close()
    assert trusted["state"] == "trusted"

    other = seed_studio(runtime, name="Another Studio")
    assert client.get(url, headers=other.headers).status_code == 404


def test_the_cli_identifies_a_file(
    client: TestClient,
    runtime: Runtime,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    made = _make(client, runtime)
    monkeypatch.setenv("VOICEHUB_DATABASE_URL", runtime.settings.resolved_database_url)
    monkeypatch.setenv("VOICEHUB_DATA_DIR", str(runtime.settings.data_dir))
    from voicehub.settings import get_settings

    get_settings.cache_clear()
    try:
        found = tmp_path / "found.mp3"
        found.write_bytes(_mp3(made.long_wav))
        assert voicehub_main(["identify", str(found)]) == 0
        out = capsys.readouterr().out
        assert made.long_take["id"] in out and "Kenji Sato" in out

        noise = tmp_path / "noise.wav"
        noise.write_bytes(wav_bytes(np.random.default_rng(3).normal(0, 0.1, 48000 * 5), 48000))
        assert voicehub_main(["identify", str(noise)]) == 1
        assert "no VoiceHub take matches" in capsys.readouterr().out

        short = tmp_path / "short.wav"
        short.write_bytes(wav_bytes(np.zeros(4800), 48000))
        assert voicehub_main(["identify", str(short)]) == 2
        assert "clip_unusable" in capsys.readouterr().err
    finally:
        get_settings.cache_clear()


def test_signing_leaves_the_audio_as_mastered(client: TestClient, runtime: Runtime) -> None:
    made = _make(client, runtime)
    audio, rate = read_wav(made.long_wav)
    with runtime.sessions() as session:
        take = session.get(Take, made.long_take["id"])
        assert take is not None
    with wave.open(io.BytesIO(made.long_wav)) as reader:
        assert reader.getnframes() == len(audio) == take.num_samples
    assert rate == take.sample_rate
    assert b"c2pa" in made.long_wav or b"C2PA" in made.long_wav


def test_backfill_fingerprints_takes_that_have_none_and_the_cli_reads_credentials(
    client: TestClient,
    runtime: Runtime,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    made = _make(client, runtime)
    with runtime.sessions() as session, session.begin():
        # As a take made before this release: no fingerprints at all.
        session.execute(delete(FingerprintHash))
        session.execute(delete(TakeFingerprint))
    assert _identify(client, made.studio.headers, made.long_wav)["identified"] is False

    monkeypatch.setenv("VOICEHUB_DATABASE_URL", runtime.settings.resolved_database_url)
    monkeypatch.setenv("VOICEHUB_DATA_DIR", str(runtime.settings.data_dir))
    from voicehub.settings import get_settings

    get_settings.cache_clear()
    try:
        assert voicehub_main(["provenance", "backfill"]) == 0
        assert "fingerprinted 2 take(s)" in capsys.readouterr().out
        assert voicehub_main(["provenance", "backfill"]) == 0
        assert "fingerprinted 0 take(s)" in capsys.readouterr().out, "nothing twice"

        signed = tmp_path / "take.wav"
        signed.write_bytes(made.long_wav)
        assert voicehub_main(["provenance", "credentials", str(signed)]) == 0
        assert '"state": "untrusted"' in capsys.readouterr().out
        tampered = bytearray(made.long_wav)
        tampered[len(tampered) // 2] ^= 0x55
        signed.write_bytes(bytes(tampered))
        assert voicehub_main(["provenance", "credentials", str(signed)]) == 1
        assert '"state": "invalid"' in capsys.readouterr().out
    finally:
        get_settings.cache_clear()
    answer = _identify(client, made.studio.headers, made.long_wav)
    assert answer["matches"][0]["take_id"] == made.long_take["id"]  # type: ignore[index]
