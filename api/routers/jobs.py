"""Batch synthesis jobs: 202 Accepted, then poll for progress."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from api.deps import IdempotencyDep, RuntimeDep, SessionDep, StudioRead, StudioSynthesize
from api.schemas import JobErrorOut, JobIn, JobOut
from voicehub.synthesis.jobs import create_synthesis_job
from voicehub.synthesis.service import per_call_settings
from voicehub.synthesis.tables import SynthesisJob
from voicehub.tenancy.scope import get_owned

router = APIRouter(tags=["synthesis-jobs"])


def job_out(job: SynthesisJob) -> JobOut:
    return JobOut(
        id=job.id,
        project_id=job.project_id,
        status=job.status.value,
        progress=round(job.progress, 4),
        lines_total=job.total,
        lines_done=job.lines_done,
        lines_failed=job.lines_failed,
        errors=[JobErrorOut(**error) for error in job.errors],
        speed=job.speed,
        sentence_pause=job.sentence_pause,
        seed=job.seed,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


@router.post(
    "/v1/projects/{project_id}/synthesis-jobs",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Synthesize a whole project (or some lines) through the queue",
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
    """Every line is rendered with the body's `speed`, `sentence_pause` and `seed`."""
    idem.replay_or_continue(session, caller.principal)
    body = body or JobIn()
    job = create_synthesis_job(
        session,
        runtime.queue,
        caller.studio_id,
        project_id,
        line_ids=body.line_ids,
        settings=per_call_settings(body.speed, body.sentence_pause, body.seed),
    )
    out = job_out(job)
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
    return job_out(get_owned(session, SynthesisJob, caller.studio_id, job_id))
