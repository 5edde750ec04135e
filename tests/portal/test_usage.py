"""The approvals inbox and the usage feed over HTTP: only the current actor's, CSRF on every
decision, the same approval moves as the actor API, filters, totals, pagination and audio."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.portal import pages_usage
from api.portal.i18n import MESSAGES
from api.portal.tables import PortalAccount, PortalAccountActor
from tests.factories import (
    SeededStudio,
    SeededVoice,
    cast_project,
    one_line,
    seed_studio,
    seed_voice,
)
from tests.portal.test_auth import csrf_of, sign_up
from voicehub.db import transaction, utcnow
from voicehub.metering.currency import format_micros
from voicehub.metering.tables import UsageRecord
from voicehub.runtime import Runtime


def sign_in_for(client: TestClient, runtime: Runtime, actor_id: str) -> None:
    """An agency account, linked to the seeded actor and showing them (the portal's own flow)."""
    email = f"agency-{uuid.uuid4().hex[:8]}@example.jp"
    assert sign_up(client, email, kind="agency", name="事務所").status_code == 303
    with transaction(runtime.sessions) as session:
        account_id = session.scalar(select(PortalAccount.id).where(PortalAccount.email == email))
        assert account_id is not None
        session.add(PortalAccountActor(account_id=account_id, actor_id=actor_id))
    token = csrf_of(client.get("/portal/actors"))
    response = client.post(
        f"/portal/actors/{actor_id}/select", data={"csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 303


def request_approval(client: TestClient, studio: SeededStudio, voice: SeededVoice) -> str:
    project = client.post(
        "/v1/projects",
        json={"name": "Space Saga", "language": "en", "use": "animation"},
        headers=studio.headers,
    ).json()["id"]
    client.post(f"/v1/projects/{project}/script", json={"cuts": one_line()}, headers=studio.headers)
    cast = client.post(
        f"/v1/projects/{project}/cast",
        json={
            "character": "KEN",
            "voice_id": voice.voice_id,
            "use_description": "The lead in a 12-episode anime series.",
        },
        headers=studio.headers,
    ).json()
    approval_id: str = cast["approval"]["id"]
    return approval_id


def test_approve_and_decline_need_csrf_and_follow_the_service(
    client: TestClient, runtime: Runtime
) -> None:
    studio = seed_studio(runtime, name="Studio Kumo")
    voice = seed_voice(runtime, requires_project_approval=True)
    approval_id = request_approval(client, studio, voice)
    sign_in_for(client, runtime, voice.actor_id)

    inbox = client.get("/portal/approvals")
    assert inbox.status_code == 200
    assert "The lead in a 12-episode anime series." in inbox.text
    assert "Studio Kumo" in inbox.text and "Space Saga" in inbox.text
    assert f'action="/portal/approvals/{approval_id}/approve"' in inbox.text

    forged = client.post(f"/portal/approvals/{approval_id}/approve", follow_redirects=False)
    assert forged.status_code == 403
    api = client.get("/v1/actor/approvals", headers=voice.actor_headers).json()["data"]
    assert api[0]["status"] == "pending"

    token = csrf_of(inbox)
    declined = client.post(
        f"/portal/approvals/{approval_id}/decline",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert declined.status_code == 303
    api = client.get("/v1/actor/approvals", headers=voice.actor_headers).json()["data"]
    assert api[0]["status"] == "declined"
    # Declined cannot be declined again: the service's rule, shown as a clear message.
    again = client.post(f"/portal/approvals/{approval_id}/decline", data={"csrf_token": token})
    assert again.status_code == 409
    assert 'id="approvals-error"' in again.text

    approved = client.post(f"/portal/approvals/{approval_id}/approve", data={"csrf_token": token})
    assert approved.status_code == 200
    assert 'data-status="approved"' in approved.text
    revoked = client.post(f"/portal/approvals/{approval_id}/revoke", data={"csrf_token": token})
    assert 'data-status="revoked"' in revoked.text
    api = client.get("/v1/actor/approvals", headers=voice.actor_headers).json()["data"]
    assert api[0]["status"] == "revoked"


def test_another_actors_approval_is_not_found(client: TestClient, runtime: Runtime) -> None:
    studio = seed_studio(runtime)
    theirs = seed_voice(runtime, name="Other", requires_project_approval=True)
    approval_id = request_approval(client, studio, theirs)
    mine = seed_voice(runtime, name="Mine")
    sign_in_for(client, runtime, mine.actor_id)
    page = client.get("/portal/approvals")
    assert approval_id not in page.text
    response = client.post(
        f"/portal/approvals/{approval_id}/approve", data={"csrf_token": csrf_of(page)}
    )
    assert response.status_code == 404
    api = client.get("/v1/actor/approvals", headers=theirs.actor_headers).json()["data"]
    assert api[0]["status"] == "pending"


def test_pages_need_a_signed_in_session(client: TestClient) -> None:
    for path in ("/portal/approvals", "/portal/usage", "/portal/usage/takes/x/audio"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/portal/signin")


def synthesize(client: TestClient, studio: SeededStudio, line_id: str) -> dict[str, Any]:
    response = client.post(f"/v1/lines/{line_id}/takes", headers=studio.headers)
    assert response.status_code == 201, response.text
    take: dict[str, Any] = response.json()
    return take


def ids_on(page: Any) -> list[str]:
    return re.findall(r'class="card usage-line" id="usage-([^"]+)"', page.text)


def test_usage_feed_filters_totals_pagination_and_audio(
    client: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    voice = seed_voice(runtime, name="Aoi")
    other = seed_voice(runtime, name="Other")
    kumo = seed_studio(runtime, name="Studio Kumo")
    sora = seed_studio(runtime, name="Studio Sora")
    first = cast_project(client, kumo, {"KEN": voice}, one_line("The first line, spoken well."))
    second = cast_project(client, sora, {"KEN": voice}, one_line("Another line for the sequel."))
    stranger = cast_project(client, sora, {"KEN": other}, one_line("Not your voice at all."))
    takes = [
        synthesize(client, kumo, first.line_ids[0]),
        synthesize(client, kumo, first.line_ids[0]),
        synthesize(client, sora, second.line_ids[0]),
    ]
    foreign = synthesize(client, sora, stranger.line_ids[0])
    sign_in_for(client, runtime, voice.actor_id)

    feed = client.get("/portal/usage")
    assert feed.status_code == 200
    assert "Not your voice at all." not in feed.text
    assert 'id="total-lines">3<' in feed.text
    assert feed.text.index("Another line for the sequel.") < feed.text.index(
        "The first line, spoken well."
    )
    assert "Studio Kumo" in feed.text and "KEN" in feed.text

    by_studio = client.get("/portal/usage", params={"studio": kumo.id})
    assert 'id="total-lines">2<' in by_studio.text
    assert "Another line for the sequel." not in by_studio.text
    by_project = client.get("/portal/usage", params={"project": second.project_id})
    assert 'id="total-lines">1<' in by_project.text
    this_month = utcnow().strftime("%Y-%m")
    assert 'id="total-lines">3<' in client.get("/portal/usage", params={"month": this_month}).text
    assert 'id="total-lines">0<' in client.get("/portal/usage", params={"month": "2001-01"}).text
    bad = client.get("/portal/usage", params={"month": "January"})
    assert bad.status_code == 422 and 'id="usage-error"' in bad.text

    # Totals: the royalty of the three records, in the voice's currency.
    with runtime.sessions() as session:
        royalties = session.scalars(
            select(UsageRecord.actor_royalty_micros).where(UsageRecord.actor_id == voice.actor_id)
        ).all()
    assert len(royalties) == 3 and sum(royalties) > 0
    assert f'<span class="total-royalty">{format_micros(sum(royalties))} JPY</span>' in feed.text
    api_takes = [t["id"] for t in takes]
    assert all(f"/portal/usage/takes/{tid}/audio" in feed.text for tid in api_takes)

    monkeypatch.setattr(pages_usage, "PAGE_SIZE", 2)
    page_one = client.get("/portal/usage")
    assert len(ids_on(page_one)) == 2
    older = re.search(r'id="usage-older" href="([^"]+)"', page_one.text)
    assert older is not None
    page_two = client.get(older.group(1).replace("&amp;", "&"))
    assert len(ids_on(page_two)) == 1
    assert set(ids_on(page_one)).isdisjoint(ids_on(page_two))
    assert 'id="usage-older"' not in page_two.text
    # Totals cover the whole selection, not just the page.
    assert 'id="total-lines">3<' in page_one.text

    # The live fragment: only lines newer than the newest shown.
    newest = ids_on(page_one)[0]
    assert ids_on(client.get("/portal/usage/rows", params={"since": newest})) == []
    assert len(ids_on(client.get("/portal/usage/rows", params={"since": ids_on(page_two)[0]}))) == 2

    audio = client.get(f"/portal/usage/takes/{takes[0]['id']}/audio")
    assert audio.status_code == 200
    assert audio.headers["content-type"] == "audio/wav"
    assert audio.content[:4] == b"RIFF"
    refused = client.get(f"/portal/usage/takes/{foreign['id']}/audio")
    assert refused.status_code == 404
    assert refused.content[:4] != b"RIFF"


def test_pages_speak_english_too_and_need_a_chosen_actor(
    client: TestClient, runtime: Runtime
) -> None:
    email = f"agency-{uuid.uuid4().hex[:8]}@example.jp"
    assert sign_up(client, email, kind="agency", name="事務所").status_code == 303
    # An agency showing no actor yet is sent to choose one.
    response = client.get("/portal/usage", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/portal")
    voice = seed_voice(runtime)
    with transaction(runtime.sessions) as session:
        account_id = session.scalar(select(PortalAccount.id).where(PortalAccount.email == email))
        session.add(PortalAccountActor(account_id=account_id, actor_id=voice.actor_id))
    token = csrf_of(client.get("/portal/actors"))
    client.post(f"/portal/actors/{voice.actor_id}/select", data={"csrf_token": token})
    client.cookies.set("lang", "en")
    assert MESSAGES["en"]["approvals_title"] in client.get("/portal/approvals").text
    assert MESSAGES["en"]["usage_none"] in client.get("/portal/usage").text
