"""Subtitles out: SRT, WebVTT and ASS from takes placed on a clock.

Times are exact `Fraction`s of a second until the last step, where each
format's unit is reached by rounding *up*: a subtitle never appears before
its take starts to speak, and never leaves before it stops. SRT and WebVTT
count milliseconds, ASS centiseconds.

- SRT writes the speaker as `SPEAKER: text`, the convention VoiceHub's SRT
  import reads back (`voicehub.production.scripts.parse_srt`).
- WebVTT names the speaker in a voice span, `<v Speaker>text`; a draft carries
  a `NOTE` block.
- ASS writes the speaker in the Name field and gives each speaker a style of
  its own (a colour each), so editors can restyle one character at once.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from voicehub.errors import InvalidInput


@dataclass(frozen=True)
class SubtitleCue:
    """One subtitle: who speaks what, from `start` to `end` (seconds on the file's clock)."""

    start: Fraction
    end: Fraction
    speaker: str
    text: str
    # WebVTT's cue identifier (the line id in VoiceHub's exports); other formats ignore it.
    identifier: str = ""


def _in_order(cues: Iterable[SubtitleCue]) -> list[SubtitleCue]:
    ordered = sorted(cues, key=lambda cue: (cue.start, cue.end))
    for cue in ordered:
        if cue.start < 0 or cue.end < cue.start:
            raise InvalidInput(f"subtitle {cue.text!r} runs from {cue.start} to {cue.end}")
    return ordered


def _ticks(cue: SubtitleCue, per_second: int) -> tuple[int, int]:
    """Start and end in `per_second` units, both rounded up; never shorter than one unit."""
    start = math.ceil(cue.start * per_second)
    end = max(math.ceil(cue.end * per_second), start + 1)
    return start, end


def _clock(ms: int, separator: str) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{separator}{millis:03d}"


def _text_rows(text: str) -> list[str]:
    """The text's non-empty rows: a blank row would end a cue in SRT and WebVTT."""
    return [row.strip() for row in text.strip().splitlines() if row.strip()] or [""]


def srt(cues: Iterable[SubtitleCue]) -> str:
    """SubRip: numbered blocks, `HH:MM:SS,mmm --> HH:MM:SS,mmm`, then `SPEAKER: text`."""
    blocks: list[str] = []
    for index, cue in enumerate(_in_order(cues), start=1):
        start, end = _ticks(cue, 1000)
        rows = _text_rows(cue.text)
        speaker = _srt_speaker(cue.speaker)
        if speaker:
            rows[0] = f"{speaker}: {rows[0]}"
        blocks.append(
            f"{index}\n{_clock(start, ',')} --> {_clock(end, ',')}\n" + "\n".join(rows) + "\n"
        )
    return "\n".join(blocks)


def _srt_speaker(name: str) -> str:
    """A name the SRT import reads back as the speaker: no colon, at most 40 characters."""
    return re.sub(r"[:：\s]+", " ", name).strip()[:40].strip()


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def webvtt(cues: Iterable[SubtitleCue], *, notes: Sequence[str] = ()) -> str:
    """WebVTT: `HH:MM:SS.mmm --> HH:MM:SS.mmm`, the speaker as `<v Speaker>`, notes as NOTE blocks."""
    blocks = ["WEBVTT\n"]
    for note in notes:
        # "-->" may not appear in a NOTE; a blank row would end it.
        blocks.append("NOTE " + " ".join(_text_rows(note.replace("-->", "->"))) + "\n")
    for cue in _in_order(cues):
        start, end = _ticks(cue, 1000)
        head = f"{cue.identifier}\n" if cue.identifier else ""
        rows = [_vtt_escape(row) for row in _text_rows(cue.text)]
        speaker = _vtt_escape(" ".join(cue.speaker.split()))
        if speaker:
            rows[0] = f"<v {speaker}>{rows[0]}"
        blocks.append(
            f"{head}{_clock(start, '.')} --> {_clock(end, '.')}\n" + "\n".join(rows) + "\n"
        )
    return "\n".join(blocks)


# Primary colours for ASS styles, one per speaker in order of appearance (&HAABBGGRR).
_ASS_COLOURS = (
    "&H00FFFFFF",
    "&H0000FFFF",
    "&H00FFFF00",
    "&H0080FF80",
    "&H00FF80FF",
    "&H0080C0FF",
    "&H00FFC080",
    "&H00C0C0C0",
)
_ASS_STYLE_FORMAT = (
    "Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour,"
    " Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle,"
    " Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding"
)
_ASS_EVENT_FORMAT = "Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text"


def _ass_time(centiseconds: int) -> str:
    hours, rest = divmod(centiseconds, 360_000)
    minutes, rest = divmod(rest, 6000)
    seconds, cs = divmod(rest, 100)
    return f"{hours}:{minutes:02d}:{seconds:02d}.{cs:02d}"


def _ass_field(value: str) -> str:
    """A value for a comma-separated ASS field: no commas, no line breaks."""
    return " ".join(value.replace(",", " ").split())


def _ass_text(text: str) -> str:
    # Braces open override blocks and a backslash starts a tag; neither is dialogue.
    rows = [row.replace("\\", "/").replace("{", "(").replace("}", ")") for row in _text_rows(text)]
    return "\\N".join(rows)


def ass(cues: Iterable[SubtitleCue], *, title: str, notes: Sequence[str] = ()) -> str:
    """Advanced SubStation Alpha (v4.00+): a style per speaker, the speaker in the Name field."""
    ordered = _in_order(cues)
    speakers = list(dict.fromkeys(_ass_field(cue.speaker) or "Default" for cue in ordered))
    if not speakers:
        speakers = ["Default"]
    info = [
        "[Script Info]",
        "; Written by VoiceHub",
        *(f"; {' '.join(_text_rows(note))}" for note in notes),
        f"Title: {' '.join(_text_rows(title))}",
        "ScriptType: v4.00+",
        "WrapStyle: 0",
        "ScaledBorderAndShadow: yes",
        "PlayResX: 1920",
        "PlayResY: 1080",
    ]
    styles = ["[V4+ Styles]", f"Format: {_ASS_STYLE_FORMAT}"]
    for index, speaker in enumerate(speakers):
        colour = _ASS_COLOURS[index % len(_ASS_COLOURS)]
        styles.append(
            f"Style: {speaker},Arial,56,{colour},&H000000FF,&H00000000,&H80000000,"
            "0,0,0,0,100,100,0,0,1,3,1,2,60,60,50,1"
        )
    events = ["[Events]", f"Format: {_ASS_EVENT_FORMAT}"]
    for cue in ordered:
        start, end = _ticks(cue, 100)
        speaker = _ass_field(cue.speaker) or "Default"
        name = _ass_field(cue.speaker)
        events.append(
            f"Dialogue: 0,{_ass_time(start)},{_ass_time(end)},{speaker},{name},0,0,0,,"
            f"{_ass_text(cue.text)}"
        )
    return "\n".join([*info, "", *styles, "", *events]) + "\n"
