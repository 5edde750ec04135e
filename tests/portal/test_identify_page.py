"""The "find a clip" page: a clip uploaded in the portal is identified by the API's own service.

Takes are real: synthesized through the studio API and fetched as their delivered WAV. The
page must name the actor's own take with its text and a way to pause or revoke, name another
actor's take without its text, and say plainly why a clip cannot be identified.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect
from sqlalchemy import select

from api.app import create_app
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
from tests.portal.conftest import PHONE, LiveServer
from tests.portal.test_auth import csrf_of
from tests.portal.test_browser_signin import PASSWORD, fits_width, new_email, sign_in, sign_out
from tests.portal.test_browser_signin import sign_up as browser_sign_up
from tests.portal.test_usage import sign_in_for
from tests.provenance.clips import mp3_64k
from voicehub.audio import read_wav, wav_bytes
from voicehub.db import transaction
from voicehub.runtime import Runtime

JA = MESSAGES["ja"]
EN = MESSAGES["en"]
Screenshot = Callable[[Page, str], Path | None]
# Long enough (about 4 s) for both fingerprint methods.
MINE = "The lighthouse keeper kept a diary of every storm that passed the island."
THEIRS = "Thirty seven ships left the harbour that winter, and only nine came back in spring."
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)


@dataclass(frozen=True)
class MadeTake:
    id: str
    wav: bytes


def make_take(client: TestClient, studio: SeededStudio, voice: SeededVoice, text: str) -> MadeTake:
    """One line synthesized through the studio API, and the take's delivered WAV."""
    project = cast_project(client, studio, {"KEN": voice}, one_line(text))
    response = client.post(f"/v1/lines/{project.line_ids[0]}/takes", headers=studio.headers)
    assert response.status_code == 201, response.text
    take_id: str = response.json()["id"]
    audio = client.get(f"/v1/takes/{take_id}/audio", headers=studio.headers)
    assert audio.status_code == 200
    return MadeTake(take_id, audio.content)


def noise_wav(seconds: float, seed: int = 7) -> bytes:
    """White noise at about -20 dBFS: sound, but no voice and no take."""
    samples = np.random.default_rng(seed).standard_normal(round(seconds * 22_050)) * 0.1
    return wav_bytes(np.clip(samples, -1.0, 1.0).astype(np.float32), 22_050)


def upload(
    client: TestClient, data: bytes, name: str = "clip.wav", *, token: str | None = ""
) -> Any:
    """POST the clip with the page's own CSRF token; `token` None sends none, text sends it."""
    if token == "":
        token = csrf_of(client.get("/portal/identify"))
    return client.post(
        "/portal/identify",
        data={} if token is None else {"csrf_token": token},
        files={"file": (name, data, "application/octet-stream")},
    )


def match_block(html: str, take_id: str) -> str:
    found = re.search(rf'<li [^>]*id="match-{take_id}".*?</li>', html, re.S)
    assert found, html
    return found.group(0)


def test_own_take_is_named_with_its_text_and_the_way_to_revoke(
    client: TestClient, runtime: Runtime
) -> None:
    studio = seed_studio(runtime, name="Studio Kumo")
    mine = seed_voice(runtime, name="Aoi Mori")
    theirs = seed_voice(runtime, name="Ren Kato")
    own_take = make_take(client, studio, mine, MINE)
    their_take = make_take(client, studio, theirs, THEIRS)
    sign_in_for(client, runtime, mine.actor_id)

    form = client.get("/portal/identify")
    assert form.status_code == 200
    assert 'id="identify-form"' in form.text and 'enctype="multipart/form-data"' in form.text
    assert 'id="nav-identify"' in form.text

    answer = upload(client, own_take.wav)
    assert answer.status_code == 200, answer.text
    assert 'data-identified="true"' in answer.text
    block = match_block(answer.text, own_take.id)
    assert 'data-own="true"' in block
    assert "Studio Kumo" in block and MINE in block
    assert f'href="/portal/consent/{mine.consent_id}"' in block
    assert JA["identify_next"] in block
    # The WAV as delivered still carries its Content Credentials (a development certificate).
    assert re.search(r'id="identify-credentials" data-state="(untrusted|trusted)"', answer.text)

    # Re-encoded as a site re-uploading it would: still the same take.
    answer = upload(client, mp3_64k(own_take.wav), "clip.mp3")
    assert answer.status_code == 200, answer.text
    block = match_block(answer.text, own_take.id)
    assert MINE in block and "Studio Kumo" in block

    # Two seconds cut from the middle: too short for Chromaprint, not for the short-clip method.
    samples, rate = read_wav(own_take.wav)
    middle = wav_bytes(samples[rate : 3 * rate], rate)
    answer = upload(client, middle)
    assert answer.status_code == 200, answer.text
    assert MINE in match_block(answer.text, own_take.id)
    chromaprint = JA["identify_method_chromaprint_too_short"].format(seconds="3")
    assert f'id="method-chromaprint" data-outcome="too_short">{chromaprint}<' in answer.text
    assert 'id="method-landmarks" data-outcome="matched"' in answer.text

    # Another actor's take: VoiceHub made it, but its text and next step are not ours to see.
    answer = upload(client, their_take.wav)
    assert answer.status_code == 200, answer.text
    block = match_block(answer.text, their_take.id)
    assert 'data-own="false"' in block
    assert "Studio Kumo" in block
    assert THEIRS not in answer.text and "Ren Kato" not in answer.text
    assert "identify-consent-link" not in answer.text
    assert f"match-{own_take.id}" not in answer.text


def test_clips_that_cannot_be_identified_say_why(client: TestClient, runtime: Runtime) -> None:
    voice = seed_voice(runtime, name="Aoi Mori")
    sign_in_for(client, runtime, voice.actor_id)

    answer = upload(client, noise_wav(0.5))
    assert answer.status_code == 422
    assert (
        'data-reason="too_short"' in answer.text and JA["identify_problem_too_short"] in answer.text
    )

    answer = upload(client, PNG, "picture.png")
    assert answer.status_code == 422
    assert 'data-reason="unsupported_format"' in answer.text
    assert JA["identify_problem_unsupported_format"] in answer.text

    answer = upload(client, noise_wav(5.0))
    assert answer.status_code == 200, answer.text
    assert 'data-identified="false"' in answer.text and JA["identify_none"] in answer.text
    assert "identify-match" not in answer.text
    assert re.search(r'id="method-chromaprint" data-outcome="no_match"', answer.text)
    assert re.search(r'id="method-landmarks" data-outcome="no_match"', answer.text)

    runtime.settings.max_upload_bytes = 1000
    answer = upload(client, noise_wav(5.0))
    assert answer.status_code == 413
    assert (
        'data-reason="too_large"' in answer.text and 'data-code="payload_too_large"' in answer.text
    )
    assert JA["identify_problem_too_large"].format(size="0.001 MB") in answer.text


def test_the_page_needs_a_session_and_its_csrf_token(client: TestClient, runtime: Runtime) -> None:
    signed_out = client.get("/portal/identify", follow_redirects=False)
    assert signed_out.status_code == 303
    assert signed_out.headers["location"] == "/portal/signin?m=expired"
    posted = client.post(
        "/portal/identify", files={"file": ("clip.wav", noise_wav(2.0))}, follow_redirects=False
    )
    assert posted.status_code == 303

    voice = seed_voice(runtime, name="Aoi Mori")
    sign_in_for(client, runtime, voice.actor_id)
    answer = upload(client, noise_wav(2.0), token=None)
    assert answer.status_code == 403
    assert 'data-code="csrf_rejected"' in answer.text and 'id="identify-result"' not in answer.text
    answer = upload(client, noise_wav(2.0), token="forged")
    assert answer.status_code == 403


def test_find_a_clip_in_the_browser(
    page: Page, live_server: LiveServer, tmp_path: Path, screenshot: Screenshot
) -> None:
    runtime = live_server.runtime
    studio = seed_studio(runtime, name="Studio Kumo")
    voice = seed_voice(runtime, name="青井さくら")
    # The studio's side through the same API on the same runtime (the browser sees its take).
    with TestClient(create_app(runtime=runtime, run_worker=False)) as api:
        take = make_take(api, studio, voice, MINE)
    clip = tmp_path / "found.mp3"
    clip.write_bytes(mp3_64k(take.wav))

    # An agency account for the actor: signs up, is linked, then signs in as it would next day.
    email = new_email()
    browser_sign_up(page, email, name="ボイスハブ・プロダクション", kind="kind_agency")
    with transaction(runtime.sessions) as session:
        account_id = session.scalar(select(PortalAccount.id).where(PortalAccount.email == email))
        assert account_id is not None
        session.add(PortalAccountActor(account_id=account_id, actor_id=voice.actor_id))
    sign_out(page)
    sign_in(page, email, PASSWORD)

    page.locator("#nav-identify").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(JA["identify_title"])
    page.set_input_files("#identify-file", str(clip))
    page.locator("#identify-submit").click()
    match = page.locator(f"#match-{take.id}")
    expect(match).to_contain_text("Studio Kumo")
    expect(match).to_contain_text(MINE)
    expect(match.locator(".identify-consent-link")).to_have_attribute(
        "href", f"/portal/consent/{voice.consent_id}"
    )
    expect(page.locator("#identify-found")).to_have_text(JA["identify_found"])
    assert fits_width(page, 1280)
    screenshot(page, "portal-identify")

    page.set_viewport_size({"width": PHONE["width"], "height": PHONE["height"]})
    expect(match).to_be_visible()
    assert fits_width(page, PHONE["width"])
    # English runs longer; the answer must still fit a phone.
    page.locator("#lang-switch").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(EN["identify_title"])
    page.set_input_files("#identify-file", str(clip))
    page.locator("#identify-submit").click()
    expect(page.locator("#identify-found")).to_have_text(EN["identify_found"])
    expect(match).to_contain_text(MINE)
    assert fits_width(page, PHONE["width"])
