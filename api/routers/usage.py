"""The studio's metered lines."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import SessionDep, StudioBilling
from api.schemas import Page, UsageOut
from voicehub.ledger.service import check_period
from voicehub.metering.tables import UsageRecord
from voicehub.pagination import paginate
from voicehub.tenancy.scope import owned

router = APIRouter(tags=["usage"])


@router.get("/v1/usage", summary="List metered lines")
def list_usage(
    session: SessionDep,
    caller: StudioBilling,
    period: Annotated[str | None, Query(description="YYYY-MM")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    starting_after: str | None = None,
) -> Page[UsageOut]:
    query = owned(UsageRecord, caller.studio_id)
    if period is not None:
        query = query.where(UsageRecord.period == check_period(period))
    rows, has_more = paginate(
        session,
        query,
        id_column=UsageRecord.id,
        order_column=UsageRecord.created_at,
        limit=limit,
        starting_after=starting_after,
    )
    return Page[UsageOut](
        data=[
            UsageOut(
                id=u.id,
                take_id=u.take_id,
                project_id=u.project_id,
                voice_id=u.voice_id,
                consent_version_id=u.consent_version_id,
                use=u.use,
                characters=u.characters,
                audio_seconds=u.audio_ms / 1000,
                currency=u.currency,
                price_unit=u.price_unit,
                rate_micros=u.rate_micros,
                amount_micros=u.amount_micros,
                period=u.period,
                created_at=u.created_at,
            )
            for u in rows
        ],
        has_more=has_more,
    )
