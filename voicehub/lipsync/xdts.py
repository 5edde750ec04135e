"""XDTS, the exchange digital time sheet: one cut's mouth track and dialogue.

The file is the line `exchangeDigitalTimeSheet Save Data`, then JSON (see
`xdts_schema.json`): one time table as long as the cut, with

- a CELL field (fieldId 0) holding the mouth track, named `口` unless told
  otherwise. A track lists only the frames where its cell changes, counted
  from 0. Cells are drawing numbers, each shape's place in its set counted
  from 1 (`MOUTH_CELLS` below); OpenToonz reads a cell as a drawing number
  and leaves any other name empty, so names are written only on request
  (`cells="shape"`). The rest shape is a drawing like any other: a
  character on screen keeps a mouth. As OpenToonz and CLIP STUDIO PAINT
  write it, the track ends with `SYMBOL_NULL_CELL` at the frame after the
  cut.
- a DIALOG field (fieldId 3) with one track per character: the line's text
  at the frame it starts and `SYMBOL_NULL_CELL` at the frame it ends, unless
  the character's next line starts right there. A character whose lines
  overlap gets a second track of the same name.

XDTS has no frame rate; readers assume 24 fps. A timing built at another
rate is written as it is, frame for frame, and the studio's sheet must run
at that rate. The cut number must come down to at most 4 digits ("C-012" is
cut 12); `cut_number` overrides it for numbering that does not.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from voicehub.errors import InvalidInput
from voicehub.lipsync.exports import CutTiming, PlacedTake
from voicehub.lipsync.frames import frame_at
from voicehub.lipsync.shapes import ShapeSet

XDTS_HEADER = "exchangeDigitalTimeSheet Save Data"
XDTS_VERSION = 5
CELL_FIELD = 0
DIALOG_FIELD = 3
NULL_CELL = "SYMBOL_NULL_CELL"
SCHEMA_PATH = Path(__file__).with_name("xdts_schema.json")

_SHEET_NUMBER = re.compile(r"[0-9]{1,4}")
_CUT_DIGITS = re.compile(r"[^0-9]*([0-9]+)")


def xdts_schema() -> dict[str, Any]:
    """The JSON Schema (draft-07) the body of an .xdts file follows."""
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


def mouth_cells(shape_set: ShapeSet) -> dict[str, str]:
    """Shape id → drawing number on the sheet: its place in the set, from 1."""
    return {shape.id: str(number) for number, shape in enumerate(shape_set.shapes, start=1)}


def xdts_cut_number(number: str) -> str:
    """The digits of a studio's cut number, without leading zeros: "C-012" → "12"."""
    match = _CUT_DIGITS.fullmatch(number)
    digits = str(int(match.group(1))) if match else ""
    if not _SHEET_NUMBER.fullmatch(digits):
        raise InvalidInput(
            f"cut number {number!r} does not come down to 1-4 digits, as XDTS needs;"
            " pass the number to write explicitly",
            field="cut_number",
            value=number,
        )
    return digits


def cut_xdts(
    timing: CutTiming,
    *,
    scene: str = "1",
    cut_number: str | None = None,
    track_name: str = "口",
    cells: Literal["number", "shape"] = "number",
) -> str:
    """The cut as an XDTS timesheet: the mouth track in CELL, the lines in DIALOG."""
    if not _SHEET_NUMBER.fullmatch(scene):
        raise InvalidInput(
            f"scene {scene!r} must be 1-4 digits for XDTS", field="scene", value=scene
        )
    cut = xdts_cut_number(timing.cut.number if cut_number is None else cut_number)
    duration = timing.duration_frames
    if duration < 1:
        raise InvalidInput(
            f"cut {timing.cut.number} is shorter than one frame: no timesheet to write",
            field="duration",
        )
    if not track_name.strip():
        raise InvalidInput("the mouth track needs a name", field="track_name")
    names = (
        mouth_cells(timing.shape_set)
        if cells == "number"
        else {shape_id: shape_id for shape_id in timing.shape_set.shape_ids}
    )
    mouth = [_frame(cue.start_frame, names[cue.shape]) for cue in timing.mouth_cues]
    mouth.append(_frame(duration, NULL_CELL))
    dialog = _dialog_tracks(timing.takes, timing, duration)
    headers = [{"fieldId": CELL_FIELD, "names": [track_name]}]
    fields: list[dict[str, Any]] = [
        {"fieldId": CELL_FIELD, "tracks": [{"trackNo": 0, "frames": mouth}]}
    ]
    if dialog:
        headers.append({"fieldId": DIALOG_FIELD, "names": [t.character for t in dialog]})
        fields.append(
            {
                "fieldId": DIALOG_FIELD,
                "tracks": [
                    {"trackNo": number, "frames": track.frames}
                    for number, track in enumerate(dialog)
                ],
            }
        )
    body = {
        "header": {"cut": cut, "scene": scene},
        "timeTables": [
            {
                "duration": duration,
                "name": timing.cut.number,
                "timeTableHeaders": headers,
                "fields": fields,
            }
        ],
        "version": XDTS_VERSION,
    }
    return XDTS_HEADER + "\n" + json.dumps(body, ensure_ascii=False, indent=2) + "\n"


def _frame(frame: int, value: str) -> dict[str, Any]:
    return {"frame": frame, "data": [{"id": 0, "values": [value]}]}


@dataclass
class _DialogTrack:
    character: str
    busy_until: int = 0
    frames: list[dict[str, Any]] = field(default_factory=list)


def _dialog_tracks(
    takes: tuple[PlacedTake, ...], timing: CutTiming, duration: int
) -> list[_DialogTrack]:
    """Each line on its character's track from the frame it starts to the frame it ends."""
    tracks: list[_DialogTrack] = []
    for take in takes:
        text = " ".join(take.text.split())
        start = frame_at(take.offset_seconds, timing.frame_rate)
        if not text or start >= duration:
            continue
        end = min(max(frame_at(take.end_seconds, timing.frame_rate), start + 1), duration)
        track = next(
            (t for t in tracks if t.character == take.character and t.busy_until <= start),
            None,
        )
        if track is None:
            track = _DialogTrack(take.character)
            tracks.append(track)
        if track.frames and track.frames[-1]["frame"] == start:
            track.frames.pop()  # the previous line's end: this line starts right there
        track.frames.append(_frame(start, text))
        if end < duration:
            track.frames.append(_frame(end, NULL_CELL))
        track.busy_until = end
    return tracks
