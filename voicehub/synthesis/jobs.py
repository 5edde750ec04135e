"""Batch synthesis: a job row for progress, a queued task that renders line by line."""

from __future__ import annotations

import datetime as dt
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session

from models.engines import SynthesisSettings
from models.tables import Voice
from voicehub.db import transaction, utcnow
from voicehub.delivery.fitting import FitOptions, FitStatus
from voicehub.errors import BatchTooLarge, InvalidInput, VoiceHubError
from voicehub.ids import new_id
from voicehub.production.service import lines_of_project
from voicehub.production.tables import Character, Line, Project, Take
from voicehub.production.takes import approve_if_unapproved, check_cuts_of_project
from voicehub.queue import DEFAULT_LANE, JobQueue
from voicehub.runtime import Runtime
from voicehub.synthesis.service import (
    UsageKeyTaken,
    synthesize_line,
    usage_exists,
)
from voicehub.synthesis.tables import FINISHED, JobStatus, SynthesisJob
from voicehub.tenancy.scope import get_owned, owned

log = logging.getLogger(__name__)

MAX_BATCH_LINES = 5000


def create_synthesis_job(
    session: Session,
    queue: JobQueue,
    studio_id: str,
    project_id: str,
    *,
    line_ids: list[str] | None = None,
    cut_ids: list[str] | None = None,
    settings: SynthesisSettings | None = None,
    fit: FitOptions | None = None,
    approve: bool = False,
    max_lines: int = MAX_BATCH_LINES,
) -> SynthesisJob:
    """A queued job for the project's lines, the given lines or the lines of the given cuts.

    Lines run in timeline order (cuts in their order on the timeline, lines in
    script order). Every line is rendered with `settings` and fitted into its
    target window with `fit` (window fitting unless told otherwise, as for one
    take); with `approve`, each new take becomes its line's approved take when
    the line has none yet. The job is enqueued after commit. A job over `max_lines`
    lines is refused (`batch_too_large`).
    """
    settings = settings or SynthesisSettings()
    project = get_owned(session, Project, studio_id, project_id)
    if line_ids is not None and cut_ids is not None:
        raise InvalidInput("Give line_ids or cut_ids, not both.", fields=["line_ids", "cut_ids"])
    if cut_ids is not None:
        if not cut_ids:
            raise InvalidInput(
                "cut_ids is empty; omit it to synthesize every line.", fields=["cut_ids"]
            )
        check_cuts_of_project(session, studio_id, project.id, cut_ids)
        wanted = set(cut_ids)
        line_ids = [
            line.id
            for line in lines_of_project(session, studio_id, project.id)
            if line.cut_id in wanted
        ]
        if not line_ids:
            raise InvalidInput("These cuts have no lines to synthesize.", fields=["cut_ids"])
    elif line_ids is None:
        line_ids = [line.id for line in lines_of_project(session, studio_id, project.id)]
    else:
        # Checked before the lookup too, so an oversized list never reaches the database.
        _check_batch_size(line_ids, max_lines)
        found = set(
            session.scalars(
                owned(Line, studio_id)
                .where(Line.project_id == project.id, Line.id.in_(line_ids))
                .with_only_columns(Line.id)
            )
        )
        missing = [line_id for line_id in line_ids if line_id not in found]
        if missing:
            raise InvalidInput(
                f"Lines not in project {project.id}: {', '.join(missing[:10])}.",
                fields=["line_ids"],
            )
        line_ids = list(dict.fromkeys(line_ids))
        if not line_ids:
            raise InvalidInput(
                "line_ids is empty; omit it to synthesize every line.", fields=["line_ids"]
            )
    if not line_ids:
        raise InvalidInput("The project has no lines to synthesize; import a script first.")
    _check_batch_size(line_ids, max_lines)
    job = SynthesisJob(
        id=new_id("job"),
        studio_id=studio_id,
        project_id=project.id,
        status=JobStatus.QUEUED,
        line_ids=line_ids,
        lines_done=0,
        lines_failed=0,
        errors=[],
        speed=settings.speed,
        sentence_pause=settings.sentence_pause,
        seed=settings.seed,
        fit=(fit or FitOptions()).to_json(),
        approve=approve,
    )
    session.add(job)
    session.flush()
    queue.enqueue_synthesis_job(session, job.id, job_lane(session, queue, line_ids))
    return job


def _check_batch_size(line_ids: list[str], max_lines: int) -> None:
    if len(line_ids) > max_lines:
        raise BatchTooLarge(
            f"The job has {len(line_ids)} lines; one job takes at most {max_lines}."
            " Split it by cut_ids or line_ids.",
            limit=max_lines,
            fields=["line_ids"],
        )


def job_lane(session: Session, queue: JobQueue, line_ids: list[str]) -> str:
    """The queue lane of a job on these lines: that of the heaviest engine their voices use.

    Worked out from the cast when the job is queued and again when a lost job is queued
    again, so a job follows the routes the operator has configured now.
    """
    if not queue.routes:
        return DEFAULT_LANE
    engines = session.scalars(
        select(Voice.engine)
        .distinct()
        .join(Character, Character.voice_id == Voice.id)
        .join(Line, Line.character_id == Character.id)
        .where(Line.id.in_(line_ids))
    )
    return queue.lane_for_engines(engines)


def job_fit(job: SynthesisJob) -> FitOptions | None:
    """The fit options the job's lines are rendered with; None: not fitted (jobs made before fitting)."""
    return None if job.fit is None else FitOptions.from_json(job.fit)


def job_fit_warnings(session: Session, job: SynthesisJob) -> list[dict[str, str]]:
    """The job's takes that could not be fitted into their windows, in the job's line order.

    Such a take is still delivered (the studio decides: a new window, a shorter
    line, a retake at another speed), so the job reports it rather than failing it.
    """
    rows = session.execute(
        select(Take.line_id, Take.id, Take.fit).where(
            Take.studio_id == job.studio_id, Take.job_id == job.id
        )
    )
    found = {
        line_id: (take_id, fit)
        for line_id, take_id, fit in rows
        if fit is not None and fit.get("status") == FitStatus.CANNOT_FIT
    }
    return [
        {
            "line_id": line_id,
            "take_id": found[line_id][0],
            "code": "cannot_fit",
            "detail": str(found[line_id][1].get("detail", "")),
        }
        for line_id in job.line_ids
        if line_id in found
    ]


def job_usage_key(job_id: str, line_id: str) -> str:
    """The idempotency key of a job's line: a re-run never renders or charges it twice."""
    return f"job:{job_id}:line:{line_id}"


class _ReportedFailed(Exception):
    """Another run of the job reported the line failed first; this delivery rolls back."""


def _lock_job(session: Session, job_id: str) -> SynthesisJob:
    """The job row, write-locked until the transaction ends and read after the lock is held.

    A no-op UPDATE rather than SELECT … FOR UPDATE because it locks on every database
    (as `consent.gate.lock_consent` does): runs of one job in other threads or processes
    take turns on its counters and errors instead of overwriting each other's.
    """
    session.execute(
        update(SynthesisJob)
        .where(SynthesisJob.id == job_id)
        .values(lines_done=SynthesisJob.lines_done)
        .execution_options(synchronize_session=False)
    )
    job = session.get(SynthesisJob, job_id, populate_existing=True)
    assert job is not None
    return job


def _reported_failed(job: SynthesisJob, line_id: str) -> bool:
    return any(error["line_id"] == line_id for error in job.errors)


def run_synthesis_job(runtime: Runtime, job_id: str) -> None:
    """Render every line of the job, each in its own transaction with its progress.

    Safe to run again after a crash, and while another run of the same job is still
    going (a task delivered twice, a job queued again when its lease ran out): lines
    already delivered or already failed are skipped, and of two runs rendering the
    same line at once one commits it and the other skips it. Each line ends with at
    most one take and one charge, counted once in `lines_done` or `lines_failed`.
    """
    synthesizer = runtime.synthesizer
    with transaction(runtime.sessions) as session:
        if session.get(SynthesisJob, job_id) is None:
            log.warning("synthesis job %s not found", job_id)
            return
        job = _lock_job(session, job_id)
        if job.status in FINISHED:
            return
        job.status = JobStatus.RUNNING
        job.started_at = job.started_at or utcnow()
        job.heartbeat_at = utcnow()
        studio_id, line_ids = job.studio_id, list(job.line_ids)
        settings = SynthesisSettings(
            speed=job.speed, sentence_pause=job.sentence_pause, seed=job.seed
        )
        fit = FitOptions.from_json(job.fit)
        approve = job.approve
        failed_lines = {error["line_id"] for error in job.errors}

    def render(line_id: str) -> None:
        key = job_usage_key(job_id, line_id)
        if line_id in failed_lines:
            return
        try:
            with transaction(runtime.sessions) as session:
                if usage_exists(session, key):
                    return
                take, _ = synthesize_line(
                    session,
                    synthesizer,
                    studio_id=studio_id,
                    line_id=line_id,
                    settings=settings,
                    fit=fit,
                    usage_key=key,
                    job_id=job_id,
                )
                if approve:
                    approve_if_unapproved(session, runtime.queue, studio_id, take, job_id=job_id)
                job = _lock_job(session, job_id)
                if _reported_failed(job, line_id):
                    raise _ReportedFailed(line_id)
                job.lines_done += 1
                job.heartbeat_at = utcnow()
        except (UsageKeyTaken, _ReportedFailed):
            # Another run of this job got to the line first and counted it.
            return
        except VoiceHubError as error:
            with transaction(runtime.sessions) as session:
                job = _lock_job(session, job_id)
                if _reported_failed(job, line_id) or usage_exists(session, key):
                    return
                job.errors = [
                    *job.errors,
                    {"line_id": line_id, "code": error.code, "detail": error.detail},
                ]
                job.lines_failed += 1
                job.heartbeat_at = utcnow()

    # Several lines at once through the one loaded engine (VOICEHUB_SYNTHESIS_THREADS).
    with ThreadPoolExecutor(runtime.settings.synthesis_threads) as pool:
        for _ in pool.map(render, line_ids):
            pass

    with transaction(runtime.sessions) as session:
        job = _lock_job(session, job_id)
        if job.status in FINISHED:
            # Another run of the job ended it; every line was settled by then.
            return
        if job.lines_failed == 0:
            job.status = JobStatus.SUCCEEDED
        elif job.lines_done == 0:
            job.status = JobStatus.FAILED
        else:
            job.status = JobStatus.COMPLETED_WITH_ERRORS
        job.finished_at = utcnow()


# A job that lost its worker this many times is failed rather than queued again: it is
# most likely what kills its worker.
MAX_REQUEUES = 5


def _fail_lost_job(session: Session, job: SynthesisJob, now: dt.datetime) -> None:
    """Fail every line the job has not delivered with `worker_lost`; delivered ones stay."""
    delivered = {
        line_id for (line_id,) in session.execute(select(Take.line_id).where(Take.job_id == job.id))
    }
    failed = {error["line_id"] for error in job.errors}
    lost = [line for line in job.line_ids if line not in delivered and line not in failed]
    job.errors = [
        *job.errors,
        *(
            {
                "line_id": line_id,
                "code": "worker_lost",
                "detail": f"The job lost its worker {job.requeues} times and was stopped.",
            }
            for line_id in lost
        ),
    ]
    job.lines_failed += len(lost)
    job.status = JobStatus.FAILED if job.lines_done == 0 else JobStatus.COMPLETED_WITH_ERRORS
    job.finished_at = now
    log.error("synthesis job %s lost its worker %d times; stopped", job.id, job.requeues)


def requeue_lost_jobs(runtime: Runtime, *, now: dt.datetime | None = None) -> list[str]:
    """Queue again each job lost with its worker; returns their ids.

    Lost: running, or queued with its task in neither the queue nor its schedule,
    and no sign of life (`heartbeat_at`, else `created_at`) for
    `VOICEHUB_JOB_LEASE_SECONDS`. Huey on Redis drops the task a killed consumer had
    taken, so nothing else would run the job again. Running it again is safe (see
    `run_synthesis_job`). A job is claimed by moving its heartbeat to now in a
    conditional update, so sweeps in several workers at once queue it once, and the
    new run has a whole lease to show life.
    """
    now = now or utcnow()
    cutoff = now - dt.timedelta(seconds=runtime.settings.job_lease_seconds)
    stale = (
        SynthesisJob.status.in_((JobStatus.RUNNING, JobStatus.QUEUED)),
        func.coalesce(SynthesisJob.heartbeat_at, SynthesisJob.created_at) < cutoff,
    )
    with transaction(runtime.sessions) as session:
        candidates = session.execute(select(SynthesisJob.id, SynthesisJob.status).where(*stale))
        found = [(job_id, status) for job_id, status in candidates]
    if not found:
        return []
    waiting = (
        runtime.queue.queued_synthesis_jobs()
        if any(status is JobStatus.QUEUED for _, status in found)
        else set()
    )
    requeued: list[str] = []
    for job_id, status in found:
        if status is JobStatus.QUEUED and job_id in waiting:
            continue
        with transaction(runtime.sessions) as session:
            claimed = session.execute(
                update(SynthesisJob)
                .where(SynthesisJob.id == job_id, *stale)
                .values(heartbeat_at=now, requeues=SynthesisJob.requeues + 1)
                .execution_options(synchronize_session=False)
            )
            if cast(CursorResult[Any], claimed).rowcount != 1:
                continue
            job = session.get(SynthesisJob, job_id, populate_existing=True)
            assert job is not None
            if job.requeues > MAX_REQUEUES:
                _fail_lost_job(session, job, now)
                continue
            runtime.queue.enqueue_synthesis_job(
                session, job_id, job_lane(session, runtime.queue, list(job.line_ids))
            )
            requeued.append(job_id)
    for job_id in requeued:
        log.warning("synthesis job %s lost its worker (no heartbeat); queued again", job_id)
    return requeued
