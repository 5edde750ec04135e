"""Events: what changed for the studio, pollable here and pushed to its webhook endpoints."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import SessionDep, StudioRead
from api.schemas import Page
from voicehub.notifications import service
from voicehub.notifications.tables import Event
from voicehub.pagination import paginate

router = APIRouter(tags=["events"])


class EventOut(BaseModel):
    """The same object a webhook POSTs: dedupe on `id`, a retry carries the same one."""

    id: str
    type: str = Field(description="What happened, e.g. `consent.revoked`.")
    created: dt.datetime
    studio_id: str
    data: dict[str, Any]


def event_out(event: Event) -> EventOut:
    return EventOut.model_validate(service.event_payload(event))


@router.get("/v1/events", summary="List events, oldest first")
def list_events(
    session: SessionDep,
    caller: StudioRead,
    type: Annotated[str | None, Query(description="Only events of this type.")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    starting_after: str | None = None,
) -> Page[EventOut]:
    rows, has_more = paginate(
        session,
        service.events_of(caller.studio_id, type=type),
        id_column=Event.id,
        order_column=Event.created_at,
        limit=limit,
        starting_after=starting_after,
    )
    return Page[EventOut](data=[event_out(event) for event in rows], has_more=has_more)


@router.get("/v1/events/{event_id}", summary="Get an event")
def get_event(event_id: str, session: SessionDep, caller: StudioRead) -> EventOut:
    return event_out(service.get_event(session, caller.studio_id, event_id))
