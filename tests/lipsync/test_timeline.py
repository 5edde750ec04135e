"""The project's OpenTimelineIO timeline, written and read back with opentimelineio."""

from __future__ import annotations

from fractions import Fraction as F

import opentimelineio as otio
import pytest

from models.engines.base import timings_from_counts
from voicehub.errors import InvalidInput
from voicehub.lipsync.exports import CutInfo, PlacedTake, build_cut_timing
from voicehub.lipsync.frames import frame_at
from voicehub.lipsync.timeline import TimelineCut, otio_json, project_timeline

SR = 48_000
NTSC_FILM = F(24000, 1001)


def take(take_id: str, character: str, offset: F, ms: list[tuple[str, int]]) -> PlacedTake:
    return PlacedTake(
        line_id=f"line_{take_id}",
        take_id=take_id,
        consent_version_id="cnv_1",
        character=character,
        text=f"{character} says {take_id}",
        language="en",
        offset_seconds=offset,
        sample_rate=SR,
        phonemes=timings_from_counts(
            [(symbol, symbol == " ") for symbol, _ in ms], [n * SR // 1000 for _, n in ms]
        ),
        words=[],
    )


MOP = [("m", 90), ("ɑ", 230), ("p", 110), (" ", 45)]


def cut(number: str, start: F, seconds: F, takes: list[PlacedTake], fps: F) -> TimelineCut:
    info = CutInfo(f"cut_{number}", number, seconds, NTSC_FILM)
    return TimelineCut(build_cut_timing(info, takes, fps=fps), start)


def read_back(timeline: object) -> otio.schema.Timeline:
    return otio.adapters.read_from_string(otio_json(timeline), "otio_json")


def test_clips_sit_on_exact_frames_at_the_project_rate() -> None:
    first = take("t1", "KEN", F(1, 3), MOP)
    second = take("t2", "AMI", F(7, 5), MOP)
    cuts = [
        cut("C-001", F(0), F(3), [first, second], NTSC_FILM),
        cut("C-002", F(10_010, 1000), F(2), [take("t3", "KEN", F(1, 7), MOP)], NTSC_FILM),
    ]
    timeline = read_back(project_timeline("Episode 1", NTSC_FILM, cuts))

    assert [t.name for t in timeline.tracks] == ["Mouth shapes", "KEN", "AMI"]
    assert timeline.global_start_time == otio.opentime.RationalTime(0, float(NTSC_FILM))
    placed = {
        clip.metadata["voicehub"]["take_id"]: clip.range_in_parent()
        for clip in timeline.find_clips()
    }
    for c in cuts:
        for t in c.timing.takes:
            start = frame_at(c.start_seconds + t.offset_seconds, NTSC_FILM)
            end = frame_at(c.start_seconds + t.end_seconds, NTSC_FILM)
            where = placed[t.take_id]
            assert where.start_time.value == start and where.duration.value == end - start
            assert where.start_time.rate == float(NTSC_FILM)
    # 10.01 s at 24000/1001 is frame 240 exactly; 1/7 s later is frame 243 (3.43 rounds down).
    assert placed["t3"].start_time.value == 243
    clip = next(c for c in timeline.find_clips() if c.metadata["voicehub"]["take_id"] == "t1")
    assert clip.media_reference.target_url == "takes/t1.wav"
    assert clip.media_reference.available_range.duration == otio.opentime.RationalTime(
        (90 + 230 + 110 + 45) * 48, SR
    )
    assert clip.metadata["voicehub"]["consent_version_id"] == "cnv_1"


def test_mouth_markers_are_the_cut_cues_at_their_own_rate() -> None:
    mop = take("t1", "KEN", F(1, 2), MOP)
    on_twos = cut("C-001", F(5), F(2), [mop], F(12))
    timeline = read_back(project_timeline("Episode 1", F(24), [on_twos]))

    mouths = timeline.tracks[0]
    gap, span = list(mouths)
    assert gap.range_in_parent().duration.value == 120, "the cut starts 5 s in"
    assert (span.name, span.range_in_parent().duration.value) == ("C-001", 48)
    assert [
        (
            m.marked_range.start_time.value,
            m.marked_range.duration.value,
            m.marked_range.start_time.rate,
            m.metadata["shape"],
            m.metadata["shape_set"],
        )
        for m in span.markers
    ] == [
        (cue.start_frame, cue.frames, 12, cue.shape, "rhubarb") for cue in on_twos.timing.mouth_cues
    ]
    assert [m.name for m in span.markers] == ["X", "A", "D", "A", "X"]


def test_overlapping_takes_of_a_character_get_another_lane() -> None:
    takes = [
        take("t1", "KEN", F(0), MOP),
        take("t2", "KEN", F(1, 4), MOP),
        take("t3", "KEN", F(1), MOP),
    ]
    timeline = read_back(project_timeline("E", F(24), [cut("C-001", F(0), F(2), takes, F(24))]))
    lanes = {
        t.name: [c.metadata["voicehub"]["take_id"] for c in t.find_clips()]
        for t in timeline.audio_tracks()
    }
    assert lanes == {"KEN": ["t1", "t3"], "KEN 2": ["t2"]}


def test_overlapping_cuts_get_another_mouth_lane_and_a_bad_rate_is_refused() -> None:
    a = cut("C-001", F(0), F(2), [take("t1", "KEN", F(0), MOP)], F(24))
    b = cut("C-002", F(1), F(2), [take("t2", "AMI", F(0), MOP)], F(24))
    timeline = read_back(project_timeline("E", F(24), [b, a]))
    assert [t.name for t in timeline.video_tracks()] == ["Mouth shapes", "Mouth shapes 2"]
    with pytest.raises(InvalidInput):
        project_timeline("E", F(0), [a])
