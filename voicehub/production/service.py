"""Projects, script import and casting, all scoped to the calling studio."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from consent.service import Effects, request_approval
from consent.tables import ProjectApproval, Use
from consent.terms import WORLDWIDE
from models.tables import Voice
from voicehub.db import utcnow
from voicehub.errors import (
    InvalidInput,
    NotFound,
    ScriptInvalid,
    ScriptTooLarge,
    TextEmpty,
    TextTooLong,
)
from voicehub.ids import new_id
from voicehub.production.scripts import ParsedCut, parse_json_script, parse_srt
from voicehub.production.tables import Character, Cut, Line, Project, Take
from voicehub.tenancy.scope import get_owned, owned

# The frame rates a project may use, by the number studios write, as exact fractions.
FRAME_RATES: dict[str, Fraction] = {
    "23.976": Fraction(24000, 1001),
    "24": Fraction(24),
    "25": Fraction(25),
    "29.97": Fraction(30000, 1001),
    "30": Fraction(30),
}


def lookup_frame_rate(value: float | str, rates: dict[str, Fraction], field: str) -> Fraction:
    """The exact rate a studio means by `value` (24, "24.0", 23.976 …), or a clear refusal."""
    try:
        key = f"{float(value):g}"
    except ValueError:
        key = str(value)
    rate = rates.get(key)
    if rate is None:
        raise InvalidInput(
            f"{field} {value} is not supported; use one of {', '.join(rates)}.", fields=[field]
        )
    return rate


def frame_rate_from_number(value: float | str) -> Fraction:
    return lookup_frame_rate(value, FRAME_RATES, "frame_rate")


def frame_rate_number(rate: Fraction) -> float:
    return round(float(rate), 3)


def create_project(
    session: Session,
    studio_id: str,
    *,
    name: str,
    language: str,
    use: str,
    frame_rate: Fraction,
    territories: Sequence[str] = (WORLDWIDE,),
) -> Project:
    if use not in {u.value for u in Use}:
        raise InvalidInput(
            f"Unknown use '{use}'; valid uses are {', '.join(u.value for u in Use)}.",
            fields=["use"],
        )
    if not territories or not all(
        t == WORLDWIDE or re.fullmatch(r"[A-Z]{2}", t) for t in territories
    ):
        raise InvalidInput(
            "Territories are ISO 3166 codes such as JP or US, or WW for worldwide.",
            fields=["territories"],
        )
    project = Project(
        id=new_id("prj"),
        studio_id=studio_id,
        name=name.strip(),
        language=language,
        use=use,
        territories=list(dict.fromkeys(territories)),
        fps_num=frame_rate.numerator,
        fps_den=frame_rate.denominator,
    )
    session.add(project)
    session.flush()
    return project


def check_line_text(text: str, max_chars: int) -> str:
    """The text to speak, or a clear refusal for empty or over-long text."""
    cleaned = text.strip()
    if not cleaned:
        raise TextEmpty("The line has no text to speak.", fields=["text"])
    if len(cleaned) > max_chars:
        raise TextTooLong(
            f"The line has {len(cleaned)} characters; the limit is {max_chars}.",
            fields=["text"],
            limit=max_chars,
        )
    return cleaned


@dataclass(frozen=True)
class ImportResult:
    cut_ids: list[str]
    lines_created: int
    characters_created: list[str]


SCRIPT_FORMATS = ("json", "srt")


def import_script(
    session: Session,
    studio_id: str,
    project_id: str,
    *,
    raw: bytes,
    script_format: str,
    max_bytes: int,
    max_lines: int,
    max_line_chars: int,
) -> ImportResult:
    """Parse a whole script, check every line, then store its cuts, characters and lines.

    Nothing is written unless the whole script is valid.
    """
    project = get_owned(session, Project, studio_id, project_id)
    if len(raw) > max_bytes:
        raise ScriptTooLarge(f"The script is {len(raw)} bytes; the limit is {max_bytes}.")
    if script_format == "json":
        parsed = parse_json_script(raw)
    elif script_format == "srt":
        parsed = parse_srt(raw)
    else:
        raise InvalidInput(
            f"Unknown script format '{script_format}'; use one of {', '.join(SCRIPT_FORMATS)}.",
            fields=["format"],
        )
    total = sum(len(cut.lines) for cut in parsed)
    if total > max_lines:
        raise ScriptTooLarge(f"The script has {total} lines; the limit is {max_lines}.")
    for cut_index, cut in enumerate(parsed):
        for line_index, line in enumerate(cut.lines):
            try:
                line.text = check_line_text(line.text, max_line_chars)
            except (TextEmpty, TextTooLong) as exc:
                exc.extra["fields"] = [f"cuts.{cut_index}.lines.{line_index}.text"]
                raise
            if (
                line.start_ms is not None
                and line.end_ms is not None
                and line.end_ms <= line.start_ms
            ):
                raise ScriptInvalid(
                    f"Cut {cut_index + 1}, line {line_index + 1}: the end is not after the start.",
                    fields=[f"cuts.{cut_index}.lines.{line_index}.end"],
                )
    return _store(session, project, parsed)


def _store(session: Session, project: Project, parsed: list[ParsedCut]) -> ImportResult:
    characters = {
        c.name: c
        for c in session.scalars(
            owned(Character, project.studio_id).where(Character.project_id == project.id)
        )
    }
    cuts = {
        c.number: c
        for c in session.scalars(owned(Cut, project.studio_id).where(Cut.project_id == project.id))
    }
    next_number = 1 + max((int(n.split("-")[1]) for n in cuts), default=0)
    timeline_end = max((c.end_ms for c in cuts.values()), default=0)
    created_characters: list[str] = []
    cut_ids: list[str] = []
    lines_created = 0
    for parsed_cut in parsed:
        cut = cuts.get(parsed_cut.number) if parsed_cut.number else None
        if cut is None:
            number = parsed_cut.number or f"C-{next_number:03d}"
            next_number = max(next_number, int(number.split("-")[1])) + 1
            start = parsed_cut.start_ms
            if start is None:
                start = min(
                    (ln.start_ms for ln in parsed_cut.lines if ln.start_ms is not None),
                    default=timeline_end,
                )
            end = parsed_cut.end_ms
            if end is None:
                end = max(
                    (ln.end_ms for ln in parsed_cut.lines if ln.end_ms is not None), default=start
                )
            cut = Cut(
                id=new_id("cut"),
                studio_id=project.studio_id,
                project_id=project.id,
                number=number,
                start_ms=start,
                end_ms=max(end, start),
                fps_num=project.fps_num,
                fps_den=project.fps_den,
            )
            session.add(cut)
            cuts[number] = cut
        timeline_end = max(timeline_end, cut.end_ms)
        if cut.id not in cut_ids:
            cut_ids.append(cut.id)
        position = (
            session.scalar(select(func.count()).select_from(Line).where(Line.cut_id == cut.id)) or 0
        )
        for parsed_line in parsed_cut.lines:
            character = characters.get(parsed_line.character)
            if character is None:
                character = Character(
                    id=new_id("chr"),
                    studio_id=project.studio_id,
                    project_id=project.id,
                    name=parsed_line.character,
                )
                session.add(character)
                characters[character.name] = character
                created_characters.append(character.name)
            session.add(
                Line(
                    id=new_id("line"),
                    studio_id=project.studio_id,
                    project_id=project.id,
                    cut_id=cut.id,
                    character_id=character.id,
                    position=position,
                    text=parsed_line.text,
                    language=parsed_line.language or project.language,
                    start_ms=parsed_line.start_ms,
                    end_ms=parsed_line.end_ms,
                )
            )
            position += 1
            lines_created += 1
        session.flush()
    return ImportResult(cut_ids, lines_created, created_characters)


def cast_character(
    session: Session,
    effects: Effects,
    studio_id: str,
    project_id: str,
    *,
    character_name: str,
    voice_id: str,
    use_description: str = "",
    expected_lines: int | None = None,
) -> tuple[Character, ProjectApproval | None]:
    """Give a character a voice; ask the actor's approval when their terms require it.

    Consent itself is checked at every synthesis, not here.
    """
    project = get_owned(session, Project, studio_id, project_id)
    character = session.scalar(
        owned(Character, studio_id).where(
            Character.project_id == project.id, Character.name == character_name
        )
    )
    if character is None:
        raise NotFound(
            f"No character '{character_name}' in project {project.id}.", fields=["character"]
        )
    voice = session.get(Voice, voice_id)
    if voice is None:
        raise NotFound(f"No voice {voice_id}.", fields=["voice_id"])
    if character.voice_id != voice.id:
        character.voice_id = voice.id
        character.cast_at = utcnow()
    session.flush()
    if expected_lines is None:
        expected_lines = len(
            list(session.scalars(owned(Line, studio_id).where(Line.character_id == character.id)))
        )
    approval = request_approval(
        session,
        effects,
        voice=voice,
        studio_id=studio_id,
        project_id=project.id,
        character_name=character.name,
        use=project.use,
        use_description=use_description.strip() or f"{project.use} in '{project.name}'",
        expected_lines=expected_lines,
        territories=list(project.territories),
    )
    return character, approval


def character_names(session: Session, studio_id: str, project_id: str) -> dict[str, str]:
    """Character id → name for a project of the calling studio."""
    return {
        character.id: character.name
        for character in session.scalars(
            owned(Character, studio_id).where(Character.project_id == project_id)
        )
    }


def latest_takes(session: Session, studio_id: str, line_ids: list[str]) -> dict[str, Take]:
    """The newest take of each line (the take exports use until one is approved)."""
    latest: dict[str, Take] = {}
    if not line_ids:
        return latest
    for take in session.scalars(
        owned(Take, studio_id).where(Take.line_id.in_(line_ids)).order_by(Take.created_at, Take.id)
    ):
        latest[take.line_id] = take
    return latest


def lines_of_cut(session: Session, studio_id: str, cut_id: str) -> list[Line]:
    return list(
        session.scalars(owned(Line, studio_id).where(Line.cut_id == cut_id).order_by(Line.position))
    )


def lines_of_project(session: Session, studio_id: str, project_id: str) -> list[Line]:
    return list(
        session.scalars(
            owned(Line, studio_id)
            .join(Cut, Cut.id == Line.cut_id)
            .where(Line.project_id == project_id)
            .order_by(Cut.start_ms, Cut.number, Line.position)
        )
    )
