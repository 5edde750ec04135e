"""The consent wizard in a real browser: terms, a statement recorded from Chromium's fake
microphone, a WAV upload of the voice itself, then revoking — and a studio refused at once."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect
from sqlalchemy import select

from api.portal.i18n import MESSAGES
from api.portal.tables import PortalAccountActor
from consent.service import current_version
from consent.tables import Consent
from models.voices import register_voice
from tests.factories import ENGLISH, one_line, seed_studio
from tests.portal.conftest import LiveServer
from tests.portal.test_browser_signin import sign_up
from tests.portal.test_consent import REFERENCE, speak
from voicehub.db import transaction

JA = MESSAGES["ja"]
Screenshot = Callable[[Page, str], Path | None]


def test_the_whole_wizard_records_the_statement_and_revoking_stops_a_studio(
    page: Page, live_server: LiveServer, screenshot: Screenshot
) -> None:
    runtime = live_server.runtime
    sign_up(page, f"actor-{uuid.uuid4().hex[:8]}@example.jp")
    with transaction(runtime.sessions) as session:
        actor_id = session.scalars(select(PortalAccountActor.actor_id)).one()
        voice = register_voice(
            session,
            runtime.engines,
            actor_id=actor_id,
            name="Sakura voice",
            engine=ENGLISH["engine"],
            speaker=ENGLISH["speaker"],
            language=ENGLISH["language"],
        )
        voice_id = voice.id

    # The dashboard's voice card leads to the wizard.
    page.goto("/portal")
    page.locator(f"#voice-{voice_id} a.consent-link").click()
    expect(page.locator("#consent-form")).to_be_visible()
    expect(page.locator("#use-dubbing")).not_to_be_checked()
    page.locator("#use-animation").check()
    page.get_by_label(JA["consent_use_description"]).fill(
        "Supporting characters in animated series for television and streaming."
    )
    page.locator("#price-animation").fill("3000")
    page.get_by_label(JA["consent_notice"]).fill("0")
    screenshot(page, "consent_wizard")
    page.get_by_role("button", name=JA["consent_save"]).click()
    expect(page).to_have_url(re.compile(r"/portal/consent/cns_\w+$"))
    consent_id = page.url.rsplit("/", 1)[1]
    expect(page.locator("#consent-verification")).to_have_attribute("data-verification", "pending")

    # The voice has no reference recording yet: upload one (a real WAV of the voice).
    page.locator("#reference-file").set_input_files(
        {
            "name": "reference.wav",
            "mimeType": "audio/wav",
            "buffer": speak(runtime, voice_id, REFERENCE),
        }
    )
    page.locator("#reference-submit").click()
    expect(page.locator("#recorder")).to_be_visible()

    # Record from the fake microphone (a beep): whatever the verdict, it is shown.
    page.get_by_role("button", name=JA["consent_record"]).click()
    expect(page.locator("#record-seconds")).to_have_text(re.compile(r"^([4-9]|\d\d+)$"))
    page.get_by_role("button", name=JA["consent_stop"]).click()
    # A few seconds of beeps may hold too little sound to score: then the refusal is what
    # the page shows; otherwise the attempt's decision and score.
    verdict = page.locator("#result, #upload-error")
    expect(verdict).to_be_visible()
    if verdict.get_attribute("id") == "result":
        expect(verdict).to_have_attribute(
            "data-decision", re.compile(r"^(verified|operator_review|rejected)$")
        )
        expect(page.locator("#result-score")).to_have_text(re.compile(r"^-?\d+\.\d\d$"))
    else:
        expect(verdict).to_have_attribute("data-code", "recording_rejected")

    # The statement spoken by the voice itself, as a file: verified.
    with runtime.sessions() as session:
        consent = session.get(Consent, consent_id)
        assert consent is not None
        statement = current_version(session, consent).statement_text
    page.locator("#statement-file").set_input_files(
        {
            "name": "statement.wav",
            "mimeType": "audio/wav",
            "buffer": speak(runtime, voice_id, statement),
        }
    )
    page.locator("#statement-submit").click()
    expect(page.locator("#result")).to_have_attribute("data-decision", "verified")
    expect(page.locator("#consent-verification")).to_have_attribute("data-verification", "verified")
    screenshot(page, "consent")

    # A studio casts the voice and synthesizes a line: allowed while consent is in force.
    studio = seed_studio(runtime)
    with httpx.Client(base_url=live_server.url, headers=studio.headers, timeout=60) as api:
        project = api.post(
            "/v1/projects", json={"name": "Ep 1", "language": "en", "use": "animation"}
        )
        assert project.status_code == 201, project.text
        project_id = project.json()["id"]
        cuts = api.post(f"/v1/projects/{project_id}/script", json={"cuts": one_line()})
        assert cuts.status_code == 201, cuts.text
        cast = api.post(
            f"/v1/projects/{project_id}/cast", json={"character": "KEN", "voice_id": voice_id}
        )
        assert cast.status_code == 200, cast.text
        cut = api.get(f"/v1/cuts/{cuts.json()['cut_ids'][0]}").json()
        line_id = cut["lines"][0]["id"]
        assert api.post(f"/v1/lines/{line_id}/takes").status_code == 201

        # Revoke: the confirmation says everything stops now; then it does.
        page.locator("#action-revoke").click()
        expect(page.locator("#confirm-text")).to_contain_text(JA["consent_confirm_revoke_now"][:20])
        page.locator("#confirm-submit").click()
        expect(page.locator("#consent-status")).to_have_attribute("data-status", "revoked")

        refused = api.post(f"/v1/lines/{line_id}/takes")
        assert refused.status_code == 403
        assert refused.json()["code"] == "consent_revoked"


def test_the_consent_pages_fit_a_phone(phone_page: Page, live_server: LiveServer) -> None:
    sign_up(phone_page, f"actor-{uuid.uuid4().hex[:8]}@example.jp")
    with transaction(live_server.runtime.sessions) as session:
        actor_id = session.scalars(select(PortalAccountActor.actor_id)).one()
        voice = register_voice(
            session,
            live_server.runtime.engines,
            actor_id=actor_id,
            name="Sakura voice",
            engine=ENGLISH["engine"],
            speaker=ENGLISH["speaker"],
            language=ENGLISH["language"],
        )
        voice_id = voice.id
    phone_page.goto(f"/portal/consent/new?voice={voice_id}")
    expect(phone_page.locator("#consent-form")).to_be_visible()
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375
