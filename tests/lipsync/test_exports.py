"""Per-cut lip-sync timing and its JSON and Rhubarb TSV exports."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from fractions import Fraction as F
from itertools import pairwise

import numpy as np
import pytest
from fastapi.testclient import TestClient

from models.engines.base import SynthesisResult, SynthesisSettings, WordTiming, timings_from_counts
from models.engines.registry import EngineRegistry
from tests.factories import JAPANESE, cast_project, one_line, seed_studio, seed_voice
from voicehub.errors import InvalidInput
from voicehub.lipsync.exports import (
    CutInfo,
    PlacedTake,
    build_cut_timing,
    cut_timing_json,
    rhubarb_tsv,
)
from voicehub.lipsync.frames import MouthCue, frame_at
from voicehub.runtime import Runtime

SR = 24000
NTSC_FILM = F(24000, 1001)


def take(
    phonemes: list[tuple[str, int]],
    *,
    offset: F,
    take_id: str = "take_1",
    words: list[WordTiming] | None = None,
    language: str = "en",
    text: str = "mop",
) -> PlacedTake:
    """A take from (symbol, milliseconds) at 24 kHz; " ", "." and "," are pauses."""
    timings = timings_from_counts(
        [(symbol, symbol in " .,") for symbol, _ in phonemes],
        [ms * SR // 1000 for _, ms in phonemes],
    )
    return PlacedTake(
        line_id=f"line_{take_id}",
        take_id=take_id,
        consent_version_id="cv_1",
        character="KEN",
        text=text,
        language=language,
        offset_seconds=offset,
        sample_rate=SR,
        phonemes=timings,
        words=words or [],
    )


def cut(seconds: F = F(1), fps: F = F(24)) -> CutInfo:
    return CutInfo(cut_id="cut_1", number="C-001", duration_seconds=seconds, frame_rate=fps)


MOP = take([("m", 100), ("ɑ", 200), ("p", 100)], offset=F(1, 2))


def cues(timing_cues: Sequence[MouthCue]) -> list[tuple[int, int, str]]:
    return [(c.start_frame, c.end_frame, c.shape) for c in timing_cues]


def test_take_is_placed_at_its_offset_and_the_rest_of_the_cut_is_rest() -> None:
    timing = build_cut_timing(cut(), [MOP])
    # 0.5 0.6 0.8 0.9 1.0 s → frames 12, 14.4, 19.2, 21.6, 24.
    assert cues(timing.mouth_cues) == [
        (0, 12, "X"),
        (12, 14, "A"),
        (14, 19, "D"),
        (19, 22, "A"),
        (22, 24, "X"),
    ]
    assert timing.duration_frames == 24
    assert timing.frame_rate == 24


def test_rhubarb_tsv_exact_text() -> None:
    timing = build_cut_timing(cut(), [MOP])
    assert rhubarb_tsv(timing) == (
        "0.00\tX\n"
        "0.50\tA\n"
        "0.59\tD\n"  # frame 14 = 0.5833 s
        "0.80\tA\n"  # frame 19 = 0.7917 s
        "0.92\tX\n"  # frame 22 = 0.9167 s
        "1.00\tX\n"
    )


@pytest.mark.parametrize("fps", [F(8), F(12), F(24), F(25), F(30), NTSC_FILM, F(30000, 1001)])
def test_tsv_times_read_back_as_the_same_frame(fps: F) -> None:
    # Importers either truncate or round seconds × fps; both must land on the cue's frame.
    rng = np.random.default_rng(7)
    phonemes = [(str(rng.choice(list("mɑpfiluo "))), int(rng.integers(10, 200))) for _ in range(80)]
    timing = build_cut_timing(cut(F(12), fps), [take(phonemes, offset=F(1, 3))])
    lines = rhubarb_tsv(timing).splitlines()
    frames = [c.start_frame for c in timing.mouth_cues] + [timing.duration_frames]
    assert len(lines) == len(frames)
    for line, frame in zip(lines, frames, strict=True):
        seconds, _shape = line.split("\t")
        assert len(seconds.split(".")[1]) == 2
        value = F(seconds) * fps
        assert math.floor(value) == frame, line
        assert round(value) == frame, line


def test_tsv_needs_the_rhubarb_set() -> None:
    timing = build_cut_timing(cut(), [MOP], shape_set="anime3")
    with pytest.raises(InvalidInput, match="rhubarb"):
        rhubarb_tsv(timing)


def test_unknown_shape_set_is_refused() -> None:
    with pytest.raises(InvalidInput, match="anime3, preston_blair, rhubarb"):
        build_cut_timing(cut(), [MOP], shape_set="moho")


def test_json_fields() -> None:
    words = [WordTiming("mop", 0, 9600)]
    line = take([("m", 100), ("ɑ", 200), ("p", 100)], offset=F(1, 3), words=words)
    timing = build_cut_timing(cut(F(3, 2), NTSC_FILM), [line])
    doc = cut_timing_json(timing)
    json.dumps(doc)  # serialisable as is
    assert doc["cut"] == {
        "id": "cut_1",
        "number": "C-001",
        "frame_rate": 24000 / 1001,
        "frame_rate_exact": "24000/1001",
        "duration_seconds": 1.5,
        "duration_frames": 36,  # 35.96
    }
    assert doc["shape_set"] == "rhubarb"
    assert [s["id"] for s in doc["shapes"]] == list("ABCDEFGHX")
    [out] = doc["lines"]
    assert {k: v for k, v in out.items() if k not in ("phonemes", "words")} == {
        "line_id": "line_take_1",
        "take_id": "take_1",
        "consent_version_id": "cv_1",
        "character": "KEN",
        "text": "mop",
        "language": "en",
        "start_seconds": 0.333333,
        "end_seconds": 0.733333,
        "start_frame": 8,  # 7.99
        "end_frame": 18,  # 17.58
    }
    assert out["phonemes"] == [
        {"phoneme": "m", "start_seconds": 0.333333, "end_seconds": 0.433333, "is_pause": False},
        {"phoneme": "ɑ", "start_seconds": 0.433333, "end_seconds": 0.633333, "is_pause": False},
        {"phoneme": "p", "start_seconds": 0.633333, "end_seconds": 0.733333, "is_pause": False},
    ]
    assert out["words"] == [{"text": "mop", "start_seconds": 0.333333, "end_seconds": 0.733333}]
    first, second = doc["mouth_cues"][:2]
    assert first == {
        "start_frame": 0,
        "end_frame": 8,
        "start_seconds": 0.0,
        "end_seconds": 0.333667,  # 8 × 1001/24000
        "shape": "X",
    }
    assert second["start_frame"] == 8 and second["shape"] == "A"
    assert doc["mouth_cues"][-1]["end_frame"] == 36
    assert doc["mouth_cues"][-1]["end_seconds"] == round(36 * 1001 / 24000, 6)


def test_integral_frame_rate_is_an_integer_in_json() -> None:
    doc = cut_timing_json(build_cut_timing(cut(fps=F(12)), [MOP]))
    assert doc["cut"]["frame_rate"] == 12
    assert isinstance(doc["cut"]["frame_rate"], int)


def test_fps_override_and_min_hold() -> None:
    # At 12 fps: 6, 7.2, 9.6, 10.8, 12 → the 1-frame closing p is held for 2 only on request.
    timing = build_cut_timing(cut(), [MOP], fps=F(12))
    assert timing.frame_rate == 12
    assert cues(timing.mouth_cues) == [
        (0, 6, "X"),
        (6, 7, "A"),
        (7, 10, "D"),
        (10, 11, "A"),
        (11, 12, "X"),
    ]
    held = build_cut_timing(cut(), [MOP], fps=F(12), min_hold_frames=2)
    assert cues(held.mouth_cues) == [(0, 6, "X"), (6, 10, "D"), (10, 12, "X")]
    assert cut_timing_json(held)["cut"]["frame_rate"] == 12


def test_later_take_wins_from_its_start_and_the_earlier_resumes() -> None:
    long_a = take([("ɑ", 1000)], offset=F(0), take_id="take_a")
    short_m = take([("m", 250)], offset=F(1, 2), take_id="take_b")
    # Listed out of order on purpose: placement, not list order, decides.
    timing = build_cut_timing(cut(F(3, 2)), [short_m, long_a])
    assert cues(timing.mouth_cues) == [(0, 12, "D"), (12, 18, "A"), (18, 24, "D"), (24, 36, "X")]
    assert [t.take_id for t in timing.takes] == ["take_a", "take_b"]
    # Lines keep their own timing, overlaps and all.
    lines = cut_timing_json(timing)["lines"]
    assert [(x["start_seconds"], x["end_seconds"]) for x in lines] == [(0.0, 1.0), (0.5, 0.75)]


def test_overlapping_tail_is_cut_at_the_next_take() -> None:
    first = take([("ɑ", 500), ("m", 500)], offset=F(0), take_id="take_a")
    second = take([("f", 250), ("u", 250)], offset=F(3, 4), take_id="take_b")
    timing = build_cut_timing(cut(F(3, 2)), [first, second])
    assert cues(timing.mouth_cues) == [
        (0, 12, "D"),
        (12, 18, "A"),
        (18, 24, "G"),
        (24, 30, "F"),
        (30, 36, "X"),
    ]


def test_takes_beyond_the_cut_are_clipped() -> None:
    late = take([("ɑ", 400), ("m", 400)], offset=F(3, 4))
    timing = build_cut_timing(cut(), [late])
    assert cues(timing.mouth_cues) == [(0, 18, "X"), (18, 24, "D")]
    assert cut_timing_json(timing)["lines"][0]["end_frame"] == 37  # the line itself is not cut


def test_short_gap_between_takes_is_bridged() -> None:
    a = take([("ɑ", 400)], offset=F(0), take_id="take_a")
    b = take([("u", 400)], offset=F(1, 2), take_id="take_b")  # 100 ms after a ends
    timing = build_cut_timing(cut(), [a, b])
    assert cues(timing.mouth_cues) == [(0, 12, "D"), (12, 22, "F"), (22, 24, "X")]


def test_japanese_take_in_anime3() -> None:
    # こんにちは as Kokoro writes it: koɲɲiʨiβa, 25 ms frames of the duration tensor.
    line = take(
        [(s, 75) for s in "koɲɲiʨiβ"] + [("a", 150), (".", 300)],
        offset=F(1, 4),
        language="ja",
        text="こんにちは。",
    )
    timing = build_cut_timing(cut(F(3, 2)), [line], shape_set="anime3")
    # 0.25 → 6, 0.85 → 20.4, 1.0 → 24; the final period is a pause: closed.
    assert cues(timing.mouth_cues) == [
        (0, 6, "closed"),
        (6, 20, "half"),
        (20, 24, "open"),
        (24, 36, "closed"),
    ]
    doc = cut_timing_json(timing)
    assert doc["shape_set"] == "anime3"
    assert [s["label"] for s in doc["shapes"]] == ["トジ", "中", "アキ"]
    assert doc["lines"][0]["phonemes"][-1]["is_pause"] is True


def test_no_takes_is_all_rest() -> None:
    timing = build_cut_timing(cut(F(2)), [])
    assert cues(timing.mouth_cues) == [(0, 48, "X")]
    assert rhubarb_tsv(timing) == "0.00\tX\n2.00\tX\n"


def test_bad_frame_rate_is_refused() -> None:
    with pytest.raises(InvalidInput):
        build_cut_timing(cut(fps=F(0)), [MOP])


def test_random_cuts_stay_within_half_a_frame_of_real_boundaries() -> None:
    rng = np.random.default_rng(99)
    for _ in range(150):
        fps = [F(24), F(12), F(8), NTSC_FILM][int(rng.integers(4))]
        duration = F(int(rng.integers(500, 6000)), 1000)
        takes = []
        bounds = {F(0), duration}
        for n in range(int(rng.integers(0, 4))):
            offset = F(int(rng.integers(0, 5000)), 1000)
            phonemes = [
                (str(rng.choice(list("mɑpfiluoːN "))), int(rng.integers(1, 150)))
                for _ in range(int(rng.integers(1, 20)))
            ]
            placed = take(phonemes, offset=offset, take_id=f"take_{n}")
            takes.append(placed)
            bounds.update(offset + F(p.start, SR) for p in placed.phonemes)
            bounds.add(placed.end_seconds)
        min_hold = int(rng.integers(1, 4))
        timing = build_cut_timing(cut(duration, fps), takes, min_hold_frames=min_hold)
        out = timing.mouth_cues
        total = frame_at(duration, fps)
        assert out[0].start_frame == 0 and out[-1].end_frame == total == timing.duration_frames
        for before, after in pairwise(out):
            assert before.end_frame == after.start_frame and before.shape != after.shape
        assert all(c.frames >= min_hold for c in out) or len(out) == 1
        clipped = {min(b, duration) for b in bounds}
        for frame in [c.start_frame for c in out]:
            assert min(abs(frame - b * fps) for b in clipped) <= F(1, 2)


# --- Japanese takes: the mouth follows the morae ---------------------------------------------


def japanese_take(result: SynthesisResult, *, offset: F = F(0)) -> PlacedTake:
    return PlacedTake(
        line_id="line_ja",
        take_id="take_ja",
        consent_version_id="cv_1",
        character="AOI",
        text="",
        language="ja",
        offset_seconds=offset,
        sample_rate=result.sample_rate,
        phonemes=result.phonemes,
        words=result.words,
        morae=result.morae,
    )


def test_japanese_mouth_shows_the_vowel_of_each_mora_from_its_start() -> None:
    # か then ま, 100 ms a phoneme: the mora, not the k, decides; m still closes first.
    phonemes = timings_from_counts(
        [("k", False), ("a", False), ("m", False), ("a", False)], [2400] * 4
    )
    morae = [WordTiming("か", 0, 4800), WordTiming("ま", 4800, 4800)]
    by_phoneme = take([("k", 100), ("a", 100), ("m", 100), ("a", 100)], offset=F(0))
    by_mora = PlacedTake(**{**by_phoneme.__dict__, "phonemes": phonemes, "morae": morae})
    assert cues(build_cut_timing(cut(F(1, 2)), [by_phoneme], "anime3").mouth_cues) == [
        (0, 2, "half"),
        (2, 5, "open"),
        (5, 7, "closed"),
        (7, 10, "open"),
        (10, 12, "closed"),
    ]
    assert cues(build_cut_timing(cut(F(1, 2)), [by_mora], "anime3").mouth_cues) == [
        (0, 5, "open"),
        (5, 7, "closed"),
        (7, 10, "open"),
        (10, 12, "closed"),
    ]
    doc = cut_timing_json(build_cut_timing(cut(F(1, 2)), [by_mora], "vowel5"))
    assert doc["lines"][0]["morae"] == [
        {"text": "か", "start_seconds": 0.0, "end_seconds": 0.2, "shapes": ["a"]},
        {"text": "ま", "start_seconds": 0.2, "end_seconds": 0.4, "shapes": ["closed", "a"]},
    ]


def test_lines_without_morae_have_no_morae_in_json() -> None:
    [line] = cut_timing_json(build_cut_timing(cut(), [MOP]))["lines"]
    assert "morae" not in line


@pytest.fixture(scope="module")
def kokoro_takes(engines: EngineRegistry) -> dict[str, SynthesisResult]:
    """Words with ん, っ and long vowels, as the real Kokoro says them."""
    kokoro = engines.get("kokoro")
    return {
        text: kokoro.synthesize(text, speaker="jf_alpha", settings=SynthesisSettings())
        for text in ("さんかっけい", "コーヒー", "がっこう", "ありがとうございます")
    }


# The shape of each mora; (closed, a) is a mora whose m, b or p closes before its vowel.
MORA_SHAPES: dict[tuple[str, str], list[str | tuple[str, str]]] = {
    ("さんかっけい", "vowel5"): ["a", "closed", "a", "closed", "e", "i"],
    ("さんかっけい", "anime3"): ["open", "closed", "open", "closed", "half", "half"],
    ("コーヒー", "vowel5"): ["o", "o", "i", "i"],
    ("コーヒー", "anime3"): ["half", "half", "half", "half"],
    ("がっこう", "vowel5"): ["a", "closed", "o", "o"],
    ("がっこう", "anime3"): ["open", "closed", "half", "half"],
    ("ありがとうございます", "vowel5"): ["a", "i", "a", "o", "o", "o", "a", "i", ("closed", "a"), "u"],
    ("ありがとうございます", "anime3"): [
        "open", "half", "open", "half", "half", "half", "open", "half", ("closed", "open"), "half",
    ],
}  # fmt: skip
MORA_TEXTS = {
    "さんかっけい": "さ ん か っ け い",
    "コーヒー": "こ ー ひ ー",
    "がっこう": "が っ こ ー",
    "ありがとうございます": "あ り が と ー ご ざ い ま す",
}


def expected_frames(
    result: SynthesisResult, mora_shapes: list[str | tuple[str, str]], fps: F, rest: str
) -> list[str]:
    """Frame by frame, the shape of the mora sounding at the frame's middle.

    Between morae: the shape before a pause under 120 ms, else rest. The vowel
    of a closing mora is found in the take's own phonemes.
    """
    spans: list[tuple[int, int, str]] = []
    for mora, shape in zip(result.morae, mora_shapes, strict=True):
        if isinstance(shape, str):
            spans.append((mora.start, mora.end, shape))
            continue
        [vowel] = [
            p for p in result.phonemes if mora.start <= p.start < mora.end and p.phoneme in "aiɯeoɨ"
        ]
        spans += [(mora.start, vowel.start, shape[0]), (vowel.start, mora.end, shape[1])]
    short = F(120, 1000) * result.sample_rate
    out: list[str] = []
    for frame in range(frame_at(F(result.num_samples, result.sample_rate), fps)):
        middle = (frame + F(1, 2)) / fps * result.sample_rate
        inside = [shape for start, end, shape in spans if start <= middle < end]
        before = [span for span in spans if span[1] <= middle]
        after = [span for span in spans if span[0] > middle]
        if inside:
            out.append(inside[0])
        elif before and after and after[0][0] - before[-1][1] < short:
            out.append(before[-1][2])
        else:
            out.append(rest)
    return out


@pytest.mark.parametrize("shape_set", ["vowel5", "anime3"])
@pytest.mark.parametrize("text", list(MORA_TEXTS))
def test_real_kokoro_takes_frame_by_frame(
    kokoro_takes: dict[str, SynthesisResult], text: str, shape_set: str
) -> None:
    result = kokoro_takes[text]
    assert [m.text for m in result.morae] == MORA_TEXTS[text].split()
    duration = F(result.num_samples, result.sample_rate)
    timing = build_cut_timing(cut(duration, F(24)), [japanese_take(result)], shape_set)
    frames = [cue.shape for cue in timing.mouth_cues for _ in range(cue.frames)]
    assert frames == expected_frames(result, MORA_SHAPES[text, shape_set], F(24), "closed")
    # The mouth opens and closes as the morae do: ん and っ show as closed cues of their own.
    shown = [cue.shape for cue in timing.mouth_cues]
    assert shown[0] == shown[-1] == "closed"
    doc = cut_timing_json(timing)
    [line] = doc["lines"]
    assert [m["text"] for m in line["morae"]] == MORA_TEXTS[text].split()
    expected_shapes = [[s] if isinstance(s, str) else list(s) for s in MORA_SHAPES[text, shape_set]]
    assert [m["shapes"] for m in line["morae"]] == expected_shapes
    for mora, out in zip(result.morae, line["morae"], strict=True):
        assert out["start_seconds"] == round(mora.start / result.sample_rate, 6)
        assert out["end_seconds"] == round(mora.end / result.sample_rate, 6)


def test_cut_export_lists_the_morae_of_a_japanese_take(
    client: TestClient, runtime: Runtime
) -> None:
    studio = seed_studio(runtime)
    voice = seed_voice(runtime, voice=JAPANESE)
    project = cast_project(
        client, studio, {"HARU": voice}, one_line("がっこう。", "HARU"), language="ja"
    )
    take = client.post(f"/v1/lines/{project.line_ids[0]}/takes", headers=studio.headers).json()
    client.post(f"/v1/takes/{take['id']}/approve", headers=studio.headers).raise_for_status()
    cuts = client.get(f"/v1/projects/{project.project_id}/cuts", headers=studio.headers).json()
    exported = client.get(
        f"/v1/cuts/{cuts['data'][0]['id']}/exports/json",
        params={"shape_set": "vowel5", "fps": "24"},
        headers=studio.headers,
    ).json()
    [line] = exported["lines"]
    assert [(m["text"], m["shapes"]) for m in line["morae"]] == [
        ("が", ["a"]),
        ("っ", ["closed"]),
        ("こ", ["o"]),
        ("ー", ["o"]),
    ]
    morae = line["morae"]
    assert line["start_seconds"] < morae[0]["start_seconds"] < morae[-1]["end_seconds"]
    assert morae[-1]["end_seconds"] <= line["end_seconds"]
    assert all(a["end_seconds"] <= b["start_seconds"] for a, b in pairwise(morae))
