"""Signing in to the actor's portal in a real browser (Debian's Chromium, driven by Playwright).

What a browser adds over the HTTP tests: cookies kept and sent as a browser does (HTTP-only,
path-scoped), real form submissions with their hidden CSRF field, redirects followed, and a
layout measured at a phone's width.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect
from sqlalchemy import select

from api.portal.auth import MAX_FAILURES_PER_EMAIL
from api.portal.i18n import MESSAGES
from api.portal.tables import PortalAccount, PortalAccountActor
from tests.factories import JAPANESE, seed_voice
from tests.portal.conftest import LiveServer
from voicehub.db import transaction

JA = MESSAGES["ja"]
EN = MESSAGES["en"]
PASSWORD = "seiyuu-password-42"
DASHBOARD = re.compile(r"/portal/?$")
SIGN_IN = re.compile(r"/portal/signin")

Screenshot = Callable[[Page, str], Path | None]


def new_email() -> str:
    return f"actor-{uuid.uuid4().hex[:8]}@example.jp"


def sign_up(page: Page, email: str, name: str = "青井さくら", kind: str = "kind_actor") -> None:
    page.goto("/portal/signup")
    page.get_by_label(JA["display_name"]).fill(name)
    page.get_by_label(JA["email"]).fill(email)
    page.get_by_label(JA["password"]).fill(PASSWORD)
    page.get_by_label(JA[kind]).check()
    page.get_by_role("button", name=JA["sign_up"]).click()
    if kind == "kind_agency":
        # An agency starts on its list of actors: it has none yet.
        expect(page).to_have_url(re.compile(r"/portal/actors$"))
        expect(page.get_by_role("heading", name=JA["actors_title"])).to_be_visible()
    else:
        expect(page).to_have_url(DASHBOARD)
        expect(page.get_by_role("heading", name=JA["dashboard_title"])).to_be_visible()


def sign_in(page: Page, email: str, password: str) -> None:
    page.goto("/portal/signin")
    page.get_by_label(JA["email"]).fill(email)
    page.get_by_label(JA["password"]).fill(password)
    page.get_by_role("button", name=JA["sign_in"]).click()


def sign_out(page: Page) -> None:
    page.get_by_role("button", name=JA["sign_out"]).click()
    expect(page).to_have_url(SIGN_IN)


def fits_width(page: Page, width: int) -> bool:
    scroll_width: int = page.evaluate("document.documentElement.scrollWidth")
    return scroll_width <= width


def test_sign_up_sign_out_and_sign_in_again(page: Page, screenshot: Screenshot) -> None:
    email = new_email()
    sign_up(page, email)
    expect(page.get_by_text("青井さくら").first).to_be_visible()
    screenshot(page, "portal-dashboard")

    sign_out(page)
    expect(page.get_by_text(JA["signed_out"])).to_be_visible()
    # Signed out means the dashboard no longer opens: it sends the browser to sign in.
    page.goto("/portal")
    expect(page).to_have_url(SIGN_IN)

    page.goto("/portal/signin")
    screenshot(page, "portal-signin")
    sign_in(page, email.upper(), PASSWORD)
    expect(page).to_have_url(DASHBOARD)
    expect(page.get_by_role("heading", name=JA["dashboard_title"])).to_be_visible()


def test_wrong_password_shows_the_message_and_signs_nobody_in(page: Page) -> None:
    email = new_email()
    sign_up(page, email)
    sign_out(page)

    sign_in(page, email, "not-the-password")
    expect(page.get_by_text(JA["err_sign_in_failed"])).to_be_visible()
    expect(page).to_have_url(SIGN_IN)
    # The address typed is kept, the password is not sent back.
    expect(page.get_by_label(JA["email"])).to_have_value(email)
    expect(page.get_by_label(JA["password"])).to_have_value("")
    page.goto("/portal")
    expect(page).to_have_url(SIGN_IN)


def test_switching_language_to_english_and_back(page: Page) -> None:
    sign_up(page, new_email())
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text(JA["dashboard_title"])

    page.get_by_role("link", name=JA["lang_switch"]).or_(
        page.get_by_role("button", name=JA["lang_switch"])
    ).click()
    expect(heading).to_have_text(EN["dashboard_title"])
    expect(page.get_by_role("button", name=EN["sign_out"])).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "en")

    # The choice sticks: a fresh load of the page is still in English.
    page.reload()
    expect(heading).to_have_text(EN["dashboard_title"])

    page.get_by_role("link", name=EN["lang_switch"]).or_(
        page.get_by_role("button", name=EN["lang_switch"])
    ).click()
    expect(heading).to_have_text(JA["dashboard_title"])
    expect(page.get_by_role("button", name=JA["sign_out"])).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "ja")


def test_pages_fit_a_phone_screen(phone_page: Page, screenshot: Screenshot) -> None:
    page = phone_page
    page.goto("/portal/signin")
    expect(page.get_by_role("button", name=JA["sign_in"])).to_be_visible()
    assert fits_width(page, 375)
    screenshot(page, "portal-signin-phone")

    page.goto("/portal/signup")
    expect(page.get_by_role("button", name=JA["sign_up"])).to_be_visible()
    assert fits_width(page, 375)

    sign_up(page, new_email(), name="青井さくら（所属：ボイスハブ・プロダクション）")
    assert fits_width(page, 375)
    screenshot(page, "portal-dashboard-phone")


def test_a_form_without_its_csrf_token_is_refused(page: Page) -> None:
    sign_up(page, new_email())
    form = page.locator("form", has=page.get_by_role("button", name=JA["sign_out"]))
    removed: int = form.evaluate(
        """form => {
            const fields = form.querySelectorAll('input[name="csrf_token"]');
            fields.forEach(field => field.remove());
            return fields.length;
        }"""
    )
    assert removed == 1

    with page.expect_response(lambda response: response.request.method == "POST") as posted:
        form.get_by_role("button", name=JA["sign_out"]).click()
    assert posted.value.status == 403
    expect(page.get_by_text(JA["err_csrf"])).to_be_visible()

    # Nothing was changed: the session is still signed in.
    page.goto("/portal")
    expect(page).to_have_url(DASHBOARD)
    expect(page.get_by_role("heading", name=JA["dashboard_title"])).to_be_visible()


def test_a_sign_in_form_without_its_csrf_token_is_refused(page: Page) -> None:
    """Before sign-in the token is the double-submit cookie's; without it nobody signs in."""
    email = new_email()
    sign_up(page, email)
    sign_out(page)

    page.goto("/portal/signin")
    page.get_by_label(JA["email"]).fill(email)
    page.get_by_label(JA["password"]).fill(PASSWORD)
    page.locator('#signin-form input[name="csrf_token"]').evaluate("field => field.remove()")
    with page.expect_response(lambda response: response.request.method == "POST") as posted:
        page.get_by_role("button", name=JA["sign_in"]).click()
    assert posted.value.status == 403
    expect(page.get_by_text(JA["err_csrf"])).to_be_visible()
    page.goto("/portal")
    expect(page).to_have_url(SIGN_IN)


def test_an_agency_shows_the_voices_of_the_actors_it_represents_and_no_others(
    page: Page, live_server: LiveServer, screenshot: Screenshot
) -> None:
    represented = seed_voice(live_server.runtime, name="青井さくら", voice=JAPANESE)
    stranger = seed_voice(live_server.runtime, name="Someone Else", voice=JAPANESE)
    email = new_email()
    sign_up(page, email, name="ボイスハブ・プロダクション", kind="kind_agency")
    expect(page.get_by_text(JA["no_actors"])).to_be_visible()

    # The portal has no page yet for claiming an existing actor: link the agency here.
    with transaction(live_server.runtime.sessions) as session:
        account_id = session.scalar(select(PortalAccount.id).where(PortalAccount.email == email))
        assert account_id is not None
        session.add(PortalAccountActor(account_id=account_id, actor_id=represented.actor_id))

    page.reload()
    page.get_by_label(JA["actor_name"]).fill("新人 太郎")
    page.get_by_role("button", name=JA["add_actor"]).click()
    expect(page.get_by_role("link", name="新人 太郎")).to_be_visible()
    expect(page.get_by_role("link", name="青井さくら")).to_be_visible()
    screenshot(page, "portal-actors")

    page.locator(f"#actor-{represented.actor_id}").get_by_role("button", name=JA["select"]).click()
    expect(page).to_have_url(DASHBOARD)
    card = page.locator(f"#voice-{represented.voice_id}")
    expect(card.get_by_role("heading")).to_have_text("青井さくら voice")
    expect(card.get_by_text(JA["status_active"], exact=True)).to_be_visible()
    expect(card.get_by_text(JA["verification_verified"], exact=True)).to_be_visible()
    screenshot(page, "portal-dashboard-voices")

    # Another actor's page is not found, and shows nothing of theirs.
    page.goto(f"/portal/actors/{stranger.actor_id}")
    expect(page.get_by_text(JA["err_not_found"])).to_be_visible()
    expect(page.get_by_text("Someone Else")).to_have_count(0)


def test_repeated_wrong_passwords_are_slowed_down(page: Page) -> None:
    email = new_email()
    sign_up(page, email)
    sign_out(page)
    for _ in range(MAX_FAILURES_PER_EMAIL):
        sign_in(page, email, "not-the-password")
        expect(page.get_by_text(JA["err_sign_in_failed"])).to_be_visible()

    # Now even the right password waits: the message says for how long.
    sign_in(page, email, PASSWORD)
    expect(page.get_by_role("alert")).to_have_text(
        re.compile(re.escape(JA["err_rate_limited"]).replace(re.escape("{minutes}"), r"\d+"))
    )
    expect(page).to_have_url(SIGN_IN)
