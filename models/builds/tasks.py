"""The build job: prepare the recordings, fine-tune, and register the model if consent still allows.

Safe to run twice. A run claims the build by writing its own `run_id`; every
progress report and the final registration are conditional on that id, so a
run that was taken over (a stale build started again) stops at its next report,
and a build ends with at most one model. Each step commits on its own: the
queue worker never holds a transaction open while the model trains.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models.builds.prepare import Clip, prepare_dataset
from models.builds.service import MODEL_ARTIFACT, consent_to_build
from models.builds.tables import BuildRecording, BuildStage, VoiceBuild
from models.builds.train import TrainingPlan, fine_tune, load_base, sample_rate_of
from models.tables import Voice
from voicehub.db import transaction, utcnow
from voicehub.errors import VoiceHubError
from voicehub.ids import new_id
from voicehub.runtime import Runtime

log = logging.getLogger(__name__)

# How the progress fraction is shared between the stages.
_PREPARED = 0.05
_TRAINED = 0.95
# Progress is written at most this often while training (and always at the last step).
_REPORT_EVERY_SECONDS = 1.0


class _Superseded(Exception):
    """Another run took the build over: this one stops without touching it."""


@dataclass(frozen=True)
class _Claim:
    voice_id: str
    language: str
    # (artifact id, transcript) of every recording, in upload order.
    recordings: tuple[tuple[str, str], ...]


def run_voice_build(runtime: Runtime, build_id: str) -> None:
    """Run a queued build to done or failed; a build that is not queued is left alone."""
    run_id = new_id("run")
    claim = _claim(runtime, build_id, run_id)
    if claim is None:
        return
    workdir = Path(tempfile.mkdtemp(prefix="voicehub-build-"))
    try:
        _run(runtime, build_id, run_id, claim, workdir)
    except _Superseded:
        log.info("voice build %s was taken over by another run; run %s stops", build_id, run_id)
    except VoiceHubError as error:
        log.info("voice build %s failed: %s", build_id, error.detail)
        _fail(runtime, build_id, run_id, error.code, error.detail)
    except Exception as error:
        log.exception("voice build %s failed", build_id)
        _fail(
            runtime,
            build_id,
            run_id,
            "build_failed",
            f"The build failed unexpectedly ({type(error).__name__}: {error}).",
        )
    finally:
        # The prepared clips are the actor's voice in the clear: they never outlive the run.
        shutil.rmtree(workdir, ignore_errors=True)


def _claim(runtime: Runtime, build_id: str, run_id: str) -> _Claim | None:
    with transaction(runtime.sessions) as session:
        build = session.get(VoiceBuild, build_id, with_for_update=True, populate_existing=True)
        if build is None:
            log.warning("voice build %s not found", build_id)
            return None
        if build.stage is not BuildStage.QUEUED:
            # Done, failed, not started, or claimed by a run already going.
            return None
        voice = session.get(Voice, build.voice_id)
        assert voice is not None
        recordings = session.execute(
            select(BuildRecording.artifact_id, BuildRecording.transcript)
            .where(BuildRecording.build_id == build.id)
            .order_by(BuildRecording.created_at, BuildRecording.id)
        ).all()
        build.run_id = run_id
        build.stage = BuildStage.PREPARING
        build.updated_at = utcnow()
        return _Claim(
            voice_id=voice.id,
            language=voice.language,
            recordings=tuple((artifact_id, text) for artifact_id, text in recordings),
        )


def _run(runtime: Runtime, build_id: str, run_id: str, claim: _Claim, workdir: Path) -> None:
    with transaction(runtime.sessions) as session:
        consent_to_build(session, claim.voice_id)
    plan = TrainingPlan.for_language(runtime.settings, claim.language)
    base = load_base(plan)
    total_clips = len(claim.recordings)

    def clips() -> Any:
        for index, (artifact_id, transcript) in enumerate(claim.recordings):
            with transaction(runtime.sessions) as session:
                wav = runtime.vault.read_artifact(session, artifact_id)
            yield Clip(name=f"clip{index:05d}", wav=wav, transcript=transcript)

    def prepared(done: int) -> None:
        _report(runtime, build_id, run_id, progress=_PREPARED * done / total_clips)

    dataset = prepare_dataset(
        clips(),
        workdir / "dataset",
        sample_rate=sample_rate_of(plan, base),
        loudness_lufs=runtime.settings.build_loudness_lufs,
        on_clip=prepared,
    )
    log.info(
        "voice build %s: %d clips, %.1f s prepared at %d Hz",
        build_id,
        len(dataset.clips),
        dataset.seconds,
        dataset.sample_rate,
    )
    _report(
        runtime,
        build_id,
        run_id,
        stage=BuildStage.TRAINING,
        progress=_PREPARED,
        steps_done=0,
        steps_total=plan.steps,
        base_sha256=base.sha256 if base is not None else "",
    )
    last = {"at": time.monotonic()}

    def trained(steps: int) -> None:
        now = time.monotonic()
        if steps < plan.steps and now - last["at"] < _REPORT_EVERY_SECONDS:
            return
        last["at"] = now
        # Every report re-reads the consent: a revocation stops the training it lands in.
        _report(
            runtime,
            build_id,
            run_id,
            check_consent_of=claim.voice_id,
            steps_done=steps,
            progress=_PREPARED + (_TRAINED - _PREPARED) * min(1.0, steps / plan.steps),
        )

    model = fine_tune(
        plan,
        base,
        dataset.root,
        [transcript for _, transcript in claim.recordings],
        on_step=trained,
    )
    _report(runtime, build_id, run_id, stage=BuildStage.PACKAGING, progress=_TRAINED)
    _register(runtime, build_id, run_id, claim.voice_id, model.checkpoint, model.steps)
    log.info("voice build %s done: model %s", build_id, model.sha256)


def _register(
    runtime: Runtime, build_id: str, run_id: str, voice_id: str, checkpoint: bytes, steps: int
) -> None:
    """Store the model and point the voice at it, if the consent still allows it right now.

    The consent row is locked first (as a take's commit locks it), so a revocation
    either lands before this, and nothing is registered, or after, and shreds the
    model with the rest of the voice.
    """
    with transaction(runtime.sessions) as session:
        version = consent_to_build(session, voice_id, lock=True)
        build = _owned(session, build_id, run_id)
        voice = session.get(Voice, voice_id, populate_existing=True)
        assert voice is not None
        artifact = runtime.vault.put_artifact(session, voice_id, MODEL_ARTIFACT, checkpoint)
        voice.model_sha256 = artifact.sha256
        now = utcnow()
        build.stage = BuildStage.DONE
        build.progress = 1.0
        build.steps_done = steps
        build.model_artifact_id = artifact.id
        build.model_sha256 = artifact.sha256
        build.consent_version_id = version.id
        build.updated_at = now
        build.finished_at = now


def _owned(session: Session, build_id: str, run_id: str) -> VoiceBuild:
    build = session.get(VoiceBuild, build_id, with_for_update=True, populate_existing=True)
    if build is None or build.run_id != run_id:
        raise _Superseded
    return build


def _report(
    runtime: Runtime,
    build_id: str,
    run_id: str,
    *,
    check_consent_of: str | None = None,
    **values: Any,
) -> None:
    """Write progress, if this run still owns the build; refuse on consent that no longer allows."""
    with transaction(runtime.sessions) as session:
        if check_consent_of is not None:
            consent_to_build(session, check_consent_of)
        written = session.execute(
            update(VoiceBuild)
            .where(VoiceBuild.id == build_id, VoiceBuild.run_id == run_id)
            .values(**values, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if getattr(written, "rowcount", 0) == 0:
            raise _Superseded


def _fail(runtime: Runtime, build_id: str, run_id: str, code: str, detail: str) -> None:
    with transaction(runtime.sessions) as session:
        now = utcnow()
        session.execute(
            update(VoiceBuild)
            .where(VoiceBuild.id == build_id, VoiceBuild.run_id == run_id)
            .values(
                stage=BuildStage.FAILED,
                error_code=code,
                error=detail,
                updated_at=now,
                finished_at=now,
            )
            .execution_options(synchronize_session=False)
        )
