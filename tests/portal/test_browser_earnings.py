"""The earnings page in a real browser: the chart, a statement downloaded, a phone's width."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect
from sqlalchemy import select

from api.portal.i18n import MESSAGES
from api.portal.tables import PortalAccount, PortalAccountActor
from tests.factories import SeededVoice, cast_project, one_line, seed_studio, seed_voice
from tests.portal.conftest import LiveServer
from tests.portal.test_browser_signin import fits_width, sign_up
from voicehub.db import transaction, utcnow

JA = MESSAGES["ja"]
Screenshot = Callable[[Page, str], Path | None]
LINE = "夜が明ける前に行こう。"


def agency_for(page: Page, live_server: LiveServer, voice: SeededVoice) -> None:
    """An agency signs up in the browser, is linked to the actor and shows them."""
    email = f"agency-{uuid.uuid4().hex[:8]}@example.jp"
    sign_up(page, email, name="ボイスハブ・プロダクション", kind="kind_agency")
    with transaction(live_server.runtime.sessions) as session:
        account_id = session.scalar(select(PortalAccount.id).where(PortalAccount.email == email))
        session.add(PortalAccountActor(account_id=account_id, actor_id=voice.actor_id))
    page.reload()
    page.locator(f"#actor-{voice.actor_id}").get_by_role("button", name=JA["select"]).click()
    expect(page).to_have_url(re.compile(r"/portal/?$"))


def synthesized(client: TestClient, live_server: LiveServer) -> SeededVoice:
    """A studio casts the actor and delivers one line through the REST API."""
    runtime = live_server.runtime
    voice = seed_voice(
        runtime, name="青井さくら", voice={"engine": "piper", "speaker": "joe", "language": "en"}
    )
    studio = seed_studio(runtime, name="スタジオ雲")
    project = cast_project(client, studio, {"SAKURA": voice}, one_line(LINE, "SAKURA"))
    response = client.post(f"/v1/lines/{project.line_ids[0]}/takes", headers=studio.headers)
    assert response.status_code == 201, response.text
    return voice


def test_earnings_after_a_line_chart_and_statement_download(
    page: Page, live_server: LiveServer, client: TestClient, screenshot: Screenshot
) -> None:
    voice = synthesized(client, live_server)
    agency_for(page, live_server, voice)
    page.get_by_role("link", name=JA["nav_earnings"]).click()
    expect(page).to_have_url(re.compile(r"/portal/earnings$"))
    expect(page.get_by_role("heading", name=JA["earnings_title"], exact=True)).to_be_visible()
    period = utcnow().strftime("%Y-%m")

    chart = page.locator("#earnings-by-month svg[role=img]")
    expect(chart).to_have_count(1)
    expect(chart.locator("title").first).to_have_text(JA["earnings_by_month"])
    expect(chart.locator(f'rect[data-label="{period}"]')).to_have_count(1)
    expect(page.locator("#earnings-by-studio table")).to_contain_text("スタジオ雲")
    expect(page.locator("#payout-account-status")).to_have_attribute("data-status", "not_opened")
    screenshot(page, "portal-earnings")

    with page.expect_download() as info:
        page.locator(f"#csv-{period}").click()
    download = info.value
    assert download.suggested_filename.endswith(f"{period}-{voice.actor_id}.csv")
    saved = download.path()
    assert LINE in Path(saved).read_text(encoding="utf-8")


def test_stripe_not_configured_is_said_and_the_page_fits_a_phone(
    phone_page: Page, live_server: LiveServer, client: TestClient, screenshot: Screenshot
) -> None:
    voice = synthesized(client, live_server)
    agency_for(phone_page, live_server, voice)
    phone_page.goto("/portal/earnings")
    expect(phone_page.locator("#earnings-by-month svg")).to_be_visible()
    assert fits_width(phone_page, 375)
    screenshot(phone_page, "portal-earnings-phone")
    phone_page.get_by_role("button", name=JA["earnings_onboard"]).click()
    expect(phone_page.locator("#payout-error")).to_contain_text(
        JA["earnings_stripe_not_configured"]
    )
    assert fits_width(phone_page, 375)
