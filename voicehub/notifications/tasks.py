"""Pushing one event to one endpoint: a signed POST, logged, retried with backoff."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

import httpx
from sqlalchemy import or_, select, update

from voicehub.db import transaction, utcnow
from voicehub.ids import new_id
from voicehub.notifications.service import (
    DELIVERED,
    EVENT_ID_HEADER,
    FAILED,
    PENDING,
    SIGNATURE_HEADER,
    payload_bytes,
    signature_header,
)
from voicehub.notifications.tables import Event, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from voicehub.runtime import Runtime

log = logging.getLogger(__name__)

MAX_RETRY_DELAY_SECONDS = 3600.0


@dataclass(frozen=True)
class _Claim:
    attempt: int
    url: str
    secret: str
    event_id: str
    body: bytes


@dataclass(frozen=True)
class _Outcome:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def retry_delay_seconds(base_seconds: float, attempt: int) -> float:
    """The wait after failed attempt `attempt` (1-based): base × 2^(attempt-1), at most an hour."""
    return min(base_seconds * 2.0 ** (attempt - 1), MAX_RETRY_DELAY_SECONDS)


def deliver_webhook(runtime: Runtime, delivery_id: str) -> None:
    """Make the next attempt of a pending delivery; schedule the one after if it fails.

    Each attempt is claimed (attempt counter bumped with a compare-and-set) in
    one transaction, sent outside any transaction, and logged with the
    delivery's new status in another. A delivery already delivered or failed,
    or claimed by a concurrent run, is left alone. HTTP failures never raise:
    the retry is scheduled here, so Huey's own retries would only blur the log.
    """
    claim = _claim(runtime, delivery_id)
    if claim is None:
        return
    outcome = _post(claim, runtime.settings.webhook_timeout_seconds)
    retry_in: float | None = None
    with transaction(runtime.sessions) as session:
        session.add(
            WebhookAttempt(
                id=new_id("wha"),
                delivery_id=delivery_id,
                attempt=claim.attempt,
                status_code=outcome.status_code,
                error=outcome.error,
                duration_ms=outcome.duration_ms,
            )
        )
        delivery = session.get(WebhookDelivery, delivery_id)
        assert delivery is not None
        if outcome.delivered:
            delivery.status = DELIVERED
            delivery.delivered_at = utcnow()
        elif claim.attempt < runtime.settings.webhook_max_attempts:
            retry_in = retry_delay_seconds(
                runtime.settings.webhook_retry_base_seconds, claim.attempt
            )
            delivery.next_attempt_at = utcnow() + dt.timedelta(seconds=retry_in)
        else:
            delivery.status = FAILED
    if retry_in is not None:
        # After the commit, so the next run sees this attempt's row and counter.
        runtime.queue.schedule_webhook_delivery(delivery_id, retry_in)
    log.info(
        "webhook delivery %s attempt %d: %s",
        delivery_id,
        claim.attempt,
        outcome.status_code if outcome.error is None else outcome.error,
    )


def _claim(runtime: Runtime, delivery_id: str) -> _Claim | None:
    """Take the next attempt number of a pending delivery, or None if there is nothing to do."""
    with transaction(runtime.sessions) as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None:
            log.warning("webhook delivery %s not found", delivery_id)
            return None
        if delivery.status != PENDING:
            return None
        endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
        event = session.get(Event, delivery.event_id)
        assert endpoint is not None and event is not None
        if not endpoint.enabled:
            # Deleted after the event: nothing more goes to it.
            delivery.status = FAILED
            delivery.next_attempt_at = None
            return None
        attempt = delivery.attempts + 1
        claimed = session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == delivery_id,
                WebhookDelivery.status == PENDING,
                WebhookDelivery.attempts == delivery.attempts,
            )
            .values(attempts=attempt, next_attempt_at=None)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return None
        return _Claim(attempt, endpoint.url, endpoint.secret, event.id, payload_bytes(event))


def _post(claim: _Claim, timeout_seconds: float) -> _Outcome:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "VoiceHub-Webhooks/1",
        SIGNATURE_HEADER: signature_header(claim.secret, int(time.time()), claim.body),
        EVENT_ID_HEADER: claim.event_id,
    }
    started = time.monotonic()
    status_code: int | None = None
    error: str | None = None
    try:
        # Streamed and never read: only the status matters, and a studio's
        # server cannot make the worker download a large answer.
        with (
            httpx.Client(timeout=timeout_seconds, follow_redirects=False) as client,
            client.stream("POST", claim.url, content=claim.body, headers=headers) as response,
        ):
            status_code = response.status_code
    except Exception as exc:
        # Whatever the studio's side does (refuse, time out, send garbage)
        # must end as a logged attempt, never as a lost delivery.
        error = f"{type(exc).__name__}: {exc}"[:2000]
    duration_ms = round((time.monotonic() - started) * 1000)
    return _Outcome(status_code, error, duration_ms)


def redrive_stalled(
    runtime: Runtime, *, now: dt.datetime | None = None, grace_seconds: float = 300
) -> list[str]:
    """Queue again every pending delivery whose attempt is overdue by more than the grace.

    A worker that died mid-attempt, or a queue that was down when a retry was
    scheduled, would otherwise leave a delivery pending forever. The attempt
    claim in `deliver_webhook` makes a duplicate run harmless.
    """
    now = now or utcnow()
    overdue = now - dt.timedelta(seconds=grace_seconds)
    with transaction(runtime.sessions) as session:
        stalled = list(
            session.scalars(
                select(WebhookDelivery.id).where(
                    WebhookDelivery.status == PENDING,
                    or_(
                        WebhookDelivery.next_attempt_at < overdue,
                        (WebhookDelivery.attempts == 0) & (WebhookDelivery.created_at < overdue),
                    ),
                )
            )
        )
    for delivery_id in stalled:
        runtime.queue.schedule_webhook_delivery(delivery_id, 0)
    return stalled
