"""Per-cut lip-sync formats read back: Rhubarb JSON, Moho switch data, and the timing options."""

from __future__ import annotations

import json
import math
from fractions import Fraction as F
from itertools import pairwise

import numpy as np
import pytest

from models.engines.base import SynthesisResult, SynthesisSettings
from models.engines.registry import EngineRegistry
from tests.lipsync.test_exports import (
    MOP,
    MORA_SHAPES,
    cues,
    cut,
    expected_frames,
    japanese_take,
    take,
)
from voicehub.errors import InvalidInput
from voicehub.lipsync import (
    PRESTON_BLAIR,
    CutTiming,
    PlacedTake,
    build_cut_timing,
    cut_timing_json,
    moho_dat,
    rhubarb_json,
)
from voicehub.lipsync.exports import MAX_MIN_HOLD_FRAMES
from voicehub.lipsync.moho import MOHO_HEADER

NTSC_FILM = F(24000, 1001)


def per_frame(timing: CutTiming) -> list[str]:
    return [cue.shape for cue in timing.mouth_cues for _ in range(cue.frames)]


@pytest.fixture(scope="module")
def piper_take(engines: EngineRegistry) -> tuple[PlacedTake, SynthesisResult]:
    """A real English take: Piper's own phoneme alignment, placed half a second into the cut."""
    result = engines.get("piper").synthesize(
        "Fine, we leave at dawn. Bring the map!", speaker="joe", settings=SynthesisSettings(seed=1)
    )
    placed = PlacedTake(
        line_id="line_en",
        take_id="take_en",
        consent_version_id="cv_1",
        character="KEN",
        text="Fine, we leave at dawn. Bring the map!",
        language="en",
        offset_seconds=F(1, 2),
        sample_rate=result.sample_rate,
        phonemes=result.phonemes,
        words=result.words,
    )
    return placed, result


def piper_cut(placed: PlacedTake) -> F:
    return placed.end_seconds + F(1, 2)


# --- Rhubarb JSON --------------------------------------------------------------------------


def test_rhubarb_json_exact() -> None:
    doc = rhubarb_json(build_cut_timing(cut(), [MOP]), sound_file="C-001.wav")
    assert doc == {
        "metadata": {"soundFile": "C-001.wav", "duration": 1.0},
        "mouthCues": [
            {"start": 0.0, "end": 0.5, "value": "X"},
            {"start": 0.5, "end": 0.59, "value": "A"},
            {"start": 0.59, "end": 0.8, "value": "D"},
            {"start": 0.8, "end": 0.92, "value": "A"},
            {"start": 0.92, "end": 1.0, "value": "X"},
        ],
    }
    json.dumps(doc)


@pytest.mark.parametrize("fps", [F(8), F(12), F(24), F(25), NTSC_FILM])
def test_rhubarb_json_times_read_back_as_the_cue_frames(
    piper_take: tuple[PlacedTake, SynthesisResult], fps: F
) -> None:
    placed, _ = piper_take
    timing = build_cut_timing(cut(piper_cut(placed), fps), [placed])
    doc = rhubarb_json(timing)
    assert len(doc["mouthCues"]) == len(timing.mouth_cues)
    for out, cue in zip(doc["mouthCues"], timing.mouth_cues, strict=True):
        assert out["value"] == cue.shape
        for seconds, frame in ((out["start"], cue.start_frame), (out["end"], cue.end_frame)):
            value = F(str(seconds)) * fps
            assert math.floor(value) == frame and round(value) == frame
            assert F(str(seconds)) * 100 == int(F(str(seconds)) * 100)  # 2 decimals
    assert F(str(doc["metadata"]["duration"])) * fps == pytest.approx(
        timing.duration_frames, abs=0.5
    )


def test_rhubarb_json_needs_the_rhubarb_set() -> None:
    with pytest.raises(InvalidInput, match="rhubarb") as caught:
        rhubarb_json(build_cut_timing(cut(), [MOP], shape_set="preston_blair"))
    assert caught.value.extra["field"] == "shape_set"


# --- Moho switch data ------------------------------------------------------------------------


def test_moho_dat_exact_text() -> None:
    timing = build_cut_timing(cut(), [MOP], shape_set="preston_blair")
    # Frames 0, 12, 14, 19, 22 → 1, 13, 15, 20, 23; the last cue (22-24) keys frame 24 again.
    assert moho_dat(timing) == ("MohoSwitch1\n1 rest\n13 MBP\n15 AI\n20 MBP\n23 rest\n24 rest\n")


def read_moho(text: str, duration: int) -> list[str]:
    """Moho's reading: each key holds until the next; frames from 1."""
    lines = text.splitlines()
    assert lines[0] == MOHO_HEADER
    keys = [(int(frame), shape) for frame, shape in (line.split(" ") for line in lines[1:])]
    out: list[str] = []
    for (frame, shape), following in zip(keys, [*keys[1:], (duration + 1, "")], strict=True):
        assert len(out) == frame - 1
        out += [shape] * (following[0] - frame)
    return out


def read_opentoonz(text: str) -> list[str]:
    """OpenToonz's "Apply Lip Sync Data", line for line: two tokens, int then not int, lowercased.

    Each entry fills rows up to the next entry's frame - 1; the last up to its own frame.
    """
    entries: list[tuple[int, str]] = []
    for line in text.splitlines():
        tokens = line.split(" ")
        if len(tokens) != 2 or not tokens[0].lstrip("-").isdigit() or tokens[1].isdigit():
            continue
        entries.append((int(tokens[0]), tokens[1].lower()))
    assert len(entries) > 0
    known = ["ai", "e", "o", "u", "fv", "l", "mbp", "wq", "etc", "rest"]
    rows: list[str] = []
    for index, (_, shape) in enumerate(entries):
        assert shape in known
        end_at = entries[-1][0] if index + 1 == len(entries) else entries[index + 1][0] - 1
        while len(rows) < end_at:
            rows.append(shape)
    return rows


@pytest.mark.parametrize("fps", [F(24), F(12), F(8)])
def test_moho_dat_reads_back_in_moho_and_opentoonz(
    piper_take: tuple[PlacedTake, SynthesisResult], fps: F
) -> None:
    placed, _ = piper_take
    timing = build_cut_timing(cut(piper_cut(placed), fps), [placed], shape_set=PRESTON_BLAIR)
    text = moho_dat(timing)
    assert text.endswith("\n") and "\t" not in text and "  " not in text
    frames = per_frame(timing)
    assert read_moho(text, timing.duration_frames) == frames
    assert read_opentoonz(text) == [shape.lower() for shape in frames]
    # Every key but the closing repeat is a cue start, counted from 1.
    keys = [line.split(" ") for line in text.splitlines()[1:]]
    starts = [(cue.start_frame + 1, cue.shape) for cue in timing.mouth_cues]
    assert [(int(f), s) for f, s in keys][: len(starts)] == starts


def test_moho_dat_needs_the_preston_blair_set() -> None:
    with pytest.raises(InvalidInput, match="preston_blair") as caught:
        moho_dat(build_cut_timing(cut(), [MOP]))
    assert caught.value.extra == {
        "field": "shape_set",
        "shape_set": "rhubarb",
        "required": "preston_blair",
    }


def test_moho_dat_one_frame_last_cue_is_not_repeated() -> None:
    # 0.5 s of m then 1/24 s of rest: the last cue is one frame, keyed once.
    timing = build_cut_timing(cut(F(13, 24)), [take([("m", 500)], offset=F(0))], "preston_blair")
    assert cues(timing.mouth_cues) == [(0, 12, "MBP"), (12, 13, "rest")]
    assert moho_dat(timing) == "MohoSwitch1\n1 MBP\n13 rest\n"


# --- Frame rates, minimum hold, pause bridging ---------------------------------------------


@pytest.mark.parametrize("fps", [F(24), F(12), F(8)])
@pytest.mark.parametrize("min_hold", [1, 2, 3])
def test_real_take_at_24_12_8_fps_holds_every_shape(
    piper_take: tuple[PlacedTake, SynthesisResult], fps: F, min_hold: int
) -> None:
    placed, _ = piper_take
    duration = piper_cut(placed)
    timing = build_cut_timing(cut(duration, fps), [placed], min_hold_frames=min_hold)
    out = timing.mouth_cues
    assert out[0].start_frame == 0 and out[-1].end_frame == timing.duration_frames
    assert all(a.end_frame == b.start_frame and a.shape != b.shape for a, b in pairwise(out))
    assert all(cue.frames >= min_hold for cue in out)
    # Shapes are merged into their neighbours, never dropped as gaps: every frame has one.
    assert len(per_frame(timing)) == timing.duration_frames
    # The mouth still moves while the line is spoken, even held for 3 frames on threes.
    assert len({cue.shape for cue in out} - {timing.shape_set.rest}) >= 2
    doc = cut_timing_json(timing)
    assert doc["min_hold_frames"] == min_hold
    assert doc["bridge_pauses_under_seconds"] == 0.12


def test_short_pause_keeps_the_shape_and_bridge_threshold_is_passed_through() -> None:
    # ɑ, an 80 ms pause, ɑ: bridged by default, rest once the threshold is below 80 ms.
    line = take([("ɑ", 400), (" ", 80), ("ɑ", 400), (".", 120)], offset=F(0))
    bridged = build_cut_timing(cut(F(1)), [line])
    assert cues(bridged.mouth_cues) == [(0, 21, "D"), (21, 24, "X")]
    split = build_cut_timing(cut(F(1)), [line], bridge_pauses_under=F(50, 1000))
    assert cues(split.mouth_cues) == [(0, 10, "D"), (10, 12, "X"), (12, 21, "D"), (21, 24, "X")]
    off = build_cut_timing(cut(F(1)), [line], bridge_pauses_under=F(0))
    assert cues(off.mouth_cues) == cues(split.mouth_cues)
    assert cut_timing_json(split)["bridge_pauses_under_seconds"] == 0.05
    assert split.bridge_pauses_under == F(1, 20)
    # A longer threshold bridges longer pauses too.
    long_pause = take([("ɑ", 400), (" ", 200), ("ɑ", 400)], offset=F(0))
    assert cues(build_cut_timing(cut(F(1)), [long_pause]).mouth_cues)[1][2] == "X"
    wide = build_cut_timing(cut(F(1)), [long_pause], bridge_pauses_under=F(1, 4))
    assert cues(wide.mouth_cues) == [(0, 24, "D")]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"min_hold_frames": 0}, "min_hold_frames"),
        ({"min_hold_frames": -2}, "min_hold_frames"),
        ({"min_hold_frames": MAX_MIN_HOLD_FRAMES + 1}, "min_hold_frames"),
        ({"bridge_pauses_under": F(-1, 100)}, "bridge_pauses_under"),
        ({"fps": F(0)}, "fps"),
        ({"fps": F(-24)}, "fps"),
        ({"fps": F(121)}, "fps"),
    ],
)
def test_bad_timing_options_are_refused_naming_the_field(
    kwargs: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        build_cut_timing(cut(), [MOP], **kwargs)  # type: ignore[arg-type]
    assert caught.value.extra["field"] == field
    assert field.split("_")[0] in str(caught.value) or "frame rate" in str(caught.value)
    assert caught.value.status == 422


def test_limits_themselves_are_accepted() -> None:
    assert build_cut_timing(cut(), [MOP], fps=F(120)).duration_frames == 120
    held = build_cut_timing(cut(), [MOP], min_hold_frames=MAX_MIN_HOLD_FRAMES)
    assert all(c.frames >= MAX_MIN_HOLD_FRAMES for c in held.mouth_cues)


def test_cut_rate_out_of_range_is_refused_without_an_override() -> None:
    with pytest.raises(InvalidInput, match="at most 120"):
        build_cut_timing(cut(fps=F(240)), [MOP])


# --- Japanese morae on threes ------------------------------------------------------------------


@pytest.fixture(scope="module")
def arigatou(engines: EngineRegistry) -> SynthesisResult:
    return engines.get("kokoro").synthesize(
        "ありがとうございます", speaker="jf_alpha", settings=SynthesisSettings(seed=1)
    )


@pytest.mark.parametrize("shape_set", ["vowel5", "anime3"])
def test_japanese_morae_at_8_fps(arigatou: SynthesisResult, shape_set: str) -> None:
    duration = F(arigatou.num_samples, arigatou.sample_rate)
    timing = build_cut_timing(cut(duration, F(8)), [japanese_take(arigatou)], shape_set)
    expected = expected_frames(
        arigatou, MORA_SHAPES["ありがとうございます", shape_set], F(8), "closed"
    )
    assert per_frame(timing) == expected
    # On threes a mora lasts about a frame, yet the mouth still changes through the line.
    assert len(timing.mouth_cues) >= 4
    mora_bounds = {F(m.start, arigatou.sample_rate) for m in arigatou.morae}
    mora_bounds |= {F(m.end, arigatou.sample_rate) for m in arigatou.morae}
    mora_bounds |= {F(p.start, arigatou.sample_rate) for p in arigatou.phonemes}
    for cue in timing.mouth_cues[1:]:
        assert min(abs(cue.start_frame - b * 8) for b in mora_bounds) <= F(1, 2)


def test_rhubarb_json_of_silence_is_one_rest_cue() -> None:
    doc = rhubarb_json(build_cut_timing(cut(F(2), F(12)), []))
    assert doc["mouthCues"] == [{"start": 0.0, "end": 2.0, "value": "X"}]
    assert np.isclose(doc["metadata"]["duration"], 2.0)
