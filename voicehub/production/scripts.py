"""Reading scripts (JSON, SRT) into cuts and lines, before anything is stored.

SRT carries the speaker as a `NAME:` prefix on the first text line and, when
the studio gives cut numbers, a `[C-012]` tag before it; blocks with the same
tag share a cut, untagged blocks get a cut each.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from fractions import Fraction

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from voicehub.errors import ScriptInvalid

NARRATOR = "NARRATOR"
_CUT_NUMBER = re.compile(r"^C-\d{3,4}$")


@dataclass
class ParsedLine:
    character: str
    text: str
    start_ms: int | None = None
    end_ms: int | None = None
    language: str | None = None


@dataclass
class ParsedCut:
    number: str | None
    start_ms: int | None
    end_ms: int | None
    lines: list[ParsedLine] = field(default_factory=list)


class _JsonLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    character: str = Field(min_length=1, max_length=200)
    text: str
    start: float | None = Field(default=None, ge=0)
    end: float | None = Field(default=None, ge=0)
    language: str | None = Field(default=None, min_length=2, max_length=16)


class _JsonCut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: str | None = Field(default=None, pattern=_CUT_NUMBER.pattern)
    start: float | None = Field(default=None, ge=0)
    end: float | None = Field(default=None, ge=0)
    lines: list[_JsonLine] = Field(min_length=1)


class _JsonScript(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cuts: list[_JsonCut] = Field(min_length=1)


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else round(Fraction(str(seconds)) * 1000)


def parse_json_script(raw: bytes) -> list[ParsedCut]:
    """`{"cuts": [{"number": "C-001", "start": 0, "end": 4.5, "lines": [...]}]}`."""
    try:
        script = _JsonScript.model_validate(json.loads(raw.decode("utf-8")))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ScriptInvalid(f"The script is not valid UTF-8 JSON: {exc}.") from exc
    except ValidationError as exc:
        fields = [
            {"field": ".".join(str(p) for p in err["loc"]), "message": err["msg"]}
            for err in exc.errors()
        ]
        raise ScriptInvalid(
            "The JSON script does not match the expected shape.", fields=fields
        ) from exc
    return [
        ParsedCut(
            number=cut.number,
            start_ms=_ms(cut.start),
            end_ms=_ms(cut.end),
            lines=[
                ParsedLine(
                    character=line.character.strip(),
                    text=line.text,
                    start_ms=_ms(line.start),
                    end_ms=_ms(line.end),
                    language=line.language,
                )
                for line in cut.lines
            ],
        )
        for cut in script.cuts
    ]


_TIMECODE = re.compile(
    r"^(\d{1,2}):(\d{2}):(\d{2})[,.](\d{3})\s*-->\s*(\d{1,2}):(\d{2}):(\d{2})[,.](\d{3})(?:\s.*)?$"
)
_SPEAKER = re.compile(
    r"^(?:\[(?P<cut>C-\d{3,4})\]\s*)?(?:(?P<name>[^:：\s][^:：]{0,39})[:：]\s*)?(?P<text>.*)$"
)


def _timecode_ms(h: str, m: str, s: str, ms: str) -> int:
    if int(m) > 59 or int(s) > 59:
        raise ValueError("minutes and seconds run 00 to 59")
    return ((int(h) * 60 + int(m)) * 60 + int(s)) * 1000 + int(ms)


def parse_srt(raw: bytes) -> list[ParsedCut]:
    """SubRip blocks → one cut per block, or per `[C-…]` tag when the script gives them."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ScriptInvalid("The SRT file is not UTF-8 text.") from exc
    blocks = re.split(r"\r?\n\s*\r?\n", text.strip())
    if not text.strip():
        raise ScriptInvalid("The SRT file is empty.")
    cuts: list[ParsedCut] = []
    tagged: dict[str, ParsedCut] = {}
    line_no = 1
    for block in blocks:
        rows = block.splitlines()
        where = f"block starting at line {line_no}"
        line_no += len(rows) + 1
        if len(rows) < 3 or not rows[0].strip().isdigit():
            raise ScriptInvalid(
                f"SRT {where}: expected an index, a timecode line and text.", line=line_no
            )
        match = _TIMECODE.match(rows[1].strip())
        if match is None:
            raise ScriptInvalid(
                f"SRT {where}: '{rows[1].strip()}' is not 'HH:MM:SS,mmm --> HH:MM:SS,mmm'."
            )
        try:
            start = _timecode_ms(*match.groups()[:4])
            end = _timecode_ms(*match.groups()[4:])
        except ValueError as exc:
            raise ScriptInvalid(f"SRT {where}: {exc}.") from exc
        if end <= start:
            raise ScriptInvalid(f"SRT {where}: the end time is not after the start time.")
        head = _SPEAKER.match(rows[2].strip())
        assert head is not None  # the pattern matches any string
        body = " ".join([head["text"], *(r.strip() for r in rows[3:])]).strip()
        line = ParsedLine(
            character=(head["name"] or NARRATOR).strip(), text=body, start_ms=start, end_ms=end
        )
        number = head["cut"]
        if number is None:
            cuts.append(ParsedCut(None, start, end, [line]))
        elif number in tagged:
            cut = tagged[number]
            cut.start_ms = min(cut.start_ms or start, start)
            cut.end_ms = max(cut.end_ms or end, end)
            cut.lines.append(line)
        else:
            tagged[number] = ParsedCut(number, start, end, [line])
            cuts.append(tagged[number])
    return cuts
