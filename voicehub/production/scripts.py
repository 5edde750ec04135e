"""Reading scripts (SRT, WebVTT, ASS/SSA, CSV, JSON) into cuts and lines, before anything is stored.

Every time is read from its digits into whole milliseconds: never through a
float. A fraction finer than a millisecond (CSV or JSON seconds such as
`1.0005`, an SMPTE frame at 23.976 fps) is rounded half up, once.

Cut numbers come from the script when it gives them (a `[C-012]` tag at the
start of a subtitle's text, a `cut` column, a JSON cut's `number`); lines
with the same number share a cut. A subtitle or CSV row without one is a cut
of its own. Cuts are put in order of their start time (file order when some
cut has no time at all), and each cut without a number takes the next number
after the one before it, skipping the numbers the script names itself.

A line keeps the script's own id for it (`source_id`: a CSV or JSON `id`, an
SRT cue index, a WebVTT cue identifier); `assign_source_keys` gives the others
a key from their cut number, speaker and order, so that a revised script can
be matched line by line with what is stored.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import html
import io
import itertools
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pysubs2
import webvtt
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from voicehub.errors import ScriptEncodingUnsupported, ScriptInvalid, ScriptOverlap

NARRATOR = "NARRATOR"
SCRIPT_FORMATS = ("json", "srt", "vtt", "ass", "csv")
_CUT_NUMBER = re.compile(r"^C-\d{3,4}$")
_CUT_TAG = re.compile(r"^\[(C-\d{3,4})\]\s*")
_FORMAT_NAMES = {
    "json": "JSON",
    "srt": "SRT",
    "vtt": "WebVTT",
    "ass": "ASS",
    "csv": "CSV",
}


@dataclass(frozen=True)
class Where:
    """Where a line sits in the script file, to name it in errors and warnings."""

    kind: str  # "cue" (SRT, WebVTT), "event" (ASS Dialogue), "row" (CSV) or "field" (JSON)
    number: int = 0
    line: int | None = None
    path: str = ""

    def __str__(self) -> str:
        if self.kind == "field":
            return self.path
        if self.kind == "row":
            return f"row {self.number}"
        name = "Dialogue" if self.kind == "event" else "cue"
        return f"{name} {self.number}" + ("" if self.line is None else f" (line {self.line})")

    def problem(self, suffix: str = "") -> dict[str, Any]:
        """The members a problem (or warning) carries to point at this line."""
        if self.kind == "field":
            return {"fields": [self.path + suffix]} if self.path else {}
        out: dict[str, Any] = {"row" if self.kind == "row" else "cue": self.number}
        if self.line is not None:
            out["line"] = self.line
        return out


@dataclass
class ParsedLine:
    character: str
    text: str
    start_ms: int | None = None
    end_ms: int | None = None
    language: str | None = None
    target_ms: int | None = None
    source_id: str | None = None
    where: Where = field(default_factory=lambda: Where("field"))
    source_key: str = ""


@dataclass
class ParsedCut:
    number: str | None
    start_ms: int | None
    end_ms: int | None
    lines: list[ParsedLine] = field(default_factory=list)


@dataclass(frozen=True)
class ScriptWarning:
    """Something odd the import went past rather than refusing the script."""

    code: str
    message: str
    where: Where | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.where is not None:
            out.update(self.where.problem())
        return out


@dataclass
class ParsedScript:
    cuts: list[ParsedCut]
    warnings: list[ScriptWarning] = field(default_factory=list)

    @property
    def lines(self) -> list[ParsedLine]:
        return [line for cut in self.cuts for line in cut.lines]


# --- exact times ---------------------------------------------------------------


def _half_up(value: Fraction) -> int:
    return math.floor(value + Fraction(1, 2))


def _fraction_ms(digits: str) -> int:
    """`digits` after the decimal point as milliseconds (`5` → 500, `05` → 50, `0005` → 1)."""
    return _half_up(Fraction(int(digits), 10 ** len(digits)) * 1000) if digits else 0


def _hms_ms(hours: str | None, minutes: str, seconds: str, fraction: str) -> int:
    if int(minutes) > 59 or int(seconds) > 59:
        raise ValueError("minutes and seconds run 00 to 59")
    return ((int(hours or 0) * 60 + int(minutes)) * 60 + int(seconds)) * 1000 + _fraction_ms(
        fraction
    )


def seconds_ms(value: Decimal | str) -> int:
    """Seconds written as a decimal (`12`, `4.5`, `1.0005`) as whole milliseconds."""
    return _half_up(Fraction(value) * 1000)


_SECONDS = re.compile(r"^\d+(?:\.\d+)?$")
_CLOCK = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{2})(?:[.,](\d{1,9}))?$")
_SMPTE = re.compile(r"^(\d+):(\d{2}):(\d{2})([:;])(\d{2})$")


def timecode_ms(value: str, frame_rate: Fraction) -> int:
    """A CSV time: seconds (`12.5`), a clock (`00:01:02.500`, `01:02,5`) or SMPTE `HH:MM:SS:FF`.

    SMPTE frames count at the project's rate, non-drop: at 23.976 fps (24000/1001)
    the frame number runs 00 to 23 and `00:00:01:00` is frame 24, 1.001 s.
    """
    text = value.strip()
    if text.startswith("-"):
        raise ValueError(f"'{text}' is negative; times start at 0")
    if _SECONDS.match(text):
        return seconds_ms(text)
    clock = _CLOCK.match(text)
    if clock:
        return _hms_ms(clock[1], clock[2], clock[3], clock[4] or "")
    smpte = _SMPTE.match(text)
    if smpte:
        if smpte[4] == ";":
            raise ValueError(
                f"'{text}' is a drop-frame timecode; write times as non-drop HH:MM:SS:FF"
            )
        nominal = math.ceil(frame_rate)
        hours, minutes, seconds, frames = (int(smpte[i]) for i in (1, 2, 3, 5))
        if minutes > 59 or seconds > 59:
            raise ValueError(f"'{text}': minutes and seconds run 00 to 59")
        if frames >= nominal:
            raise ValueError(
                f"'{text}': at {float(frame_rate):g} fps the frame number runs 00 to {nominal - 1:02d}"
            )
        count = ((hours * 60 + minutes) * 60 + seconds) * nominal + frames
        return _half_up(Fraction(count * 1000) / frame_rate)
    raise ValueError(
        f"'{text}' is not a time; write seconds (12.5), HH:MM:SS.mmm or SMPTE HH:MM:SS:FF"
    )


# --- text ------------------------------------------------------------------------


def decode_script(raw: bytes, fmt: str, encoding: str | None = None) -> str:
    """The script's text: UTF-8 (a BOM is fine), UTF-16 with a BOM, or the encoding named."""
    name = _FORMAT_NAMES.get(fmt, fmt)
    if not raw.strip():
        raise ScriptInvalid(f"The {name} file is empty.")
    codec = "utf-8-sig"
    if encoding:
        try:
            info = codecs.lookup(encoding)
        except LookupError:
            info = None
        if info is None or not getattr(info, "_is_text_encoding", True):
            raise ScriptEncodingUnsupported(
                f"'{encoding}' is not a text encoding VoiceHub knows; send UTF-8, or name one"
                " such as shift_jis, cp932, euc-jp, utf-16 or cp1252.",
                fields=["encoding"],
            )
        codec = "utf-8-sig" if info.name == "utf-8" else info.name
    elif raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        codec = "utf-16"
    try:
        text = raw.decode(codec)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        hint = "UTF-8" if codec == "utf-8-sig" else codec
        raise ScriptInvalid(
            f"The {name} file is not {hint} text (a byte it cannot read on line {line}); send"
            " UTF-8, or name its encoding with ?encoding= or a charset in Content-Type.",
            line=line,
        ) from exc
    if "\x00" in text:
        raise ScriptInvalid(f"The {name} file holds NUL characters; it is not text.")
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise ScriptInvalid(f"The {name} file is empty.")
    return text


_HTML_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_ASS_OVERRIDE = re.compile(r"\{\\[^{}]*\}")


def _clean(text: str) -> str:
    """Text with markup gone and runs of whitespace (line breaks too) made one space."""
    return re.sub(r"\s+", " ", html.unescape(text)).strip()


def _cut_tag(text: str) -> tuple[str | None, str]:
    match = _CUT_TAG.match(text)
    if match is None:
        return None, text
    return match[1], text[match.end() :]


def _group_cues(lines: Iterable[tuple[str | None, ParsedLine]]) -> list[ParsedCut]:
    """Subtitles into cuts: one cut per tagged number, and one per untagged cue."""
    cuts: list[ParsedCut] = []
    tagged: dict[str, ParsedCut] = {}
    for number, line in lines:
        if number is None:
            cuts.append(ParsedCut(None, line.start_ms, line.end_ms, [line]))
        elif number in tagged:
            tagged[number].lines.append(line)
        else:
            tagged[number] = ParsedCut(number, None, None, [line])
            cuts.append(tagged[number])
    for cut in tagged.values():
        cut.start_ms = min(ln.start_ms for ln in cut.lines if ln.start_ms is not None)
        cut.end_ms = max(ln.end_ms for ln in cut.lines if ln.end_ms is not None)
    return cuts


def _check_window(start: int, end: int, where: Where, fmt: str) -> None:
    if end <= start:
        raise ScriptInvalid(
            f"{_FORMAT_NAMES[fmt]} {where}: the end time is not after the start time.",
            **where.problem(".end"),
        )


def _blocks(text: str) -> list[tuple[int, list[str]]]:
    """Blank-line separated blocks, each with the number of its first line."""
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = 1
    for number, row in enumerate(text.splitlines(), start=1):
        if row.strip():
            if not current:
                start = number
            current.append(row.rstrip())
        elif current:
            blocks.append((start, current))
            current = []
    if current:
        blocks.append((start, current))
    return blocks


# --- SRT -----------------------------------------------------------------------

_SRT_TIMING = re.compile(
    r"^(\d{1,3}):(\d{2}):(\d{2})[,.](\d{1,3})\s*-->\s*(\d{1,3}):(\d{2}):(\d{2})[,.](\d{1,3})(?:\s.*)?$"
)
_SPEAKER = re.compile(r"^(?:(?P<name>[^:：\s][^:：]{0,39})[:：]\s*)?(?P<text>.*)$")


def _srt(text: str) -> ParsedScript:
    warnings: list[ScriptWarning] = []
    cues: list[tuple[str | None, ParsedLine]] = []
    seen: dict[str, Where] = {}
    for ordinal, (first_line, rows) in enumerate(_blocks(text), start=1):
        where = Where("cue", ordinal, first_line)
        if len(rows) < 2 or not rows[0].strip().isdigit():
            raise ScriptInvalid(
                f"SRT {where}: expected an index, a timecode line and text.", **where.problem()
            )
        index = str(int(rows[0].strip()))
        if index in seen:
            raise ScriptInvalid(
                f"SRT {where}: index {index} is used again (first at {seen[index]}).",
                **where.problem(),
            )
        seen[index] = where
        match = _SRT_TIMING.match(rows[1].strip())
        if match is None:
            raise ScriptInvalid(
                f"SRT {where}: '{rows[1].strip()}' is not 'HH:MM:SS,mmm --> HH:MM:SS,mmm'.",
                **where.problem(),
            )
        try:
            start = _hms_ms(*match.groups()[:4])
            end = _hms_ms(*match.groups()[4:])
        except ValueError as exc:
            raise ScriptInvalid(f"SRT {where}: {exc}.", **where.problem()) from exc
        _check_window(start, end, where, "srt")
        texts = [_clean(_ASS_OVERRIDE.sub("", _HTML_TAG.sub("", row))) for row in rows[2:]]
        texts = [t for t in texts if t]
        number, first = _cut_tag(texts[0] if texts else "")
        head = _SPEAKER.match(first)
        assert head is not None  # the pattern matches any string
        name = (head["name"] or "").strip()
        words = " ".join([head["text"].strip(), *texts[1:]]).strip()
        if not words:
            warnings.append(
                ScriptWarning(
                    "cue_without_text", f"SRT {where} has no text to speak; it was left out.", where
                )
            )
            continue
        if not name:
            name = NARRATOR
            warnings.append(_no_speaker(where, "srt"))
        cues.append((number, ParsedLine(name, words, start, end, source_id=index, where=where)))
    return ParsedScript(_group_cues(cues), warnings)


def _no_speaker(where: Where, fmt: str) -> ScriptWarning:
    return ScriptWarning(
        "no_speaker",
        f"{_FORMAT_NAMES[fmt]} {where} names no speaker; it is {NARRATOR}'s line.",
        where,
    )


def parse_srt(raw: bytes) -> list[ParsedCut]:
    """SubRip blocks → one cut per block, or per `[C-…]` tag when the script gives them."""
    return _srt(decode_script(raw, "srt")).cuts


# --- WebVTT --------------------------------------------------------------------

_VTT_TIMESTAMP = r"(?:(\d+):)?(\d{2}):(\d{2})\.(\d{3})"
_VTT_TIMING = re.compile(rf"^{_VTT_TIMESTAMP}[ \t]+-->[ \t]+{_VTT_TIMESTAMP}(?:[ \t]+.*)?$")
_VTT_VOICES = re.compile(r"<v(?:\.[^\s>]+)*\s+([^>]+)>")


def _vtt(text: str) -> ParsedScript:
    blocks = _blocks(text)
    header = blocks[0][1][0] if blocks else ""
    if not re.match(r"^WEBVTT(?:[ \t].*)?$", header):
        raise ScriptInvalid("The WebVTT file does not start with a 'WEBVTT' line.", line=1)
    warnings: list[ScriptWarning] = []
    cues: list[tuple[str | None, ParsedLine]] = []
    ids: dict[str, Where] = {}
    ordinal = 0
    for first_line, rows in blocks[1:]:
        if re.match(r"^(NOTE|STYLE|REGION)(?:[ \t].*)?$", rows[0]) and "-->" not in rows[0]:
            continue
        ordinal += 1
        where = Where("cue", ordinal, first_line)
        identifier: str | None = None
        if "-->" not in rows[0]:
            if len(rows) < 2 or "-->" not in rows[1]:
                raise ScriptInvalid(
                    f"WebVTT {where}: expected a timing line 'start --> end'.", **where.problem()
                )
            identifier, rows = rows[0].strip(), rows[1:]
            where = Where("cue", ordinal, first_line + 1)
        match = _VTT_TIMING.match(rows[0].strip())
        if match is None:
            raise ScriptInvalid(
                f"WebVTT {where}: '{rows[0].strip()}' is not 'HH:MM:SS.mmm --> HH:MM:SS.mmm'"
                " (cue settings may follow).",
                **where.problem(),
            )
        try:
            start = _hms_ms(*match.groups()[:4])
            end = _hms_ms(*match.groups()[4:])
        except ValueError as exc:
            raise ScriptInvalid(f"WebVTT {where}: {exc}.", **where.problem()) from exc
        _check_window(start, end, where, "vtt")
        if identifier is not None:
            if identifier in ids:
                raise ScriptInvalid(
                    f"WebVTT {where}: the cue id '{identifier}' is used again (first at"
                    f" {ids[identifier]}).",
                    **where.problem(),
                )
            ids[identifier] = where
        payload = "\n".join(rows[1:])
        caption = webvtt.Caption(text=payload)
        voices = list(dict.fromkeys(v.strip() for v in _VTT_VOICES.findall(payload)))
        number, words = _cut_tag(_clean(caption.text))
        if not words:
            warnings.append(
                ScriptWarning(
                    "cue_without_text",
                    f"WebVTT {where} has no text to speak (only tags, or nothing); it was left out.",
                    where,
                )
            )
            continue
        name = (caption.voice or (voices[0] if voices else "")).strip()
        if not name:
            name = NARRATOR
            warnings.append(_no_speaker(where, "vtt"))
        if len(voices) > 1:
            warnings.append(
                ScriptWarning(
                    "several_voices",
                    f"WebVTT {where} has several voices ({', '.join(voices)}); the whole cue is"
                    f" {name}'s line. Give each voice a cue of its own.",
                    where,
                )
            )
        cues.append(
            (number, ParsedLine(name, words, start, end, source_id=identifier, where=where))
        )
    return ParsedScript(_group_cues(cues), warnings)


# --- ASS / SSA -----------------------------------------------------------------

_ASS_TIME = re.compile(r"^(\d+):(\d{2}):(\d{2})\.(\d{1,3})$")


def _ass_time(value: str, where: Where) -> int:
    match = _ASS_TIME.match(value.strip())
    if match is None:
        raise ScriptInvalid(
            f"ASS {where}: '{value.strip()}' is not a time 'H:MM:SS.cc'.", **where.problem()
        )
    try:
        # Centiseconds ×10; pysubs2 reads the digits the same way (timestamp_to_ms).
        return _hms_ms(*match.groups())
    except ValueError as exc:
        raise ScriptInvalid(f"ASS {where}: {exc}.", **where.problem()) from exc


def _ass(text: str) -> ParsedScript:
    warnings: list[ScriptWarning] = []
    cues: list[tuple[str | None, ParsedLine]] = []
    section = ""
    fields: list[str] | None = None
    ordinal = 0
    seen_events = False
    for line_no, row in enumerate(text.splitlines(), start=1):
        stripped = row.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped.lower()
            seen_events = seen_events or section == "[events]"
            continue
        if section != "[events]" or ":" not in stripped:
            continue
        kind, _, value = stripped.partition(":")
        kind = kind.strip().lower()
        if kind == "format":
            fields = [name.strip().lower() for name in value.split(",")]
            missing = [n for n in ("start", "end", "text") if n not in fields]
            if missing or fields[-1] != "text":
                raise ScriptInvalid(
                    f"ASS line {line_no}: the [Events] Format line needs Start, End and Text,"
                    " with Text last.",
                    line=line_no,
                )
            continue
        if kind != "dialogue":
            continue
        ordinal += 1
        where = Where("event", ordinal, line_no)
        if fields is None:
            raise ScriptInvalid(
                f"ASS {where}: the [Events] section has no Format line before its Dialogue"
                " lines, so its fields cannot be read.",
                **where.problem(),
            )
        values = value.lstrip().split(",", len(fields) - 1)
        if len(values) != len(fields):
            raise ScriptInvalid(
                f"ASS {where}: {len(values)} fields where the Format line names {len(fields)}.",
                **where.problem(),
            )
        event = dict(zip(fields, values, strict=True))
        start, end = _ass_time(event["start"], where), _ass_time(event["end"], where)
        _check_window(start, end, where, "ass")
        plain = pysubs2.SSAEvent(text=event["text"]).plaintext
        number, words = _cut_tag(_clean(_HTML_TAG.sub("", plain)))
        if not words:
            warnings.append(
                ScriptWarning(
                    "cue_without_text",
                    f"ASS {where} has no text to speak (only override tags, or nothing); it was left out.",
                    where,
                )
            )
            continue
        name = (event.get("name") or event.get("actor") or "").strip()
        if not name:
            name = NARRATOR
            warnings.append(_no_speaker(where, "ass"))
        cues.append((number, ParsedLine(name, words, start, end, where=where)))
    if fields is None:
        raise ScriptInvalid(
            "The ASS file has no Format line in an [Events] section"
            + ("." if seen_events else " (it has no [Events] section at all).")
        )
    if ordinal == 0:
        raise ScriptInvalid("The ASS file has no Dialogue lines.")
    return ParsedScript(_group_cues(cues), warnings)


# --- CSV -------------------------------------------------------------------------

CSV_COLUMNS = {
    "character": "character",
    "speaker": "character",
    "text": "text",
    "cut": "cut",
    "start": "start",
    "end": "end",
    "duration": "duration",
    "id": "id",
    "language": "language",
}
CSV_REQUIRED = ("character", "text")


def _csv_cut(value: str, where: Where) -> str | None:
    text = value.strip().upper()
    if not text:
        return None
    if text.isdigit() and 1 <= len(text) <= 4:
        return f"C-{int(text):03d}"
    if _CUT_NUMBER.match(text):
        return text
    raise ScriptInvalid(
        f"CSV {where}: cut '{value.strip()}' is not a cut number such as C-012 or 12.",
        **where.problem(),
    )


def _csv_time(value: str, column: str, where: Where, frame_rate: Fraction) -> int | None:
    if not value:
        return None
    try:
        return timecode_ms(value, frame_rate)
    except ValueError as exc:
        raise ScriptInvalid(
            f"CSV {where}, {column}: {exc}.", row=where.number, fields=[column]
        ) from exc


def _csv(text: str, frame_rate: Fraction) -> ParsedScript:
    header_line = text.splitlines()[0]
    delimiter = max(",\t;", key=header_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows = list(reader)
    header = [re.sub(r"\s+", "_", name.strip().lower()) for name in rows[0]]
    columns: dict[str, int] = {}
    ignored: list[str] = []
    for index, name in enumerate(header):
        key = CSV_COLUMNS.get(name)
        if key is None:
            if name:
                ignored.append(rows[0][index].strip())
        elif key in columns:
            raise ScriptInvalid(
                f"CSV header: two columns mean '{key}' ({rows[0][columns[key]].strip()},"
                f" {rows[0][index].strip()}).",
                row=1,
            )
        else:
            columns[key] = index
    missing = [name for name in CSV_REQUIRED if name not in columns]
    if missing:
        raise ScriptInvalid(
            f"The CSV header lacks the required column{'s' if len(missing) > 1 else ''}"
            f" {', '.join(missing)}; it has {', '.join(h for h in rows[0] if h.strip()) or 'none'}.",
            row=1,
            fields=[f"columns.{name}" for name in missing],
        )
    warnings: list[ScriptWarning] = []
    if ignored:
        warnings.append(
            ScriptWarning(
                "columns_ignored", f"CSV columns VoiceHub does not read: {', '.join(ignored)}."
            )
        )
    cues: list[tuple[str | None, ParsedLine]] = []
    ids: dict[str, Where] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        where = Where("row", number)
        cells = {
            name: row[index].strip() if index < len(row) else "" for name, index in columns.items()
        }

        start, end, duration = (
            _csv_time(cells.get(column, ""), column, where, frame_rate)
            for column in ("start", "end", "duration")
        )
        if start is not None and end is not None:
            _check_window(start, end, where, "csv")
        if duration == 0:
            raise ScriptInvalid(f"CSV {where}: a duration of 0.", row=number, fields=["duration"])
        line_id = cells.get("id") or None
        if line_id is not None:
            if line_id in ids:
                raise ScriptInvalid(
                    f"CSV {where}: the id '{line_id}' is used again (first at {ids[line_id]}).",
                    row=number,
                    fields=["id"],
                )
            ids[line_id] = where
        name = cells["character"]
        if not name:
            name = NARRATOR
            warnings.append(_no_speaker(where, "csv"))
        cues.append(
            (
                _csv_cut(cells.get("cut", ""), where),
                ParsedLine(
                    character=name,
                    text=cells["text"],
                    start_ms=start,
                    end_ms=end,
                    language=cells.get("language") or None,
                    target_ms=duration,
                    source_id=line_id,
                    where=where,
                ),
            )
        )
    if not cues:
        raise ScriptInvalid("The CSV file has a header but no rows.")
    return ParsedScript(_group_timed(cues), warnings)


def _group_timed(cues: list[tuple[str | None, ParsedLine]]) -> list[ParsedCut]:
    """Rows into cuts like subtitles, where a cut's window covers the rows that have times."""
    cuts: list[ParsedCut] = []
    tagged: dict[str, ParsedCut] = {}
    for number, line in cues:
        if number is None:
            cuts.append(ParsedCut(None, None, None, [line]))
        elif number in tagged:
            tagged[number].lines.append(line)
        else:
            tagged[number] = ParsedCut(number, None, None, [line])
            cuts.append(tagged[number])
    return cuts


# --- JSON ------------------------------------------------------------------------


class _JsonLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(default=None, min_length=1, max_length=200)
    character: str = Field(min_length=1, max_length=200)
    text: str
    start: Decimal | None = Field(default=None, ge=0, allow_inf_nan=False)
    end: Decimal | None = Field(default=None, ge=0, allow_inf_nan=False)
    duration: Decimal | None = Field(default=None, gt=0, allow_inf_nan=False)
    language: str | None = Field(default=None, min_length=2, max_length=16)


class _JsonCut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: str | None = Field(default=None, pattern=_CUT_NUMBER.pattern)
    start: Decimal | None = Field(default=None, ge=0, allow_inf_nan=False)
    end: Decimal | None = Field(default=None, ge=0, allow_inf_nan=False)
    lines: list[_JsonLine] = Field(min_length=1)


class _JsonScript(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cuts: list[_JsonCut] = Field(min_length=1)


def _ms(seconds: Decimal | None) -> int | None:
    return None if seconds is None else seconds_ms(seconds)


def _json(text: str) -> ParsedScript:
    try:
        data = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise ScriptInvalid(f"The script is not valid JSON: {exc}.", line=exc.lineno) from exc
    try:
        script = _JsonScript.model_validate(data)
    except ValidationError as exc:
        fields = [
            {"field": ".".join(str(p) for p in err["loc"]), "message": err["msg"]}
            for err in exc.errors()
        ]
        raise ScriptInvalid(
            "The JSON script does not match the expected shape.", fields=fields
        ) from exc
    cuts: list[ParsedCut] = []
    ids: dict[str, str] = {}
    for cut_index, cut in enumerate(script.cuts):
        parsed = ParsedCut(cut.number, _ms(cut.start), _ms(cut.end))
        if parsed.start_ms is not None and parsed.end_ms is not None:
            _check_window(
                parsed.start_ms, parsed.end_ms, Where("field", path=f"cuts.{cut_index}"), "json"
            )
        for line_index, line in enumerate(cut.lines):
            where = Where("field", path=f"cuts.{cut_index}.lines.{line_index}")
            if line.id is not None:
                if line.id in ids:
                    raise ScriptInvalid(
                        f"JSON {where}: the id '{line.id}' is used again (first at {ids[line.id]}).",
                        fields=[f"{where.path}.id"],
                    )
                ids[line.id] = where.path
            start, end = _ms(line.start), _ms(line.end)
            if start is not None and end is not None:
                _check_window(start, end, where, "json")
            parsed.lines.append(
                ParsedLine(
                    character=line.character.strip(),
                    text=line.text,
                    start_ms=start,
                    end_ms=end,
                    language=line.language,
                    target_ms=_ms(line.duration),
                    source_id=line.id,
                    where=where,
                )
            )
        cuts.append(parsed)
    return ParsedScript(cuts)


def parse_json_script(raw: bytes) -> list[ParsedCut]:
    """`{"cuts": [{"number": "C-001", "start": 0, "end": 4.5, "lines": [...]}]}`."""
    return _json(decode_script(raw, "json")).cuts


# --- the whole script ----------------------------------------------------------


def parse_script(
    raw: bytes, fmt: str, *, frame_rate: Fraction, encoding: str | None = None
) -> ParsedScript:
    """Read a script of format `fmt` (one of SCRIPT_FORMATS); refuse it whole if any part is bad."""
    text = decode_script(raw, fmt, encoding)
    if fmt == "json":
        script = _json(text)
    elif fmt == "srt":
        script = _srt(text)
    elif fmt == "vtt":
        script = _vtt(text)
    elif fmt == "ass":
        script = _ass(text)
    elif fmt == "csv":
        script = _csv(text, frame_rate)
    else:
        raise ValueError(f"unknown script format {fmt!r}")
    if not script.lines:
        raise ScriptInvalid(f"The {_FORMAT_NAMES[fmt]} file has no line with text to speak.")
    for line in script.lines:
        _check_sizes(line)
    _merge_numbered(script)
    check_overlaps(script.lines)
    return script


def _check_sizes(line: ParsedLine) -> None:
    """Names, ids and languages that fit where they are stored."""
    limits = (
        ("character", line.character, 200),
        ("id", line.source_id, 200),
        ("language", line.language, 16),
    )
    for name, value, limit in limits:
        if value is not None and len(value) > limit:
            raise ScriptInvalid(
                f"{line.where}: the {name} '{value[:40]}…' is longer than {limit} characters.",
                **line.where.problem(f".{name}"),
            )
    if line.language is not None and len(line.language) < 2:
        raise ScriptInvalid(
            f"{line.where}: the language '{line.language}' is not a language code such as ja.",
            **line.where.problem(".language"),
        )


def _merge_numbered(script: ParsedScript) -> None:
    """Cuts of the script that carry the same number become one."""
    merged: dict[str, ParsedCut] = {}
    cuts: list[ParsedCut] = []
    for cut in script.cuts:
        if cut.number is None:
            cuts.append(cut)
            continue
        into = merged.get(cut.number)
        if into is None:
            merged[cut.number] = cut
            cuts.append(cut)
            continue
        into.lines.extend(cut.lines)
        into.start_ms = _pick(min, into.start_ms, cut.start_ms)
        into.end_ms = _pick(max, into.end_ms, cut.end_ms)
    script.cuts = cuts


def _pick(choose: Any, a: int | None, b: int | None) -> int | None:
    values = [v for v in (a, b) if v is not None]
    return choose(values) if values else None


def check_overlaps(lines: list[ParsedLine]) -> None:
    """One voice cannot say two lines at once: refuse a speaker's lines whose windows overlap.

    Different speakers may talk over each other. Lines without a full window
    (no end) are not compared; a line may start exactly where another ends.
    """
    timed = sorted(
        (ln for ln in lines if ln.start_ms is not None and ln.end_ms is not None),
        key=lambda ln: (ln.character, ln.start_ms or 0, ln.end_ms or 0),
    )
    for before, after in itertools.pairwise(timed):
        if before.character != after.character:
            continue
        assert before.end_ms is not None and after.start_ms is not None
        if after.start_ms < before.end_ms:
            extra = after.where.problem(".start")
            extra["character"] = after.character
            extra["overlaps"] = str(before.where)
            raise ScriptOverlap(
                f"{after.where} ({after.character}, from {after.start_ms / 1000:g} s) starts"
                f" before {before.where} of the same character ends ({before.end_ms / 1000:g} s):"
                " one voice cannot say two lines at once. Fix the times, or name the other"
                " speaker.",
                **extra,
            )


def cut_start(cut: ParsedCut) -> int | None:
    return _pick(
        min,
        cut.start_ms,
        min((ln.start_ms for ln in cut.lines if ln.start_ms is not None), default=None),
    )


def number_cuts(cuts: list[ParsedCut], after: int = 0) -> list[ParsedCut]:
    """The cuts in timeline order, each with a number (see the module's docstring for the rule).

    `after` is the highest number already taken: a new cut without a number
    gets a number above it.
    """
    starts = [cut_start(cut) for cut in cuts]
    indexed = list(enumerate(cuts))
    if all(start is not None for start in starts):
        indexed.sort(key=lambda item: (starts[item[0]] or 0, item[0]))
    ordered = [cut for _, cut in indexed]
    taken = {int(cut.number.split("-")[1]) for cut in ordered if cut.number is not None}
    last = after
    for cut in ordered:
        if cut.number is not None:
            last = max(last, int(cut.number.split("-")[1]))
            continue
        last += 1
        while last in taken:
            last += 1
        taken.add(last)
        cut.number = f"C-{last:03d}"
    return ordered


def derived_key(cut_number: str, character: str, order: int) -> str:
    """The key of a line the script gives no id: its cut, its speaker, and which of theirs it is.

    A speaker's name too long for the key is replaced by a digest of it.
    """
    key = f"{cut_number}/{character}/{order}"
    if len(key) <= 200:
        return key
    return f"{cut_number}/{hashlib.sha256(character.encode()).hexdigest()[:32]}/{order}"


def order_lines(cut: ParsedCut) -> None:
    """A cut's lines by start time when every line has one; in script order otherwise."""
    if all(ln.start_ms is not None for ln in cut.lines):
        cut.lines.sort(key=lambda ln: ln.start_ms or 0)


def assign_source_keys(cuts: list[ParsedCut]) -> None:
    """Every line's `source_key`: the script's id for it, else one derived from where it stands."""
    seen: dict[str, ParsedLine] = {}
    for cut in cuts:
        assert cut.number is not None
        counts: dict[str, int] = {}
        for line in cut.lines:
            counts[line.character] = counts.get(line.character, 0) + 1
            line.source_key = line.source_id or derived_key(
                cut.number, line.character, counts[line.character]
            )
            first = seen.setdefault(line.source_key, line)
            if first is not line:
                raise ScriptInvalid(
                    f"{line.where} and {first.where} both come out as line '{line.source_key}';"
                    " give one of them another id.",
                    **line.where.problem(),
                )
