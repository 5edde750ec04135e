"""Every size a caller controls has a limit, and audio is judged by its bytes, not its label.

Limits are lowered on the test's own runtime so the bodies stay small: line
text (`VOICEHUB_MAX_LINE_CHARS`), script size and line count
(`VOICEHUB_MAX_SCRIPT_BYTES`, `VOICEHUB_MAX_SCRIPT_LINES`), request bodies
(`VOICEHUB_MAX_UPLOAD_BYTES`) and lines per synthesis job
(`VOICEHUB_MAX_BATCH_LINES`).
"""

from __future__ import annotations

import io
import math
import struct
import wave

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.factories import cast_project, seed_studio, seed_voice
from voicehub.production.tables import Line
from voicehub.runtime import Runtime
from voicehub.synthesis.tables import SynthesisJob

# The eight-byte signature every PNG file starts with, then an IHDR chunk's start.
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 4000


def _tone_wav(seconds: float, rate: int = 16000) -> bytes:
    """A 16-bit mono WAV of a 220 Hz tone, loud enough not to count as silence."""
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 220 * n / rate)))
        for n in range(int(seconds * rate))
    )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)
    return buffer.getvalue()


def _project(client: TestClient, headers: dict[str, str]) -> str:
    response = client.post(
        "/v1/projects", json={"name": "P", "language": "en", "use": "animation"}, headers=headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _lines(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Line)) or 0)


def test_line_text_longer_than_the_limit_is_refused(client: TestClient, runtime: Runtime) -> None:
    runtime.settings.max_line_chars = 40
    studio = seed_studio(runtime)
    url = f"/v1/projects/{_project(client, studio.headers)}/script"
    over = client.post(
        url,
        json={"cuts": [{"lines": [{"character": "KEN", "text": "b" * 41}]}]},
        headers=studio.headers,
    )
    assert over.status_code == 422, over.text
    assert (over.json()["code"], over.json()["limit"]) == ("text_too_long", 40)
    assert _lines(runtime) == 0
    at = client.post(
        url,
        json={"cuts": [{"lines": [{"character": "KEN", "text": "b" * 40}]}]},
        headers=studio.headers,
    )
    assert at.status_code == 201, at.text


def test_scripts_over_the_byte_or_line_limit_are_refused(
    client: TestClient, runtime: Runtime
) -> None:
    studio = seed_studio(runtime)
    url = f"/v1/projects/{_project(client, studio.headers)}/script"
    four_lines = {
        "cuts": [{"lines": [{"character": "KEN", "text": f"Line {n}."} for n in range(4)]}]
    }

    runtime.settings.max_script_lines = 3
    too_many = client.post(url, json=four_lines, headers=studio.headers)
    assert too_many.status_code == 413, too_many.text
    assert too_many.json()["code"] == "script_too_large" and "3" in too_many.json()["detail"]

    runtime.settings.max_script_lines = 5000
    runtime.settings.max_script_bytes = 200
    srt = "".join(
        f"{n}\n00:00:0{n},000 --> 00:00:0{n},900\nKEN: A rather long line number {n}.\n\n"
        for n in range(1, 6)
    )
    assert len(srt.encode()) > 200
    too_big = client.post(
        url, content=srt, headers={**studio.headers, "Content-Type": "application/x-subrip"}
    )
    assert too_big.status_code == 413, too_big.text
    assert too_big.json()["code"] == "script_too_large"
    assert _lines(runtime) == 0, "a refused script writes nothing"


def test_uploads_over_the_body_limit_are_refused_everywhere(
    client: TestClient, runtime: Runtime
) -> None:
    runtime.settings.max_upload_bytes = 20_000
    studio = seed_studio(runtime)
    voice = seed_voice(runtime)
    big = _tone_wav(1.0)  # 32 kB of valid audio: refused for its size alone
    own = client.post(
        "/v1/actor/voices", json={"name": "Own", "language": "en"}, headers=voice.actor_headers
    ).json()["id"]
    build = client.post(f"/v1/actor/voices/{own}/builds", headers=voice.actor_headers).json()["id"]
    uploads = [
        ("/v1/identify", studio.headers),
        (f"/v1/actor/voices/{voice.voice_id}/reference-audio", voice.actor_headers),
        (f"/v1/actor/consents/{voice.consent_id}/statement-recording", voice.actor_headers),
        (f"/v1/actor/voices/{own}/builds/{build}/recordings?transcript=Hello", voice.actor_headers),
    ]
    for url, headers in uploads:
        response = client.post(url, content=big, headers={**headers, "Content-Type": "audio/wav"})
        assert response.status_code == 413, (url, response.text)
        assert response.json()["code"] == "payload_too_large" and response.json()["limit"] == 20_000


def test_a_synthesis_job_over_the_batch_limit_is_refused(
    client: TestClient, runtime: Runtime
) -> None:
    runtime.settings.max_batch_lines = 2
    studio = seed_studio(runtime)
    voice = seed_voice(runtime)
    cuts: list[dict[str, object]] = [
        {"lines": [{"character": "KEN", "text": f"Line number {n}."} for n in range(3)]}
    ]
    project = cast_project(client, studio, {"KEN": voice}, cuts)
    url = f"/v1/projects/{project.project_id}/synthesis-jobs"
    for body in (
        None,
        {"cut_ids": project.cut_ids},
        {"line_ids": project.line_ids},
        # Ids that are not even lines: refused for their number before they are looked up.
        {"line_ids": [f"line_{n}" for n in range(3)]},
    ):
        response = client.post(url, json=body, headers=studio.headers)
        assert response.status_code == 413, (body, response.text)
        assert response.json()["code"] == "batch_too_large", body
        assert response.json()["limit"] == 2 and "3 lines" in response.json()["detail"]
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(SynthesisJob)) == 0
    within = client.post(url, json={"line_ids": project.line_ids[:2]}, headers=studio.headers)
    assert within.status_code == 202, within.text


def test_audio_is_judged_by_its_content_not_its_label(client: TestClient, runtime: Runtime) -> None:
    studio = seed_studio(runtime)
    voice = seed_voice(runtime)
    reference = f"/v1/actor/voices/{voice.voice_id}/reference-audio"

    # A PNG sent as audio/wav (as a file named .wav would be) is refused for what it is.
    as_wav = {**voice.actor_headers, "Content-Type": "audio/wav"}
    png = client.post(reference, content=PNG, headers=as_wav)
    assert png.status_code == 422, png.text
    assert (png.json()["code"], png.json()["reason"]) == ("recording_rejected", "format")
    clip = client.post(
        "/v1/identify", content=PNG, headers={**studio.headers, "Content-Type": "audio/wav"}
    )
    assert clip.status_code == 422, clip.text
    assert clip.json()["code"] == "clip_unusable"
    assert clip.json()["reason"] in {"unsupported_format", "corrupt"}

    # A real WAV labelled as something else is still a WAV.
    wav = _tone_wav(4.0)
    for label in ("application/octet-stream", "image/png", "text/plain"):
        accepted = client.post(
            reference, content=wav, headers={**voice.actor_headers, "Content-Type": label}
        )
        assert accepted.status_code == 201, (label, accepted.text)
        assert accepted.json()["size"] == len(wav)
