"""Lip-sync timing for one cut, and the files studios import it from.

`build_cut_timing` places every take of a cut on the cut's clock and computes
one mouth track for the whole cut: time no take covers is rest. Where takes
overlap, the take that starts later wins from its start until it ends, and an
earlier take still speaking shows again after that; of takes starting at the
same moment, the one listed last wins. Lines in the exports keep each take's
own, unclipped timing; only the mouth track resolves overlaps and is cut to
the cut's length. A Japanese take's mouth follows its morae (see
`frames.mouth_phonemes`), and its line in the JSON lists them with the shapes
each one calls for.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from models.engines.base import PhonemeTiming, WordTiming
from voicehub.errors import InvalidInput
from voicehub.lipsync.frames import (
    SHORT_PAUSE,
    MouthCue,
    TimedPhoneme,
    frame_at,
    frame_seconds,
    mora_shapes,
    mouth_cues,
    mouth_phonemes,
    timed_phonemes,
)
from voicehub.lipsync.shapes import RHUBARB, ShapeSet, get_shape_set


@dataclass(frozen=True)
class CutInfo:
    """A cut of the storyboard: `number` is what the studio writes on it, e.g. "C-001"."""

    cut_id: str
    number: str
    duration_seconds: Fraction
    frame_rate: Fraction


@dataclass(frozen=True)
class PlacedTake:
    """A delivered take and where it starts in the cut; `morae` only for Japanese takes."""

    line_id: str
    take_id: str
    consent_version_id: str
    character: str
    text: str
    language: str
    offset_seconds: Fraction
    sample_rate: int
    phonemes: list[PhonemeTiming] = field(hash=False)
    words: list[WordTiming] = field(hash=False)
    morae: list[WordTiming] = field(default_factory=list, hash=False)

    def describe(self) -> dict[str, str]:
        """What every export says about the take: its line, the take, consent, who and what."""
        return {
            "line_id": self.line_id,
            "take_id": self.take_id,
            "consent_version_id": self.consent_version_id,
            "character": self.character,
            "text": self.text,
            "language": self.language,
        }

    @property
    def end_seconds(self) -> Fraction:
        samples = max((p.end for p in self.phonemes), default=0)
        return self.offset_seconds + Fraction(samples, self.sample_rate)


@dataclass(frozen=True)
class CutTiming:
    """A cut's takes in the order they start, and the mouth track over the whole cut."""

    cut: CutInfo
    shape_set: ShapeSet
    frame_rate: Fraction
    duration_frames: int
    takes: tuple[PlacedTake, ...]
    mouth_cues: tuple[MouthCue, ...]
    min_hold_frames: int = 1
    bridge_pauses_under: Fraction = SHORT_PAUSE


MAX_FRAME_RATE = Fraction(120)
"""Above this no animation or editing tool runs a timeline; a larger rate is a typo."""

MAX_MIN_HOLD_FRAMES = 12
"""Half a second at 24 fps: a longer minimum hold would swallow whole words."""


def build_cut_timing(
    cut: CutInfo,
    takes: Sequence[PlacedTake],
    shape_set: str | ShapeSet = "rhubarb",
    fps: Fraction | None = None,
    min_hold_frames: int = 1,
    bridge_pauses_under: Fraction = SHORT_PAUSE,
) -> CutTiming:
    """Place each take at its offset; mouth cues for the whole cut at `fps` (default: the cut's).

    `min_hold_frames` is the shortest a mouth shape may show (1 to 12 frames);
    pauses shorter than `bridge_pauses_under` between speech keep the shape
    before them instead of relaxing to rest (0 turns bridging off).
    """
    shapes = get_shape_set(shape_set) if isinstance(shape_set, str) else shape_set
    rate = cut.frame_rate if fps is None else fps
    if not 0 < rate <= MAX_FRAME_RATE:
        raise InvalidInput(
            f"frame rate must be above 0 and at most {MAX_FRAME_RATE} fps, got {rate}",
            field="fps",
            value=str(rate),
        )
    if isinstance(min_hold_frames, bool) or not 1 <= min_hold_frames <= MAX_MIN_HOLD_FRAMES:
        raise InvalidInput(
            f"min_hold_frames must be between 1 and {MAX_MIN_HOLD_FRAMES}, got {min_hold_frames}",
            field="min_hold_frames",
            value=min_hold_frames,
        )
    if bridge_pauses_under < 0:
        raise InvalidInput(
            f"bridge_pauses_under must not be negative, got {bridge_pauses_under} s",
            field="bridge_pauses_under",
            value=str(bridge_pauses_under),
        )
    if cut.duration_seconds < 0:
        raise InvalidInput(f"cut {cut.number} has a negative duration")
    for take in takes:
        if take.sample_rate <= 0:
            raise InvalidInput(f"take {take.take_id} has sample rate {take.sample_rate}")
    in_cut_order = tuple(sorted(takes, key=lambda take: take.offset_seconds))
    cues = mouth_cues(
        _visible_phonemes(in_cut_order),
        shapes,
        rate,
        start=Fraction(0),
        end=cut.duration_seconds,
        min_hold_frames=min_hold_frames,
        bridge_pauses_under=bridge_pauses_under,
    )
    return CutTiming(
        cut=cut,
        shape_set=shapes,
        frame_rate=rate,
        duration_frames=frame_at(cut.duration_seconds, rate),
        takes=in_cut_order,
        mouth_cues=tuple(cues),
        min_hold_frames=min_hold_frames,
        bridge_pauses_under=bridge_pauses_under,
    )


def _visible_phonemes(takes: Sequence[PlacedTake]) -> list[TimedPhoneme]:
    """One non-overlapping phoneme track: each take paints over what it overlaps."""
    track: list[TimedPhoneme] = []
    for take in takes:
        start, end = take.offset_seconds, take.end_seconds
        if end <= start:
            continue
        placed = timed_phonemes(
            mouth_phonemes(take.phonemes, take.morae), take.sample_rate, offset=start
        )
        kept: list[TimedPhoneme] = []
        for p in track:
            if p.start < start:
                kept.append(_clip(p, p.start, min(p.end, start)))
            if p.end > end:
                kept.append(_clip(p, max(p.start, end), p.end))
        track = sorted(kept + placed, key=lambda p: p.start)
    return track


def _clip(p: TimedPhoneme, start: Fraction, end: Fraction) -> TimedPhoneme:
    return TimedPhoneme(p.phoneme, start, end, p.is_pause)


def _seconds(value: Fraction) -> float:
    return float(round(value, 6))


def _frame_rate_number(fps: Fraction) -> int | float:
    return fps.numerator if fps.denominator == 1 else float(fps)


def cut_timing_json(timing: CutTiming) -> dict[str, Any]:
    """The cut's timing as a JSON-ready dict; seconds are floats rounded to 6 decimals."""
    fps = timing.frame_rate
    return {
        "cut": {
            "id": timing.cut.cut_id,
            "number": timing.cut.number,
            "frame_rate": _frame_rate_number(fps),
            "frame_rate_exact": f"{fps.numerator}/{fps.denominator}",
            "duration_seconds": _seconds(timing.cut.duration_seconds),
            "duration_frames": timing.duration_frames,
        },
        "shape_set": timing.shape_set.name,
        "min_hold_frames": timing.min_hold_frames,
        "bridge_pauses_under_seconds": _seconds(timing.bridge_pauses_under),
        "shapes": [{"id": s.id, "label": s.label} for s in timing.shape_set.shapes],
        "lines": [_line_json(take, fps, timing.shape_set) for take in timing.takes],
        "mouth_cues": [
            {
                "start_frame": cue.start_frame,
                "end_frame": cue.end_frame,
                "start_seconds": _seconds(cue.start_seconds(fps)),
                "end_seconds": _seconds(cue.end_seconds(fps)),
                "shape": cue.shape,
            }
            for cue in timing.mouth_cues
        ],
    }


def _line_json(take: PlacedTake, fps: Fraction, shape_set: ShapeSet) -> dict[str, Any]:
    def at(samples: int) -> Fraction:
        return take.offset_seconds + Fraction(samples, take.sample_rate)

    line: dict[str, Any] = {
        **take.describe(),
        "start_seconds": _seconds(take.offset_seconds),
        "end_seconds": _seconds(take.end_seconds),
        "start_frame": frame_at(take.offset_seconds, fps),
        "end_frame": frame_at(take.end_seconds, fps),
        "phonemes": [
            {
                "phoneme": p.phoneme,
                "start_seconds": _seconds(at(p.start)),
                "end_seconds": _seconds(at(p.end)),
                "is_pause": p.is_pause,
            }
            for p in take.phonemes
        ],
        "words": [
            {
                "text": w.text,
                "start_seconds": _seconds(at(w.start)),
                "end_seconds": _seconds(at(w.end)),
            }
            for w in take.words
        ],
    }
    if take.morae:
        shapes = mora_shapes(take.phonemes, take.morae, shape_set)
        line["morae"] = [
            {
                "text": m.text,
                "start_seconds": _seconds(at(m.start)),
                "end_seconds": _seconds(at(m.end)),
                "shapes": list(mora_shape),
            }
            for m, mora_shape in zip(take.morae, shapes, strict=True)
        ]
    return line


def _tsv_seconds(frame: int, fps: Fraction) -> str:
    """A frame's start with 2 decimals, chosen so it reads back as the same frame.

    Rounding to the nearest centisecond can land just before the frame (frame
    1 at 24 fps is 0.0417 s → 0.04 → frame 0.96), which importers that
    truncate read as the frame before. Rounding up stays inside the frame's
    first half whenever a centisecond is under half a frame (up to 50 fps), so
    importers that truncate and importers that round both get the right
    frame; above that, the nearest centisecond is the best there is.
    """
    seconds = frame_seconds(frame, fps)
    centiseconds = math.ceil(seconds * 100)
    if (Fraction(centiseconds, 100) - seconds) * fps >= Fraction(1, 2):
        centiseconds = round(seconds * 100)
    return f"{centiseconds // 100}.{centiseconds % 100:02d}"


def require_shape_set(timing: CutTiming, shape_set: ShapeSet, file_format: str) -> None:
    """InvalidInput unless `timing` was built with `shape_set`: a format reads only its own names."""
    if timing.shape_set.name != shape_set.name:
        raise InvalidInput(
            f"{file_format} needs the {shape_set.name} shape set, not {timing.shape_set.name!r}",
            field="shape_set",
            shape_set=timing.shape_set.name,
            required=shape_set.name,
        )


def rhubarb_tsv(timing: CutTiming) -> str:
    """Rhubarb Lip Sync's TSV: `<start>\\t<shape>` per cue, then `<end>\\tX`."""
    require_shape_set(timing, RHUBARB, "Rhubarb TSV")
    fps = timing.frame_rate
    lines = [f"{_tsv_seconds(cue.start_frame, fps)}\t{cue.shape}" for cue in timing.mouth_cues]
    lines.append(f"{_tsv_seconds(timing.duration_frames, fps)}\t{RHUBARB.rest}")
    return "\n".join(lines) + "\n"


def rhubarb_json(timing: CutTiming, sound_file: str = "") -> dict[str, Any]:
    """Rhubarb Lip Sync's JSON: `metadata` (sound file, duration) and `mouthCues`.

    Times are seconds with 2 decimals, chosen as in the TSV so that each one
    reads back as its frame; `duration` is the cut's length on the frame grid.
    """
    require_shape_set(timing, RHUBARB, "Rhubarb JSON")
    fps = timing.frame_rate

    def at(frame: int) -> float:
        return float(_tsv_seconds(frame, fps))

    return {
        "metadata": {"soundFile": sound_file, "duration": at(timing.duration_frames)},
        "mouthCues": [
            {"start": at(cue.start_frame), "end": at(cue.end_frame), "value": cue.shape}
            for cue in timing.mouth_cues
        ],
    }
