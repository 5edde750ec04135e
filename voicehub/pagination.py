"""Cursor pagination over any scoped query: `limit` and `starting_after` an id."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute, Session

from voicehub.errors import InvalidInput

T = TypeVar("T")

MAX_LIMIT = 100


def paginate(
    session: Session,
    query: Select[T],
    *,
    id_column: InstrumentedAttribute[str],
    order_column: InstrumentedAttribute[Any],
    limit: int,
    starting_after: str | None,
) -> tuple[list[T], bool]:
    """One page of `query` in (order, id) order, and whether more follow.

    The cursor is looked up through the same (tenant-scoped) query, so another
    tenant's id is simply unknown.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be 1 to {MAX_LIMIT}.", fields=["limit"])
    if starting_after is not None:
        cursor = session.execute(
            query.where(id_column == starting_after).with_only_columns(order_column)
        ).first()
        if cursor is None:
            raise InvalidInput(
                f"Unknown starting_after id {starting_after}.", fields=["starting_after"]
            )
        value = cursor[0]
        query = query.where(
            or_(order_column > value, and_(order_column == value, id_column > starting_after))
        )
    rows = list(session.scalars(query.order_by(order_column, id_column).limit(limit + 1)))
    return rows[:limit], len(rows) > limit
