"""XDTS timesheets: the mouth track and the dialogue of one cut, checked against the schema."""

from __future__ import annotations

import json
from fractions import Fraction as F
from itertools import pairwise
from typing import Any

import jsonschema
import pytest

from models.engines.base import SynthesisResult, SynthesisSettings
from models.engines.registry import EngineRegistry
from tests.lipsync.test_exports import MOP, cut, japanese_take, take
from voicehub.errors import InvalidInput
from voicehub.lipsync import CutInfo, CutTiming, build_cut_timing, cut_xdts
from voicehub.lipsync.xdts import (
    NULL_CELL,
    XDTS_HEADER,
    mouth_cells,
    xdts_cut_number,
    xdts_schema,
)

VALIDATOR = jsonschema.Draft7Validator(xdts_schema())


def parse(text: str) -> dict[str, Any]:
    """Read an .xdts as OpenToonz does: the identifier line, then JSON that fits the schema."""
    first, _, body = text.partition("\n")
    assert first == XDTS_HEADER
    doc: dict[str, Any] = json.loads(body)
    VALIDATOR.validate(doc)
    return doc


def field(doc: dict[str, Any], field_id: int) -> dict[str, Any]:
    [table] = doc["timeTables"]
    [out] = [f for f in table["fields"] if f["fieldId"] == field_id]
    return out


def header_names(doc: dict[str, Any], field_id: int) -> list[str]:
    [table] = doc["timeTables"]
    [out] = [h["names"] for h in table["timeTableHeaders"] if h["fieldId"] == field_id]
    return out


def changes(track: dict[str, Any]) -> list[tuple[int, str]]:
    out = []
    for frame in track["frames"]:
        [data] = frame["data"]
        assert data["id"] == 0
        [value] = data["values"]
        out.append((frame["frame"], value))
    return out


def opentoonz_cells(track: dict[str, Any], duration: int) -> list[str | None]:
    """OpenToonz's reading of a CELL track: a change holds until the next; a null cell is empty."""
    cells: list[str | None] = []
    for frame, value in sorted(changes(track)):
        while len(cells) < frame:
            cells.append(cells[-1] if cells else None)
        cells.append(None if value == NULL_CELL else value)
    while len(cells) < duration:
        cells.append(cells[-1])
    return cells[:duration]


def per_frame(timing: CutTiming) -> list[str]:
    return [cue.shape for cue in timing.mouth_cues for _ in range(cue.frames)]


def test_exact_sheet_for_one_line() -> None:
    timing = build_cut_timing(cut(), [MOP], shape_set="anime3")
    text = cut_xdts(timing)
    assert text.startswith(XDTS_HEADER + "\n{")
    doc = parse(text)
    assert doc["header"] == {"cut": "1", "scene": "1"}
    assert doc["version"] == 5
    [table] = doc["timeTables"]
    assert table["duration"] == 24
    assert table["name"] == "C-001"
    assert table["timeTableHeaders"] == [
        {"fieldId": 0, "names": ["口"]},
        {"fieldId": 3, "names": ["KEN"]},
    ]
    # anime3: 1 = トジ (closed), 2 = 中 (half), 3 = アキ (open); mop opens on the ɑ.
    assert changes(field(doc, 0)["tracks"][0]) == [
        (0, "1"),
        (14, "3"),
        (19, "1"),
        (24, NULL_CELL),
    ]
    assert field(doc, 0)["tracks"][0]["trackNo"] == 0
    # The line from frame 12 (0.5 s) to frame 22 (0.9 s).
    assert changes(field(doc, 3)["tracks"][0]) == [(12, "mop"), (22, NULL_CELL)]


def test_cell_numbers_are_the_shapes_places_in_their_set() -> None:
    timing = build_cut_timing(cut(), [MOP], shape_set="preston_blair")
    assert mouth_cells(timing.shape_set) == {
        "AI": "1", "E": "2", "O": "3", "U": "4", "FV": "5", "L": "6", "MBP": "7", "WQ": "8",
        "etc": "9", "rest": "10",
    }  # fmt: skip
    doc = parse(cut_xdts(timing))
    cells = opentoonz_cells(field(doc, 0)["tracks"][0], 24)
    assert cells == [mouth_cells(timing.shape_set)[shape] for shape in per_frame(timing)]
    named = parse(cut_xdts(timing, cells="shape", track_name="MOUTH"))
    assert header_names(named, 0) == ["MOUTH"]
    assert opentoonz_cells(field(named, 0)["tracks"][0], 24) == per_frame(timing)


@pytest.fixture(scope="module")
def piper_result(engines: EngineRegistry) -> SynthesisResult:
    return engines.get("piper").synthesize(
        "Hold the line. Nobody moves!", speaker="joe", settings=SynthesisSettings(seed=1)
    )


@pytest.mark.parametrize("shape_set", ["rhubarb", "preston_blair", "anime3", "vowel5"])
@pytest.mark.parametrize("fps", [F(24), F(12), F(8)])
def test_real_take_reads_back_frame_for_frame(
    piper_result: SynthesisResult, shape_set: str, fps: F
) -> None:
    line = japanese_take(piper_result, offset=F(1, 3))
    line = type(line)(
        **{**line.__dict__, "character": "KEN", "text": "Hold the line. Nobody moves!"}
    )
    duration = line.end_seconds + F(1, 4)
    timing = build_cut_timing(cut(duration, fps), [line], shape_set, min_hold_frames=2)
    doc = parse(cut_xdts(timing, scene="3"))
    assert doc["header"]["scene"] == "3"
    [table] = doc["timeTables"]
    assert table["duration"] == timing.duration_frames
    track = field(doc, 0)["tracks"][0]
    numbers = mouth_cells(timing.shape_set)
    assert opentoonz_cells(track, timing.duration_frames) == [numbers[s] for s in per_frame(timing)]
    # Only the frames where the cell changes, one per cue, then the closing null cell.
    listed = changes(track)
    assert [frame for frame, _ in listed[:-1]] == [c.start_frame for c in timing.mouth_cues]
    assert all(a[1] != b[1] for a, b in pairwise(listed))
    assert listed[-1] == (timing.duration_frames, NULL_CELL)


def test_dialogue_tracks_per_character_and_overlaps() -> None:
    ken_1 = take([("ɑ", 400)], offset=F(0), take_id="k1", text="Run!")
    ken_2 = take([("u", 300)], offset=F(1, 2), take_id="k2", text="Now!")
    aoi = take([("m", 500)], offset=F(1, 4), take_id="a1", text="待って")
    aoi = type(aoi)(**{**aoi.__dict__, "character": "AOI"})
    ken_3 = take([("i", 500)], offset=F(3, 4), take_id="k3", text="Over  here")  # overlaps k2
    late = take([("i", 500)], offset=F(2), take_id="k4", text="Too late")  # after the cut
    timing = build_cut_timing(cut(F(3, 2)), [ken_1, ken_2, aoi, ken_3, late])
    doc = parse(cut_xdts(timing))
    assert header_names(doc, 3) == ["KEN", "AOI", "KEN"]
    tracks = field(doc, 3)["tracks"]
    assert [t["trackNo"] for t in tracks] == [0, 1, 2]
    assert changes(tracks[0]) == [(0, "Run!"), (10, NULL_CELL), (12, "Now!"), (19, NULL_CELL)]
    assert changes(tracks[1]) == [(6, "待って"), (18, NULL_CELL)]
    # Whitespace is folded; a line running past the cut has no end marker inside it.
    assert changes(tracks[2]) == [(18, "Over here"), (30, NULL_CELL)]


def test_back_to_back_lines_share_the_boundary_frame() -> None:
    first = take([("ɑ", 500)], offset=F(0), take_id="t1", text="One")
    second = take([("u", 500)], offset=F(1, 2), take_id="t2", text="Two")
    doc = parse(cut_xdts(build_cut_timing(cut(F(3, 2)), [first, second])))
    assert changes(field(doc, 3)["tracks"][0]) == [(0, "One"), (12, "Two"), (24, NULL_CELL)]


def test_a_cut_without_lines_has_only_the_mouth_field() -> None:
    doc = parse(cut_xdts(build_cut_timing(cut(F(2)), [], shape_set="vowel5")))
    [table] = doc["timeTables"]
    assert [f["fieldId"] for f in table["fields"]] == [0]
    assert changes(field(doc, 0)["tracks"][0]) == [(0, "1"), (48, NULL_CELL)]


@pytest.mark.parametrize(
    ("number", "expected"),
    [("C-012", "12"), ("12", "12"), ("C0001", "1"), ("cut 9999", "9999"), ("C-000", "0")],
)
def test_cut_numbers_come_down_to_their_digits(number: str, expected: str) -> None:
    assert xdts_cut_number(number) == expected


@pytest.mark.parametrize("number", ["C-012A", "S1-C2", "C-12345", "OP", ""])
def test_cut_numbers_xdts_cannot_carry_are_refused(number: str) -> None:
    timing = build_cut_timing(CutInfo("cut_1", number, F(1), F(24)), [MOP], shape_set="anime3")
    with pytest.raises(InvalidInput) as caught:
        cut_xdts(timing)
    assert caught.value.extra["field"] == "cut_number"
    # The studio can say which number to write.
    assert parse(cut_xdts(timing, cut_number="12"))["header"]["cut"] == "12"


@pytest.mark.parametrize("scene", ["", "A", "12345", "1.5"])
def test_bad_scene_is_refused(scene: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        cut_xdts(build_cut_timing(cut(), [MOP]), scene=scene)
    assert caught.value.extra["field"] == "scene"


def test_a_cut_shorter_than_a_frame_has_no_sheet() -> None:
    with pytest.raises(InvalidInput, match="shorter than one frame"):
        cut_xdts(build_cut_timing(cut(F(1, 100)), []))


def test_other_frame_rates_are_written_frame_for_frame() -> None:
    # XDTS has no rate: at 12 fps a 1 s cut is a 12-frame sheet.
    doc = parse(cut_xdts(build_cut_timing(cut(), [MOP], fps=F(12))))
    assert doc["timeTables"][0]["duration"] == 12
    assert "frameRate" not in doc["timeTables"][0]


def test_the_schema_rejects_what_readers_would() -> None:
    doc = parse(cut_xdts(build_cut_timing(cut(), [MOP])))
    broken = json.loads(json.dumps(doc))
    broken["timeTables"][0]["fields"][0]["fieldId"] = 4
    assert not VALIDATOR.is_valid(broken)
    broken = json.loads(json.dumps(doc))
    broken["header"]["cut"] = "C-001"
    assert not VALIDATOR.is_valid(broken)
    broken = json.loads(json.dumps(doc))
    broken["timeTables"][0]["fields"][0]["tracks"][0]["frames"][0]["frame"] = -1
    assert not VALIDATOR.is_valid(broken)
    broken = json.loads(json.dumps(doc))
    del broken["timeTables"][0]["duration"]
    assert not VALIDATOR.is_valid(broken)
