"""The whole path of one line through the API, on the real engines."""

from __future__ import annotations

import io
import itertools
import wave

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from models.tables import Voice
from tests.factories import JAPANESE, cast_project, one_line, seed_studio, seed_voice
from voicehub.db import transaction
from voicehub.metering.service import billable_characters, price_line
from voicehub.metering.tables import UsageRecord
from voicehub.production.tables import Take
from voicehub.runtime import Runtime


def _wav_frames(data: bytes) -> tuple[int, int]:
    with wave.open(io.BytesIO(data)) as wav:
        return wav.getframerate(), wav.getnframes()


def test_english_line_from_consent_to_usage(client: TestClient, runtime: Runtime) -> None:
    studio = seed_studio(runtime)
    voice = seed_voice(runtime, price_per_1k_chars_micros=2_000_000_000, actor_share_bps=7000)
    text = "Hello there, how are you doing today, my friend?"
    project = cast_project(client, studio, {"KEN": voice}, one_line(text))

    response = client.post(
        f"/v1/lines/{project.line_ids[0]}/takes", json={}, headers=studio.headers
    )

    assert response.status_code == 201, response.text
    take = response.json()
    assert response.headers["Location"] == f"/v1/takes/{take['id']}"
    assert take["id"].startswith("take_")
    assert take["engine"] == "piper"
    assert len(take["model_sha256"]) == 64
    with runtime.sessions() as session:
        stored = session.get(Take, take["id"])
        assert stored is not None
        assert take["consent_version_id"] == stored.consent_version_id

    audio = client.get(take["audio_url"], headers=studio.headers)
    assert audio.headers["content-type"] == "audio/wav"
    rate, frames = _wav_frames(audio.content)
    # Delivered at the default spec's 48 kHz; Piper renders at 22.05 kHz.
    assert rate == take["sample_rate"] == 48000 and take["engine_sample_rate"] == 22050

    timing = client.get(take["timing_url"], headers=studio.headers).json()
    phonemes = timing["phonemes"]
    assert timing["num_samples"] == frames
    assert phonemes[0]["start_sample"] == 0
    assert sum(p["samples"] for p in phonemes) == frames
    for before, after in itertools.pairwise(phonemes):
        assert before["start_sample"] + before["samples"] == after["start_sample"]
    assert [w["text"] for w in timing["words"]][:2] == ["Hello", "there"]

    expected = price_line(billable_characters(text), 2_000_000_000, 7000)
    assert take["amount_micros"] == expected.amount_micros
    with runtime.sessions() as session:
        usage = session.scalars(select(UsageRecord)).one()
    assert usage.take_id == take["id"]
    assert usage.amount_micros == expected.amount_micros
    assert usage.actor_royalty_micros + usage.platform_micros == usage.amount_micros
    assert usage.actor_royalty_micros == expected.amount_micros * 7000 // 10_000
    assert usage.consent_version_id == take["consent_version_id"]


def test_japanese_line_uses_kokoro_durations(client: TestClient, runtime: Runtime) -> None:
    studio = seed_studio(runtime)
    voice = seed_voice(runtime, voice=JAPANESE)
    project = cast_project(
        client,
        studio,
        {"HARU": voice},
        one_line("こんにちは。今日はいい天気ですね。", "HARU"),
        language="ja",
    )

    take = client.post(f"/v1/lines/{project.line_ids[0]}/takes", headers=studio.headers).json()

    assert take["engine"] == "kokoro"
    client.post(f"/v1/takes/{take['id']}/approve", headers=studio.headers).raise_for_status()
    timing = client.get(take["timing_url"], headers=studio.headers).json()
    rate, frames = _wav_frames(client.get(take["audio_url"], headers=studio.headers).content)
    assert rate == 48000 and take["engine_sample_rate"] == 24000
    assert sum(p["samples"] for p in timing["phonemes"]) == frames == timing["num_samples"]
    # Kokoro's duration tensor counts 600-sample frames at 24 kHz: every boundary sits on
    # that grid, which is 1200 samples at the 48 kHz delivered.
    assert all(p["start_sample"] % 1200 == 0 for p in timing["phonemes"])
    assert any(p["phoneme"] == "a" for p in timing["phonemes"])
    # The morae of こんにちは in order, written as spoken (the particle は is "wa"),
    # on the same sample grid as the phonemes.
    assert [m["text"] for m in timing["morae"][:5]] == ["こ", "ん", "に", "ち", "わ"]
    assert timing["morae"][0]["start_seconds"] == timing["phonemes"][1]["start_seconds"]
    assert timing["words"] == []
    cut_id = client.get(f"/v1/projects/{project.project_id}/cuts", headers=studio.headers).json()[
        "data"
    ][0]["id"]
    expected = {
        "vowel5": (
            {"closed", "a", "i", "u", "e", "o"},
            {"closed", "a", "i"},
        ),  # こんにちは: ん, あ, い
        "anime3": ({"closed", "half", "open"}, {"closed", "half", "open"}),
    }
    for shape_set, (allowed, seen) in expected.items():
        exported = client.get(
            f"/v1/cuts/{cut_id}/exports/json",
            params={"shape_set": shape_set},
            headers=studio.headers,
        ).json()
        used = {cue["shape"] for cue in exported["mouth_cues"]}
        assert seen <= used <= allowed, (shape_set, used)


def test_cut_exports_place_takes_and_snap_to_frames(client: TestClient, runtime: Runtime) -> None:
    studio = seed_studio(runtime)
    voice = seed_voice(runtime)
    cuts = [
        {
            "number": "C-007",
            "start": 10.0,
            "end": 14.0,
            "lines": [{"character": "KEN", "text": "Bring me the map.", "start": 10.5}],
        }
    ]
    project = cast_project(client, studio, {"KEN": voice}, cuts)
    take = client.post(f"/v1/lines/{project.line_ids[0]}/takes", headers=studio.headers).json()
    client.post(f"/v1/takes/{take['id']}/approve", headers=studio.headers).raise_for_status()

    exported = client.get(f"/v1/cuts/{project.cut_ids[0]}/exports/json", headers=studio.headers)
    assert exported.status_code == 200, exported.text
    body = exported.json()
    assert body["cut"]["number"] == "C-007"
    assert body["cut"]["frame_rate"] == 24
    assert body["cut"]["duration_frames"] == 96
    (line,) = body["lines"]
    assert line["take_id"] == take["id"]
    assert line["consent_version_id"] == take["consent_version_id"]
    assert line["start_seconds"] == 0.5
    assert line["start_frame"] == 12
    cues = body["mouth_cues"]
    assert cues[0]["start_frame"] == 0 and cues[-1]["end_frame"] == 96
    assert all(a["end_frame"] == b["start_frame"] for a, b in itertools.pairwise(cues))
    assert {c["shape"] for c in cues} <= set("ABCDEFGHX")
    assert cues[0]["shape"] == "X" and cues[0]["end_frame"] >= 12
    assert "A" in {c["shape"] for c in cues}, "'me' and 'map' close the lips (M)"

    tsv = client.get(f"/v1/cuts/{project.cut_ids[0]}/exports/rhubarb", headers=studio.headers)
    assert tsv.headers["content-type"].startswith("text/tab-separated-values")
    rows = [row.split("\t") for row in tsv.text.strip().splitlines()]
    assert rows[0] == ["0.00", "X"]
    assert rows[-1] == ["4.00", "X"]
    assert len(rows) == len(cues) + 1
    assert [shape for _, shape in rows[:-1]] == [c["shape"] for c in cues]
    # Each TSV time lands inside its cue's first frame at 24 fps.
    for (seconds, _), cue in zip(rows, cues, strict=False):
        assert int(float(seconds) * 24) == cue["start_frame"]

    on_twos = client.get(
        f"/v1/cuts/{project.cut_ids[0]}/exports/json", params={"fps": "12"}, headers=studio.headers
    ).json()
    assert on_twos["cut"]["duration_frames"] == 48
    assert (
        client.get(
            f"/v1/cuts/{project.cut_ids[0]}/exports/json",
            params={"fps": "7"},
            headers=studio.headers,
        ).json()["code"]
        == "invalid_input"
    )


def test_srt_import_makes_a_cut_per_block_and_characters_from_speakers(
    client: TestClient, runtime: Runtime
) -> None:
    studio = seed_studio(runtime)
    project = client.post(
        "/v1/projects",
        json={"name": "Film", "language": "en", "use": "dubbing"},
        headers=studio.headers,
    ).json()
    srt = (
        "1\n00:00:01,000 --> 00:00:02,500\nKEN: Where were you?\n\n"
        "2\n00:00:03,000 --> 00:00:04,250\nAMI: Out.\nLooking for you.\n\n"
        "3\n00:00:05,000 --> 00:00:06,000\n[C-010] KEN: Again?\n\n"
        "4\n00:00:06,100 --> 00:00:07,000\n[C-010] AMI: Again.\n"
    )
    response = client.post(
        f"/v1/projects/{project['id']}/script",
        content=srt.encode(),
        headers={**studio.headers, "Content-Type": "application/x-subrip"},
    )
    assert response.status_code == 201, response.text
    result = response.json()
    assert result["lines_created"] == 4
    assert sorted(result["characters_created"]) == ["AMI", "KEN"]
    cuts = [client.get(f"/v1/cuts/{c}", headers=studio.headers).json() for c in result["cut_ids"]]
    assert [c["number"] for c in cuts] == ["C-001", "C-002", "C-010"]
    assert cuts[1]["lines"][0]["text"] == "Out. Looking for you."
    assert (cuts[2]["start_seconds"], cuts[2]["end_seconds"]) == (5.0, 7.0)
    assert [line["character"] for line in cuts[2]["lines"]] == ["KEN", "AMI"]
    assert cuts[0]["lines"][0]["start_seconds"] == 1.0
    assert cuts[0]["start_frame"] == 24 and cuts[0]["end_frame"] == 60


def test_every_take_has_exactly_one_usage_record(client: TestClient, runtime: Runtime) -> None:
    studio = seed_studio(runtime)
    voice = seed_voice(runtime)
    project = cast_project(client, studio, {"KEN": voice}, one_line("Again, please."))
    for speed in (0.8, 1.0, 1.25):
        assert (
            client.post(
                f"/v1/lines/{project.line_ids[0]}/takes",
                json={"speed": speed},
                headers=studio.headers,
            ).status_code
            == 201
        )
    takes = client.get(f"/v1/lines/{project.line_ids[0]}/takes", headers=studio.headers).json()[
        "data"
    ]
    assert len(takes) == 3
    durations = {t["speed"]: t["duration_seconds"] for t in takes}
    assert durations[0.8] > durations[1.0] > durations[1.25]
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(UsageRecord)) == 3
        assert set(session.scalars(select(UsageRecord.take_id))) == {t["id"] for t in takes}


def test_a_french_line_on_the_espeak_engine(client: TestClient, runtime: Runtime) -> None:
    """espeak-ng serves the languages the bundled voices do not: the same path, exact timing."""
    studio = seed_studio(runtime)
    voice = seed_voice(runtime, voice={"engine": "espeak", "speaker": "fr-fr", "language": "fr"})
    project = cast_project(
        client,
        studio,
        {"ÉLODIE": voice},
        one_line("Bonjour. Où est la gare ?", "ÉLODIE"),
        language="fr",
    )

    response = client.post(
        f"/v1/lines/{project.line_ids[0]}/takes",
        json={"sentence_pause": 0.5},
        headers=studio.headers,
    )

    assert response.status_code == 201, response.text
    take = response.json()
    assert take["engine"] == "espeak" and take["seed"] is None
    timing = client.get(take["timing_url"], headers=studio.headers).json()
    rate, frames = _wav_frames(client.get(take["audio_url"], headers=studio.headers).content)
    assert sum(p["samples"] for p in timing["phonemes"]) == frames == timing["num_samples"]
    # The half-second pause between the two sentences, at the delivered rate.
    assert any(p["is_pause"] and p["samples"] == rate // 2 for p in timing["phonemes"])
    assert [w["text"] for w in timing["words"]] == ["Bonjour", "Où", "est", "la", "gare"]


def test_a_voice_is_never_served_by_another_model(client: TestClient, runtime: Runtime) -> None:
    """A voice names its model by hash: a replaced engine model refuses it, charging nothing."""
    studio = seed_studio(runtime)
    voice = seed_voice(runtime)
    project = cast_project(client, studio, {"KEN": voice}, one_line())
    with transaction(runtime.sessions) as session:
        session.get_one(Voice, voice.voice_id).model_sha256 = "0" * 64

    response = client.post(f"/v1/lines/{project.line_ids[0]}/takes", headers=studio.headers)

    assert response.status_code == 503, response.text
    assert response.json()["code"] == "model_changed"
    assert response.json()["voice_id"] == voice.voice_id
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Take)) == 0
        assert session.scalar(select(func.count()).select_from(UsageRecord)) == 0
