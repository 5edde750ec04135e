"""API keys: a studio or actor lists, creates, rotates and revokes its own (the `keys` scope)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from api.deps import KeysCaller, RuntimeDep, SessionDep
from api.schemas import Page
from voicehub.pagination import paginate
from voicehub.tenancy import keys
from voicehub.tenancy.service import IssuedKey
from voicehub.tenancy.tables import ApiKey

router = APIRouter(tags=["keys"])


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"scopes": ["read", "export"], "name": "render farm"}]},
    )

    scopes: list[str] = Field(
        min_length=1,
        description="Some of the calling key's own scopes; a key cannot grant more than it has.",
    )
    name: str | None = Field(default=None, max_length=200, description="What the key is for.")


class ApiKeyOut(BaseModel):
    id: str
    name: str | None
    hint: str = Field(description="The secret's last four characters, to tell keys apart.")
    scopes: list[str]
    created_at: dt.datetime
    expires_at: dt.datetime | None = Field(
        description="Set when the key was rotated: it stops working then."
    )
    revoked_at: dt.datetime | None


class IssuedApiKeyOut(ApiKeyOut):
    secret: str = Field(
        description="The bearer secret (`vh_live_…`). Shown only in this response: store it now."
    )


class RotationOut(BaseModel):
    key: IssuedApiKeyOut = Field(description="The successor, with the same scopes and name.")
    previous: ApiKeyOut = Field(description="The rotated key; it works until `expires_at`.")


def key_out(key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=key.id,
        name=key.name,
        hint=key.hint,
        scopes=list(key.scopes),
        created_at=key.created_at,
        expires_at=key.expires_at,
        revoked_at=key.revoked_at,
    )


def issued_out(session: SessionDep, issued: IssuedKey) -> IssuedApiKeyOut:
    key = session.get(ApiKey, issued.id)
    assert key is not None
    return IssuedApiKeyOut(**key_out(key).model_dump(), secret=issued.secret)


@router.get("/v1/api-keys", summary="List this account's API keys")
def list_api_keys(
    session: SessionDep,
    caller: KeysCaller,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    starting_after: str | None = None,
) -> Page[ApiKeyOut]:
    rows, has_more = paginate(
        session,
        keys.tenant_keys(caller),
        id_column=ApiKey.id,
        order_column=ApiKey.created_at,
        limit=limit,
        starting_after=starting_after,
    )
    return Page[ApiKeyOut](data=[key_out(key) for key in rows], has_more=has_more)


@router.post(
    "/v1/api-keys",
    status_code=status.HTTP_201_CREATED,
    summary="Create an API key (its secret is shown once)",
)
def create_api_key(body: ApiKeyIn, session: SessionDep, caller: KeysCaller) -> IssuedApiKeyOut:
    issued = keys.create_key(session, caller, scopes=tuple(body.scopes), name=body.name)
    return issued_out(session, issued)


@router.post(
    "/v1/api-keys/{key_id}/rotate",
    status_code=status.HTTP_201_CREATED,
    summary="Rotate an API key: a successor now, the old key ends after the grace period",
)
def rotate_api_key(
    key_id: str, session: SessionDep, caller: KeysCaller, runtime: RuntimeDep
) -> RotationOut:
    rotation = keys.rotate_key(
        session, caller, key_id, grace_seconds=runtime.settings.key_rotation_grace_seconds
    )
    return RotationOut(
        key=issued_out(session, rotation.issued), previous=key_out(rotation.previous)
    )


@router.delete("/v1/api-keys/{key_id}", summary="Revoke an API key now")
def revoke_api_key(key_id: str, session: SessionDep, caller: KeysCaller) -> ApiKeyOut:
    return key_out(keys.revoke_key(session, caller, key_id))
