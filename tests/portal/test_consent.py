"""The consent pages over HTTP: the wizard, the statement upload, the off switch, the receipt."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from api.portal.tables import PortalAccountActor
from consent.service import current_version
from consent.tables import Consent, ConsentStatus, VerificationAttempt
from models.engines import SynthesisSettings
from models.tables import Voice
from models.voices import register_voice
from tests.factories import ENGLISH, seed_voice
from tests.portal.test_auth import csrf_of, sign_up
from voicehub.audio import wav_bytes
from voicehub.db import transaction
from voicehub.runtime import Runtime

REFERENCE = "This is how my voice sounds when I read a calm passage aloud for the reference."


@dataclass(frozen=True)
class Signed:
    actor_id: str
    voice_id: str


def signed_in_actor(client: TestClient, runtime: Runtime, email: str = "aoi@example.com") -> Signed:
    """An actor account (its own actor) with one registered voice and no consent yet."""
    assert sign_up(client, email, name="Aoi Mori").status_code == 303
    with transaction(runtime.sessions) as session:
        link = session.scalars(select(PortalAccountActor)).all()[-1]
        voice = register_voice(
            session,
            runtime.engines,
            actor_id=link.actor_id,
            name="Aoi voice",
            engine=ENGLISH["engine"],
            speaker=ENGLISH["speaker"],
            language=ENGLISH["language"],
        )
    return Signed(link.actor_id, voice.id)


def speak(runtime: Runtime, voice_id: str, text: str) -> bytes:
    with runtime.sessions() as session:
        voice = session.get(Voice, voice_id)
        assert voice is not None
        engine, speaker = voice.engine, voice.speaker
    result = runtime.engines.get(engine).synthesize(
        text, speaker=speaker, settings=SynthesisSettings()
    )
    return wav_bytes(result.audio, result.sample_rate)


def wizard_data(token: str, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "csrf_token": token,
        "signer_kind": "actor",
        "signer_name": "Aoi Mori",
        "representation": "union",
        "uses": ["animation", "games"],
        "use_description": "Supporting characters in animated series and mobile games.",
        "excluded_categories": ["politics"],
        "blocked_terms": "brand x, brand y",
        "languages": "en",
        "territories": "JP, us",
        "studios": "all",
        "allowed_studio_ids": "",
        "blocked_studio_ids": "",
        "currency": "JPY",
        "price_animation": "3000",
        "unit_animation": "1k",
        "price_games": "3000",
        "unit_games": "1k",
        "price_dubbing": "",
        "minimum_per_line": "",
        "actor_share": "70",
        "starts_at": "",
        "ends_at": "",
        "notice_period_days": "30",
    }
    data.update(changes)
    return data


def give_consent(client: TestClient, runtime: Runtime, who: Signed) -> str:
    page = client.get(f"/portal/consent/new?voice={who.voice_id}")
    response = client.post(
        f"/portal/consent/new?voice={who.voice_id}",
        data=wizard_data(csrf_of(page)),
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    found = re.fullmatch(r"/portal/consent/(cns_\w+)", response.headers["location"])
    assert found
    return found.group(1)


def test_the_wizard_creates_a_consent_through_the_service(
    client: TestClient, runtime: Runtime
) -> None:
    who = signed_in_actor(client, runtime)
    dashboard = client.get("/portal")
    assert f"/portal/consent/new?voice={who.voice_id}" in dashboard.text
    page = client.get(f"/portal/consent/new?voice={who.voice_id}")
    assert page.status_code == 200
    # Dubbing is never pre-ticked.
    assert re.search(r'value="dubbing" id="use-dubbing"\s*>', page.text)
    consent_id = give_consent(client, runtime, who)
    with runtime.sessions() as session:
        consent = session.get(Consent, consent_id)
        assert consent is not None and consent.actor_id == who.actor_id
        version = current_version(session, consent)
        assert version.allowed_uses == ["animation", "games"]
        assert version.territories == ["JP", "US"]
        assert version.blocked_terms == ["brand x", "brand y"]
        assert version.prices_per_1k_chars_micros == {
            "animation": 3_000_000_000,
            "games": 3_000_000_000,
        }
        assert version.prices_per_second_micros == {}
        assert version.minimum_per_line_micros == 0
        assert version.allows_voice_build is False
        assert version.actor_share_bps == 7000
        assert version.notice_period_days == 30
        assert version.verification.value == "pending"
    shown = client.get(f"/portal/consent/{consent_id}")
    assert shown.status_code == 200
    assert version.statement_text in shown.text
    assert 'id="reference-form"' in shown.text

    # Changing the terms: the wizard starts from them and saves version 2.
    amend = client.get(f"/portal/consent/new?voice={who.voice_id}")
    assert 'id="amend-note"' in amend.text
    assert 'value="3000"' in amend.text
    changed = client.post(
        f"/portal/consent/new?voice={who.voice_id}",
        data=wizard_data(
            csrf_of(amend),
            price_games="2.5",
            unit_games="second",
            minimum_per_line="12.345678",
            allows_voice_build="on",
        ),
        follow_redirects=False,
    )
    assert changed.headers["location"] == f"/portal/consent/{consent_id}"
    with runtime.sessions() as session:
        consent = session.get(Consent, consent_id)
        assert consent is not None
        amended = current_version(session, consent)
        assert amended.version == 2
        assert amended.prices_per_1k_chars_micros == {"animation": 3_000_000_000}
        assert amended.prices_per_second_micros == {"games": 2_500_000}
        assert amended.minimum_per_line_micros == 12_345_678
        assert amended.allows_voice_build is True
    # The wizard starts from the amended terms: each use's own price and unit.
    again = client.get(f"/portal/consent/new?voice={who.voice_id}")
    assert 'id="price-games" name="price_games" value="2.5"' in again.text
    assert re.search(r'value="second" id="unit-games-second"\s+checked', again.text)
    assert 'value="12.345678"' in again.text
    assert re.search(r'id="allows_voice_build"\s+checked', again.text)


def test_refused_terms_are_shown_next_to_the_form_with_the_values_kept(
    client: TestClient, runtime: Runtime
) -> None:
    who = signed_in_actor(client, runtime)
    token = csrf_of(client.get(f"/portal/consent/new?voice={who.voice_id}"))
    response = client.post(
        f"/portal/consent/new?voice={who.voice_id}",
        data=wizard_data(token, use_description="too short", uses=["dubbing"]),
    )
    assert response.status_code == 422
    assert 'data-code="invalid_input"' in response.text
    assert "too short" in response.text
    assert re.search(r'value="dubbing" id="use-dubbing"\s+checked', response.text)
    bad_price = client.post(
        f"/portal/consent/new?voice={who.voice_id}",
        data=wizard_data(token, price_games="3,000", unit_games="second", minimum_per_line="5"),
    )
    assert bad_price.status_code == 422
    assert 'value="3,000"' in bad_price.text
    assert 'name="minimum_per_line" value="5"' in bad_price.text
    assert re.search(r'value="second" id="unit-games-second"\s+checked', bad_price.text)
    unpriced = client.post(
        f"/portal/consent/new?voice={who.voice_id}", data=wizard_data(token, price_games="")
    )
    assert unpriced.status_code == 422
    assert "price_games" in unpriced.text
    with runtime.sessions() as session:
        assert session.scalars(select(Consent)).all() == []


def test_a_voice_that_is_not_the_actors_is_explained(client: TestClient, runtime: Runtime) -> None:
    other = seed_voice(runtime, name="Someone Else")
    signed_in_actor(client, runtime)
    page = client.get(f"/portal/consent/new?voice={other.voice_id}")
    assert page.status_code == 404
    assert 'id="no-voice"' in page.text


def test_forged_csrf_changes_nothing(client: TestClient, runtime: Runtime) -> None:
    who = signed_in_actor(client, runtime)
    response = client.post(f"/portal/consent/new?voice={who.voice_id}", data=wizard_data("x" * 43))
    assert response.status_code == 403
    consent_id = give_consent(client, runtime, who)
    wav = speak(runtime, who.voice_id, REFERENCE)
    forged = client.post(
        f"/portal/consent/{consent_id}/reference",
        content=wav,
        headers={"Content-Type": "audio/wav", "X-CSRF-Token": "forged"},
    )
    assert forged.status_code == 403
    no_token = client.post(f"/portal/consent/{consent_id}/pause", data={})
    assert no_token.status_code == 403
    with runtime.sessions() as session:
        from consent.identity import REFERENCE_AUDIO
        from models.tables import VoiceArtifact

        assert (
            session.scalars(
                select(VoiceArtifact).where(VoiceArtifact.kind == REFERENCE_AUDIO)
            ).all()
            == []
        )


def test_reference_and_statement_uploads_show_the_verification_result(
    client: TestClient, runtime: Runtime
) -> None:
    who = signed_in_actor(client, runtime)
    consent_id = give_consent(client, runtime, who)
    page = client.get(f"/portal/consent/{consent_id}")
    token = csrf_of(page)
    reference = client.post(
        f"/portal/consent/{consent_id}/reference",
        data={"csrf_token": token},
        files={"file": ("ref.wav", speak(runtime, who.voice_id, REFERENCE), "audio/wav")},
    )
    assert reference.status_code == 200
    assert 'id="reference-form"' not in reference.text
    assert 'id="recorder"' in reference.text
    with runtime.sessions() as session:
        consent = session.get(Consent, consent_id)
        assert consent is not None
        statement = current_version(session, consent).statement_text
    # The no-JS path: a file form.
    result = client.post(
        f"/portal/consent/{consent_id}/statement",
        data={"csrf_token": token},
        files={"file": ("s.wav", speak(runtime, who.voice_id, statement), "audio/wav")},
    )
    assert result.status_code == 200
    assert 'id="result"' in result.text
    with runtime.sessions() as session:
        attempt = session.scalars(select(VerificationAttempt)).one()
    assert f'data-decision="{attempt.decision.value}"' in result.text
    assert f"{attempt.score:.2f}" in result.text
    # The recorder's path: a raw WAV with the token in a header.
    again = client.post(
        f"/portal/consent/{consent_id}/statement",
        content=speak(runtime, who.voice_id, statement + " "),
        headers={"Content-Type": "audio/wav", "X-CSRF-Token": token},
    )
    assert again.status_code in (200, 409)


def test_non_wav_and_oversized_uploads_are_refused_clearly(
    client: TestClient, runtime: Runtime
) -> None:
    who = signed_in_actor(client, runtime)
    consent_id = give_consent(client, runtime, who)
    token = csrf_of(client.get(f"/portal/consent/{consent_id}"))
    not_audio = client.post(
        f"/portal/consent/{consent_id}/reference",
        data={"csrf_token": token},
        files={"file": ("notes.txt", b"not audio at all " * 100, "text/plain")},
    )
    assert not_audio.status_code == 422
    assert 'data-code="recording_rejected"' in not_audio.text
    runtime.settings.max_upload_bytes = 1000
    too_big = client.post(
        f"/portal/consent/{consent_id}/reference",
        data={"csrf_token": token},
        files={"file": ("big.wav", b"\0" * 5000, "audio/wav")},
    )
    assert too_big.status_code == 413
    assert 'data-code="payload_too_large"' in too_big.text
    raw_too_big = client.post(
        f"/portal/consent/{consent_id}/statement",
        content=b"\0" * 5000,
        headers={"Content-Type": "audio/wav", "X-CSRF-Token": token},
    )
    assert raw_too_big.status_code == 413


def test_pause_resume_revoke_with_confirmation_and_the_receipt(
    client: TestClient, runtime: Runtime
) -> None:
    seeded = seed_voice(runtime, name="Mio", notice_period_days=14)
    signed_in_actor(client, runtime)
    with transaction(runtime.sessions) as session:
        from api.portal.tables import PortalSession

        portal_session = session.scalars(select(PortalSession)).one()
        session.add(
            PortalAccountActor(account_id=portal_session.account_id, actor_id=seeded.actor_id)
        )
        portal_session.actor_id = seeded.actor_id
    consent_id = seeded.consent_id
    client.cookies.set("lang", "en")

    def status() -> str:
        with runtime.sessions() as session:
            consent = session.get(Consent, consent_id)
            assert consent is not None
            return current_version(session, consent).status.value

    confirm = client.get(f"/portal/consent/{consent_id}/pause")
    assert "stops every studio" in confirm.text
    token = csrf_of(confirm)
    assert status() == "active"
    client.post(f"/portal/consent/{consent_id}/pause", data={"csrf_token": token})
    assert status() == ConsentStatus.PAUSED.value
    client.post(f"/portal/consent/{consent_id}/resume", data={"csrf_token": token})
    assert status() == "active"
    receipt = client.get(f"/portal/consent/{consent_id}/receipt")
    assert receipt.status_code == 200
    assert "attachment" in receipt.headers["content-disposition"]
    assert receipt.json()["receipt"]["consent_id"] == consent_id
    assert receipt.json()["signature"]["alg"]
    revoke = client.get(f"/portal/consent/{consent_id}/revoke")
    assert "14 days" in revoke.text
    done = client.post(f"/portal/consent/{consent_id}/revoke", data={"csrf_token": token})
    assert status() == "revoked"
    assert 'id="notice-ends"' in done.text
    twice = client.post(f"/portal/consent/{consent_id}/pause", data={"csrf_token": token})
    assert twice.status_code == 409


def test_another_actors_consent_is_a_404(client: TestClient, runtime: Runtime) -> None:
    other = seed_voice(runtime, name="Someone Else")
    signed_in_actor(client, runtime)
    token = csrf_of(client.get("/portal"))
    assert client.get(f"/portal/consent/{other.consent_id}").status_code == 404
    assert client.get(f"/portal/consent/{other.consent_id}/receipt").status_code == 404
    assert client.get(f"/portal/consent/{other.consent_id}/revoke").status_code == 404
    posted = client.post(f"/portal/consent/{other.consent_id}/revoke", data={"csrf_token": token})
    assert posted.status_code == 404
    upload = client.post(
        f"/portal/consent/{other.consent_id}/statement",
        data={"csrf_token": token},
        files={"file": ("s.wav", b"RIFF", "audio/wav")},
    )
    assert upload.status_code == 404
    with runtime.sessions() as session:
        consent = session.get(Consent, other.consent_id)
        assert consent is not None
        assert current_version(session, consent).status.value == "active"


def test_signed_out_is_sent_to_sign_in(client: TestClient) -> None:
    response = client.get("/portal/consent/new?voice=x", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/portal/signin")
