"""Every portal page, in both languages, on a phone-sized screen: no sideways scrolling."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.factories import seed_voice
from tests.portal.conftest import LiveServer
from tests.portal.test_browser_signin import fits_width
from tests.portal.test_browser_usage import show_actor


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_every_page_fits_a_phone_in_both_languages(
    phone_page: Page, live_server: LiveServer, lang: str
) -> None:
    voice = seed_voice(live_server.runtime, name="青井さくら")
    show_actor(phone_page, live_server, voice)
    phone_page.context.add_cookies([{"name": "lang", "value": lang, "url": live_server.url}])
    pages = [
        "/portal",
        "/portal/actors",
        "/portal/consent",
        f"/portal/consent/{voice.consent_id}",
        f"/portal/consent/new?voice={voice.voice_id}",
        "/portal/approvals",
        "/portal/usage",
        "/portal/earnings",
        "/portal/identify",
    ]
    for path in pages:
        response = phone_page.goto(path)
        assert response is not None and response.status == 200, path
        expect(phone_page.locator("html")).to_have_attribute("lang", lang)
        expect(phone_page.locator("#lang-switch")).to_be_visible()
        assert fits_width(phone_page, 375), f"{path} scrolls sideways at 375 px ({lang})"
