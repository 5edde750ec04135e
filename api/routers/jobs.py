"""Batch synthesis jobs: 202 Accepted, then poll for progress or follow it as server-sent events."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, NamedTuple

import anyio
from fastapi import APIRouter, Header, Response, status
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from api.deps import IdempotencyDep, RuntimeDep, SessionDep, StudioRead, StudioSynthesize
from api.schemas import FitIn, JobErrorOut, JobIn, JobOut, JobProgressOut, JobWarningOut
from voicehub.runtime import Runtime
from voicehub.synthesis.jobs import create_synthesis_job, job_fit, job_fit_warnings
from voicehub.synthesis.service import per_call_settings
from voicehub.synthesis.tables import FINISHED, SynthesisJob
from voicehub.tenancy.scope import get_owned

router = APIRouter(tags=["synthesis-jobs"])

# How often the event stream reads the job row, and how long it may stay silent.
POLL_SECONDS = 0.25
HEARTBEAT_SECONDS = 15.0


def job_out(session: Session, job: SynthesisJob) -> JobOut:
    fit = job_fit(job)
    return JobOut(
        id=job.id,
        project_id=job.project_id,
        status=job.status.value,
        progress=round(job.progress, 4),
        percent=round(job.progress * 100, 1),
        lines_total=job.total,
        lines_done=job.lines_done,
        lines_failed=job.lines_failed,
        errors=[JobErrorOut(**error) for error in job.errors],
        warnings=[JobWarningOut(**warning) for warning in job_fit_warnings(session, job)],
        speed=job.speed,
        sentence_pause=job.sentence_pause,
        seed=job.seed,
        fit=None
        if fit is None
        else FitIn(mode=fit.mode.value, min_ratio=fit.min_ratio, max_ratio=fit.max_ratio),
        approve=job.approve,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


def job_progress(job: SynthesisJob) -> JobProgressOut:
    return JobProgressOut(
        id=job.id,
        status=job.status.value,
        progress=round(job.progress, 4),
        percent=round(job.progress * 100, 1),
        lines_total=job.total,
        lines_done=job.lines_done,
        lines_failed=job.lines_failed,
    )


@router.post(
    "/v1/projects/{project_id}/synthesis-jobs",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Synthesize a whole project, some cuts or some lines through the queue",
)
def create_job(
    project_id: str,
    session: SessionDep,
    caller: StudioSynthesize,
    runtime: RuntimeDep,
    idem: IdempotencyDep,
    response: Response,
    body: JobIn | None = None,
) -> JobOut:
    """Every line is rendered with the body's `speed`, `sentence_pause` and `seed`, and fitted
    with its `fit`; `approve` approves each new take whose line has no approved take yet."""
    idem.replay_or_continue(session, caller.principal)
    body = body or JobIn()
    job = create_synthesis_job(
        session,
        runtime.queue,
        caller.studio_id,
        project_id,
        line_ids=body.line_ids,
        cut_ids=body.cut_ids,
        settings=per_call_settings(body.speed, body.sentence_pause, body.seed),
        fit=None if body.fit is None else body.fit.options(),
        approve=body.approve,
        max_lines=runtime.settings.max_batch_lines,
    )
    out = job_out(session, job)
    response.headers["Location"] = f"/v1/synthesis-jobs/{job.id}"
    idem.remember(
        session,
        caller.principal,
        202,
        out.model_dump(mode="json"),
        {"Location": response.headers["Location"]},
    )
    return out


@router.get("/v1/synthesis-jobs/{job_id}", summary="Get a job's status and progress")
def get_job(job_id: str, session: SessionDep, caller: StudioRead) -> JobOut:
    return job_out(session, get_owned(session, SynthesisJob, caller.studio_id, job_id))


@router.get(
    "/v1/synthesis-jobs/{job_id}/events",
    summary="Follow a job's progress as server-sent events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
def stream_job_events(
    job_id: str,
    session: SessionDep,
    caller: StudioRead,
    runtime: RuntimeDep,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """A `progress` event now and whenever `lines_done` or `lines_failed` changes, then one
    `done` event with the finished job, and the stream closes.

    Each `progress` event's id is the number of lines processed, so a client that
    reconnects with `Last-Event-ID` is not sent the state it already has again.
    """
    get_owned(session, SynthesisJob, caller.studio_id, job_id)
    studio_id = caller.studio_id

    def read() -> Snapshot:
        job = _read_job(runtime, studio_id, job_id)
        return Snapshot(
            str(job.lines_done + job.lines_failed),
            job_progress(job).model_dump_json(),
            job.status in FINISHED,
        )

    def final() -> str:
        return _final_job(runtime, studio_id, job_id).model_dump_json()

    return progress_stream(read, final, last_event_id)


def _read_job(runtime: Runtime, studio_id: str, job_id: str) -> SynthesisJob:
    """The job as it is now, read in a session of its own that is closed before returning."""
    with runtime.sessions() as session:
        return get_owned(session, SynthesisJob, studio_id, job_id)


def _final_job(runtime: Runtime, studio_id: str, job_id: str) -> JobOut:
    """The finished job as GET shows it, read in a session of its own."""
    with runtime.sessions() as session:
        return job_out(session, get_owned(session, SynthesisJob, studio_id, job_id))


class Snapshot(NamedTuple):
    """A job as its event stream sees it: the progress event's id (it changes when the
    progress does), the event's JSON, and whether the job has finished."""

    event_id: str
    data: str
    finished: bool


def progress_stream(
    read: Callable[[], Snapshot], final: Callable[[], str], last_event_id: str | None
) -> StreamingResponse:
    """Server-sent events for a queued job: a `progress` event now and whenever the job's
    progress changes, then one `done` event with `final()`'s JSON, and the stream closes.

    `read` and `final` run in worker threads, each in a session of its own, so no
    connection is held while the stream sleeps. A client that reconnects with
    `Last-Event-ID` is not sent the state it already has again.
    """
    return StreamingResponse(
        _events(read, final, last_event_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _event(name: str, event_id: str, data: str) -> bytes:
    return f"event: {name}\nid: {event_id}\ndata: {data}\n\n".encode()


async def _events(
    read: Callable[[], Snapshot], final: Callable[[], str], last_event_id: str | None
) -> AsyncIterator[bytes]:
    yield b"retry: 1000\n\n"
    sent = last_event_id
    quiet_since = time.monotonic()
    while True:
        snapshot = await anyio.to_thread.run_sync(read)
        if snapshot.event_id != sent:
            yield _event("progress", snapshot.event_id, snapshot.data)
            sent = snapshot.event_id
            quiet_since = time.monotonic()
        if snapshot.finished:
            yield _event("done", "done", await anyio.to_thread.run_sync(final))
            return
        if time.monotonic() - quiet_since >= HEARTBEAT_SECONDS:
            yield b": heartbeat\n\n"
            quiet_since = time.monotonic()
        await anyio.sleep(POLL_SECONDS)
