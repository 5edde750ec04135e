"""Exports per cut (lip-sync formats, subtitles, review sheet, zip) and per project.

Every export uses each line's approved take; `takes=latest` makes a draft
from the latest takes instead, marked `X-VoiceHub-Draft: true` (and `"draft":
true` in JSON, a note in WebVTT and ASS). Warnings (stale takes, lines left
out of a draft) come in `X-VoiceHub-Warnings` and, where the format has room,
in the file.

A project's zip can also be built through the queue (`POST
/v1/projects/{id}/exports`): an export job with progress, its events as a
stream, and the finished zip to download as often as needed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import IO, Annotated, Any, Literal, get_args

from fastapi import APIRouter, Depends, Header, Query, Response, status
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from api.deps import IdempotencyDep, RuntimeDep, SessionDep, StudioExport, StudioRead
from api.routers.jobs import Snapshot, progress_stream
from api.schemas import (
    ExportJobErrorOut,
    ExportJobIn,
    ExportJobOut,
    ExportJobProgressOut,
    ExportWarningOut,
    ShapeSetName,
)
from voicehub.errors import ExportFailed, ExportNotReady
from voicehub.lipsync.shapes import SHAPE_SETS
from voicehub.production.export_jobs import FINISHED, create_export_job
from voicehub.production.exports import (
    CUT_FORMATS,
    PROJECT_FORMATS,
    ExportFile,
    ExportOptions,
    ExportWarning,
    cut_bundle,
    cut_export,
    cut_file,
    cut_json,
    project_bundle,
    project_export,
    project_file,
    take_audio,
)
from voicehub.production.tables import ExportJob, ExportStatus
from voicehub.runtime import Runtime
from voicehub.tenancy.scope import get_owned

router = APIRouter(tags=["exports"])

assert set(get_args(ShapeSetName)) == set(SHAPE_SETS), "every shape set can be asked for"

TakesQuery = Annotated[
    Literal["approved", "latest"],
    Query(
        description="`approved` (default): each line's approved take. `latest`: a draft from"
        " each line's latest take, marked as a draft."
    ),
]
FpsQuery = Annotated[
    str | None,
    Query(description="24, 12, 8 or a project rate (23.976, 25, 29.97, 30); default the cut's"),
]
MinHoldQuery = Annotated[int, Query(description="Shortest mouth shape, in frames (1 to 12)")]
BridgeQuery = Annotated[
    int,
    Query(
        description="Pauses shorter than this (ms, 0 to 1000) between speech keep the shape"
        " before them; 0 turns bridging off",
    ),
]


def _options(
    takes: TakesQuery = "approved",
    fps: FpsQuery = None,
    min_hold: MinHoldQuery = 1,
    bridge_ms: BridgeQuery = 120,
) -> ExportOptions:
    return ExportOptions(takes=takes, fps=fps, min_hold_frames=min_hold, bridge_ms=bridge_ms)


def _options_with_shapes(
    takes: TakesQuery = "approved",
    fps: FpsQuery = None,
    shape_set: Annotated[ShapeSetName, Query(description="The mouth-shape set")] = "rhubarb",
    min_hold: MinHoldQuery = 1,
    bridge_ms: BridgeQuery = 120,
) -> ExportOptions:
    return ExportOptions(
        takes=takes,
        fps=fps,
        shape_set=shape_set,
        min_hold_frames=min_hold,
        bridge_ms=bridge_ms,
    )


# Formats whose shape set is fixed by the format take no `shape_set`.
FixedShapes = Annotated[ExportOptions, Depends(_options)]
Options = Annotated[ExportOptions, Depends(_options_with_shapes)]


def _warnings_header(warnings: Sequence[ExportWarning]) -> str:
    """`stale_take=line_a,line_b; missing_take=line_c`: at most 10 ids per code."""
    by_code: dict[str, list[str]] = {}
    for warning in warnings:
        by_code.setdefault(warning.code, []).append(warning.line_id)
    parts = []
    for code, line_ids in by_code.items():
        more = f",+{len(line_ids) - 10} more" if len(line_ids) > 10 else ""
        parts.append(f"{code}={','.join(line_ids[:10])}{more}")
    return "; ".join(parts)


def _headers(
    draft: bool, warnings: Sequence[ExportWarning], filename: str | None = None
) -> dict[str, str]:
    headers = {"X-VoiceHub-Draft": "true" if draft else "false"}
    if warnings:
        headers["X-VoiceHub-Warnings"] = _warnings_header(warnings)
    if filename is not None:
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return headers


def _download_name(name: str, draft: bool) -> str:
    """`C-001.srt`, or `C-001.draft.srt` for a draft."""
    if not draft:
        return name
    stem, dot, rest = name.partition(".")
    return f"{stem}.draft{dot}{rest}"


def _file_response(
    exported: ExportFile, draft: bool, warnings: Sequence[ExportWarning]
) -> Response:
    return Response(
        exported.data,
        media_type=exported.media_type,
        headers=_headers(draft, warnings, _download_name(exported.name, draft)),
    )


def _stream(file: IO[bytes], size: int, name: str, headers: dict[str, str]) -> StreamingResponse:
    def chunks() -> Iterator[bytes]:
        try:
            while block := file.read(1024 * 1024):
                yield block
        finally:
            file.close()

    return StreamingResponse(
        chunks(),
        media_type="application/zip",
        headers={
            **headers,
            "Content-Length": str(size),
            "Content-Disposition": f'attachment; filename="{name}"',
        },
    )


def _media(media_type: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {media_type.split(";")[0]: {}}}}


@router.get("/v1/cuts/{cut_id}/exports/json", summary="Export a cut's timing as JSON")
def export_cut_json(
    cut_id: str,
    session: SessionDep,
    caller: StudioExport,
    options: Options,
    response: Response,
) -> dict[str, Any]:
    """Phonemes, words, mouth shapes and frames of every line, with take and consent ids."""
    export = cut_export(session, caller.studio_id, cut_id, options)
    response.headers.update(_headers(export.draft, export.warnings))
    return cut_json(export)


def _fixed_shape_route(file_format: str, summary: str, doc: str) -> None:
    def handler(
        cut_id: str, session: SessionDep, caller: StudioExport, options: FixedShapes
    ) -> Response:
        export = cut_export(session, caller.studio_id, cut_id, options)
        return _file_response(cut_file(export, file_format), export.draft, export.warnings)

    handler.__name__ = f"export_cut_{file_format.replace('-', '_').replace('.', '_')}"
    handler.__doc__ = doc
    router.add_api_route(
        f"/v1/cuts/{{cut_id}}/exports/{file_format}",
        handler,
        methods=["GET"],
        summary=summary,
        response_class=Response,
        responses=_media(CUT_FORMATS[file_format][1]),
    )


_fixed_shape_route(
    "rhubarb",
    "Export a cut's mouth cues as Rhubarb TSV",
    "`seconds<TAB>shape` per cue (shapes A–H, X), frame-snapped, ending with X.",
)
_fixed_shape_route(
    "rhubarb-json",
    "Export a cut's mouth cues as Rhubarb JSON",
    "Rhubarb Lip Sync's JSON: `metadata` and `mouthCues` (shapes A–H, X).",
)
_fixed_shape_route(
    "moho",
    "Export a cut's mouth track as Moho switch data",
    "`MohoSwitch1`, then `<frame> <shape>` per cue, frames from 1, Preston Blair shapes;"
    " Moho and OpenToonz read it.",
)
_fixed_shape_route(
    "srt",
    "Export a cut's lines as SRT subtitles",
    "One `SPEAKER: text` subtitle per take, on the cut's clock, in milliseconds rounded up.",
)
_fixed_shape_route(
    "vtt",
    "Export a cut's lines as WebVTT subtitles",
    "One `<v Speaker>` cue per take (identified by its line id), on the cut's clock.",
)
_fixed_shape_route(
    "ass",
    "Export a cut's lines as ASS subtitles",
    "One Dialogue per take with the speaker in the Name field and a style per character.",
)


@router.get(
    "/v1/cuts/{cut_id}/exports/xdts",
    summary="Export a cut as an XDTS timesheet",
    response_class=Response,
    responses=_media(CUT_FORMATS["xdts"][1]),
)
def export_cut_xdts(
    cut_id: str,
    session: SessionDep,
    caller: StudioExport,
    options: Options,
    scene: Annotated[
        str, Query(description="The scene number in the sheet's header, 1-4 digits")
    ] = "1",
) -> Response:
    """The mouth track (drawing numbers of `shape_set`) in CELL and the lines in DIALOG."""
    export = cut_export(session, caller.studio_id, cut_id, options)
    return _file_response(cut_file(export, "xdts", scene=scene), export.draft, export.warnings)


@router.get(
    "/v1/cuts/{cut_id}/exports/review.png",
    summary="Export a cut's review sheet",
    response_class=Response,
    responses=_media("image/png"),
)
def export_cut_review(
    cut_id: str, session: SessionDep, caller: StudioExport, runtime: RuntimeDep, options: Options
) -> Response:
    """Waveforms, phonemes and the mouth strip of the cut on its frame grid, as a PNG."""
    export = cut_export(session, caller.studio_id, cut_id, options)
    audio = take_audio(export, runtime.storage)
    return _file_response(cut_file(export, "review.png", audio), export.draft, export.warnings)


@router.get(
    "/v1/cuts/{cut_id}/exports/zip",
    summary="Export everything for a cut as a zip",
    response_class=StreamingResponse,
    responses=_media("application/zip"),
)
def export_cut_zip(
    cut_id: str, session: SessionDep, caller: StudioExport, runtime: RuntimeDep, options: Options
) -> StreamingResponse:
    """Every cut format, the takes' WAVs under `takes/`, and `manifest.json`."""
    export = cut_export(session, caller.studio_id, cut_id, options)
    file, size = cut_bundle(session, export, runtime.storage)
    name = _download_name(f"{export.info.number}.zip", export.draft)
    return _stream(file, size, name, _headers(export.draft, export.warnings))


def _project_route(file_format: str, summary: str, doc: str) -> None:
    def handler(
        project_id: str, session: SessionDep, caller: StudioExport, options: Options
    ) -> Response:
        export = project_export(session, caller.studio_id, project_id, options)
        return _file_response(project_file(export, file_format), export.draft, export.warnings)

    handler.__name__ = f"export_project_{file_format}"
    handler.__doc__ = doc
    router.add_api_route(
        f"/v1/projects/{{project_id}}/exports/{file_format}",
        handler,
        methods=["GET"],
        summary=summary,
        response_class=Response,
        responses=_media(PROJECT_FORMATS[file_format][1]),
    )


_project_route(
    "srt",
    "Export a project's lines as SRT subtitles",
    "Every take where it plays on the project timeline, as `SPEAKER: text`.",
)
_project_route(
    "vtt",
    "Export a project's lines as WebVTT subtitles",
    "Every take where it plays on the project timeline, with `<v Speaker>`.",
)
_project_route(
    "ass",
    "Export a project's lines as ASS subtitles",
    "Every take on the project timeline; the speaker in the Name field, a style per character.",
)
_project_route(
    "otio",
    "Export a project as an OpenTimelineIO timeline",
    "An audio track per character (another lane where a character's takes overlap), a clip"
    " per take referring to `takes/<take_id>.wav`, and the mouth shapes as markers.",
)


@router.get(
    "/v1/projects/{project_id}/exports/zip",
    summary="Export everything for a project as a zip",
    response_class=StreamingResponse,
    responses=_media("application/zip"),
)
def export_project_zip(
    project_id: str,
    session: SessionDep,
    caller: StudioExport,
    runtime: RuntimeDep,
    options: Options,
    review_sheets: Annotated[
        bool, Query(description="Draw each cut's review PNG; false leaves them out (faster)")
    ] = True,
) -> StreamingResponse:
    """A folder per cut number with every cut format, the project's subtitles and timeline,
    the takes' WAVs under `takes/`, and `manifest.json`.

    Built while the request waits: for more than a few cuts, use an export job
    (`POST /v1/projects/{project_id}/exports`) instead."""
    export = project_export(session, caller.studio_id, project_id, options)
    file, size = project_bundle(session, export, runtime.storage, review_sheets=review_sheets)
    name = _download_name(f"{export.project.id}.zip", export.draft)
    return _stream(file, size, name, _headers(export.draft, export.warnings))


# --- export jobs -----------------------------------------------------------------------


def _job_draft(job: ExportJob) -> bool:
    return bool(job.options.get("takes") == "latest")


def export_job_out(job: ExportJob) -> ExportJobOut:
    done = job.status == ExportStatus.SUCCEEDED
    return ExportJobOut(
        id=job.id,
        project_id=job.project_id,
        status=job.status.value,
        progress=round(job.progress, 4),
        percent=round(job.progress * 100, 1),
        files_total=job.files_total,
        files_done=job.files_done,
        options=dict(job.options),
        draft=_job_draft(job),
        warnings=[ExportWarningOut(**warning) for warning in job.warnings],
        error=None
        if job.error_code is None
        else ExportJobErrorOut(code=job.error_code, detail=job.error_detail or ""),
        size=job.size,
        sha256=job.sha256,
        download_url=f"/v1/export-jobs/{job.id}/download" if done else None,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


def export_job_progress(job: ExportJob) -> ExportJobProgressOut:
    return ExportJobProgressOut(
        id=job.id,
        status=job.status.value,
        progress=round(job.progress, 4),
        percent=round(job.progress * 100, 1),
        files_total=job.files_total,
        files_done=job.files_done,
    )


@router.post(
    "/v1/projects/{project_id}/exports",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Export everything for a project as a zip, built through the queue",
)
def create_export(
    project_id: str,
    session: SessionDep,
    caller: StudioExport,
    runtime: RuntimeDep,
    idem: IdempotencyDep,
    response: Response,
    body: ExportJobIn | None = None,
) -> ExportJobOut:
    """The same zip as `GET /v1/projects/{project_id}/exports/zip`, built by the queue.

    Checked now (approved takes, options), so `no_approved_take`, `no_takes` and
    bad options come back at once; then poll the job at its `Location`, follow its
    `/events`, and fetch `download_url` once it has succeeded."""
    idem.replay_or_continue(session, caller.principal)
    body = body or ExportJobIn()
    options = ExportOptions(
        takes=body.takes,
        fps=body.fps,
        shape_set=body.shape_set,
        min_hold_frames=body.min_hold,
        bridge_ms=body.bridge_ms,
    )
    job = create_export_job(
        session,
        runtime.queue,
        caller.studio_id,
        project_id,
        options,
        review_sheets=body.review_sheets,
    )
    out = export_job_out(job)
    response.headers["Location"] = f"/v1/export-jobs/{job.id}"
    idem.remember(
        session,
        caller.principal,
        202,
        out.model_dump(mode="json"),
        {"Location": response.headers["Location"]},
    )
    return out


@router.get("/v1/export-jobs/{job_id}", summary="Get an export job's status and progress")
def get_export_job(job_id: str, session: SessionDep, caller: StudioRead) -> ExportJobOut:
    return export_job_out(get_owned(session, ExportJob, caller.studio_id, job_id))


def _read_export_job(runtime: Runtime, studio_id: str, job_id: str) -> ExportJob:
    """The job as it is now, read in a session of its own that is closed before returning."""
    with runtime.sessions() as session:
        return get_owned(session, ExportJob, studio_id, job_id)


@router.get(
    "/v1/export-jobs/{job_id}/events",
    summary="Follow an export job's progress as server-sent events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
def stream_export_job_events(
    job_id: str,
    session: SessionDep,
    caller: StudioRead,
    runtime: RuntimeDep,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """A `progress` event now and whenever `files_done` changes, then one `done` event with
    the finished job (succeeded or failed), and the stream closes.

    Each `progress` event's id is the number of files written, so a client that
    reconnects with `Last-Event-ID` is not sent the state it already has again.
    """
    get_owned(session, ExportJob, caller.studio_id, job_id)
    studio_id = caller.studio_id

    def read() -> Snapshot:
        job = _read_export_job(runtime, studio_id, job_id)
        return Snapshot(
            str(job.files_done),
            export_job_progress(job).model_dump_json(),
            job.status in FINISHED,
        )

    def final() -> str:
        return export_job_out(_read_export_job(runtime, studio_id, job_id)).model_dump_json()

    return progress_stream(read, final, last_event_id)


def _finished_export(session: Session, studio_id: str, job_id: str) -> ExportJob:
    job = get_owned(session, ExportJob, studio_id, job_id)
    if job.status == ExportStatus.FAILED:
        raise ExportFailed(
            f"Export job {job.id} failed ({job.error_code}): {job.error_detail}"
            " Start a new export with POST /v1/projects/{project_id}/exports.",
            error_code=job.error_code,
        )
    if job.status != ExportStatus.SUCCEEDED or job.result_key is None:
        raise ExportNotReady(
            f"Export job {job.id} is {job.status.value} ({job.files_done} of"
            f" {job.files_total} files); download it once its status is succeeded.",
            job_status=job.status.value,
        )
    return job


@router.get(
    "/v1/export-jobs/{job_id}/download",
    summary="Download a finished export job's zip",
    response_class=StreamingResponse,
    responses=_media("application/zip"),
)
def download_export(
    job_id: str, session: SessionDep, caller: StudioExport, runtime: RuntimeDep
) -> StreamingResponse:
    """The zip the job built: the same bytes every time, their SHA-256 in
    `X-VoiceHub-SHA256` (and the ETag). 409 `export_not_ready` until the job has succeeded."""
    job = _finished_export(session, caller.studio_id, job_id)
    assert job.result_key is not None and job.sha256 is not None
    draft = _job_draft(job)
    warnings = [ExportWarning(**warning) for warning in job.warnings]
    headers = {
        **_headers(draft, warnings),
        "X-VoiceHub-SHA256": job.sha256,
        "ETag": f'"{job.sha256}"',
    }
    name = _download_name(f"{job.project_id}.zip", draft)
    return _stream(
        runtime.storage.open(job.result_key), runtime.storage.size(job.result_key), name, headers
    )
