"""Projects, script import and casting, all scoped to the calling studio."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from sqlalchemy.orm import Session

from consent.service import Effects, request_approval
from consent.tables import ProjectApproval, Use
from consent.terms import WORLDWIDE
from models.tables import Voice
from voicehub.db import utcnow
from voicehub.errors import (
    InvalidInput,
    NotFound,
    ScriptTooLarge,
    TextEmpty,
    TextTooLong,
    UnknownCharacters,
)
from voicehub.ids import new_id
from voicehub.production.scripts import (
    SCRIPT_FORMATS,
    ParsedCut,
    ParsedLine,
    ScriptWarning,
    assign_source_keys,
    derived_key,
    number_cuts,
    order_lines,
    parse_script,
)
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


class ImportMode(StrEnum):
    """What a script does to a project that already has lines."""

    # The script is the project's script, revised: lines are matched by their source key
    # and updated in place; new lines are added; lines it no longer has are reported.
    UPDATE = "update"
    # The script's lines are added to the project as new lines, in new cuts after the last.
    APPEND = "append"


class CharacterPolicy(StrEnum):
    """What a speaker the project does not have yet becomes."""

    CREATE = "create"
    EXISTING = "existing"


@dataclass(frozen=True)
class LineUpdate:
    line_id: str
    source_key: str
    changes: list[str]


@dataclass(frozen=True)
class MissingLine:
    """A stored line the re-imported script no longer has: kept, with its takes, and reported."""

    line_id: str
    source_key: str
    cut_number: str
    character: str
    text: str


@dataclass(frozen=True)
class ImportResult:
    mode: ImportMode
    cut_ids: list[str]
    created: list[str]
    updated: list[LineUpdate]
    unchanged: int
    missing: list[MissingLine]
    characters_created: list[str]
    warnings: list[ScriptWarning]

    @property
    def lines_created(self) -> int:
        return len(self.created)


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
    encoding: str | None = None,
    mode: ImportMode = ImportMode.UPDATE,
    characters: CharacterPolicy = CharacterPolicy.CREATE,
) -> ImportResult:
    """Parse a whole script, check every line, then store (or update) its cuts, characters and lines.

    Nothing is written unless the whole script is valid.
    """
    project = get_owned(session, Project, studio_id, project_id)
    if len(raw) > max_bytes:
        raise ScriptTooLarge(f"The script is {len(raw)} bytes; the limit is {max_bytes}.")
    if script_format not in SCRIPT_FORMATS:
        raise InvalidInput(
            f"Unknown script format '{script_format}'; use one of {', '.join(SCRIPT_FORMATS)}.",
            fields=["format"],
        )
    script = parse_script(raw, script_format, frame_rate=project.frame_rate, encoding=encoding)
    total = len(script.lines)
    if total > max_lines:
        raise ScriptTooLarge(f"The script has {total} lines; the limit is {max_lines}.")
    for line in script.lines:
        try:
            line.text = check_line_text(line.text, max_line_chars)
        except (TextEmpty, TextTooLong) as exc:
            exc.detail = f"{line.where}: {exc.detail}"
            exc.extra.update(line.where.problem(".text"))
            if "fields" not in exc.extra:
                exc.extra["fields"] = ["text"]
            raise
    existing_cuts = {
        c.number: c
        for c in session.scalars(owned(Cut, studio_id).where(Cut.project_id == project.id))
    }
    after = 0
    if mode is ImportMode.APPEND:
        after = max((int(n.split("-")[1]) for n in existing_cuts), default=0)
    cuts = number_cuts(script.cuts, after)
    for cut in cuts:
        order_lines(cut)
    assign_source_keys(cuts)
    known = {
        c.name: c
        for c in session.scalars(
            owned(Character, studio_id).where(Character.project_id == project.id)
        )
    }
    if characters is CharacterPolicy.EXISTING:
        unknown = sorted({ln.character for ln in script.lines} - set(known))
        if unknown:
            raise UnknownCharacters(
                f"The script names characters the project does not have: {', '.join(unknown)}."
                " Import without characters=existing to create them, or fix the names.",
                characters=unknown,
            )
    return _store(session, project, cuts, existing_cuts, known, mode, script.warnings)


def _stored_keys(
    session: Session, project: Project, cuts_by_id: dict[str, Cut], names: dict[str, str]
) -> list[tuple[str, Line]]:
    """Every stored line of the project with the key a revised script matches it by.

    Lines imported before scripts carried keys get the key their cut, character
    and order give them, the same rule a script without ids follows.
    """
    lines = lines_of_project(session, project.studio_id, project.id)
    counts: dict[tuple[str, str], int] = {}
    keyed: list[tuple[str, Line]] = []
    for line in sorted(lines, key=lambda ln: (ln.cut_id, ln.position)):
        cut = cuts_by_id[line.cut_id]
        name = names[line.character_id]
        counts[(cut.id, name)] = counts.get((cut.id, name), 0) + 1
        key = line.source_key or derived_key(cut.number, name, counts[(cut.id, name)])
        keyed.append((key, line))
    keyed.sort(key=lambda item: (item[1].created_at, item[1].id))
    return keyed


def _store(
    session: Session,
    project: Project,
    parsed: list[ParsedCut],
    cuts: dict[str, Cut],
    characters: dict[str, Character],
    mode: ImportMode,
    warnings: list[ScriptWarning],
) -> ImportResult:
    studio_id = project.studio_id
    by_key: dict[str, Line] = {}
    by_id: dict[str, Line] = {}
    key_of: dict[str, str] = {}
    if mode is ImportMode.UPDATE:
        names = {c.id: c.name for c in characters.values()}
        for key, line in _stored_keys(session, project, {c.id: c for c in cuts.values()}, names):
            by_key.setdefault(key, line)
            by_id[line.id] = line
            key_of[line.id] = key
    timeline_end = max((c.end_ms for c in cuts.values()), default=0)
    created_characters: list[str] = []
    cut_ids: list[str] = []
    created: list[str] = []
    updated: list[LineUpdate] = []
    unchanged = 0
    matched: set[str] = set()
    now = utcnow()
    for parsed_cut in parsed:
        assert parsed_cut.number is not None
        starts = [ln.start_ms for ln in parsed_cut.lines if ln.start_ms is not None]
        ends = [ln.end_ms for ln in parsed_cut.lines if ln.end_ms is not None]
        start = (
            parsed_cut.start_ms if parsed_cut.start_ms is not None else min(starts, default=None)
        )
        end = parsed_cut.end_ms if parsed_cut.end_ms is not None else max(ends, default=None)
        cut = cuts.get(parsed_cut.number)
        if cut is None:
            first = timeline_end if start is None else start
            cut = Cut(
                id=new_id("cut"),
                studio_id=studio_id,
                project_id=project.id,
                number=parsed_cut.number,
                start_ms=first,
                end_ms=max(first if end is None else end, first),
                fps_num=project.fps_num,
                fps_den=project.fps_den,
            )
            session.add(cut)
            cuts[cut.number] = cut
        elif mode is ImportMode.UPDATE and start is not None:
            cut.start_ms, cut.end_ms = start, max(start if end is None else end, start)
        timeline_end = max(timeline_end, cut.end_ms)
        if cut.id not in cut_ids:
            cut_ids.append(cut.id)
        for parsed_line in parsed_cut.lines:
            character = characters.get(parsed_line.character)
            if character is None:
                character = Character(
                    id=new_id("chr"),
                    studio_id=studio_id,
                    project_id=project.id,
                    name=parsed_line.character,
                )
                session.add(character)
                characters[character.name] = character
                created_characters.append(character.name)
            stored = by_key.get(parsed_line.source_key) or by_id.get(parsed_line.source_key)
            if stored is not None and stored.id not in matched:
                matched.add(stored.id)
                changes = _revise(stored, parsed_line, cut, character)
                if changes:
                    stored.updated_at = now
                    updated.append(LineUpdate(stored.id, parsed_line.source_key, changes))
                else:
                    unchanged += 1
                continue
            line = Line(
                id=new_id("line"),
                studio_id=studio_id,
                project_id=project.id,
                cut_id=cut.id,
                character_id=character.id,
                position=0,
                text=parsed_line.text,
                language=parsed_line.language or project.language,
                start_ms=parsed_line.start_ms,
                end_ms=parsed_line.end_ms,
                target_ms=parsed_line.target_ms,
                source_key=parsed_line.source_key,
            )
            session.add(line)
            matched.add(line.id)
            created.append(line.id)
        session.flush()
    _renumber(session, studio_id, parsed, cuts, matched, mode)
    names = {c.id: c.name for c in characters.values()}
    numbers = {c.id: c.number for c in cuts.values()}
    missing = [
        MissingLine(
            line.id, key_of[line.id], numbers[line.cut_id], names[line.character_id], line.text
        )
        for line in by_id.values()
        if line.id not in matched
    ]
    return ImportResult(
        mode, cut_ids, created, updated, unchanged, missing, created_characters, warnings
    )


def _revise(line: Line, parsed: ParsedLine, cut: Cut, character: Character) -> list[str]:
    """Bring a stored line up to the revised script; the names of what changed.

    Its takes are left as they are: a take whose text differs from the line's new
    text is stale (`voicehub.production.takes.is_stale`). A value the script leaves
    out (a language, a target length, a window) is kept.
    """
    changes: list[str] = []
    if line.text != parsed.text:
        line.text = parsed.text
        changes.append("text")
    if line.character_id != character.id:
        line.character_id = character.id
        changes.append("character")
    if line.cut_id != cut.id:
        line.cut_id = cut.id
        changes.append("cut")
    window = (parsed.start_ms, parsed.end_ms)
    if window != (None, None) and window != (line.start_ms, line.end_ms):
        line.start_ms, line.end_ms = window
        changes.append("timing")
    if parsed.target_ms is not None and parsed.target_ms != line.target_ms:
        line.target_ms = parsed.target_ms
        changes.append("target")
    if parsed.language is not None and parsed.language != line.language:
        line.language = parsed.language
        changes.append("language")
    if line.source_key != parsed.source_key:
        line.source_key = parsed.source_key
    return changes


def _renumber(
    session: Session,
    studio_id: str,
    parsed: list[ParsedCut],
    cuts: dict[str, Cut],
    matched: set[str],
    mode: ImportMode,
) -> None:
    """Positions in each cut the script touched: its lines in script order, and the cut's
    other lines (missing from a revised script, or there before an appended one) kept in
    their order, after them or before them."""
    for parsed_cut in parsed:
        assert parsed_cut.number is not None
        rank = {line.source_key: index for index, line in enumerate(parsed_cut.lines)}
        lines = lines_of_cut(session, studio_id, cuts[parsed_cut.number].id)
        ours = sorted(
            (ln for ln in lines if ln.id in matched),
            key=lambda ln: rank.get(ln.source_key or "", 0),
        )
        others = [ln for ln in lines if ln.id not in matched]
        ordered = others + ours if mode is ImportMode.APPEND else ours + others
        for position, line in enumerate(ordered):
            line.position = position
    session.flush()


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
