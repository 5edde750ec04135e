"""Project exports through the queue: a job row for progress, a task that builds the bundle.

A project of a hundred cuts takes about a minute to bundle (mostly the review
sheets), longer than a request should be held open. The job is checked as the
synchronous export is (approved takes, options) before it is queued, so those
errors come back at once; the task then builds the same zip with
`project_bundle`, stores it, and records its size and SHA-256.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy.orm import Session

from voicehub.db import after_rollback, transaction, utcnow
from voicehub.errors import ExportFailed, VoiceHubError
from voicehub.ids import new_id
from voicehub.production.exports import (
    ExportOptions,
    project_bundle,
    project_bundle_files,
    project_export,
)
from voicehub.production.tables import ExportJob, ExportStatus
from voicehub.queue import JobQueue
from voicehub.runtime import Runtime

log = logging.getLogger(__name__)

# Progress is written to the job row at most this often, or after this many files,
# whichever comes first: a row update per file would be a commit storm.
PROGRESS_SECONDS = 0.5
PROGRESS_FILES = 25
FINISHED = (ExportStatus.SUCCEEDED, ExportStatus.FAILED)


def export_key(studio_id: str, job_id: str) -> str:
    """Where a finished export's zip is stored."""
    return f"exports/{studio_id}/{job_id}.zip"


def job_options(job: ExportJob) -> tuple[ExportOptions, bool]:
    """The export options the job was made with, and whether it draws review sheets."""
    stored = job.options
    return (
        ExportOptions(
            takes=stored["takes"],
            fps=stored["fps"],
            shape_set=stored["shape_set"],
            min_hold_frames=stored["min_hold"],
            bridge_ms=stored["bridge_ms"],
        ),
        bool(stored.get("review_sheets", True)),
    )


def create_export_job(
    session: Session,
    queue: JobQueue,
    studio_id: str,
    project_id: str,
    options: ExportOptions,
    *,
    review_sheets: bool = True,
) -> ExportJob:
    """A queued export of the project, checked now as the synchronous export would be.

    Another studio's project is a 404, a line without an approved take a 409
    `no_approved_take`, a project without takes a 409 `no_takes`, all before
    anything is queued. The job is enqueued after commit.
    """
    export = project_export(session, studio_id, project_id, options)
    job = ExportJob(
        id=new_id("exp"),
        studio_id=studio_id,
        project_id=export.project.id,
        status=ExportStatus.QUEUED,
        options={**options.as_json(), "review_sheets": review_sheets},
        files_total=project_bundle_files(export, review_sheets=review_sheets),
        files_done=0,
        warnings=[w.as_json() for w in export.warnings],
    )
    session.add(job)
    session.flush()
    queue.enqueue_export_job(session, job.id)
    return job


def _fail(runtime: Runtime, job_id: str, code: str, detail: str) -> None:
    with transaction(runtime.sessions) as session:
        job = session.get(ExportJob, job_id, with_for_update=True)
        assert job is not None
        job.status = ExportStatus.FAILED
        job.error_code = code
        job.error_detail = detail
        job.finished_at = utcnow()


def run_export_job(runtime: Runtime, job_id: str) -> None:
    """Build the job's bundle, store it and mark the job succeeded; any error fails the job.

    A finished job (succeeded or failed) is left as it is when run again; a job
    left running by a crash is built again from the start.
    """
    with transaction(runtime.sessions) as session:
        job = session.get(ExportJob, job_id, with_for_update=True)
        if job is None:
            log.warning("export job %s not found", job_id)
            return
        if job.status in FINISHED:
            return
        job.status = ExportStatus.RUNNING
        job.started_at = job.started_at or utcnow()
        job.files_done = 0
        studio_id, project_id = job.studio_id, job.project_id
        options, review_sheets = job_options(job)

    written = {"files": 0, "at": time.monotonic()}

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if (
            done < total
            and done - written["files"] < PROGRESS_FILES
            and now - written["at"] < PROGRESS_SECONDS
        ):
            return
        with transaction(runtime.sessions) as session:
            job = session.get(ExportJob, job_id, with_for_update=True)
            assert job is not None
            # The manifest is the last file: the job reaches its total only once stored.
            job.files_done = min(done, total - 1)
            job.files_total = total
        written.update(files=done, at=now)

    try:
        with runtime.sessions() as session:
            export = project_export(session, studio_id, project_id, options)
            warnings: list[dict[str, Any]] = [w.as_json() for w in export.warnings]
            file, size = project_bundle(
                session, export, runtime.storage, review_sheets=review_sheets, progress=progress
            )
        key = export_key(studio_id, job_id)
        # Streamed from the bundle's temporary file: a big project never sits in memory.
        with file:
            digest = runtime.storage.put_file(key, file)
        with transaction(runtime.sessions) as session:
            after_rollback(session, lambda: runtime.storage.delete(key))
            job = session.get(ExportJob, job_id, with_for_update=True)
            assert job is not None
            job.status = ExportStatus.SUCCEEDED
            job.result_key = key
            job.size = size
            job.sha256 = digest
            job.files_done = job.files_total
            job.warnings = warnings
            job.finished_at = utcnow()
    except VoiceHubError as error:
        # The project changed after the job was queued: an approval withdrawn, a line added.
        _fail(runtime, job_id, error.code, error.detail)
    except Exception as error:
        log.exception("export job %s failed", job_id)
        _fail(
            runtime,
            job_id,
            ExportFailed.code,
            f"The bundle could not be built ({type(error).__name__}); start a new export.",
        )
