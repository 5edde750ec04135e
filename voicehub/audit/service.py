"""Writing and reading the audit log.

`record` adds its row to the caller's session, so an action and its audit entry
commit or roll back together. Who acted comes from the session: the API binds
the authenticated key to the request's session (`bind`), the CLI binds itself;
a session nobody bound is the system (a worker, a sweep, a Stripe webhook).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from voicehub.audit.tables import AuditEvent
from voicehub.db import utcnow
from voicehub.ids import new_id

_CONTEXT = "voicehub.audit_context"


@dataclass(frozen=True)
class AuditContext:
    """Who is acting in a session: the source, and for the API the key and its tenant."""

    source: str = "system"
    key_id: str | None = None
    studio_id: str | None = None
    actor_id: str | None = None
    request_id: str | None = None
    ip: str | None = None


SYSTEM = AuditContext()


def bind(session: Session, context: AuditContext) -> None:
    """Attribute every entry recorded in this session to `context`."""
    session.info[_CONTEXT] = context


def context_of(session: Session) -> AuditContext:
    context = session.info.get(_CONTEXT)
    return context if isinstance(context, AuditContext) else SYSTEM


def record(
    session: Session,
    action: str,
    *,
    target_type: str,
    target_id: str,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one entry for `action` on the target, attributed to whoever the session acts for."""
    context = context_of(session)
    event = AuditEvent(
        id=new_id("aud"),
        at=utcnow(),
        action=action,
        source=context.source,
        key_id=context.key_id,
        studio_id=context.studio_id,
        actor_id=context.actor_id,
        target_type=target_type,
        target_id=target_id,
        details=details or {},
        request_id=context.request_id,
        ip=context.ip,
    )
    session.add(event)
    session.flush()
    return event


def events(
    *,
    action: str | None = None,
    studio_id: str | None = None,
    actor_id: str | None = None,
    target_id: str | None = None,
) -> Select[AuditEvent]:
    """The log, narrowed by whichever filters are given (for `voicehub.pagination.paginate`)."""
    query = select(AuditEvent)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    if studio_id is not None:
        query = query.where(AuditEvent.studio_id == studio_id)
    if actor_id is not None:
        query = query.where(AuditEvent.actor_id == actor_id)
    if target_id is not None:
        query = query.where(AuditEvent.target_id == target_id)
    return query
