"""Takes: synthesize one line now, list retakes, fetch audio and timing."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from sqlalchemy import select

from api.deps import (
    IdempotencyDep,
    RuntimeDep,
    SessionDep,
    StudioExport,
    StudioRead,
    StudioSynthesize,
)
from api.schemas import FitOut, Page, PhonemeOut, TakeIn, TakeOut, TimingOut, WordOut
from voicehub.delivery.fitting import target_length_ms
from voicehub.metering.tables import UsageRecord
from voicehub.pagination import paginate
from voicehub.production.tables import Line, LineApproval, Take
from voicehub.production.takes import is_stale
from voicehub.synthesis.service import per_call_settings, synthesize_line
from voicehub.tenancy.scope import get_owned, owned

router = APIRouter(tags=["takes"])


def take_out(take: Take, usage: UsageRecord, line: Line, approved: bool) -> TakeOut:
    """A take as shown, with what its line says of it now: window, staleness, approval."""
    window_ms = target_length_ms(
        target_ms=line.target_ms, start_ms=line.start_ms, end_ms=line.end_ms
    )
    return TakeOut(
        id=take.id,
        line_id=take.line_id,
        voice_id=take.voice_id,
        consent_version_id=take.consent_version_id,
        engine=take.engine,
        model_sha256=take.model_sha256,
        text=take.text,
        language=take.language,
        speed=take.speed,
        sentence_pause=take.sentence_pause,
        seed=take.seed,
        sample_rate=take.sample_rate,
        engine_sample_rate=take.engine_sample_rate,
        bit_depth=take.bit_depth,
        loudness_target=take.loudness_target.value,
        loudness_target_lufs=take.loudness_target.target_lufs,
        loudness_lufs=_db(take.loudness_lufs),
        true_peak_dbtp=_db(take.true_peak_dbtp),
        peak_limited=take.peak_limited,
        duration_seconds=round(take.num_samples / take.sample_rate, 6),
        window_seconds=None if window_ms is None else window_ms / 1000,
        fit=None if take.fit is None else FitOut.model_validate(take.fit),
        stale=is_stale(take, line),
        approved=approved,
        audio_url=f"/v1/takes/{take.id}/audio",
        timing_url=f"/v1/takes/{take.id}/timing",
        usage_id=usage.id,
        amount_micros=usage.amount_micros,
        currency=usage.currency,
        created_at=take.created_at,
    )


def _db(value: float | None) -> float | None:
    """A measured level as shown: hundredths of a dB (the stored value keeps every digit)."""
    return None if value is None else round(value, 2)


def takes_out(session: SessionDep, takes: list[Take]) -> list[TakeOut]:
    """Takes as shown, with their usage records, lines and approvals read in three queries."""
    ids = [take.id for take in takes]
    usages = {
        u.take_id: u
        for u in session.scalars(select(UsageRecord).where(UsageRecord.take_id.in_(ids)))
    }
    line_ids = list({take.line_id for take in takes})
    lines = {line.id: line for line in session.scalars(select(Line).where(Line.id.in_(line_ids)))}
    approved = set(
        session.scalars(
            select(LineApproval.take_id).where(
                LineApproval.line_id.in_(line_ids), LineApproval.take_id.in_(ids)
            )
        )
    )
    # A take and its usage record commit together, so every take has one.
    return [
        take_out(take, usages[take.id], lines[take.line_id], take.id in approved) for take in takes
    ]


@router.post(
    "/v1/lines/{line_id}/takes",
    status_code=status.HTTP_201_CREATED,
    summary="Synthesize a take of one line (synchronous)",
)
def create_take(
    line_id: str,
    session: SessionDep,
    caller: StudioSynthesize,
    runtime: RuntimeDep,
    idem: IdempotencyDep,
    response: Response,
    body: TakeIn | None = None,
) -> TakeOut:
    """Passes the consent gate, renders the line to the studio's delivery spec, and meters it.

    `speed`, `sentence_pause` and `seed` shape this take; the take reports the seed
    used, so the same request with that seed renders the same audio again. A line
    with a target window has its take fitted into it (`fit`; window mode by
    default), and the take's `fit` says how; `voice_id` speaks the line with
    another voice than the character's (it passes the consent gate). With an
    `Idempotency-Key`, a retry returns the first take and is charged once; the same
    key with a different body is refused.
    """
    idem.replay_or_continue(session, caller.principal)
    body = body or TakeIn()
    take, _ = synthesize_line(
        session,
        runtime.synthesizer,
        studio_id=caller.studio_id,
        line_id=line_id,
        settings=per_call_settings(body.speed, body.sentence_pause, body.seed),
        usage_key=f"request:{caller.principal.key_id}:{idem.key}" if idem.key else None,
        fit=None if body.fit is None else body.fit.options(),
        voice_id=body.voice_id,
    )
    out = takes_out(session, [take])[0]
    response.headers["Location"] = f"/v1/takes/{take.id}"
    idem.remember(
        session,
        caller.principal,
        201,
        out.model_dump(mode="json"),
        {"Location": response.headers["Location"]},
    )
    return out


@router.get("/v1/lines/{line_id}/takes", summary="List a line's takes, oldest first")
def list_takes(
    line_id: str,
    session: SessionDep,
    caller: StudioRead,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    starting_after: str | None = None,
) -> Page[TakeOut]:
    line = get_owned(session, Line, caller.studio_id, line_id)
    rows, has_more = paginate(
        session,
        owned(Take, caller.studio_id).where(Take.line_id == line.id),
        id_column=Take.id,
        order_column=Take.created_at,
        limit=limit,
        starting_after=starting_after,
    )
    return Page[TakeOut](data=takes_out(session, rows), has_more=has_more)


@router.get("/v1/takes/{take_id}", summary="Get a take")
def get_take(take_id: str, session: SessionDep, caller: StudioRead) -> TakeOut:
    take = get_owned(session, Take, caller.studio_id, take_id)
    return takes_out(session, [take])[0]


@router.get(
    "/v1/takes/{take_id}/audio",
    summary="Download a take's WAV",
    response_class=Response,
    responses={200: {"content": {"audio/wav": {}}}},
)
def get_take_audio(
    take_id: str, session: SessionDep, caller: StudioExport, runtime: RuntimeDep
) -> Response:
    take = get_owned(session, Take, caller.studio_id, take_id)
    return Response(
        runtime.storage.get(take.audio_key),
        media_type="audio/wav",
        headers={"Content-Disposition": f'attachment; filename="{take.id}.wav"'},
    )


@router.get("/v1/takes/{take_id}/timing", summary="Get a take's phoneme and word timing")
def get_take_timing(take_id: str, session: SessionDep, caller: StudioRead) -> TimingOut:
    take = get_owned(session, Take, caller.studio_id, take_id)
    rate = take.sample_rate
    return TimingOut(
        take_id=take.id,
        sample_rate=rate,
        duration_seconds=round(take.num_samples / rate, 6),
        num_samples=take.num_samples,
        phonemes=[
            PhonemeOut(
                phoneme=symbol,
                start_seconds=round(start / rate, 6),
                end_seconds=round((start + samples) / rate, 6),
                start_sample=start,
                samples=samples,
                is_pause=is_pause,
            )
            for symbol, start, samples, is_pause in take.timing["phonemes"]
        ],
        words=_spans(take.timing["words"], rate),
        # Takes made before mora timing have none.
        morae=_spans(take.timing.get("morae", []), rate),
    )


def _spans(spans: list[list[Any]], rate: int) -> list[WordOut]:
    """Stored `[text, start, samples]` spans (words, morae) in seconds."""
    return [
        WordOut(
            text=text,
            start_seconds=round(start / rate, 6),
            end_seconds=round((start + samples) / rate, 6),
        )
        for text, start, samples in spans
    ]
