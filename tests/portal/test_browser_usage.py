"""Approving a project and watching its lines arrive, in a real browser (Debian's Chromium).

The studio's side goes through the REST API of the live server (httpx), exactly as a studio's
own tools would: casting asks for approval, the actor approves in the portal, the studio
synthesizes, and the line appears in the open usage feed without a reload, with its take
playable.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect
from sqlalchemy import select

from api.portal.i18n import MESSAGES
from api.portal.tables import PortalAccount, PortalAccountActor
from tests.factories import SeededVoice, one_line, seed_studio, seed_voice
from tests.portal.conftest import LiveServer
from tests.portal.test_browser_signin import fits_width, new_email, sign_up
from voicehub.db import transaction

JA = MESSAGES["ja"]
Screenshot = Callable[[Page, str], Path | None]
USE = "The lead in a 12-episode anime series."
TEXT = "Hello there, how are you today?"


def show_actor(page: Page, live_server: LiveServer, voice: SeededVoice) -> None:
    """An agency signs up in the browser and is linked to the seeded actor, then shows them."""
    email = new_email()
    sign_up(page, email, name="ボイスハブ・プロダクション", kind="kind_agency")
    with transaction(live_server.runtime.sessions) as session:
        account_id = session.scalar(select(PortalAccount.id).where(PortalAccount.email == email))
        assert account_id is not None
        session.add(PortalAccountActor(account_id=account_id, actor_id=voice.actor_id))
    page.goto("/portal/actors")
    page.locator(f"#select-{voice.actor_id}").click()
    expect(page.locator("#current-actor")).to_contain_text("青井さくら")


def test_approve_a_project_then_watch_its_line_arrive(
    page: Page, live_server: LiveServer, screenshot: Screenshot
) -> None:
    studio = seed_studio(live_server.runtime, name="Studio Kumo")
    voice = seed_voice(live_server.runtime, name="青井さくら", requires_project_approval=True)
    api = httpx.Client(base_url=live_server.url, headers=studio.headers, timeout=30)
    project_id = api.post(
        "/v1/projects", json={"name": "Space Saga", "language": "en", "use": "animation"}
    ).json()["id"]
    assert api.post(f"/v1/projects/{project_id}/script", json={"cuts": one_line(TEXT)}).is_success
    cast = api.post(
        f"/v1/projects/{project_id}/cast",
        json={"character": "KEN", "voice_id": voice.voice_id, "use_description": USE},
    ).json()
    assert cast["approval"]["status"] == "pending"
    line_id = api.get(f"/v1/projects/{project_id}/cuts").json()["data"][0]["lines"][0]["id"]
    assert api.post(f"/v1/lines/{line_id}/takes").json()["code"] == "approval_pending"

    show_actor(page, live_server, voice)
    page.locator("#nav-approvals").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(JA["approvals_title"])
    request = page.locator(f"#approval-{cast['approval']['id']}")
    expect(request).to_contain_text(USE)
    expect(request).to_contain_text("Studio Kumo")
    expect(request).to_contain_text(JA["approvals_state_pending"])
    screenshot(page, "portal-approvals")
    request.get_by_role("button", name=JA["approvals_approve"]).click()
    expect(page.locator("#approvals-notice")).to_have_text(JA["approvals_done_approved"])
    expect(request).to_have_attribute("data-status", "approved")

    page.locator("#nav-usage").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(JA["usage_title"])
    expect(page.locator("#usage-none")).to_be_visible()
    take = api.post(f"/v1/lines/{line_id}/takes")
    assert take.status_code == 201, take.text
    # No reload: the page's live part brings the new line in.
    line = page.locator("#usage-lines .usage-line", has_text=TEXT)
    expect(line).to_be_visible()
    expect(page.locator("#usage-none")).to_be_hidden()
    expect(page.locator("#total-lines")).to_have_text("1")
    expect(line).to_contain_text("Studio Kumo")

    audio = line.locator("audio")
    with page.expect_response(re.compile(r"/portal/usage/takes/.+/audio$")) as loaded:
        audio.evaluate("a => { a.preload = 'auto'; a.load(); }")
    assert loaded.value.status == 200
    assert loaded.value.headers["content-type"] == "audio/wav"
    assert fits_width(page, 1280)
    screenshot(page, "portal-usage")


def test_usage_feed_fits_a_phone(phone_page: Page, live_server: LiveServer) -> None:
    voice = seed_voice(live_server.runtime, name="青井さくら")
    show_actor(phone_page, live_server, voice)
    phone_page.goto("/portal/usage")
    expect(phone_page.locator("#usage-filters")).to_be_visible()
    assert fits_width(phone_page, 375)
    phone_page.goto("/portal/approvals")
    expect(phone_page.locator("#approvals-none")).to_be_visible()
    assert fits_width(phone_page, 375)
