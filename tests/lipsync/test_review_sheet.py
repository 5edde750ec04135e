"""The PNG review sheet: decoded and checked pixel by pixel where it matters."""

from __future__ import annotations

import io
import logging
from fractions import Fraction as F
from itertools import pairwise

import numpy as np
import pytest
from matplotlib import image as mimage

from models.engines.base import SynthesisResult, SynthesisSettings
from models.engines.registry import EngineRegistry
from tests.lipsync.test_exports import MOP, cut, japanese_take, take
from voicehub.lipsync import CutTiming, PlacedTake, build_cut_timing
from voicehub.lipsync.review import (
    HEIGHT_PX,
    WIDTH_PX,
    frame_column,
    japanese_font,
    review_sheet_png,
    shape_colours,
    strip_row,
)


def decode(png: bytes) -> np.ndarray:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    pixels: np.ndarray = mimage.imread(io.BytesIO(png), format="png")
    return pixels[..., :3]


@pytest.fixture(scope="module")
def piper_result(engines: EngineRegistry) -> SynthesisResult:
    return engines.get("piper").synthesize(
        "Get down! They are coming over the ridge, all of them, right now.",
        speaker="joe",
        settings=SynthesisSettings(seed=1),
    )


def english(result: SynthesisResult, offset: F) -> PlacedTake:
    placed = japanese_take(result, offset=offset)
    return type(placed)(**{**placed.__dict__, "character": "KEN", "text": "Get down!"})


def test_strip_shows_each_cue_in_its_shape_colour(piper_result: SynthesisResult) -> None:
    line = english(piper_result, F(1, 2))
    timing = build_cut_timing(cut(line.end_seconds + F(1, 2)), [line], shape_set="preston_blair")
    audio = {line.take_id: (piper_result.audio, piper_result.sample_rate)}
    pixels = decode(review_sheet_png(timing, audio))
    assert pixels.shape == (HEIGHT_PX, WIDTH_PX, 3)
    colours = shape_colours(timing.shape_set)
    row = strip_row()
    duration = timing.duration_frames
    for cue in timing.mouth_cues:
        middle = round(frame_column((cue.start_frame + cue.end_frame) / 2, duration))
        assert np.allclose(pixels[row, middle], colours[cue.shape], atol=0.02), cue
    # The colour changes right at each cue boundary.
    for before, after in pairwise(timing.mouth_cues):
        x = frame_column(after.start_frame, duration)
        left, right = pixels[row, int(x) - 2], pixels[row, int(x) + 2]
        assert np.allclose(left, colours[before.shape], atol=0.02)
        assert np.allclose(right, colours[after.shape], atol=0.02)


def test_waveform_sits_where_the_take_starts(piper_result: SynthesisResult) -> None:
    line = english(piper_result, F(1))
    timing = build_cut_timing(cut(line.end_seconds + F(1, 2)), [line])
    audio = {line.take_id: (piper_result.audio, piper_result.sample_rate)}
    with_audio = decode(review_sheet_png(timing, audio))
    without = decode(review_sheet_png(timing, {}))
    top, bottom = round(HEIGHT_PX * (1 - 0.86)) + 40, round(HEIGHT_PX * (1 - 0.50)) - 5
    start = frame_column(24, timing.duration_frames)  # the take starts at 1 s = frame 24
    drawn = np.any(np.abs(with_audio - without) > 0.1, axis=2)[top:bottom]
    columns = np.nonzero(drawn.any(axis=0))[0]
    assert columns.size > 100
    assert columns.min() >= start - 2
    assert columns.max() <= frame_column(timing.duration_frames, timing.duration_frames)


def test_same_timing_gives_the_same_png() -> None:
    timing = build_cut_timing(cut(), [MOP])
    audio = {"take_1": (np.sin(np.linspace(0, 300, 9600)).astype(np.float32), 24000)}
    first, second = review_sheet_png(timing, audio), review_sheet_png(timing, audio)
    assert first == second
    other = build_cut_timing(cut(), [MOP], fps=F(12))
    assert review_sheet_png(other, audio) != first


def test_ten_second_cut_renders_fast() -> None:
    rng = np.random.default_rng(3)
    phonemes = [
        (str(rng.choice(list("mɑpfiluo "))), int(rng.integers(40, 120))) for _ in range(120)
    ]
    line = take(phonemes, offset=F(1, 2))
    timing = build_cut_timing(cut(F(10)), [line])
    audio = {"take_1": (rng.normal(0, 0.2, 24000 * 9).astype(np.float32), 24000)}
    png = review_sheet_png(timing, audio)
    # How long it takes is measured in bench/export_project.py, not asserted here.
    assert decode(png).shape == (HEIGHT_PX, WIDTH_PX, 3)


def test_japanese_line_renders_and_a_missing_font_is_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    line = take([("a", 300), ("m", 100), ("a", 300)], offset=F(0), language="ja", text="あまい")
    timing: CutTiming = build_cut_timing(cut(), [line], shape_set="anime3")
    japanese_font.cache_clear()
    with caplog.at_level(logging.WARNING, logger="voicehub.lipsync.review"):
        png = review_sheet_png(timing, {})
    font = japanese_font()
    warned = [r for r in caplog.records if "Japanese" in r.getMessage()]
    assert (font is None) == bool(warned)
    assert decode(png).shape == (HEIGHT_PX, WIDTH_PX, 3)
