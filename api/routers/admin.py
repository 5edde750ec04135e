"""The platform operator's endpoints: studios, anyone's keys, the audit log (admin keys only)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.deps import AdminCaller, SessionDep
from api.routers.keys import ApiKeyOut, IssuedApiKeyOut, issued_out, key_out
from api.schemas import Page
from voicehub.audit import service as audit_log
from voicehub.audit.tables import AuditEvent
from voicehub.pagination import paginate
from voicehub.tenancy import keys

router = APIRouter(tags=["admin"])


class AdminStudioIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"name": "Studio Hoshi"}]}
    )

    name: str = Field(min_length=1, max_length=200)


class AdminStudioOut(BaseModel):
    id: str
    name: str
    created_at: dt.datetime


class AdminStudioCreatedOut(BaseModel):
    studio: AdminStudioOut
    key: IssuedApiKeyOut = Field(description="The studio's first key, with every studio scope.")


class AdminApiKeyIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"studio_id": "std_…", "scopes": ["read", "keys"], "name": "ops"}]
        },
    )

    studio_id: str | None = None
    actor_id: str | None = None
    scopes: list[str] | None = Field(
        default=None, description="Default: every scope of a studio's or actor's key."
    )
    name: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _one_owner(self) -> AdminApiKeyIn:
        if (self.studio_id is None) == (self.actor_id is None):
            raise ValueError("give exactly one of studio_id and actor_id")
        return self


class AuditEventOut(BaseModel):
    id: str
    at: dt.datetime
    action: str = Field(description="e.g. `api_key.rotated`, `consent.revoked`, `payout.paid`.")
    source: str = Field(description="`api` (with `key_id`), `cli`, or `system`.")
    key_id: str | None
    studio_id: str | None = Field(description="The calling key's studio, if any.")
    actor_id: str | None = Field(description="The calling key's actor, if any.")
    target_type: str
    target_id: str
    details: dict[str, Any]
    request_id: str | None
    ip: str | None


@router.post(
    "/v1/admin/studios",
    status_code=status.HTTP_201_CREATED,
    summary="Create a studio and its first API key",
)
def create_studio(
    body: AdminStudioIn, session: SessionDep, caller: AdminCaller
) -> AdminStudioCreatedOut:
    studio, issued = keys.admin_create_studio(session, body.name)
    return AdminStudioCreatedOut(
        studio=AdminStudioOut(id=studio.id, name=studio.name, created_at=studio.created_at),
        key=issued_out(session, issued),
    )


@router.post(
    "/v1/admin/api-keys",
    status_code=status.HTTP_201_CREATED,
    summary="Create an API key for an existing studio or actor",
)
def create_api_key(
    body: AdminApiKeyIn, session: SessionDep, caller: AdminCaller
) -> IssuedApiKeyOut:
    issued = keys.admin_issue_key(
        session,
        studio_id=body.studio_id,
        actor_id=body.actor_id,
        scopes=tuple(body.scopes) if body.scopes is not None else None,
        name=body.name,
    )
    return issued_out(session, issued)


@router.delete("/v1/admin/api-keys/{key_id}", summary="Revoke anyone's API key now")
def revoke_api_key(key_id: str, session: SessionDep, caller: AdminCaller) -> ApiKeyOut:
    return key_out(keys.admin_revoke_key(session, key_id))


@router.get("/v1/admin/audit-log", summary="Read the audit log, oldest first")
def list_audit_events(
    session: SessionDep,
    caller: AdminCaller,
    action: Annotated[str | None, Query(description="Only this action.")] = None,
    studio_id: Annotated[str | None, Query(description="Only calls by this studio.")] = None,
    actor_id: Annotated[str | None, Query(description="Only calls by this actor.")] = None,
    target_id: Annotated[str | None, Query(description="Only entries about this id.")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    starting_after: str | None = None,
) -> Page[AuditEventOut]:
    rows, has_more = paginate(
        session,
        audit_log.events(
            action=action, studio_id=studio_id, actor_id=actor_id, target_id=target_id
        ),
        id_column=AuditEvent.id,
        order_column=AuditEvent.at,
        limit=limit,
        starting_after=starting_after,
    )
    return Page[AuditEventOut](
        data=[AuditEventOut.model_validate(row, from_attributes=True) for row in rows],
        has_more=has_more,
    )
