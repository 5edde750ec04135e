"""Events and signed webhooks, pushed by a real consumer to a real HTTP receiver."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from api.routers import events, webhooks
from tests.factories import SeededStudio, seed_studio
from voicehub.db import transaction, utcnow
from voicehub.notifications.service import (
    create_endpoint,
    delete_endpoint,
    emit_event,
    signature_header,
    verify_signature,
)
from voicehub.notifications.tables import Event, WebhookAttempt, WebhookDelivery
from voicehub.notifications.tasks import deliver_webhook, retry_delay_seconds
from voicehub.runtime import Runtime


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A studio's webhook server on 127.0.0.1: records every request, fails the first N."""

    url: str
    fail_first: int = 0
    always_fail: bool = False
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, received: Received) -> int:
        with self.lock:
            self.requests.append(received)
            failing = self.always_fail or len(self.requests) <= self.fail_first
        return 500 if failing else 200


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            code = state[0].answer(Received(self.path, dict(self.headers.items()), body))
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.append(Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/hooks"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state[0]
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def api(runtime: Runtime) -> Iterator[TestClient]:
    app: FastAPI = create_app(runtime=runtime, run_worker=False)
    paths = {getattr(route, "path", None) for route in app.routes}
    for module, path in ((events, "/v1/events"), (webhooks, "/v1/webhook-endpoints")):
        if path not in paths:
            app.include_router(module.router)
    with TestClient(app) as test_client:
        yield test_client


def configure(runtime: Runtime, **settings: object) -> None:
    """Swap in settings for this test; queued tasks read them through the same runtime."""
    runtime.settings = runtime.settings.model_copy(update=settings)


def add_endpoint(api: TestClient, studio: SeededStudio, url: str) -> dict[str, object]:
    response = api.post("/v1/webhook-endpoints", json={"url": url}, headers=studio.headers)
    assert response.status_code == 201, response.text
    endpoint: dict[str, object] = response.json()
    return endpoint


def emit(runtime: Runtime, studio: SeededStudio, type: str = "consent.revoked") -> str:
    with transaction(runtime.sessions) as session:
        event = emit_event(
            session,
            runtime.queue,
            studio_id=studio.id,
            type=type,
            data={"voice_id": "voice_x", "reason": "strike"},
        )
    return event.id


def deliveries(runtime: Runtime, event_id: str) -> list[WebhookDelivery]:
    with runtime.sessions() as session:
        return list(
            session.scalars(select(WebhookDelivery).where(WebhookDelivery.event_id == event_id))
        )


def attempts(runtime: Runtime, delivery_id: str) -> list[WebhookAttempt]:
    with runtime.sessions() as session:
        return list(
            session.scalars(
                select(WebhookAttempt)
                .where(WebhookAttempt.delivery_id == delivery_id)
                .order_by(WebhookAttempt.attempt)
            )
        )


def wait_for(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"not reached within {timeout}s")


def settled(runtime: Runtime, event_id: str) -> Callable[[], bool]:
    return lambda: all(d.status != "pending" for d in deliveries(runtime, event_id))


def test_a_signature_verifies_only_with_its_secret_body_and_a_fresh_timestamp() -> None:
    body = b'{"id":"evt_1","type":"consent.revoked"}'
    now = 1_700_000_000
    header = signature_header("whsec_right", now, body)

    assert header.startswith(f"t={now},v1=")
    assert verify_signature("whsec_right", header, body, now=now + 10)
    assert not verify_signature("whsec_wrong", header, body, now=now)
    assert not verify_signature("whsec_right", header, body + b" ", now=now)
    assert not verify_signature("whsec_right", header, body, now=now + 301)
    assert verify_signature("whsec_right", header, body, now=now + 301, tolerance_seconds=600)
    forged = header.replace(f"t={now}", f"t={now + 100}")
    assert not verify_signature("whsec_right", forged, body, now=now + 100)
    for broken in ("", "v1=abc", f"t={now}", "t=soon,v1=abc"):
        assert not verify_signature("whsec_right", broken, body, now=now)


def test_an_event_reaches_an_endpoint_once_signed_with_its_id(
    api: TestClient, runtime: Runtime, receiver: Receiver, worker: None
) -> None:
    studio = seed_studio(runtime)
    endpoint = add_endpoint(api, studio, receiver.url)
    assert str(endpoint["id"]).startswith("we_")
    secret = str(endpoint["secret"])
    assert secret.startswith("whsec_")
    listed = api.get("/v1/webhook-endpoints", headers=studio.headers).json()["data"]
    assert [e["id"] for e in listed] == [endpoint["id"]] and "secret" not in listed[0]

    event_id = emit(runtime, studio)
    wait_for(settled(runtime, event_id))
    time.sleep(1.5)  # a second delivery would have arrived by now

    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert request.path == "/hooks"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["VoiceHub-Event-Id"] == event_id
    assert verify_signature(secret, request.headers["VoiceHub-Signature"], request.body)
    payload = json.loads(request.body)
    assert payload == api.get(f"/v1/events/{event_id}", headers=studio.headers).json()
    assert payload["id"] == event_id and payload["type"] == "consent.revoked"
    assert payload["studio_id"] == studio.id
    assert payload["data"] == {"voice_id": "voice_x", "reason": "strike"}
    assert payload["created"].endswith("Z")
    dt.datetime.fromisoformat(payload["created"])

    log = api.get(
        f"/v1/webhook-endpoints/{endpoint['id']}/deliveries", headers=studio.headers
    ).json()["data"]
    assert len(log) == 1 and log[0]["event_id"] == event_id
    assert log[0]["status"] == "delivered" and log[0]["delivered_at"] is not None
    assert [(a["attempt"], a["status_code"], a["error"]) for a in log[0]["attempts"]] == [
        (1, 200, None)
    ]


def test_a_receiver_that_fails_twice_gets_three_attempts_then_delivered(
    api: TestClient, runtime: Runtime, receiver: Receiver, worker: None
) -> None:
    configure(runtime, webhook_retry_base_seconds=0.05, webhook_max_attempts=5)
    receiver.fail_first = 2
    studio = seed_studio(runtime)
    endpoint = add_endpoint(api, studio, receiver.url)

    event_id = emit(runtime, studio)
    wait_for(settled(runtime, event_id), timeout=60)

    [delivery] = deliveries(runtime, event_id)
    assert delivery.status == "delivered" and delivery.attempts == 3
    assert delivery.next_attempt_at is None
    logged = attempts(runtime, delivery.id)
    assert [(a.attempt, a.status_code) for a in logged] == [(1, 500), (2, 500), (3, 200)]
    assert all(a.duration_ms >= 0 for a in logged)
    # Every retry carries the same event id and body, so the studio can dedupe.
    assert len(receiver.requests) == 3
    assert {r.headers["VoiceHub-Event-Id"] for r in receiver.requests} == {event_id}
    assert len({r.body for r in receiver.requests}) == 1
    for request in receiver.requests:
        assert verify_signature(
            str(endpoint["secret"]), request.headers["VoiceHub-Signature"], request.body
        )


def test_a_receiver_that_always_fails_ends_failed_with_every_attempt_logged(
    api: TestClient, runtime: Runtime, receiver: Receiver, worker: None
) -> None:
    configure(runtime, webhook_retry_base_seconds=0.05, webhook_max_attempts=3)
    receiver.always_fail = True
    studio = seed_studio(runtime)
    endpoint = add_endpoint(api, studio, receiver.url)

    event_id = emit(runtime, studio)
    wait_for(settled(runtime, event_id), timeout=60)
    time.sleep(1.5)  # a fourth attempt would have been made by now

    [delivery] = deliveries(runtime, event_id)
    assert delivery.status == "failed" and delivery.attempts == 3
    assert delivery.delivered_at is None and delivery.next_attempt_at is None
    assert len(receiver.requests) == 3
    log = api.get(
        f"/v1/webhook-endpoints/{endpoint['id']}/deliveries", headers=studio.headers
    ).json()["data"]
    assert [(a["attempt"], a["status_code"]) for a in log[0]["attempts"]] == [
        (1, 500),
        (2, 500),
        (3, 500),
    ]


def test_retries_back_off_exponentially_up_to_an_hour(runtime: Runtime, receiver: Receiver) -> None:
    configure(runtime, webhook_retry_base_seconds=1000, webhook_max_attempts=8)
    receiver.always_fail = True
    studio = seed_studio(runtime)
    with transaction(runtime.sessions) as session:
        create_endpoint(session, studio.id, receiver.url)
    event_id = emit(runtime, studio)
    [delivery] = deliveries(runtime, event_id)
    runtime.queue.huey.flush()  # no consumer here: attempts are run by hand

    for attempt, expected in ((1, 1000), (2, 2000), (3, 3600)):
        before = time.time()
        deliver_webhook(runtime, delivery.id)
        [queued] = runtime.queue.huey.pending()
        assert queued.args == (delivery.id,)
        eta = queued.eta.replace(tzinfo=dt.UTC).timestamp()
        assert before + expected - 1 <= eta <= time.time() + expected + 1
        [row] = deliveries(runtime, event_id)
        assert row.status == "pending" and row.attempts == attempt
        assert row.next_attempt_at is not None
        assert abs(row.next_attempt_at.timestamp() - eta) < 2
        runtime.queue.huey.flush()
    assert retry_delay_seconds(1000, 8) == 3600


def test_an_unreachable_endpoint_is_logged_not_raised(runtime: Runtime) -> None:
    configure(runtime, webhook_max_attempts=1, webhook_timeout_seconds=2)
    studio = seed_studio(runtime)
    with transaction(runtime.sessions) as session:
        # Port 9 (discard) on loopback: nothing listens, the connection is refused.
        create_endpoint(session, studio.id, "http://127.0.0.1:9/hooks")
    event_id = emit(runtime, studio)
    [delivery] = deliveries(runtime, event_id)

    deliver_webhook(runtime, delivery.id)
    deliver_webhook(runtime, delivery.id)  # already failed: nothing more happens

    [row] = deliveries(runtime, event_id)
    assert row.status == "failed" and row.attempts == 1
    [logged] = attempts(runtime, delivery.id)
    assert logged.status_code is None and logged.error and "Connect" in logged.error


def test_events_and_endpoints_are_scoped_to_their_studio(
    api: TestClient, runtime: Runtime, receiver: Receiver
) -> None:
    owner, intruder = seed_studio(runtime, "Owner"), seed_studio(runtime, "Intruder")
    endpoint = add_endpoint(api, owner, receiver.url)
    add_endpoint(api, intruder, receiver.url + "/intruder")
    event_id = emit(runtime, owner)
    other_id = emit(runtime, owner, type="job.completed")

    for url in (
        f"/v1/events/{event_id}",
        f"/v1/webhook-endpoints/{endpoint['id']}/deliveries",
    ):
        response = api.get(url, headers=intruder.headers)
        assert response.status_code == 404, url
        assert response.json()["code"] == "not_found"
        assert api.get(url, headers=owner.headers).status_code == 200, url
    response = api.delete(f"/v1/webhook-endpoints/{endpoint['id']}", headers=intruder.headers)
    assert response.status_code == 404
    assert api.get("/v1/events", headers=intruder.headers).json()["data"] == []
    assert (
        api.get(
            "/v1/events", params={"starting_after": event_id}, headers=intruder.headers
        ).status_code
        == 422
    )
    # The owner's events go to the owner's endpoint only.
    assert [d.endpoint_id for d in deliveries(runtime, event_id)] == [endpoint["id"]]

    page = api.get("/v1/events", params={"limit": 1}, headers=owner.headers).json()
    assert [e["id"] for e in page["data"]] == [event_id] and page["has_more"] is True
    page = api.get(
        "/v1/events", params={"limit": 1, "starting_after": event_id}, headers=owner.headers
    ).json()
    assert [e["id"] for e in page["data"]] == [other_id] and page["has_more"] is False
    typed = api.get("/v1/events", params={"type": "job.completed"}, headers=owner.headers)
    assert [e["id"] for e in typed.json()["data"]] == [other_id]


def test_deleted_endpoints_get_nothing_and_keep_their_log(
    api: TestClient, runtime: Runtime, receiver: Receiver, worker: None
) -> None:
    studio = seed_studio(runtime)
    kept = add_endpoint(api, studio, receiver.url + "/kept")
    deleted = add_endpoint(api, studio, receiver.url + "/deleted")
    first = emit(runtime, studio)
    wait_for(settled(runtime, first))

    response = api.delete(f"/v1/webhook-endpoints/{deleted['id']}", headers=studio.headers)
    assert response.status_code == 204
    listed = api.get("/v1/webhook-endpoints", headers=studio.headers).json()["data"]
    assert [e["id"] for e in listed] == [kept["id"]]
    second = emit(runtime, studio)
    wait_for(settled(runtime, second))

    assert sorted((r.path, r.headers["VoiceHub-Event-Id"]) for r in receiver.requests) == sorted(
        [("/hooks/kept", first), ("/hooks/deleted", first), ("/hooks/kept", second)]
    )
    assert [d.endpoint_id for d in deliveries(runtime, second)] == [kept["id"]]
    log = api.get(
        f"/v1/webhook-endpoints/{deleted['id']}/deliveries", headers=studio.headers
    ).json()["data"]
    assert [(d["event_id"], d["status"]) for d in log] == [(first, "delivered")]


def test_a_delivery_pending_when_its_endpoint_is_deleted_is_not_sent(
    runtime: Runtime, receiver: Receiver
) -> None:
    studio = seed_studio(runtime)
    with transaction(runtime.sessions) as session:
        endpoint, _ = create_endpoint(session, studio.id, receiver.url)
    event_id = emit(runtime, studio)
    with transaction(runtime.sessions) as session:
        delete_endpoint(session, studio.id, endpoint.id)

    [delivery] = deliveries(runtime, event_id)
    deliver_webhook(runtime, delivery.id)

    assert receiver.requests == []
    [row] = deliveries(runtime, event_id)
    assert row.status == "failed" and row.attempts == 0


def test_an_event_rolled_back_is_neither_stored_nor_queued(
    runtime: Runtime, receiver: Receiver
) -> None:
    studio = seed_studio(runtime)
    with transaction(runtime.sessions) as session:
        create_endpoint(session, studio.id, receiver.url)
    with pytest.raises(RuntimeError), transaction(runtime.sessions) as session:
        emit_event(session, runtime.queue, studio_id=studio.id, type="consent.revoked", data={})
        raise RuntimeError("the change that caused the event failed")

    assert runtime.queue.pending() == 0
    with runtime.sessions() as session:
        assert session.scalars(select(Event)).all() == []


@pytest.mark.parametrize(
    "url",
    [
        "ftp://studio.example/hooks",
        "studio.example/hooks",
        "https://",
        "javascript:alert(1)",
        "http://exa mple.com/",
        "http://example.com:99999/",
        "https://studio.example/" + "x" * 2000,
        "",
    ],
)
def test_a_url_that_is_not_http_or_https_with_a_host_is_refused(
    api: TestClient, runtime: Runtime, url: str
) -> None:
    studio = seed_studio(runtime)
    response = api.post("/v1/webhook-endpoints", json={"url": url}, headers=studio.headers)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "invalid_input"
    assert [f["field"] for f in problem["fields"]] == ["url"]
    assert api.get("/v1/webhook-endpoints", headers=studio.headers).json()["data"] == []


def test_adding_an_endpoint_needs_the_synthesize_scope(api: TestClient, runtime: Runtime) -> None:
    reader = seed_studio(runtime, scopes=("read",))
    response = api.post(
        "/v1/webhook-endpoints", json={"url": "https://studio.example/h"}, headers=reader.headers
    )
    assert response.status_code == 403
    assert api.get("/v1/events", headers=reader.headers).status_code == 200


def test_stalled_deliveries_are_queued_again(runtime: Runtime) -> None:
    from voicehub.notifications.tasks import redrive_stalled

    studio = seed_studio(runtime)
    with transaction(runtime.sessions) as session:
        create_endpoint(session, studio.id, "http://127.0.0.1:9/hook")
        emit_event(session, runtime.queue, studio_id=studio.id, type="consent.paused", data={})
    runtime.queue.huey.flush()  # the queued delivery is lost, as if the worker had died
    assert runtime.queue.pending() == 0
    assert redrive_stalled(runtime) == [], "not overdue yet"

    stalled = redrive_stalled(runtime, now=utcnow() + dt.timedelta(minutes=10))

    assert len(stalled) == 1
    assert runtime.queue.huey.scheduled_count() + runtime.queue.pending() == 1
