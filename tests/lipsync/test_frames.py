"""Mouth cues on a frame grid: snapping, minimum hold, pause bridging, coverage."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction as F
from itertools import pairwise

import numpy as np
import pytest

from models.engines.base import timings_from_counts
from voicehub.errors import InvalidInput
from voicehub.lipsync.frames import (
    MouthCue,
    ShapeSpan,
    TimedPhoneme,
    frame_at,
    mouth_cues,
    shape_spans,
    snap_to_frames,
    timed_phonemes,
)
from voicehub.lipsync.shapes import ANIME3, RHUBARB, SHAPE_SETS

NTSC_FILM = F(24000, 1001)


def seq(*items: tuple[str, int]) -> list[TimedPhoneme]:
    """Contiguous phonemes from (symbol, milliseconds); "_" is a pause."""
    out: list[TimedPhoneme] = []
    t = F(0)
    for symbol, ms in items:
        out.append(TimedPhoneme(symbol, t, t + F(ms, 1000), is_pause=symbol == "_"))
        t += F(ms, 1000)
    return out


def cue_list(cues: Sequence[MouthCue]) -> list[tuple[int, int, str]]:
    return [(c.start_frame, c.end_frame, c.shape) for c in cues]


def check_cues(
    cues: Sequence[MouthCue],
    phonemes: Sequence[TimedPhoneme],
    fps: F,
    *,
    start: F,
    end: F,
    min_hold: int,
) -> None:
    """The promises every cue list keeps, whatever the input."""
    total = frame_at(end, fps) - frame_at(start, fps)
    if total == 0:
        assert cues == []
        return
    assert cues[0].start_frame == frame_at(start, fps)
    assert cues[-1].end_frame == frame_at(end, fps)
    for before, after in pairwise(cues):
        assert before.end_frame == after.start_frame, "gap or overlap"
        assert before.shape != after.shape, "equal neighbours not merged"
    for cue in cues:
        assert cue.frames >= 1, "zero-length cue"
        if len(cues) > 1:
            assert cue.frames >= min_hold, "minimum hold not enforced"
    # The only timing error is frame rounding: each boundary is within half a
    # frame of a real boundary (a phoneme's start or end, or the range's ends).
    true_bounds = {start, end}
    for p in phonemes:
        true_bounds.update(min(max(t, start), end) for t in (p.start, p.end))
    boundaries = [cue.start_frame for cue in cues] + [cues[-1].end_frame]
    for frame in boundaries:
        error = min(abs(frame - t * fps) for t in true_bounds)
        assert error <= F(1, 2), f"frame {frame} is {float(error):.3f} frames from any boundary"


# m a m a: 0-100, 100-300, 300-400, 400-600 ms.
MAMA = seq(("m", 100), ("ɑ", 200), ("m", 100), ("ɑ", 200))


@pytest.mark.parametrize(
    ("fps", "expected"),
    [
        (F(24), [(0, 2, "A"), (2, 7, "D"), (7, 10, "A"), (10, 14, "D")]),  # 2.4 7.2 9.6 14.4
        (F(12), [(0, 1, "A"), (1, 4, "D"), (4, 5, "A"), (5, 7, "D")]),  # 1.2 3.6 4.8 7.2
        (F(8), [(0, 1, "A"), (1, 2, "D"), (2, 3, "A"), (3, 5, "D")]),  # 0.8 2.4 3.2 4.8
        (NTSC_FILM, [(0, 2, "A"), (2, 7, "D"), (7, 10, "A"), (10, 14, "D")]),
    ],
)
def test_boundaries_snap_to_the_nearest_frame(fps: F, expected: list[tuple[int, int, str]]) -> None:
    cues = mouth_cues(MAMA, RHUBARB, fps)
    assert cue_list(cues) == expected
    check_cues(cues, MAMA, fps, start=F(0), end=F(600, 1000), min_hold=1)


def test_ntsc_film_rate_is_not_rounded_to_24() -> None:
    # 0.855 s is frame 20.52 at 24 fps but 20.4995 at 23.976.
    phonemes = seq(("m", 855), ("ɑ", 145))
    assert cue_list(mouth_cues(phonemes, RHUBARB, F(24))) == [(0, 21, "A"), (21, 24, "D")]
    assert cue_list(mouth_cues(phonemes, RHUBARB, NTSC_FILM)) == [(0, 20, "A"), (20, 24, "D")]


def test_a_boundary_exactly_between_frames_rounds_to_even() -> None:
    assert frame_at(F(7, 16), F(24)) == 10  # 10.5
    assert frame_at(F(23, 48), F(24)) == 12  # 11.5


def test_cue_seconds_helpers() -> None:
    cue = MouthCue(24, 48, "D")
    assert cue.frames == 24
    assert (cue.start_seconds(F(24)), cue.end_seconds(F(24))) == (F(1), F(2))
    assert cue.start_seconds(NTSC_FILM) == F(1001, 1000)
    assert cue.start_seconds(F(8)) == 3


def test_identical_shapes_merge() -> None:
    # b and m are both A, ɑ and a both D.
    phonemes = seq(("b", 100), ("m", 100), ("ɑ", 100), ("a", 100))
    assert cue_list(mouth_cues(phonemes, RHUBARB, F(24))) == [(0, 5, "A"), (5, 10, "D")]


def test_long_mark_holds_the_vowel() -> None:
    phonemes = seq(("k", 50), ("a", 100), ("ː", 150), ("N", 100))
    cues = mouth_cues(phonemes, ANIME3, F(24))
    assert [c.shape for c in cues] == ["half", "open", "closed"]
    assert cues[1].start_frame == 1 and cues[1].end_frame == 7  # 1.2 → 1, 7.2 → 7


def test_a_phoneme_shorter_than_a_frame_leaves_no_zero_length_cue() -> None:
    # p covers 200-210 ms: frames 4.8 → 5 and 5.04 → 5, nothing left of it.
    phonemes = seq(("ɑ", 200), ("p", 10), ("ɑ", 190))
    cues = mouth_cues(phonemes, RHUBARB, F(24))
    assert cue_list(cues) == [(0, 10, "D")]


def test_a_one_frame_cue_survives_the_default_hold() -> None:
    # p covers 200-250 ms: frames 4.8 → 5 and 6.0 → 6.
    phonemes = seq(("ɑ", 200), ("p", 50), ("ɑ", 150))
    assert cue_list(mouth_cues(phonemes, RHUBARB, F(24))) == [
        (0, 5, "D"),
        (5, 6, "A"),
        (6, 10, "D"),
    ]


def spans(*items: tuple[str, int], fps: int = 24) -> list[ShapeSpan]:
    """Contiguous spans from (shape, frames)."""
    out: list[ShapeSpan] = []
    frame = 0
    for shape, frames in items:
        out.append(ShapeSpan(F(frame, fps), F(frame + frames, fps), shape))
        frame += frames
    return out


def test_min_hold_merges_a_short_cue_into_the_next() -> None:
    cues = snap_to_frames(spans(("D", 10), ("A", 1), ("C", 10)), F(24), min_hold_frames=2)
    # C shows a frame early rather than D a frame late.
    assert cue_list(cues) == [(0, 10, "D"), (10, 21, "C")]


def test_min_hold_merges_the_last_cue_into_the_one_before() -> None:
    cues = snap_to_frames(spans(("D", 10), ("A", 1)), F(24), min_hold_frames=2)
    assert cue_list(cues) == [(0, 11, "D")]


def test_min_hold_merge_joins_equal_neighbours() -> None:
    cues = snap_to_frames(spans(("D", 5), ("A", 1), ("D", 5)), F(24), min_hold_frames=2)
    assert cue_list(cues) == [(0, 11, "D")]


def test_min_hold_cascades_until_the_hold_is_met() -> None:
    cues = snap_to_frames(spans(("A", 5), ("B", 1), ("C", 1), ("D", 5)), F(24), min_hold_frames=3)
    assert cue_list(cues) == [(0, 5, "A"), (5, 12, "D")]


def test_min_hold_first_cue_short() -> None:
    cues = snap_to_frames(spans(("X", 1), ("D", 5)), F(24), min_hold_frames=2)
    assert cue_list(cues) == [(0, 6, "D")]


def test_a_range_shorter_than_the_hold_is_one_cue() -> None:
    cues = snap_to_frames(spans(("A", 1), ("D", 1)), F(24), min_hold_frames=3)
    assert cue_list(cues) == [(0, 2, "D")]


def test_min_hold_on_twos_at_12_fps() -> None:
    # At 12 fps the 60 ms p is frames 2.4 → 2 to 3.12 → 3: one frame, below a hold of 2.
    phonemes = seq(("ɑ", 200), ("p", 60), ("ɑ", 240), ("_", 300))
    assert cue_list(mouth_cues(phonemes, RHUBARB, F(12))) == [
        (0, 2, "D"),
        (2, 3, "A"),
        (3, 6, "D"),
        (6, 10, "X"),
    ]
    held = mouth_cues(phonemes, RHUBARB, F(12), min_hold_frames=2)
    assert cue_list(held) == [(0, 6, "D"), (6, 10, "X")]


def test_short_pause_between_speech_holds_the_shape() -> None:
    phonemes = seq(("m", 100), ("ɑ", 200), ("_", 100), ("f", 100), ("u", 200))
    assert [c.shape for c in mouth_cues(phonemes, RHUBARB, F(24))] == ["A", "D", "G", "F"]


def test_long_pause_between_speech_shows_rest() -> None:
    phonemes = seq(("m", 100), ("ɑ", 200), ("_", 200), ("f", 100), ("u", 200))
    cues = mouth_cues(phonemes, RHUBARB, F(24))
    assert cue_list(cues) == [(0, 2, "A"), (2, 7, "D"), (7, 12, "X"), (12, 14, "G"), (14, 19, "F")]


def test_a_pause_of_exactly_120_ms_is_not_short() -> None:
    phonemes = seq(("ɑ", 200), ("_", 120), ("ɑ", 200))
    assert [c.shape for c in mouth_cues(phonemes, RHUBARB, F(24))] == ["D", "X", "D"]
    phonemes = seq(("ɑ", 200), ("_", 119), ("ɑ", 200))
    assert [c.shape for c in mouth_cues(phonemes, RHUBARB, F(24))] == ["D"]


def test_pause_runs_and_gaps_count_as_one_pause() -> None:
    # 60 ms pause + 40 ms of nothing + 40 ms pause = 140 ms: rest.
    a, pause = seq(("ɑ", 200), ("_", 60))
    later = [
        TimedPhoneme(" ", F(300, 1000), F(340, 1000), is_pause=True),
        TimedPhoneme("ɑ", F(340, 1000), F(500, 1000)),
    ]
    assert [c.shape for c in mouth_cues([a, pause, *later], RHUBARB, F(24))] == ["D", "X", "D"]
    # A 100 ms gap with no pause phoneme is bridged like a pause.
    gap = [a, TimedPhoneme("u", F(300, 1000), F(500, 1000))]
    assert [c.shape for c in mouth_cues(gap, RHUBARB, F(24))] == ["D", "F"]


def test_short_pauses_at_either_end_rest() -> None:
    phonemes = seq(("_", 100), ("ɑ", 200), ("_", 100))
    assert [c.shape for c in mouth_cues(phonemes, RHUBARB, F(24))] == ["X", "D", "X"]


def test_bridge_threshold_is_configurable() -> None:
    phonemes = seq(("ɑ", 200), ("_", 200), ("ɑ", 200))
    cues = mouth_cues(phonemes, RHUBARB, F(24), bridge_pauses_under=F(1, 4))
    assert [c.shape for c in cues] == ["D"]


def test_spans_cover_the_range_and_clip_phonemes() -> None:
    phonemes = seq(("m", 100), ("ɑ", 200))
    out = shape_spans(phonemes, RHUBARB, start=F(1, 20), end=F(1, 2))
    assert out == [
        ShapeSpan(F(1, 20), F(1, 10), "A"),
        ShapeSpan(F(1, 10), F(3, 10), "D"),
        ShapeSpan(F(3, 10), F(1, 2), "X"),
    ]


def test_timed_phonemes_from_engine_samples() -> None:
    timings = timings_from_counts([("m", False), ("a", False), (" ", True)], [2205, 4410, 256])
    placed = timed_phonemes(timings, 22050, offset=F(1, 2))
    assert [(p.start, p.end, p.is_pause) for p in placed] == [
        (F(1, 2), F(6, 10), False),
        (F(6, 10), F(8, 10), False),
        (F(8, 10), F(8, 10) + F(256, 22050), True),
    ]


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(InvalidInput):
        mouth_cues(MAMA, RHUBARB, F(0))
    with pytest.raises(InvalidInput):
        mouth_cues(MAMA, RHUBARB, F(24), min_hold_frames=0)
    overlapping = [TimedPhoneme("a", F(0), F(1)), TimedPhoneme("m", F(1, 2), F(2))]
    with pytest.raises(InvalidInput):
        mouth_cues(overlapping, RHUBARB, F(24))
    with pytest.raises(InvalidInput):
        snap_to_frames([ShapeSpan(F(0), F(1), "A"), ShapeSpan(F(2), F(3), "D")], F(24))


def test_empty_input_gives_no_cues() -> None:
    assert mouth_cues([], RHUBARB, F(24)) == []
    assert mouth_cues(seq(("a", 10)), RHUBARB, F(24)) == []  # under half a frame


# Symbols the engines emit, with pauses weighted up so every path gets exercised.
INVENTORY = [
    "ð",
    "ə",
    "k",
    "w",
    "ɪ",
    "b",
    "ɹ",
    "a",
    "ʊ",
    "n",
    "f",
    "ɑ",
    "ː",
    "ɛ",
    "ŋ",
    "ʃ",
    "ʒ",
    "θ",
    "tʃ",
    "dʒ",
    "l",
    "m",
    "p",
    "s",
    "t",
    "d",
    "i",
    "u",
    "o",
    "e",
    "æ",
    "ʌ",
    "ɔ",
    "ɜ",
    "ɚ",
    "o",
    "ɲ",
    "ʨ",
    "β",
    "ʥ",
    "ɕ",
    "ɯ",
    "ɨ",
    "ɾ",
    "N",
    "ʔ",
    "j",
    "h",
    "ç",
    "ɸ",
    "z",
    "ʦ",
    "g",
    "ʲ",
    "☃",
] + [" ", ".", ","] * 6
RATES = [F(24), F(12), F(8), NTSC_FILM, F(25), F(30000, 1001)]


def test_random_sequences_keep_every_promise() -> None:
    rng = np.random.default_rng(20240613)
    for _ in range(400):
        sample_rate = int(rng.choice([22050, 24000]))
        count = int(rng.integers(0, 40))
        symbols = [str(rng.choice(INVENTORY)) for _ in range(count)]
        # From empty to half a second per phoneme, often shorter than a frame.
        samples = [int(n) for n in rng.integers(0, sample_rate // 2, size=count)]
        labels = [(s, s in {" ", ".", ","}) for s in symbols]
        offset = F(int(rng.integers(0, 2000)), 1000)
        phonemes = timed_phonemes(timings_from_counts(labels, samples), sample_rate, offset=offset)
        fps = RATES[int(rng.integers(len(RATES)))]
        min_hold = int(rng.integers(1, 5))
        shape_set = SHAPE_SETS[str(rng.choice(sorted(SHAPE_SETS)))]
        end = offset + F(sum(samples), sample_rate) + F(int(rng.integers(0, 500)), 1000)
        cues = mouth_cues(phonemes, shape_set, fps, end=end, min_hold_frames=min_hold)
        check_cues(cues, phonemes, fps, start=F(0), end=end, min_hold=min_hold)
        assert {c.shape for c in cues} <= set(shape_set.shape_ids)


def test_check_cues_catches_a_boundary_off_by_a_frame() -> None:
    # The checker itself must be able to fail.
    cues = [MouthCue(0, 3, "A"), MouthCue(3, 14, "D")]  # the real boundary is 2.4
    with pytest.raises(AssertionError):
        check_cues(cues, MAMA[:2], F(24), start=F(0), end=F(600, 1000), min_hold=1)
