"""Takes delivered to the studio's spec: rate, bit depth, loudness, true peak, exact timing."""

from __future__ import annotations

import io
import itertools
import math
import wave
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile
import torch
import torchaudio
import torchaudio.functional as AF
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from models.engines.base import SynthesisResult, SynthesisSettings
from models.engines.registry import EngineRegistry
from tests.factories import SeededStudio, cast_project, one_line, seed_studio, seed_voice
from voicehub.db import alembic_config
from voicehub.delivery.mastering import integrated_loudness, master, true_peak_dbtp
from voicehub.delivery.spec import DeliverySpec, LoudnessStandard
from voicehub.runtime import Runtime

SPEC_URL = "/v1/studio/delivery-spec"
LINE = "Bring me the map before the tide comes in. We leave at dawn."


def lufs_of_file(samples: np.ndarray, rate: int) -> float:
    """torchaudio's BS.1770 loudness of a file read back, measured 12.04 dB down.

    torchaudio's K-weighting clamps its output to ±1, so a loud file measured at
    full scale reads low; a power-of-two scale is exact and is added back.
    """
    scaled = torch.from_numpy(np.asarray(samples, dtype=np.float64)).unsqueeze(0) / 4
    return float(AF.loudness(scaled, rate)) + 20 * math.log10(4)


def nearest(position: Fraction) -> int:
    """The nearest whole sample, halves up."""
    return math.floor(position + Fraction(1, 2))


def sample_peak_db(samples: np.ndarray) -> float:
    return 20 * math.log10(float(np.abs(samples).max()))


@pytest.fixture(scope="module")
def english(engines: EngineRegistry) -> SynthesisResult:
    return engines.get("piper").synthesize(LINE, speaker="joe", settings=SynthesisSettings(seed=11))


def _take(
    client: TestClient, studio: SeededStudio, runtime: Runtime
) -> tuple[dict[str, Any], bytes]:
    voice = seed_voice(runtime)
    project = cast_project(client, studio, {"KEN": voice}, one_line(LINE))
    response = client.post(f"/v1/lines/{project.line_ids[0]}/takes", headers=studio.headers)
    assert response.status_code == 201, response.text
    take = response.json()
    audio = client.get(take["audio_url"], headers=studio.headers)
    assert audio.status_code == 200
    return take, audio.content


def test_a_take_is_delivered_at_48k_24_bit_and_minus_23_lufs_by_default(
    client: TestClient, runtime: Runtime
) -> None:
    studio = seed_studio(runtime)
    take, data = _take(client, studio, runtime)

    with wave.open(io.BytesIO(data)) as wav:
        assert (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) == (48000, 3, 1)
        frames = wav.getnframes()
    info = soundfile.info(io.BytesIO(data))
    assert (info.samplerate, info.subtype, info.channels) == (48000, "PCM_24", 1)
    samples, rate = soundfile.read(io.BytesIO(data), dtype="float64")
    # torchaudio reads the same samples back (24-bit little-endian, sign included).
    loaded, loaded_rate = torchaudio.load(io.BytesIO(data))
    assert loaded_rate == 48000 and loaded.shape == (1, frames)
    assert np.allclose(loaded[0].numpy(), samples, atol=1e-7)
    assert samples.min() < -0.05 < 0.05 < samples.max(), "both signs survive 24-bit packing"

    assert take["sample_rate"] == 48000 and take["engine_sample_rate"] == 22050
    assert take["bit_depth"] == 24
    assert take["loudness_target"] == "ebu_r128" and take["loudness_target_lufs"] == -23.0
    measured = lufs_of_file(samples, rate)
    assert measured == pytest.approx(-23.0, abs=0.5)
    assert take["loudness_lufs"] == pytest.approx(measured, abs=0.01)
    assert not take["peak_limited"]
    true_peak = true_peak_dbtp(torch.from_numpy(samples))
    assert true_peak is not None and true_peak <= -1.0
    assert take["true_peak_dbtp"] == pytest.approx(true_peak, abs=0.01)
    assert sample_peak_db(samples) <= true_peak + 1e-9

    timing = client.get(take["timing_url"], headers=studio.headers).json()
    assert timing["sample_rate"] == 48000 and timing["num_samples"] == frames
    assert sum(p["samples"] for p in timing["phonemes"]) == frames
    for before, after in itertools.pairwise(timing["phonemes"]):
        assert before["start_sample"] + before["samples"] == after["start_sample"]
    assert take["duration_seconds"] == pytest.approx(frames / 48000, abs=1e-6)


def test_boundaries_land_on_the_scaled_originals(english: SynthesisResult) -> None:
    for rate in (48000, 44100, 96000, 24000):
        mastered = master(english, DeliverySpec(sample_rate=rate)).result
        scale = Fraction(rate, english.sample_rate)
        assert mastered.num_samples == nearest(english.num_samples * scale)
        assert sum(p.samples for p in mastered.phonemes) == mastered.num_samples
        for new, old in zip(mastered.phonemes, english.phonemes, strict=True):
            assert new.phoneme == old.phoneme and new.is_pause == old.is_pause
            assert abs(new.start - old.start * scale) <= Fraction(1, 2)
            assert abs(new.end - old.end * scale) <= Fraction(1, 2)
        for new_word, old_word in zip(mastered.words, english.words, strict=True):
            assert new_word.text == old_word.text
            assert abs(new_word.start - old_word.start * scale) <= Fraction(1, 2)
            assert abs(new_word.end - old_word.end * scale) <= Fraction(1, 2)


def test_kokoro_morae_keep_their_grid_at_44_1k(engines: EngineRegistry) -> None:
    japanese = engines.get("kokoro").synthesize(
        "今日はいい天気ですね。", speaker="jf_alpha", settings=SynthesisSettings()
    )
    mastered = master(japanese, DeliverySpec(sample_rate=44100)).result
    scale = Fraction(44100, japanese.sample_rate)
    assert mastered.num_samples == nearest(japanese.num_samples * scale)
    assert len(mastered.morae) == len(japanese.morae) > 0
    for new, old in zip(mastered.morae, japanese.morae, strict=True):
        assert new.start == nearest(old.start * scale) and new.end == nearest(old.end * scale)


def test_the_audio_moves_with_the_timing() -> None:
    """A click at a boundary is still at the scaled boundary after resampling."""
    rate = 22050
    audio = np.zeros(rate, dtype=np.float32)
    clicks = [1000, 7777, 15001]
    audio[clicks] = 0.5
    click = SynthesisResult(audio=audio, sample_rate=rate, phonemes=[])
    for new_rate in (48000, 44100):
        out = master(click, DeliverySpec(sample_rate=new_rate, loudness=LoudnessStandard.NONE))
        delivered = out.result.audio
        for position in clicks:
            expected = nearest(Fraction(position * new_rate, rate))
            window = delivered[expected - 20 : expected + 21]
            assert int(np.argmax(np.abs(window))) - 20 in (-1, 0, 1), (new_rate, position)


def test_atsc_a85_at_16_bit_44_1k(client: TestClient, runtime: Runtime) -> None:
    studio = seed_studio(runtime)
    response = client.put(
        SPEC_URL,
        json={"sample_rate": 44100, "bit_depth": 16, "loudness": "atsc_a85"},
        headers=studio.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["true_peak_ceiling_dbtp"] == -2.0, "ATSC's usual ceiling"
    take, data = _take(client, studio, runtime)

    with wave.open(io.BytesIO(data)) as wav:
        assert (wav.getframerate(), wav.getsampwidth()) == (44100, 2)
    assert soundfile.info(io.BytesIO(data)).subtype == "PCM_16"
    samples, rate = soundfile.read(io.BytesIO(data), dtype="float64")
    assert lufs_of_file(samples, rate) == pytest.approx(-24.0, abs=0.5)
    true_peak = true_peak_dbtp(torch.from_numpy(samples))
    assert true_peak is not None and true_peak <= -2.0
    assert (take["bit_depth"], take["sample_rate"], take["loudness_target"]) == (
        16,
        44100,
        "atsc_a85",
    )
    assert take["loudness_target_lufs"] == -24.0


def test_a_quiet_line_is_raised_to_the_target(english: SynthesisResult) -> None:
    quiet = SynthesisResult(
        audio=english.audio * np.float32(0.01),
        sample_rate=english.sample_rate,
        phonemes=english.phonemes,
    )
    before = integrated_loudness(torch.from_numpy(quiet.audio), quiet.sample_rate)
    assert before is not None and before < -50
    mastered = master(quiet, DeliverySpec())
    samples, rate = soundfile.read(io.BytesIO(mastered.wav), dtype="float64")
    assert lufs_of_file(samples, rate) == pytest.approx(-23.0, abs=0.5)
    assert not mastered.peak_limited


def test_a_peak_holds_the_gain_down_and_the_take_says_so(english: SynthesisResult) -> None:
    """A full-scale click in a quiet line: reaching −23 LUFS would clip, so the line stays quieter."""
    audio = english.audio * np.float32(0.03)
    audio[len(audio) // 2] = 1.0
    spiky = SynthesisResult(audio=audio, sample_rate=english.sample_rate, phonemes=[])

    mastered = master(spiky, DeliverySpec())

    samples, rate = soundfile.read(io.BytesIO(mastered.wav), dtype="float64")
    assert mastered.peak_limited
    true_peak = true_peak_dbtp(torch.from_numpy(samples))
    assert true_peak is not None and true_peak <= -1.0
    assert mastered.true_peak_dbtp == pytest.approx(true_peak, abs=1e-6)
    measured = lufs_of_file(samples, rate)
    assert measured < -26, "loudness lands below the target instead of clipping"
    assert mastered.loudness_lufs == pytest.approx(measured, abs=0.01), "the real value"
    assert float(np.abs(samples).max()) < 1.0


def test_a_loud_line_is_brought_down(english: SynthesisResult) -> None:
    """Piper renders near full scale with inter-sample peaks over 0 dBFS; delivery lowers it."""
    raw_peak = true_peak_dbtp(torch.from_numpy(english.audio))
    assert raw_peak is not None and raw_peak > -1.0
    loud = SynthesisResult(
        audio=np.clip(english.audio * np.float32(4.0), -1, 1),
        sample_rate=english.sample_rate,
        phonemes=[],
    )
    mastered = master(loud, DeliverySpec(bit_depth=16))
    samples, rate = soundfile.read(io.BytesIO(mastered.wav), dtype="float64")
    assert lufs_of_file(samples, rate) == pytest.approx(-23.0, abs=0.5)
    true_peak = true_peak_dbtp(torch.from_numpy(samples))
    assert true_peak is not None and true_peak <= -1.0


def test_no_loudness_target_leaves_the_level_but_keeps_the_ceiling(
    english: SynthesisResult,
) -> None:
    quiet = SynthesisResult(
        audio=english.audio * np.float32(0.1), sample_rate=english.sample_rate, phonemes=[]
    )
    before = integrated_loudness(torch.from_numpy(quiet.audio), quiet.sample_rate)
    mastered = master(quiet, DeliverySpec(loudness=LoudnessStandard.NONE))
    assert before is not None and mastered.loudness_lufs == pytest.approx(before, abs=0.05)
    assert not mastered.peak_limited

    capped = master(english, DeliverySpec(loudness=LoudnessStandard.NONE))
    assert capped.peak_limited and capped.true_peak_dbtp is not None
    assert capped.true_peak_dbtp <= -1.0


def test_a_line_shorter_than_one_gating_block_is_measured_and_normalized(
    english: SynthesisResult,
) -> None:
    start = english.words[1].start
    short = english.audio[start : start + int(0.3 * english.sample_rate)]
    clip = torch.from_numpy(short.astype(np.float64)).unsqueeze(0)
    with pytest.raises(RuntimeError):
        AF.loudness(clip, english.sample_rate)  # no 400 ms block to cut from it

    mastered = master(
        SynthesisResult(audio=short, sample_rate=english.sample_rate, phonemes=[]),
        DeliverySpec(),
    )

    assert mastered.loudness_lufs == pytest.approx(-23.0, abs=0.05)
    assert mastered.result.num_samples == nearest(Fraction(len(short) * 48000, english.sample_rate))


def test_silence_is_delivered_silent_without_a_level(english: SynthesisResult) -> None:
    silent = SynthesisResult(
        audio=np.zeros(english.sample_rate, dtype=np.float32),
        sample_rate=english.sample_rate,
        phonemes=[],
    )
    mastered = master(silent, DeliverySpec())
    assert mastered.loudness_lufs is None and mastered.true_peak_dbtp is None
    assert not mastered.result.audio.any()


def test_the_spec_is_read_set_and_refused_by_field(client: TestClient, runtime: Runtime) -> None:
    studio = seed_studio(runtime)
    default = client.get(SPEC_URL, headers=studio.headers).json()
    assert default == {
        "sample_rate": 48000,
        "bit_depth": 24,
        "loudness": "ebu_r128",
        "loudness_target_lufs": -23.0,
        "true_peak_ceiling_dbtp": -1.0,
        "channels": "mono",
        "is_default": True,
    }

    bad = {
        "sample_rate": {"sample_rate": 16000},
        "bit_depth": {"bit_depth": 32},
        "loudness": {"loudness": "lufs"},
        "true_peak_ceiling_dbtp": {"true_peak_ceiling_dbtp": 0.5},
        "channels": {"channels": "stereo"},
    }
    for field, body in bad.items():
        response = client.put(SPEC_URL, json=body, headers=studio.headers)
        assert response.status_code == 422, field
        assert response.json()["code"] == "invalid_input"
        assert [f["field"] for f in response.json()["fields"]] == [field]
    wrong_type = client.put(SPEC_URL, json={"sample_rate": "fast"}, headers=studio.headers)
    assert wrong_type.status_code == 422
    assert wrong_type.json()["fields"][0]["field"] == "body.sample_rate"
    nan = client.put(SPEC_URL, content=b'{"true_peak_ceiling_dbtp": NaN}', headers=studio.headers)
    assert nan.status_code == 422
    assert client.get(SPEC_URL, headers=studio.headers).json()["is_default"], "nothing stored"

    reader = seed_studio(runtime, "Reader", scopes=("read",))
    refused = client.put(SPEC_URL, json={"bit_depth": 16}, headers=reader.headers)
    assert refused.status_code == 403

    body = {"sample_rate": 96000, "bit_depth": 16, "loudness": "none", "true_peak_ceiling_dbtp": -3}
    put = client.put(SPEC_URL, json=body, headers=studio.headers)
    assert put.status_code == 200, put.text
    assert client.get(SPEC_URL, headers=studio.headers).json() == {
        **body,
        "loudness_target_lufs": None,
        "true_peak_ceiling_dbtp": -3.0,
        "channels": "mono",
        "is_default": False,
    }
    other = client.get(SPEC_URL, headers=reader.headers).json()
    assert other["is_default"] and other["sample_rate"] == 48000, "one studio's spec only"


def test_takes_made_before_delivery_specs_keep_what_they_were(tmp_path: Path) -> None:
    """0003 marks old takes as 16-bit, unnormalized, at the rate the engine rendered."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    config = alembic_config(url)
    command.upgrade(config, "0002")
    now = "'2026-11-01 00:00:00.000000'"
    rows = [
        f"INSERT INTO studios (id, name, is_demo, created_at) VALUES ('std_1', 'S', 0, {now})",
        "INSERT INTO actors (id, name, credited_name, is_demo, created_at)"
        f" VALUES ('act_1', 'Rin', 'Rin', 0, {now})",
        "INSERT INTO voices (id, actor_id, name, language, engine, speaker, model_sha256,"
        f" is_demo, created_at) VALUES ('voice_1', 'act_1', 'v', 'en', 'piper', 'joe',"
        f" '{'0' * 64}', 0, {now})",
        "INSERT INTO consents (id, actor_id, voice_id, current_version, created_at)"
        f" VALUES ('cns_1', 'act_1', 'voice_1', 1, {now})",
        "INSERT INTO consent_versions (id, consent_id, version, status, allowed_uses, languages,"
        " allowed_studio_ids, currency, actor_share_bps, starts_at, changed_by, reason,"
        f" created_at) VALUES ('cnv_1', 'cns_1', 1, 'ACTIVE', '[]', '[]', '[]', 'JPY', 7000,"
        f" {now}, 'x', 'granted', {now})",
        "INSERT INTO projects (id, studio_id, name, language, use, fps_num, fps_den, created_at)"
        f" VALUES ('prj_1', 'std_1', 'P', 'en', 'animation', 24, 1, {now})",
        "INSERT INTO characters (id, studio_id, project_id, name)"
        " VALUES ('chr_1', 'std_1', 'prj_1', 'KEN')",
        "INSERT INTO cuts (id, studio_id, project_id, number, start_ms, end_ms, fps_num, fps_den)"
        " VALUES ('cut_1', 'std_1', 'prj_1', 'C-001', 0, 4000, 24, 1)",
        "INSERT INTO lines (id, studio_id, project_id, cut_id, character_id, position, text,"
        f" language, created_at) VALUES ('line_1', 'std_1', 'prj_1', 'cut_1', 'chr_1', 0, 'Hi.',"
        f" 'en', {now})",
        "INSERT INTO takes (id, line_id, project_id, studio_id, voice_id, consent_version_id,"
        " text, language, engine, model_sha256, speaker, speed, sample_rate, num_samples,"
        " audio_key, timing, created_at) VALUES ('take_1', 'line_1', 'prj_1', 'std_1',"
        f" 'voice_1', 'cnv_1', 'Hi.', 'en', 'piper', '{'0' * 64}', 'joe', 1.0, 22050, 22050,"
        f" 'k', '{{}}', {now})",
    ]
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            for row in rows:
                connection.exec_driver_sql(row)
        command.upgrade(config, "0003")
        with engine.connect() as connection:
            old = connection.exec_driver_sql(
                "SELECT sample_rate, engine_sample_rate, bit_depth, loudness_target,"
                " loudness_lufs, peak_limited, seed, sentence_pause FROM takes"
            ).one()
    finally:
        engine.dispose()
    assert tuple(old) == (22050, 22050, 16, "NONE", None, 0, None, None)
