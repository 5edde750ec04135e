"""The path of one line: consent gate → engine → fitting → mastering → take and its usage record, one transaction."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from consent.gate import GateRequest, consent_gate
from consent.tables import Actor
from models.engines import SynthesisResult, SynthesisSettings
from models.engines.registry import EngineRegistry
from models.serving import engine_for_voice
from models.tables import Voice
from voicehub.db import utcnow
from voicehub.delivery.fitting import (
    FitMode,
    FitOptions,
    FitReport,
    engine_speed_range,
    fit_take,
    target_length_ms,
)
from voicehub.delivery.mastering import master
from voicehub.errors import (
    CharacterNotCast,
    IdempotencyKeyInUse,
    InvalidInput,
    LanguageUnsupported,
    NotFound,
)
from voicehub.ids import new_id
from voicehub.metering.service import record_usage
from voicehub.metering.tables import UsageRecord
from voicehub.production.service import check_line_text
from voicehub.production.tables import Character, Line, Project, Take
from voicehub.provenance.credentials import SigningIdentity, TakeCredit, sign_wav
from voicehub.provenance.index import store_fingerprints, take_fingerprints
from voicehub.storage import Storage
from voicehub.tenancy.scope import get_owned
from voicehub.tenancy.service import delivery_spec

MIN_SPEED, MAX_SPEED = 0.5, 2.0


class UsageKeyTaken(IdempotencyKeyInUse):
    """Another transaction delivered a take under the same usage key and committed first.

    For a request that is a concurrent retry under the same Idempotency-Key (hence
    the same code); a batch job's worker takes it to mean the line is delivered.
    """


@dataclass(frozen=True)
class Synthesizer:
    """What the pipeline needs from the running process (`Runtime.synthesizer` builds it)."""

    engines: EngineRegistry
    storage: Storage
    max_line_chars: int
    # Signs every take's Content Credentials (docs/PROVENANCE.md).
    signing: SigningIdentity


def timing_document(result: SynthesisResult) -> dict[str, Any]:
    """The take's timing as stored: sample counts straight from the engine."""
    return {
        "phonemes": [[p.phoneme, p.start, p.samples, p.is_pause] for p in result.phonemes],
        "words": [[w.text, w.start, w.samples] for w in result.words],
        "morae": [[m.text, m.start, m.samples] for m in result.morae],
    }


def per_call_settings(
    speed: float = 1.0, sentence_pause: float | None = None, seed: int | None = None
) -> SynthesisSettings:
    """A caller's speed, sentence pause and seed, checked; each refusal names its field."""
    _check_speed(speed)
    return SynthesisSettings(speed=speed, sentence_pause=sentence_pause, seed=seed)


def _check_speed(speed: float) -> None:
    if not MIN_SPEED <= speed <= MAX_SPEED:
        raise InvalidInput(f"Speed must be between {MIN_SPEED} and {MAX_SPEED}.", fields=["speed"])


def synthesize_line(
    session: Session,
    synthesizer: Synthesizer,
    *,
    studio_id: str,
    line_id: str,
    settings: SynthesisSettings | None = None,
    usage_key: str | None = None,
    job_id: str | None = None,
    fit: FitOptions | None = None,
    voice_id: str | None = None,
) -> tuple[Take, UsageRecord]:
    """Render one line as a new take to the studio's delivery spec, with one usage record, or refuse.

    A line with a target window (`Line.target_ms`, else its start and end) has
    its take fitted into it (`fit`, window mode unless told otherwise; see
    `voicehub.delivery.fitting.fit_take`) before mastering; `Take.fit` reports
    how. `voice_id` speaks the line with another voice than the character's cast
    one (a retake with another voice); it passes the same consent gate.

    The consent gate runs before synthesis (refuse early) and again, with the
    consent row locked, just before the take is written: a revocation that
    lands while the engine runs (or the take is mastered) wins, and nothing is
    delivered or charged.

    The take, its usage record (unique `usage_key`) and its ledger posting are
    written in the caller's transaction and commit together or not at all. When
    another transaction commits a take under the same `usage_key` first, this one
    is refused with `UsageKeyTaken` and must roll back: the line is charged once.
    """
    settings = settings or SynthesisSettings()
    _check_speed(settings.speed)
    line = get_owned(session, Line, studio_id, line_id)
    text = check_line_text(line.text, synthesizer.max_line_chars)
    project = get_owned(session, Project, studio_id, line.project_id)
    if voice_id is None:
        voice = _cast_voice(session, studio_id, line, project)
    else:
        found = session.get(Voice, voice_id)
        if found is None:
            raise NotFound(f"No voice {voice_id}.", fields=["voice_id"])
        voice = found
    gate = GateRequest(
        voice_id=voice.id,
        studio_id=studio_id,
        project_id=project.id,
        use=project.use,
        language=line.language,
        territories=project.territories,
        text=text,
    )
    allowed = consent_gate(session, gate)
    spec = delivery_spec(session, studio_id)

    engine = engine_for_voice(session, synthesizer.engines, voice)
    if line.language not in engine.info.languages:
        raise LanguageUnsupported(
            f"Voice {voice.id} speaks {', '.join(engine.info.languages)}, not '{line.language}'."
        )
    asked = replace(settings, language=line.language)
    rendered = engine.synthesize(text, speaker=voice.speaker, settings=asked)
    report: FitReport | None = None
    target_ms = target_length_ms(
        target_ms=line.target_ms, start_ms=line.start_ms, end_ms=line.end_ms
    )
    fit = fit or FitOptions()
    if target_ms is not None and fit.mode is not FitMode.OFF:
        first_seed = rendered.seed
        rendered, report = fit_take(
            rendered,
            # The same seed at another speed: the take is remade from the seed it reports.
            lambda speed: engine.synthesize(
                text, speaker=voice.speaker, settings=replace(asked, speed=speed, seed=first_seed)
            ),
            speed=settings.speed,
            target_ms=target_ms,
            options=fit,
            speed_range=engine_speed_range(settings.speed, fit.mode, MIN_SPEED, MAX_SPEED),
        )
    mastered = master(rendered, spec)
    result = mastered.result
    # Fingerprinted as delivered, before the consent row is locked: the lock is held to commit.
    fingerprints = take_fingerprints(result.audio, result.sample_rate)

    version = consent_gate(session, gate, lock=True, passed=allowed)
    take_id = new_id("take")
    take = Take(
        id=take_id,
        line_id=line.id,
        project_id=project.id,
        studio_id=studio_id,
        voice_id=voice.id,
        consent_version_id=version.id,
        job_id=job_id,
        text=text,
        language=line.language,
        engine=engine.info.name,
        model_sha256=engine.info.model_version,
        speaker=voice.speaker,
        speed=settings.speed,
        sentence_pause=settings.sentence_pause,
        seed=rendered.seed,
        sample_rate=result.sample_rate,
        engine_sample_rate=mastered.engine_sample_rate,
        bit_depth=mastered.bit_depth,
        num_samples=result.num_samples,
        loudness_target=mastered.loudness,
        loudness_lufs=mastered.loudness_lufs,
        true_peak_dbtp=mastered.true_peak_dbtp,
        peak_limited=mastered.peak_limited,
        audio_key=f"takes/{studio_id}/{line.id}/{take_id}.wav",
        timing=timing_document(result),
        fit=None if report is None else report.to_json(),
        created_at=utcnow(),
    )
    session.add(take)
    session.flush()
    store_fingerprints(session, take.id, fingerprints, seconds=result.duration_seconds)
    # The audio first: the usage posting moves the ledger's hot account rows, whose locks
    # are held until commit, so nothing slow comes after it.
    actor = session.get(Actor, voice.actor_id)
    credit = TakeCredit(
        take_id=take.id,
        line_id=line.id,
        cut_id=line.cut_id,
        project_id=project.id,
        studio_id=studio_id,
        voice_id=voice.id,
        actor_name=actor.credited_name if actor is not None else "",
        consent_version_id=version.id,
        language=line.language,
        created_at=take.created_at.isoformat(),
    )
    synthesizer.storage.put_in_transaction(
        session, take.audio_key, sign_wav(mastered.wav, credit, synthesizer.signing)
    )
    try:
        # In a savepoint, so that after losing the race for the key (its unique index
        # decides, once the winner commits) this transaction can still ask who won.
        with session.begin_nested():
            usage = record_usage(
                session,
                take=take,
                version=version,
                actor_id=voice.actor_id,
                use=project.use,
                idempotency_key=usage_key or f"take:{take.id}",
            )
    except IntegrityError as error:
        if usage_key is not None and usage_exists(session, usage_key):
            raise UsageKeyTaken(
                "A concurrent request delivered this take under the same key first;"
                " retry to get its response."
            ) from error
        raise
    return take, usage


def _cast_voice(session: Session, studio_id: str, line: Line, project: Project) -> Voice:
    """The voice the line's character is cast to, or a refusal naming how to cast one."""
    character = get_owned(session, Character, studio_id, line.character_id)
    if character.voice_id is None:
        raise CharacterNotCast(
            f"Character '{character.name}' has no voice; cast one with POST /v1/projects/{project.id}/cast."
        )
    voice = session.get(Voice, character.voice_id)
    if voice is None:
        raise CharacterNotCast(
            f"Character '{character.name}' is cast to a voice that no longer exists."
        )
    return voice


def usage_exists(session: Session, usage_key: str) -> bool:
    return (
        session.scalar(select(UsageRecord.id).where(UsageRecord.idempotency_key == usage_key))
        is not None
    )
