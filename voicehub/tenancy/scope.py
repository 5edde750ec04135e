"""The one place studio-side reads are scoped to the calling studio."""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from voicehub.errors import NotFound


class StudioOwned(Protocol):
    id: Any
    studio_id: Any


T = TypeVar("T", bound=StudioOwned)

_NOUNS = {
    "projects": "project",
    "characters": "character",
    "cuts": "cut",
    "lines": "line",
    "takes": "take",
    "synthesis_jobs": "job",
    "usage_records": "usage record",
    "events": "event",
    "webhook_endpoints": "webhook endpoint",
}


def owned(model: type[T], studio_id: str) -> Select[T]:
    """`SELECT model` restricted to rows of `studio_id`."""
    column: InstrumentedAttribute[str] = model.studio_id
    return select(model).where(column == studio_id)


def get_owned(session: Session, model: type[T], studio_id: str, object_id: str) -> T:
    """One row of the calling studio; another studio's row is a 404 that reveals nothing."""
    id_column: InstrumentedAttribute[str] = model.id
    row = session.scalar(owned(model, studio_id).where(id_column == object_id))
    if row is None:
        noun = _NOUNS.get(getattr(model, "__tablename__", ""), "object")
        raise NotFound(f"No {noun} {object_id}.")
    return row
