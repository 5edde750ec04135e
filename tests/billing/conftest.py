"""Stripe for the billing tests: localstripe for billing, a local double for Connect.

localstripe runs in a subprocess of its own (`tests.billing.localstripe_server`),
bound to 127.0.0.1 on a free port with its state in memory; the Connect double
runs in a thread of this process. Both live for the whole test session and are
emptied before each test. Every test here gets a runtime whose settings point
VoiceHub's Stripe base URLs at them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe
from fastapi.testclient import TestClient

from tests.billing.stripe_connect_double import ConnectDouble
from tests.factories import SeededStudio, SeededVoice, seed_studio, seed_voice
from voicehub.cli import main
from voicehub.db import transaction
from voicehub.ledger.periods import CloseResult, close_period
from voicehub.ledger.service import next_period, period_start
from voicehub.runtime import Runtime
from voicehub.settings import get_settings

ROOT = Path(__file__).resolve().parents[2]
API_KEY = "sk_test_voicehub"
WEBHOOK_SECRET = "whsec_voicehub_test_endpoint"
CONNECT_WEBHOOK_SECRET = "whsec_voicehub_test_connect"


@pytest.fixture(scope="session")
def localstripe_url() -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.billing.localstripe_server"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        deadline = time.monotonic() + 15
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert time.monotonic() < deadline, "localstripe did not start listening"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def connect_server() -> Iterator[ConnectDouble]:
    double = ConnectDouble().start()
    yield double
    double.stop()


@pytest.fixture
def connect_double(connect_server: ConnectDouble) -> ConnectDouble:
    connect_server.reset()
    return connect_server


@pytest.fixture(autouse=True)
def stripe_settings(
    runtime: Runtime, localstripe_url: str, connect_double: ConnectDouble
) -> Iterator[None]:
    """Point the runtime (the app's, the worker's) at localstripe and the Connect double."""
    httpx.delete(f"{localstripe_url}/_config/data").raise_for_status()
    original = runtime.settings
    runtime.settings = original.model_copy(update=stripe_overrides(localstripe_url, connect_double))
    yield
    runtime.settings = original


def stripe_overrides(localstripe_url: str, double: ConnectDouble) -> dict[str, Any]:
    return {
        "stripe_api_key": API_KEY,
        "stripe_api_base": localstripe_url,
        "stripe_connect_api_base": double.url,
        "stripe_webhook_secret": f"{WEBHOOK_SECRET},{CONNECT_WEBHOOK_SECRET}",
        "stripe_max_network_retries": 0,
    }


@pytest.fixture
def studio_stripe(localstripe_url: str) -> stripe.StripeClient:
    """Stripe as the studio's side sees it (paying an invoice), on localstripe."""
    return stripe.StripeClient(
        API_KEY, base_addresses={"api": localstripe_url}, max_network_retries=0
    )


def sign(body: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header exactly as Stripe makes it: HMAC-SHA256 of `t.body`."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def event(type_: str, obj: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    """A Stripe event envelope around `obj`, in the shape of Stripe's own example event."""
    envelope: dict[str, Any] = json.loads((Path(__file__).parent / "data/event.json").read_text())
    envelope.update(
        id=event_id or f"evt_{os.urandom(12).hex()}",
        type=type_,
        created=int(time.time()),
        data={"object": obj},
    )
    return envelope


def deliver(client: TestClient, payload: dict[str, Any], secret: str = WEBHOOK_SECRET) -> Any:
    body = json.dumps(payload).encode()
    return client.post(
        "/v1/stripe/webhooks",
        content=body,
        headers={"Stripe-Signature": sign(body, secret), "Content-Type": "application/json"},
    )


@dataclass(frozen=True)
class Delivered:
    studio: SeededStudio
    voice: SeededVoice
    project_ids: list[str]
    take_ids: list[str]


def deliver_lines(
    client: TestClient,
    runtime: Runtime,
    projects: dict[str, list[str]],
    *,
    studio: SeededStudio | None = None,
    voice: SeededVoice | None = None,
    price_per_1k_chars_micros: int = 1_000_000_000,
    actor_share_bps: int = 7000,
) -> Delivered:
    """Takes of `projects` ({name: [line text, …]}), through the API, by one actor's voice."""
    studio = studio or seed_studio(runtime)
    voice = voice or seed_voice(
        runtime,
        price_per_1k_chars_micros=price_per_1k_chars_micros,
        actor_share_bps=actor_share_bps,
    )
    project_ids, take_ids = [], []
    for name, texts in projects.items():
        response = client.post(
            "/v1/projects",
            json={"name": name, "language": "en", "use": "animation"},
            headers=studio.headers,
        )
        assert response.status_code == 201, response.text
        project_id = response.json()["id"]
        cuts = [{"number": "C-001", "lines": [{"character": "KEN", "text": t} for t in texts]}]
        response = client.post(
            f"/v1/projects/{project_id}/script", json={"cuts": cuts}, headers=studio.headers
        )
        assert response.status_code == 201, response.text
        (cut_id,) = response.json()["cut_ids"]
        response = client.post(
            f"/v1/projects/{project_id}/cast",
            json={"character": "KEN", "voice_id": voice.voice_id},
            headers=studio.headers,
        )
        assert response.status_code == 200, response.text
        project_ids.append(project_id)
        for line in client.get(f"/v1/cuts/{cut_id}", headers=studio.headers).json()["lines"]:
            response = client.post(f"/v1/lines/{line['id']}/takes", headers=studio.headers)
            assert response.status_code == 201, response.text
            take_ids.append(response.json()["id"])
    return Delivered(studio, voice, project_ids, take_ids)


def close(runtime: Runtime, period: str) -> CloseResult:
    """Close `period` as of the first moment after it ends."""
    with transaction(runtime.sessions) as session:
        return close_period(session, period, by="test", now=period_start(next_period(period)))


def this_month() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m")


def run_cli(runtime: Runtime, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    """`voicehub …` in this process, configured like the runtime (Stripe included)."""
    settings = runtime.settings
    for name, value in {
        "VOICEHUB_DATA_DIR": str(settings.data_dir),
        "VOICEHUB_DATABASE_URL": settings.resolved_database_url,
        "VOICEHUB_QUEUE_URL": settings.queue_url,
        "VOICEHUB_QUEUE_NAME": settings.queue_name,
        "VOICEHUB_STRIPE_API_KEY": settings.stripe_api_key,
        "VOICEHUB_STRIPE_API_BASE": settings.stripe_api_base,
        "VOICEHUB_STRIPE_CONNECT_API_BASE": settings.stripe_connect_api_base,
        "VOICEHUB_STRIPE_WEBHOOK_SECRET": settings.stripe_webhook_secret,
        "VOICEHUB_STRIPE_MAX_NETWORK_RETRIES": str(settings.stripe_max_network_retries),
        "VOICEHUB_PAYOUT_THRESHOLD_MINOR": settings.payout_threshold_minor,
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        return main(list(args))
    finally:
        get_settings.cache_clear()
