"""Phoneme timing → mouth cues on a frame grid.

Two steps, both exact (times are `Fraction`s of a second, never floats):

1. `shape_spans`: each phoneme gets a shape; a pause shorter than 120 ms
   between speech holds the shape before it, a longer one (or one at either
   end) shows the rest shape; equal neighbours merge.
2. `snap_to_frames`: every span boundary moves to the nearest frame,
   `round(t · fps)`, then cues shorter than the minimum hold are merged into
   a neighbour.

Step 2 only ever moves a boundary to its nearest frame or removes it, so every
boundary it emits lies within half a frame of a real phoneme boundary: frame
rounding is the only timing error, and no frame is ever left without a shape.

A Japanese take's morae go first through `mouth_phonemes`, which lets each
mora, not each phoneme, decide the mouth (口パク shows the vowel of the mora).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import pairwise

from models.engines.base import PhonemeTiming, WordTiming
from voicehub.errors import InvalidInput
from voicehub.lipsync.shapes import (
    PHONEME_CLASSES,
    VOWEL_CLASSES,
    PhonemeClass,
    ShapeSet,
    is_pause_symbol,
)

_HATSUON = "ん"
_MORAIC_NASAL = "N"
# Kokoro's ɨ is the う of す, つ, ず and きゅ: an う mouth, whatever ɨ is in other languages.
_JAPANESE_VOWELS = {"ɨ": "ɯ"}

SHORT_PAUSE = Fraction(120, 1000)
"""Pauses shorter than this between speech hold the previous shape (Rhubarb's rule)."""


@dataclass(frozen=True)
class TimedPhoneme:
    """A phoneme placed on a clock, in seconds."""

    phoneme: str
    start: Fraction
    end: Fraction
    is_pause: bool = False


@dataclass(frozen=True)
class ShapeSpan:
    """A mouth shape over exact time, before it is put on frames."""

    start: Fraction
    end: Fraction
    shape: str


@dataclass(frozen=True)
class MouthCue:
    """A mouth shape shown from `start_frame` up to, not including, `end_frame`."""

    start_frame: int
    end_frame: int
    shape: str

    @property
    def frames(self) -> int:
        return self.end_frame - self.start_frame

    def start_seconds(self, fps: Fraction) -> Fraction:
        return frame_seconds(self.start_frame, fps)

    def end_seconds(self, fps: Fraction) -> Fraction:
        return frame_seconds(self.end_frame, fps)


def _check_fps(fps: Fraction) -> None:
    if fps <= 0:
        raise InvalidInput(f"frame rate must be positive, got {fps}")


def frame_at(seconds: Fraction, fps: Fraction) -> int:
    """The frame boundary nearest to `seconds`: `round(seconds · fps)`, ties to even."""
    _check_fps(fps)
    return round(seconds * fps)


def frame_seconds(frame: int, fps: Fraction) -> Fraction:
    """Where frame `frame` starts, in seconds."""
    _check_fps(fps)
    return Fraction(frame) / fps


def timed_phonemes(
    phonemes: Iterable[PhonemeTiming], sample_rate: int, *, offset: Fraction = Fraction(0)
) -> list[TimedPhoneme]:
    """An engine's sample counts as seconds, shifted by `offset`."""
    if sample_rate <= 0:
        raise InvalidInput(f"sample rate must be positive, got {sample_rate}")
    return [
        TimedPhoneme(
            phoneme=p.phoneme,
            start=offset + Fraction(p.start, sample_rate),
            end=offset + Fraction(p.end, sample_rate),
            is_pause=p.is_pause,
        )
        for p in phonemes
    ]


def mouth_phonemes(
    phonemes: Sequence[PhonemeTiming], morae: Sequence[WordTiming]
) -> list[PhonemeTiming]:
    """The phonemes that drive the mouth: where a take has morae, each mora decides.

    - A mora with a vowel shows that vowel from its start, consonant and all,
      except that m, b and p close the lips first (ま: closed, then あ).
    - ん closes the mouth whatever sound it takes (Kokoro writes m, n, ɲ, ŋ or ɴ).
    - っ (ʔ) keeps its own shape, and ー (ː) holds the shape before it.

    Timing never changes, only the symbol; a take without morae comes back as it is.
    """
    out = list(phonemes)
    for mora, inside in zip(morae, _phonemes_of_morae(out, morae), strict=True):
        for position, symbol in _mora_mouth([out[i].phoneme for i in inside], mora.text):
            p = out[inside[position]]
            out[inside[position]] = PhonemeTiming(symbol, p.start, p.samples, p.is_pause)
    return out


def _phonemes_of_morae(
    phonemes: Sequence[PhonemeTiming], morae: Sequence[WordTiming]
) -> list[list[int]]:
    """For each mora, the indices of the spoken phonemes that start inside it (both in order)."""
    out: list[list[int]] = []
    index = 0
    for mora in morae:
        inside: list[int] = []
        while index < len(phonemes) and phonemes[index].start < mora.end:
            if phonemes[index].start >= mora.start and not phonemes[index].is_pause:
                inside.append(index)
            index += 1
        out.append(inside)
    return out


def _mora_mouth(symbols: list[str], text: str) -> list[tuple[int, str]]:
    """(position, symbol) for each phoneme of one mora whose symbol the mouth should read."""
    if text == _HATSUON:
        return [(position, _MORAIC_NASAL) for position in range(len(symbols))]
    vowels = [i for i, s in enumerate(symbols) if PHONEME_CLASSES.get(s) in VOWEL_CLASSES]
    if not vowels:
        return []
    vowel = vowels[-1]
    symbol = _JAPANESE_VOWELS.get(symbols[vowel], symbols[vowel])
    if any(PHONEME_CLASSES.get(s) is PhonemeClass.BILABIAL for s in symbols[:vowel]):
        return [(vowel, symbol)]
    return [(position, symbol) for position in range(vowel + 1)]


def mora_shapes(
    phonemes: Sequence[PhonemeTiming], morae: Sequence[WordTiming], shape_set: ShapeSet
) -> list[tuple[str, ...]]:
    """The shapes each mora calls for, in order (ま: closed, a), before frames and overlaps."""
    driving = mouth_phonemes(phonemes, morae)
    shapes: list[str] = []
    previous: str | None = None
    for phoneme in driving:
        previous = shape_set.shape_for(phoneme.phoneme, previous, is_pause=phoneme.is_pause)
        shapes.append(previous)
    out: list[tuple[str, ...]] = []
    for inside in _phonemes_of_morae(driving, morae):
        seen: list[str] = []
        for shape in (shapes[i] for i in inside):
            if not seen or seen[-1] != shape:
                seen.append(shape)
        out.append(tuple(seen))
    return out


@dataclass
class _Span:
    start: Fraction
    end: Fraction
    shape: str
    is_pause: bool


def shape_spans(
    phonemes: Sequence[TimedPhoneme],
    shape_set: ShapeSet,
    *,
    start: Fraction,
    end: Fraction,
    bridge_pauses_under: Fraction = SHORT_PAUSE,
) -> list[ShapeSpan]:
    """Shapes covering [start, end) contiguously; time no phoneme covers is a pause.

    Phonemes must be in order and must not overlap; those outside the range
    are clipped to it.
    """
    if end < start:
        raise InvalidInput(f"timeline ends ({end}) before it starts ({start})")
    spans: list[_Span] = []
    cursor = start
    previous: str | None = None
    last_end: Fraction | None = None
    for phoneme in phonemes:
        if phoneme.end < phoneme.start:
            raise InvalidInput(f"phoneme {phoneme.phoneme!r} ends before it starts")
        if last_end is not None and phoneme.start < last_end:
            raise InvalidInput(f"phoneme {phoneme.phoneme!r} overlaps the one before it")
        last_end = phoneme.end
        # Resolved on every phoneme, clipped or not, so ː continues the right shape.
        shape = shape_set.shape_for(phoneme.phoneme, previous, is_pause=phoneme.is_pause)
        previous = shape
        is_pause = phoneme.is_pause or is_pause_symbol(phoneme.phoneme)
        lo, hi = max(phoneme.start, start), min(phoneme.end, end)
        if hi <= lo:
            continue
        if cursor < lo:
            spans.append(_Span(cursor, lo, shape_set.rest, is_pause=True))
        spans.append(_Span(lo, hi, shape, is_pause))
        cursor = hi
    if cursor < end:
        spans.append(_Span(cursor, end, shape_set.rest, is_pause=True))
    _bridge_short_pauses(spans, bridge_pauses_under)
    return _merge_equal([ShapeSpan(s.start, s.end, s.shape) for s in spans])


def _bridge_short_pauses(spans: list[_Span], under: Fraction) -> None:
    """Give each short pause run between speech the shape of the speech before it."""
    i = 0
    while i < len(spans):
        if not spans[i].is_pause:
            i += 1
            continue
        j = i
        while j < len(spans) and spans[j].is_pause:
            j += 1
        if i > 0 and j < len(spans) and spans[j - 1].end - spans[i].start < under:
            for span in spans[i:j]:
                span.shape = spans[i - 1].shape
        i = j


def _merge_equal(spans: list[ShapeSpan]) -> list[ShapeSpan]:
    out: list[ShapeSpan] = []
    for span in spans:
        if out and out[-1].shape == span.shape:
            span = ShapeSpan(out.pop().start, span.end, span.shape)
        out.append(span)
    return out


def snap_to_frames(
    spans: Sequence[ShapeSpan], fps: Fraction, *, min_hold_frames: int = 1
) -> list[MouthCue]:
    """Put contiguous spans on frames: boundaries to the nearest frame, then the minimum hold.

    A cue shorter than `min_hold_frames` (a zero-length one included) is merged
    into the cue after it, so the next shape appears early rather than late:
    picture ahead of sound is far less noticeable than behind it (ITU-R
    BT.1359: about 125 ms against 45 ms). The last cue, with nothing after it,
    is merged into the one before. Merging removes a boundary and never moves
    one, so the half-frame bound holds and every frame keeps a shape. Only
    when the whole range is shorter than the hold can a cue stay shorter.
    """
    _check_fps(fps)
    if min_hold_frames < 1:
        raise InvalidInput(f"minimum hold must be at least 1 frame, got {min_hold_frames}")
    for before, after in pairwise(spans):
        if before.end != after.start:
            raise InvalidInput("spans must be contiguous to be put on frames")
    out: list[MouthCue] = []
    for span in spans:
        cue = MouthCue(frame_at(span.start, fps), frame_at(span.end, fps), span.shape)
        if out and out[-1].frames < min_hold_frames:
            cue = MouthCue(out.pop().start_frame, cue.end_frame, cue.shape)
        if out and out[-1].shape == cue.shape:
            cue = MouthCue(out.pop().start_frame, cue.end_frame, cue.shape)
        out.append(cue)
    # Invariant: every cue but the last already meets the hold.
    if len(out) > 1 and out[-1].frames < min_hold_frames:
        last, held = out.pop(), out.pop()
        out.append(MouthCue(held.start_frame, last.end_frame, held.shape))
    if len(out) == 1 and out[0].frames == 0:
        return []
    return out


def mouth_cues(
    phonemes: Sequence[TimedPhoneme],
    shape_set: ShapeSet,
    fps: Fraction,
    *,
    start: Fraction = Fraction(0),
    end: Fraction | None = None,
    min_hold_frames: int = 1,
    bridge_pauses_under: Fraction = SHORT_PAUSE,
) -> list[MouthCue]:
    """Mouth cues covering frames [frame_at(start), frame_at(end)) with no gap or overlap.

    `end` defaults to the end of the last phoneme.
    """
    if end is None:
        end = max((p.end for p in phonemes), default=start)
    spans = shape_spans(
        phonemes, shape_set, start=start, end=end, bridge_pauses_under=bridge_pauses_under
    )
    return snap_to_frames(spans, fps, min_hold_frames=min_hold_frames)
