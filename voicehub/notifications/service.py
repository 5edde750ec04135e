"""Studio notifications: events, the endpoints they are pushed to, and their signatures.

An event is written once and is both pollable (`GET /v1/events`) and pushed:
each enabled endpoint of the studio gets one delivery, queued after commit and
retried with backoff by `voicehub.notifications.tasks.deliver_webhook`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from voicehub.errors import InvalidInput, NotFound
from voicehub.ids import new_id
from voicehub.notifications.tables import Event, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from voicehub.queue import JobQueue
from voicehub.tenancy.scope import owned

SIGNATURE_HEADER = "VoiceHub-Signature"
EVENT_ID_HEADER = "VoiceHub-Event-Id"
SIGNATURE_SCHEME = "v1"
MAX_URL_LENGTH = 2000

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"


def emit_event(
    session: Session, queue: JobQueue, *, studio_id: str, type: str, data: dict[str, Any]
) -> Event:
    """Record an event for the studio and queue one delivery per enabled endpoint (after commit)."""
    event = Event(id=new_id("evt"), studio_id=studio_id, type=type, data=data)
    session.add(event)
    endpoints = session.scalars(
        owned(WebhookEndpoint, studio_id).where(WebhookEndpoint.enabled.is_(True))
    ).all()
    deliveries = [
        WebhookDelivery(
            id=new_id("whd"),
            studio_id=studio_id,
            endpoint_id=endpoint.id,
            event_id=event.id,
            status=PENDING,
            attempts=0,
        )
        for endpoint in endpoints
    ]
    session.add_all(deliveries)
    session.flush()
    for delivery in deliveries:
        queue.enqueue_webhook_delivery(session, delivery.id)
    return event


def get_event(session: Session, studio_id: str, event_id: str) -> Event:
    """One of the studio's events; another studio's is a 404."""
    event = session.scalar(owned(Event, studio_id).where(Event.id == event_id))
    if event is None:
        raise NotFound(f"No event {event_id}.")
    return event


def events_of(studio_id: str, *, type: str | None = None) -> Select[Event]:
    """The studio's events, optionally of one type (for `paginate`)."""
    query = owned(Event, studio_id)
    if type is not None:
        query = query.where(Event.type == type)
    return query


def rfc3339(moment: dt.datetime) -> str:
    """A UTC timestamp as RFC 3339 with a `Z`, the form the API uses everywhere."""
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def event_payload(event: Event) -> dict[str, Any]:
    """The event as a studio sees it: the body of a webhook and of `GET /v1/events/{id}`."""
    return {
        "id": event.id,
        "type": event.type,
        "created": rfc3339(event.created_at),
        "studio_id": event.studio_id,
        "data": event.data,
    }


def payload_bytes(event: Event) -> bytes:
    """The exact bytes POSTed (and signed): compact UTF-8 JSON, the same on every retry."""
    return json.dumps(event_payload(event), separators=(",", ":"), ensure_ascii=False).encode()


def check_url(url: str) -> str:
    """An endpoint URL: http or https with a host; anything else is invalid input."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        valid = (
            parts.scheme in ("http", "https")
            and bool(parts.hostname)
            and (parts.port is None or parts.port > 0)
        )
    except ValueError:  # an unbracketed IPv6 host, a port out of range
        valid = False
    if not valid or len(url) > MAX_URL_LENGTH or any(char.isspace() for char in url):
        raise InvalidInput(
            "A webhook URL must be http:// or https:// with a host, "
            f"at most {MAX_URL_LENGTH} characters.",
            fields=["url"],
        )
    return url


def create_endpoint(session: Session, studio_id: str, url: str) -> tuple[WebhookEndpoint, str]:
    """A new enabled endpoint and its signing secret (the caller shows the secret once)."""
    secret = "whsec_" + secrets.token_urlsafe(32)
    endpoint = WebhookEndpoint(
        id=new_id("we"), studio_id=studio_id, url=check_url(url), secret=secret, enabled=True
    )
    session.add(endpoint)
    session.flush()
    return endpoint, secret


def list_endpoints(session: Session, studio_id: str) -> Sequence[WebhookEndpoint]:
    """The studio's enabled endpoints, oldest first."""
    return session.scalars(
        owned(WebhookEndpoint, studio_id)
        .where(WebhookEndpoint.enabled.is_(True))
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    ).all()


def get_endpoint(session: Session, studio_id: str, endpoint_id: str) -> WebhookEndpoint:
    """One of the studio's endpoints, deleted ones included (their log stays readable)."""
    endpoint = session.scalar(
        owned(WebhookEndpoint, studio_id).where(WebhookEndpoint.id == endpoint_id)
    )
    if endpoint is None:
        raise NotFound(f"No webhook endpoint {endpoint_id}.")
    return endpoint


def delete_endpoint(session: Session, studio_id: str, endpoint_id: str) -> None:
    """Stop pushing to the endpoint; the row and its delivery log are kept."""
    get_endpoint(session, studio_id, endpoint_id).enabled = False
    session.flush()


def deliveries_of(studio_id: str, endpoint_id: str) -> Select[WebhookDelivery]:
    """The endpoint's deliveries (for `paginate`); check the endpoint with `get_endpoint` first."""
    return owned(WebhookDelivery, studio_id).where(WebhookDelivery.endpoint_id == endpoint_id)


def attempts_of(session: Session, delivery_ids: Sequence[str]) -> dict[str, list[WebhookAttempt]]:
    """Every logged attempt of the given deliveries, in order, keyed by delivery id."""
    by_delivery: dict[str, list[WebhookAttempt]] = {delivery_id: [] for delivery_id in delivery_ids}
    if delivery_ids:
        rows = session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(delivery_ids))
            .order_by(WebhookAttempt.delivery_id, WebhookAttempt.attempt)
        )
        for row in rows:
            by_delivery[row.delivery_id].append(row)
    return by_delivery


def _sign(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """The `VoiceHub-Signature` value: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t." + body>`."""
    return f"t={timestamp},{SIGNATURE_SCHEME}={_sign(secret, timestamp, body)}"


def verify_signature(
    secret: str,
    header: str,
    body: bytes,
    *,
    tolerance_seconds: int = 300,
    now: float | None = None,
) -> bool:
    """Check a webhook as a studio should, before trusting or parsing it.

    Pass the endpoint's secret, the `VoiceHub-Signature` header and the raw
    request body, byte for byte (not re-serialized JSON). True when a `v1`
    signature matches and `t` lies within `tolerance_seconds` of `now` (default:
    the current time), so a captured request cannot be replayed later. Several
    `v1=` entries are accepted, any one matching. Then dedupe by the event id:
    a retry carries the same id.
    """
    timestamp: int | None = None
    candidates: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return False
        elif key == SIGNATURE_SCHEME:
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        return False
    expected = _sign(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)
