"""A project's takes and mouth shapes as one OpenTimelineIO timeline.

Editors (Premiere, Resolve, Avid through OTIO's adapters) open the takes where
they play on the project timeline:

- one audio track per character, and another lane for that character where
  two of their takes overlap ("KEN", "KEN 2");
- a clip per take, its media an `ExternalReference` to the take's WAV by the
  path it has inside the export bundle (`takes/<take_id>.wav`);
- a "Mouth shapes" track with one item per cut, carrying a marker per mouth
  cue whose metadata names the shape and the shape set.

Every time is a `RationalTime` with an integer value: clips in frames at the
project's frame rate (a take starts at the frame nearest to its start, as in
the per-cut exports), markers in frames of the mouth track's own rate, and a
take's media in samples. Nothing is a rounded float of seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import opentimelineio as otio

from voicehub.errors import InvalidInput
from voicehub.lipsync.exports import CutTiming, PlacedTake
from voicehub.lipsync.frames import frame_at

MOUTH_TRACK = "Mouth shapes"


@dataclass(frozen=True)
class TimelineCut:
    """A cut's timing and where the cut starts on the project timeline."""

    timing: CutTiming
    start_seconds: Fraction


def take_media_path(take: PlacedTake) -> str:
    """Where a take's WAV lies inside an export bundle."""
    return f"takes/{take.take_id}.wav"


def _time(frames: int, rate: Fraction) -> otio.opentime.RationalTime:
    return otio.opentime.RationalTime(frames, float(rate))


def _range(start: int, duration: int, rate: Fraction) -> otio.opentime.TimeRange:
    return otio.opentime.TimeRange(_time(start, rate), _time(duration, rate))


@dataclass(frozen=True)
class _Placed:
    item: Any
    start: int
    end: int


class _Lanes:
    """Items on tracks of one name: a new lane ("KEN 2") wherever items would overlap."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.lanes: list[list[_Placed]] = []

    def add(self, placed: _Placed) -> None:
        for lane in self.lanes:
            if lane[-1].end <= placed.start:
                lane.append(placed)
                return
        self.lanes.append([placed])

    def tracks(self, kind: str, rate: Fraction) -> list[Any]:
        out = []
        for number, lane in enumerate(self.lanes, start=1):
            track = otio.schema.Track(
                name=self.name if number == 1 else f"{self.name} {number}", kind=kind
            )
            cursor = 0
            for placed in lane:
                if placed.start > cursor:
                    track.append(
                        otio.schema.Gap(source_range=_range(0, placed.start - cursor, rate))
                    )
                track.append(placed.item)
                cursor = placed.end
            out.append(track)
        return out


def project_timeline(
    name: str,
    frame_rate: Fraction,
    cuts: Sequence[TimelineCut],
    *,
    media_path: Callable[[PlacedTake], str] = take_media_path,
    metadata: Mapping[str, Any] | None = None,
) -> Any:
    """The project's timeline (an `otio.schema.Timeline`) at `frame_rate`."""
    if frame_rate <= 0:
        raise InvalidInput(f"frame rate must be positive, got {frame_rate}")
    timeline = otio.schema.Timeline(
        name=name, global_start_time=_time(0, frame_rate), metadata=dict(metadata or {})
    )
    mouths = _Lanes(MOUTH_TRACK)
    voices: dict[str, _Lanes] = {}
    for cut in sorted(cuts, key=lambda c: c.start_seconds):
        cut_start = frame_at(cut.start_seconds, frame_rate)
        cut_end = frame_at(cut.start_seconds + cut.timing.cut.duration_seconds, frame_rate)
        mouths.add(_Placed(_mouth_item(cut, cut_end - cut_start, frame_rate), cut_start, cut_end))
        for take in cut.timing.takes:
            start = frame_at(cut.start_seconds + take.offset_seconds, frame_rate)
            end = max(start + 1, frame_at(cut.start_seconds + take.end_seconds, frame_rate))
            clip = _take_clip(cut, take, end - start, frame_rate, media_path(take))
            voices.setdefault(take.character, _Lanes(take.character)).add(_Placed(clip, start, end))
    tracks = mouths.tracks(otio.schema.TrackKind.Video, frame_rate)
    for lanes in voices.values():
        tracks.extend(lanes.tracks(otio.schema.TrackKind.Audio, frame_rate))
    for track in tracks:
        timeline.tracks.append(track)
    return timeline


def _mouth_item(cut: TimelineCut, frames: int, frame_rate: Fraction) -> Any:
    """The cut's span on the mouth track, with a marker per mouth cue (cut-relative times)."""
    timing = cut.timing
    gap = otio.schema.Gap(
        name=timing.cut.number,
        source_range=_range(0, frames, frame_rate),
        metadata={"voicehub": {"cut_id": timing.cut.cut_id, "cut_number": timing.cut.number}},
    )
    for cue in timing.mouth_cues:
        gap.markers.append(
            otio.schema.Marker(
                name=cue.shape,
                marked_range=_range(cue.start_frame, cue.frames, timing.frame_rate),
                metadata={"shape": cue.shape, "shape_set": timing.shape_set.name},
            )
        )
    return gap


def _take_clip(
    cut: TimelineCut, take: PlacedTake, frames: int, frame_rate: Fraction, url: str
) -> Any:
    samples = (take.end_seconds - take.offset_seconds) * take.sample_rate
    media = otio.schema.ExternalReference(
        target_url=url,
        available_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(0, take.sample_rate),
            otio.opentime.RationalTime(int(samples), take.sample_rate),
        ),
    )
    return otio.schema.Clip(
        name=f"{take.character}: {take.text}",
        media_reference=media,
        source_range=_range(0, frames, frame_rate),
        metadata={
            "voicehub": {
                "cut_id": cut.timing.cut.cut_id,
                "cut_number": cut.timing.cut.number,
                **take.describe(),
            }
        },
    )


def otio_json(timeline: Any) -> str:
    """The timeline as an `.otio` file (OTIO's own JSON)."""
    text: str = otio.adapters.write_to_string(timeline, "otio_json")
    return text
