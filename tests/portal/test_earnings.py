"""The earnings page over HTTP: the same figures and the same statement bytes as the actor's API."""

from __future__ import annotations

import io
import re
from typing import Any

from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import select

from api.portal.i18n import MESSAGES
from api.portal.tables import PortalAccount, PortalAccountActor
from tests.factories import SeededVoice, cast_project, one_line, seed_studio, seed_voice
from tests.portal.test_auth import csrf_of, sign_up
from voicehub.db import transaction, utcnow
from voicehub.runtime import Runtime

EN = MESSAGES["en"]


def represent(client: TestClient, runtime: Runtime, email: str, voice: SeededVoice) -> None:
    """An agency signs up, is linked to the seeded actor and shows that actor."""
    assert sign_up(client, email, kind="agency", name="Agency").status_code == 303
    with transaction(runtime.sessions) as session:
        account_id = session.scalar(select(PortalAccount.id).where(PortalAccount.email == email))
        session.add(PortalAccountActor(account_id=account_id, actor_id=voice.actor_id))
    token = csrf_of(client.get("/portal/actors"))
    response = client.post(
        f"/portal/actors/{voice.actor_id}/select",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303


def deliver_line(client: TestClient, runtime: Runtime, voice: SeededVoice, text: str) -> str:
    studio = seed_studio(runtime, name="Studio Kumo")
    project = cast_project(client, studio, {"KEN": voice}, one_line(text))
    response = client.post(f"/v1/lines/{project.line_ids[0]}/takes", headers=studio.headers)
    assert response.status_code == 201, response.text
    return project.line_ids[0]


def field(html: str, currency: str, name: str) -> int:
    block = html.split(f'id="earnings-current-{currency}"', 1)[1].split("</dl>", 1)[0]
    found = re.search(rf'data-field="{name}" data-value="(-?\d+)"', block)
    assert found, block
    return int(found.group(1))


def pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF-")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def english(client: TestClient) -> None:
    client.cookies.set("lang", "en", path="/portal")


def test_figures_and_downloads_are_the_apis_for_the_same_actor(
    client: TestClient, runtime: Runtime
) -> None:
    voice = seed_voice(runtime, name="Ken")
    deliver_line(client, runtime, voice, "The night is young and so are we.")
    represent(client, runtime, "agency@example.com", voice)
    english(client)
    period = utcnow().strftime("%Y-%m")

    page = client.get("/portal/earnings")
    assert page.status_code == 200
    api: dict[str, Any] = client.get(
        f"/v1/actor/statements/{period}", headers=voice.actor_headers
    ).json()
    (figures,) = api["currencies"]
    assert figures["accrued_micros"] > 0
    for name in ("accrued_micros", "carried_in_micros", "total_micros", "payable_minor"):
        assert field(page.text, figures["currency"], name) == figures[name], name
    # The chart: an inline, titled SVG whose month bar carries the same figure.
    assert '<svg viewBox="0 0 360 180" role="img"' in page.text
    assert f'data-label="{period}" data-micros="{figures["accrued_micros"]}"' in page.text
    assert "Studio Kumo" in page.text

    for file_format in ("csv", "pdf"):
        mine = client.get(f"/portal/earnings/statements/{period}/{file_format}")
        theirs = client.get(
            f"/v1/actor/statements/{period}/{file_format}", headers=voice.actor_headers
        )
        assert mine.status_code == theirs.status_code == 200
        assert mine.headers["content-disposition"] == theirs.headers["content-disposition"]
        if file_format == "csv":
            assert mine.content == theirs.content
        else:
            # A PDF carries its own creation time and ids: compare what it says.
            assert pdf_text(mine.content) == pdf_text(theirs.content)
    assert "The night is young" in client.get(f"/portal/earnings/statements/{period}/csv").text

    payout = client.get("/v1/actor/payout-account", headers=voice.actor_headers).json()
    (balance,) = payout["balances"]
    block = page.text.split(f'id="payout-balance-{balance["currency"]}"', 1)[1].split("</dl>")[0]
    assert f'data-value="{balance["payable_minor"]}"' in block
    assert f'data-value="{balance["held_because"]}"' in block
    assert f'data-status="{payout["status"]}"' in page.text


def test_another_actors_statement_is_not_reachable(client: TestClient, runtime: Runtime) -> None:
    mine = seed_voice(runtime, name="Mine")
    other = seed_voice(runtime, name="Other")
    deliver_line(client, runtime, other, "Only the other actor said this.")
    represent(client, runtime, "agency2@example.com", mine)
    period = utcnow().strftime("%Y-%m")

    csv = client.get(f"/portal/earnings/statements/{period}/csv")
    assert csv.status_code == 200
    assert "Only the other actor" not in csv.text
    # Selecting an actor the account does not represent is refused; the session keeps its own.
    token = csrf_of(client.get("/portal/earnings"))
    refused = client.post(f"/portal/actors/{other.actor_id}/select", data={"csrf_token": token})
    assert refused.status_code == 404
    assert (
        "Only the other actor" not in client.get(f"/portal/earnings/statements/{period}/csv").text
    )


def test_a_malformed_period_or_format_says_so(client: TestClient, runtime: Runtime) -> None:
    voice = seed_voice(runtime, name="Ken")
    represent(client, runtime, "agency3@example.com", voice)
    english(client)
    bad = client.get("/portal/earnings/statements/2026-13/csv")
    assert bad.status_code == 422
    assert EN["earnings_bad_period"].format(period="2026-13").replace("'", "&#39;") in bad.text
    assert client.get("/portal/earnings/statements/2026-11/xls").status_code == 404


def test_without_stripe_the_onboarding_button_says_stripe_is_not_configured(
    client: TestClient, runtime: Runtime
) -> None:
    voice = seed_voice(runtime, name="Ken")
    represent(client, runtime, "agency4@example.com", voice)
    english(client)
    page = client.get("/portal/earnings")
    assert 'id="payout-onboard"' in page.text
    response = client.post(
        "/portal/earnings/payout-account",
        data={"csrf_token": csrf_of(page), "country": "JP"},
        follow_redirects=False,
    )
    assert response.status_code == 503
    assert EN["earnings_stripe_not_configured"] in response.text
    assert 'id="payout-error"' in response.text
    # Without the form's token nothing is attempted.
    forged = client.post("/portal/earnings/payout-account", data={"country": "JP"})
    assert forged.status_code == 403


def test_signed_out_goes_to_sign_in(client: TestClient) -> None:
    response = client.get("/portal/earnings", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/portal/signin")
    download = client.get("/portal/earnings/statements/2026-11/csv", follow_redirects=False)
    assert download.status_code == 303


def test_an_agency_without_an_actor_is_told_to_add_one(client: TestClient) -> None:
    assert sign_up(client, "agency5@example.com", kind="agency").status_code == 303
    english(client)
    page = client.get("/portal/earnings")
    assert page.status_code == 200
    assert EN["earnings_no_actor"] in page.text
    assert 'id="earnings-current"' not in page.text
