"""Webhook endpoints: where events are pushed, signed, and the log of every delivery."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from api.deps import IdempotencyDep, SessionDep, StudioRead, StudioSynthesize
from api.schemas import Page
from voicehub.notifications import service
from voicehub.notifications.tables import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from voicehub.pagination import paginate

router = APIRouter(tags=["webhooks"])


class WebhookEndpointIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"url": "https://studio.example/voicehub/webhooks"}]},
    )

    # Checked by the service, so every bad URL is the same `invalid_input` on `url`.
    url: str = Field(description="An http:// or https:// URL with a host, at most 2000 characters.")


class WebhookEndpointOut(BaseModel):
    id: str
    url: str
    enabled: bool
    created_at: dt.datetime


class WebhookEndpointCreatedOut(WebhookEndpointOut):
    secret: str = Field(
        description=(
            "Signs every delivery (`VoiceHub-Signature: t=…,v1=…`, HMAC-SHA256 over "
            "`t.body`). Shown only in this response: store it now."
        )
    )


class WebhookAttemptOut(BaseModel):
    attempt: int
    status_code: int | None = Field(description="The endpoint's HTTP status, if it answered.")
    error: str | None = Field(description="Why no answer came (refused, timed out, …).")
    duration_ms: int
    created_at: dt.datetime


class WebhookDeliveryOut(BaseModel):
    id: str
    endpoint_id: str
    event_id: str
    status: str = Field(description="pending, delivered, or failed after the last attempt.")
    next_attempt_at: dt.datetime | None
    delivered_at: dt.datetime | None
    created_at: dt.datetime
    attempts: list[WebhookAttemptOut]


def endpoint_out(endpoint: WebhookEndpoint) -> WebhookEndpointOut:
    return WebhookEndpointOut(
        id=endpoint.id, url=endpoint.url, enabled=endpoint.enabled, created_at=endpoint.created_at
    )


def delivery_out(delivery: WebhookDelivery, attempts: list[WebhookAttempt]) -> WebhookDeliveryOut:
    return WebhookDeliveryOut(
        id=delivery.id,
        endpoint_id=delivery.endpoint_id,
        event_id=delivery.event_id,
        status=delivery.status,
        next_attempt_at=delivery.next_attempt_at,
        delivered_at=delivery.delivered_at,
        created_at=delivery.created_at,
        attempts=[
            WebhookAttemptOut(
                attempt=a.attempt,
                status_code=a.status_code,
                error=a.error,
                duration_ms=a.duration_ms,
                created_at=a.created_at,
            )
            for a in attempts
        ],
    )


@router.post(
    "/v1/webhook-endpoints",
    status_code=status.HTTP_201_CREATED,
    summary="Add a webhook endpoint; its signing secret is shown once",
)
def create_endpoint(
    body: WebhookEndpointIn,
    session: SessionDep,
    caller: StudioSynthesize,
    idem: IdempotencyDep,
    response: Response,
) -> WebhookEndpointCreatedOut:
    idem.replay_or_continue(session, caller.principal)
    endpoint, secret = service.create_endpoint(session, caller.studio_id, body.url)
    out = WebhookEndpointCreatedOut(**endpoint_out(endpoint).model_dump(), secret=secret)
    response.headers["Location"] = f"/v1/webhook-endpoints/{endpoint.id}"
    idem.remember(
        session,
        caller.principal,
        201,
        out.model_dump(mode="json"),
        {"Location": response.headers["Location"]},
    )
    return out


@router.get("/v1/webhook-endpoints", summary="List webhook endpoints (without secrets)")
def list_endpoints(session: SessionDep, caller: StudioRead) -> Page[WebhookEndpointOut]:
    endpoints = service.list_endpoints(session, caller.studio_id)
    return Page[WebhookEndpointOut](data=[endpoint_out(e) for e in endpoints], has_more=False)


@router.delete(
    "/v1/webhook-endpoints/{endpoint_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a webhook endpoint (its delivery log is kept)",
)
def delete_endpoint(endpoint_id: str, session: SessionDep, caller: StudioSynthesize) -> None:
    service.delete_endpoint(session, caller.studio_id, endpoint_id)


@router.get(
    "/v1/webhook-endpoints/{endpoint_id}/deliveries",
    summary="The delivery log of an endpoint: each event pushed and every attempt",
)
def list_deliveries(
    endpoint_id: str,
    session: SessionDep,
    caller: StudioRead,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    starting_after: str | None = None,
) -> Page[WebhookDeliveryOut]:
    endpoint = service.get_endpoint(session, caller.studio_id, endpoint_id)
    rows, has_more = paginate(
        session,
        service.deliveries_of(caller.studio_id, endpoint.id),
        id_column=WebhookDelivery.id,
        order_column=WebhookDelivery.created_at,
        limit=limit,
        starting_after=starting_after,
    )
    attempts = service.attempts_of(session, [d.id for d in rows])
    return Page[WebhookDeliveryOut](
        data=[delivery_out(d, attempts[d.id]) for d in rows], has_more=has_more
    )
