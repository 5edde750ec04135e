"""Rate limits per API key: 429 with Retry-After past the limit, shared by replicas through Redis."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from tests.factories import seed_studio
from voicehub.runtime import Runtime
from voicehub.tenancy.keys import LocalRateLimiter


def test_a_key_past_its_limit_gets_429_with_retry_after(
    client: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime.settings, "rate_limit_requests_per_minute", 3)
    busy, other = seed_studio(runtime, "Busy"), seed_studio(runtime, "Other")
    remaining = []
    for _ in range(3):
        response = client.get("/v1/projects", headers=busy.headers)
        assert response.status_code == 200, response.text
        assert response.headers["RateLimit-Limit"] == "3"
        assert response.headers["RateLimit-Policy"] == "3;w=60"
        remaining.append(int(response.headers["RateLimit-Remaining"]))
    assert remaining == [2, 1, 0]

    refused = client.get("/v1/projects", headers=busy.headers)
    assert refused.status_code == 429
    body = refused.json()
    assert body["code"] == "rate_limited" and body["limit"] == 3
    assert refused.headers["content-type"].startswith("application/problem+json")
    # One request comes back every 20 s at 3 a minute.
    assert 1 <= int(refused.headers["Retry-After"]) <= 20
    assert refused.headers["RateLimit-Remaining"] == "0"
    # Another key has a bucket of its own.
    assert client.get("/v1/projects", headers=other.headers).status_code == 200


def test_synthesis_requests_draw_on_a_smaller_bucket(
    client: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime.settings, "rate_limit_synthesis_per_minute", 2)
    studio = seed_studio(runtime)
    project = {"name": "Episode 1", "language": "en", "use": "animation"}
    for _ in range(2):
        assert client.post("/v1/projects", json=project, headers=studio.headers).status_code == 201
    refused = client.post("/v1/projects", json=project, headers=studio.headers)
    assert (refused.status_code, refused.json()["code"]) == (429, "rate_limited")
    assert refused.json()["bucket"] == "synthesis" and "Retry-After" in refused.headers
    # Reading goes on: it draws on the key's general bucket only.
    listed = client.get("/v1/projects", headers=studio.headers)
    assert listed.status_code == 200 and len(listed.json()["data"]) == 2


def test_a_refused_request_does_nothing(
    client: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime.settings, "rate_limit_requests_per_minute", 1)
    studio = seed_studio(runtime)
    project = {"name": "Episode 1", "language": "en", "use": "animation"}
    assert client.post("/v1/projects", json=project, headers=studio.headers).status_code == 201
    assert client.post("/v1/projects", json=project, headers=studio.headers).status_code == 429
    monkeypatch.setattr(runtime.settings, "rate_limit_requests_per_minute", 0)
    listed = client.get("/v1/projects", headers=studio.headers)
    assert listed.status_code == 200 and len(listed.json()["data"]) == 1
    assert "RateLimit-Limit" not in listed.headers


def test_two_api_instances_share_a_key_limit_through_redis(
    runtime: Runtime, queue_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two replicas of the API: with Redis they draw on one bucket; without, each on its own."""
    monkeypatch.setattr(runtime.settings, "rate_limit_requests_per_minute", 4)
    studio = seed_studio(runtime)
    with (
        TestClient(create_app(runtime=runtime, run_worker=False)) as one,
        TestClient(create_app(runtime=runtime, run_worker=False)) as two,
    ):
        statuses = [
            replica.get("/v1/projects", headers=studio.headers).status_code
            for replica in (one, two, one, two, one, two)
        ]
    if queue_url.startswith("redis://"):
        assert statuses == [200, 200, 200, 200, 429, 429]
    else:
        assert statuses == [200] * 6


def test_the_local_bucket_refills_at_the_rate() -> None:
    """The algorithm on its own, on a clock the test moves: no sleeping."""
    limiter = LocalRateLimiter()
    clock = [1000.0]
    limiter_time = pytest.MonkeyPatch()
    limiter_time.setattr("voicehub.tenancy.keys.time.monotonic", lambda: clock[0])
    try:
        assert [limiter.hit("requests", "key_a", 2).allowed for _ in range(3)] == [
            True,
            True,
            False,
        ]
        refused = limiter.hit("requests", "key_a", 2)
        assert refused.retry_after_seconds == pytest.approx(30.0)
        clock[0] += 30.0
        assert limiter.hit("requests", "key_a", 2).allowed
        assert not limiter.hit("requests", "key_a", 2).allowed
        clock[0] += 60.0
        full = limiter.hit("requests", "key_a", 2)
        assert full.allowed and full.remaining == 1
    finally:
        limiter_time.undo()
