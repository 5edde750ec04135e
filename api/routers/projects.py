"""Projects, their scripts, casting and cuts."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response, status

from api.deps import IdempotencyDep, RawBody, RuntimeDep, SessionDep, StudioRead, StudioSynthesize
from api.schemas import (
    ApprovalOut,
    CastIn,
    CharacterOut,
    CutOut,
    LineOut,
    LineUpdateOut,
    MissingLineOut,
    Page,
    ProjectIn,
    ProjectOut,
    ScriptImportOut,
    ScriptWarningOut,
)
from voicehub.errors import InvalidInput
from voicehub.pagination import paginate
from voicehub.production import service
from voicehub.production.tables import Character, Cut, Line, Project, Take
from voicehub.production.takes import approved_takes, is_stale
from voicehub.tenancy.scope import get_owned, owned

router = APIRouter(tags=["projects"])


def project_out(project: Project) -> ProjectOut:
    return ProjectOut(
        id=project.id,
        name=project.name,
        language=project.language,
        use=project.use,
        territories=project.territories,
        frame_rate=service.frame_rate_number(project.frame_rate),
        created_at=project.created_at,
    )


@router.post("/v1/projects", status_code=status.HTTP_201_CREATED, summary="Create a project")
def create_project(
    body: ProjectIn,
    session: SessionDep,
    caller: StudioSynthesize,
    idem: IdempotencyDep,
    response: Response,
) -> ProjectOut:
    idem.replay_or_continue(session, caller.principal)
    project = service.create_project(
        session,
        caller.studio_id,
        name=body.name,
        language=body.language,
        use=body.use,
        frame_rate=service.frame_rate_from_number(body.frame_rate),
        territories=body.territories,
    )
    out = project_out(project)
    response.headers["Location"] = f"/v1/projects/{project.id}"
    idem.remember(
        session,
        caller.principal,
        201,
        out.model_dump(mode="json"),
        {"Location": response.headers["Location"]},
    )
    return out


@router.get("/v1/projects", summary="List projects")
def list_projects(
    session: SessionDep,
    caller: StudioRead,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    starting_after: str | None = None,
) -> Page[ProjectOut]:
    rows, has_more = paginate(
        session,
        owned(Project, caller.studio_id),
        id_column=Project.id,
        order_column=Project.created_at,
        limit=limit,
        starting_after=starting_after,
    )
    return Page[ProjectOut](data=[project_out(p) for p in rows], has_more=has_more)


@router.get("/v1/projects/{project_id}", summary="Get a project")
def get_project(project_id: str, session: SessionDep, caller: StudioRead) -> ProjectOut:
    return project_out(get_owned(session, Project, caller.studio_id, project_id))


_SCRIPT_TYPES = {
    "application/json": "json",
    "application/x-subrip": "srt",
    "text/srt": "srt",
    "application/srt": "srt",
    "text/vtt": "vtt",
    "text/x-ass": "ass",
    "text/x-ssa": "ass",
    "application/x-ass": "ass",
    "application/x-ssa": "ass",
    "text/csv": "csv",
    "text/tab-separated-values": "csv",
}
_FORMAT_ALIASES = {"ssa": "ass", "webvtt": "vtt", "tsv": "csv"}

_EXAMPLE_SRT = "1\n00:00:01,000 --> 00:00:03,000\n[C-012] KEN: Hello there.\n"
_EXAMPLE_VTT = "WEBVTT\n\nken-1\n00:00:01.000 --> 00:00:03.000 align:start\n<v KEN>Hello there.\n"
_EXAMPLE_ASS = (
    "[Script Info]\nScriptType: v4.00+\n\n[Events]\n"
    "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
    "Dialogue: 0,0:00:01.00,0:00:03.00,Default,KEN,0,0,0,,{\\i1}Hello{\\i0} there.\n"
)
_EXAMPLE_CSV = "id,cut,character,text,start,end,duration\nk1,C-001,KEN,Hello there.,1.0,3.0,\n"


@router.post(
    "/v1/projects/{project_id}/script",
    status_code=status.HTTP_201_CREATED,
    summary="Import a script as cuts and lines, or re-import a revised one",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"type": "object"},
                    "example": {
                        "cuts": [
                            {
                                "number": "C-001",
                                "start": 0.0,
                                "end": 4.0,
                                "lines": [
                                    {
                                        "id": "ken-1",
                                        "character": "KEN",
                                        "text": "Hello there.",
                                        "start": 0.5,
                                        "end": 2.0,
                                    }
                                ],
                            }
                        ]
                    },
                },
                "application/x-subrip": {"schema": {"type": "string"}, "example": _EXAMPLE_SRT},
                "text/vtt": {"schema": {"type": "string"}, "example": _EXAMPLE_VTT},
                "text/x-ass": {"schema": {"type": "string"}, "example": _EXAMPLE_ASS},
                "text/csv": {"schema": {"type": "string"}, "example": _EXAMPLE_CSV},
            },
        }
    },
)
def import_script(
    project_id: str,
    request: Request,
    raw: RawBody,
    session: SessionDep,
    caller: StudioSynthesize,
    runtime: RuntimeDep,
    idem: IdempotencyDep,
    format: Annotated[
        str | None,
        Query(description="json, srt, vtt, ass (or ssa) or csv; defaults from Content-Type"),
    ] = None,
    mode: Annotated[
        Literal["update", "append"],
        Query(
            description="update: the script is the project's script, revised — lines are matched"
            " and updated, takes kept; append: every line is added as new"
        ),
    ] = "update",
    characters: Annotated[
        Literal["create", "existing"],
        Query(description="existing: refuse speakers the project does not have yet"),
    ] = "create",
    encoding: Annotated[
        str | None,
        Query(
            max_length=40,
            description="The text encoding (shift_jis, cp932, utf-16 …); default UTF-8, or the"
            " Content-Type charset",
        ),
    ] = None,
) -> ScriptImportOut:
    """SRT, WebVTT, ASS/SSA, CSV or JSON. Nothing is stored unless the whole script is valid.

    Importing into a project that has lines updates them: a line is matched by
    its source key, its text and timing are revised, its takes are kept (a
    take of an earlier text is stale), and lines the script no longer has are
    reported as `missing`, never deleted.
    """
    idem.replay_or_continue(session, caller.principal)
    content_type, _, parameters = request.headers.get("content-type", "").partition(";")
    script_format = format or _SCRIPT_TYPES.get(content_type.strip().lower())
    if script_format is None:
        raise InvalidInput(
            "Send the script as application/json, application/x-subrip, text/vtt, text/x-ass"
            " or text/csv, or pass ?format=.",
            fields=["format"],
        )
    charset = re.search(r"charset\s*=\s*\"?([^\";\s]+)", parameters, re.IGNORECASE)
    result = service.import_script(
        session,
        caller.studio_id,
        project_id,
        raw=raw,
        script_format=_FORMAT_ALIASES.get(script_format.lower(), script_format.lower()),
        max_bytes=runtime.settings.max_script_bytes,
        max_lines=runtime.settings.max_script_lines,
        max_line_chars=runtime.settings.max_line_chars,
        encoding=encoding or (charset[1] if charset else None),
        mode=service.ImportMode(mode),
        characters=service.CharacterPolicy(characters),
    )
    out = ScriptImportOut(
        project_id=project_id,
        mode=mode,
        cut_ids=result.cut_ids,
        lines_created=result.lines_created,
        lines_updated=len(result.updated),
        lines_unchanged=result.unchanged,
        lines_missing=len(result.missing),
        created=result.created,
        updated=[
            LineUpdateOut(id=u.line_id, source_key=u.source_key, changes=u.changes)
            for u in result.updated
        ],
        missing=[
            MissingLineOut(
                id=m.line_id,
                source_key=m.source_key,
                cut=m.cut_number,
                character=m.character,
                text=m.text,
            )
            for m in result.missing
        ],
        characters_created=result.characters_created,
        warnings=[ScriptWarningOut.model_validate(w.as_dict()) for w in result.warnings],
    )
    idem.remember(session, caller.principal, 201, out.model_dump(mode="json"))
    return out


@router.post("/v1/projects/{project_id}/cast", summary="Cast a character to a voice")
def cast_character(
    project_id: str,
    body: CastIn,
    session: SessionDep,
    caller: StudioSynthesize,
    runtime: RuntimeDep,
) -> CharacterOut:
    """When the actor's terms require approval of each project, this sends them the request;
    synthesis answers `approval_pending` until they approve."""
    character, approval = service.cast_character(
        session,
        runtime.consent_effects,
        caller.studio_id,
        project_id,
        character_name=body.character,
        voice_id=body.voice_id,
        use_description=body.use_description,
        expected_lines=body.expected_lines,
    )
    return CharacterOut(
        id=character.id,
        project_id=character.project_id,
        name=character.name,
        voice_id=character.voice_id,
        approval=None if approval is None else ApprovalOut.of(approval),
    )


@router.get("/v1/projects/{project_id}/characters", summary="List a project's characters")
def list_characters(project_id: str, session: SessionDep, caller: StudioRead) -> Page[CharacterOut]:
    project = get_owned(session, Project, caller.studio_id, project_id)
    rows = session.scalars(
        owned(Character, caller.studio_id)
        .where(Character.project_id == project.id)
        .order_by(Character.name)
    )
    return Page[CharacterOut](
        data=[
            CharacterOut(id=c.id, project_id=c.project_id, name=c.name, voice_id=c.voice_id)
            for c in rows
        ],
        has_more=False,
    )


def cut_out(session: SessionDep, cut: Cut) -> CutOut:
    lines = service.lines_of_cut(session, cut.studio_id, cut.id)
    names = service.character_names(session, cut.studio_id, cut.project_id)
    line_ids = [line.id for line in lines]
    latest = service.latest_takes(session, cut.studio_id, line_ids)
    approved = approved_takes(session, cut.studio_id, line_ids)
    fps = cut.frame_rate
    return CutOut(
        id=cut.id,
        project_id=cut.project_id,
        number=cut.number,
        start_seconds=cut.start_ms / 1000,
        end_seconds=cut.end_ms / 1000,
        frame_rate=service.frame_rate_number(fps),
        start_frame=round(cut.start_ms * fps / 1000),
        end_frame=round(cut.end_ms * fps / 1000),
        lines=[
            line_out(line, names[line.character_id], latest.get(line.id), approved.get(line.id))
            for line in lines
        ],
    )


def _seconds(ms: int | None) -> float | None:
    return None if ms is None else ms / 1000


def line_out(
    line: Line, character: str, latest_take: Take | None, approved_take: Take | None = None
) -> LineOut:
    return LineOut(
        id=line.id,
        cut_id=line.cut_id,
        character=character,
        text=line.text,
        language=line.language,
        start_seconds=_seconds(line.start_ms),
        end_seconds=_seconds(line.end_ms),
        target_seconds=_seconds(line.target_ms),
        source_key=line.source_key,
        updated_at=line.updated_at,
        latest_take_id=None if latest_take is None else latest_take.id,
        latest_take_stale=None if latest_take is None else is_stale(latest_take, line),
        approved_take_id=None if approved_take is None else approved_take.id,
        approved_take_stale=None if approved_take is None else is_stale(approved_take, line),
    )


@router.get("/v1/projects/{project_id}/cuts", summary="List a project's cuts with their lines")
def list_cuts(
    project_id: str,
    session: SessionDep,
    caller: StudioRead,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    starting_after: str | None = None,
) -> Page[CutOut]:
    project = get_owned(session, Project, caller.studio_id, project_id)
    rows, has_more = paginate(
        session,
        owned(Cut, caller.studio_id).where(Cut.project_id == project.id),
        id_column=Cut.id,
        order_column=Cut.number,
        limit=limit,
        starting_after=starting_after,
    )
    return Page[CutOut](data=[cut_out(session, cut) for cut in rows], has_more=has_more)


@router.get("/v1/cuts/{cut_id}", summary="Get a cut with its lines")
def get_cut(cut_id: str, session: SessionDep, caller: StudioRead) -> CutOut:
    return cut_out(session, get_owned(session, Cut, caller.studio_id, cut_id))
