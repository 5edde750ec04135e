"""The portal's core over HTTP: sign-up, sign-in, sessions, CSRF, rate limits, languages."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import ColumnElement, func, select

from api.portal.tables import PortalAccount, PortalAccountActor, PortalSession, SignInAttempt
from consent.tables import Actor
from tests.factories import seed_voice
from voicehub.db import utcnow
from voicehub.runtime import Runtime

PASSWORD = "correct horse battery"


def csrf_of(page: Any) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def sign_up(client: TestClient, email: str, *, kind: str = "actor", name: str = "青井 葵") -> Any:
    token = csrf_of(client.get("/portal/signup"))
    return client.post(
        "/portal/signup",
        data={
            "email": email,
            "password": PASSWORD,
            "display_name": name,
            "kind": kind,
            "csrf_token": token,
        },
        follow_redirects=False,
    )


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> Any:
    token = csrf_of(client.get("/portal/signin"))
    return client.post(
        "/portal/signin",
        data={"email": email, "password": password, "csrf_token": token},
        follow_redirects=False,
    )


def sign_out(client: TestClient) -> None:
    token = csrf_of(client.get("/portal"))
    assert client.post("/portal/signout", data={"csrf_token": token}).status_code == 200


def count(runtime: Runtime, model: type, *where: ColumnElement[bool]) -> int:
    with runtime.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_an_actor_signs_up_with_an_argon2id_hash_and_a_safe_cookie(
    client: TestClient, runtime: Runtime
) -> None:
    response = sign_up(client, "Aoi@Example.com")
    assert response.status_code == 303
    assert response.headers["location"] == "/portal"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("vh_session="))
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/portal" in cookie
    # Plain http on a test server: a Secure cookie would never come back.
    assert "Secure" not in cookie
    token = cookie.split(";")[0].split("=", 1)[1]

    with runtime.sessions() as session:
        account = session.scalars(select(PortalAccount)).one()
        assert account.email == "aoi@example.com"
        assert account.password_hash.startswith("$argon2id$")
        assert PASSWORD not in account.password_hash
        link = session.scalars(select(PortalAccountActor)).one()
        actor = session.get(Actor, link.actor_id)
        assert actor is not None and actor.name == "青井 葵"
        stored = session.scalars(select(PortalSession)).one()
        # Only the token's digest is kept.
        assert stored.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
        assert stored.actor_id == actor.id

    page = client.get("/portal")
    assert page.status_code == 200
    assert "青井 葵" in page.text


def test_the_same_address_cannot_sign_up_twice(client: TestClient, runtime: Runtime) -> None:
    assert sign_up(client, "aoi@example.com").status_code == 303
    sign_out(client)
    again = sign_up(client, "AOI@example.com")
    assert again.status_code == 409
    assert count(runtime, PortalAccount) == 1


def test_sign_up_refuses_a_short_password(client: TestClient, runtime: Runtime) -> None:
    token = csrf_of(client.get("/portal/signup"))
    response = client.post(
        "/portal/signup",
        data={
            "email": "aoi@example.com",
            "password": "short",
            "display_name": "Aoi",
            "kind": "actor",
            "csrf_token": token,
        },
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 422
    assert "at least 10 characters" in response.text
    assert count(runtime, PortalAccount) == 0
    assert count(runtime, Actor) == 0


def test_sign_in_and_out(client: TestClient, runtime: Runtime) -> None:
    sign_up(client, "aoi@example.com")
    sign_out(client)
    assert count(runtime, PortalSession) == 0
    assert client.get("/portal", follow_redirects=False).status_code == 303

    wrong = sign_in(client, "aoi@example.com", "not the password")
    assert wrong.status_code == 401
    assert "vh_session" not in wrong.headers.get("set-cookie", "")
    assert "メールアドレスまたはパスワードが違います" in wrong.text

    right = sign_in(client, "AOI@example.com ")
    assert right.status_code == 303
    assert client.get("/portal").status_code == 200
    assert count(runtime, SignInAttempt, SignInAttempt.succeeded.is_(True)) == 1


def test_repeated_wrong_passwords_are_rate_limited(client: TestClient, runtime: Runtime) -> None:
    sign_up(client, "ren@example.com", name="Ren")
    sign_out(client)
    sign_up(client, "aoi@example.com")
    sign_out(client)
    for _ in range(5):
        assert sign_in(client, "aoi@example.com", "guess guess guess").status_code == 401
    limited = sign_in(client, "aoi@example.com", "guess guess guess")
    assert limited.status_code == 429
    assert 0 < int(limited.headers["retry-after"]) <= 15 * 60 + 1
    # Even the right password waits: the limit is checked before the password.
    assert sign_in(client, "aoi@example.com").status_code == 429
    assert count(runtime, SignInAttempt, SignInAttempt.succeeded.is_(False)) == 5
    # The limit is per address: another account signs in from the same client.
    assert sign_in(client, "ren@example.com").status_code == 303
    sign_out(client)

    # Failures older than the window no longer count.
    with runtime.sessions.begin() as session:
        for attempt in session.scalars(select(SignInAttempt)):
            attempt.attempted_at = utcnow() - dt.timedelta(minutes=16)
    assert sign_in(client, "aoi@example.com").status_code == 303


def test_an_expired_session_redirects_to_sign_in(client: TestClient, runtime: Runtime) -> None:
    sign_up(client, "aoi@example.com")
    with runtime.sessions.begin() as session:
        session.scalars(select(PortalSession)).one().expires_at = utcnow() - dt.timedelta(seconds=1)
    response = client.get("/portal", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/portal/signin?m=expired"
    page = client.get(response.headers["location"], headers={"Accept-Language": "en"})
    assert "Please sign in" in page.text
    assert count(runtime, PortalSession) == 0


def test_a_session_past_its_absolute_lifetime_ends(client: TestClient, runtime: Runtime) -> None:
    sign_up(client, "aoi@example.com")
    with runtime.sessions.begin() as session:
        row = session.scalars(select(PortalSession)).one()
        row.created_at = utcnow() - dt.timedelta(days=8)
    assert client.get("/portal", follow_redirects=False).status_code == 303


def test_a_form_without_the_csrf_token_changes_nothing(
    client: TestClient, runtime: Runtime
) -> None:
    sign_up(client, "agency@example.com", kind="agency", name="Studio Agency")
    before = count(runtime, Actor)
    forged = client.post("/portal/actors", data={"name": "Forged"}, follow_redirects=False)
    assert forged.status_code == 403
    assert 'data-code="csrf_rejected"' in forged.text
    assert "何も変更されていません" in forged.text
    wrong = client.post(
        "/portal/actors", data={"name": "Forged", "csrf_token": "x" * 43}, follow_redirects=False
    )
    assert wrong.status_code == 403
    assert count(runtime, Actor) == before
    # Sign-out is a form too.
    assert client.post("/portal/signout", follow_redirects=False).status_code == 403
    assert count(runtime, PortalSession) == 1


def test_a_sign_in_form_without_the_token_is_refused(client: TestClient, runtime: Runtime) -> None:
    sign_up(client, "aoi@example.com")
    sign_out(client)
    fresh = TestClient(client.app)
    response = fresh.post(
        "/portal/signin",
        data={"email": "aoi@example.com", "password": PASSWORD},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert count(runtime, PortalSession) == 0


def test_a_cross_site_post_is_refused(client: TestClient, runtime: Runtime) -> None:
    sign_up(client, "agency@example.com", kind="agency", name="Studio Agency")
    token = csrf_of(client.get("/portal/actors"))
    response = client.post(
        "/portal/actors",
        data={"name": "Forged", "csrf_token": token},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert count(runtime, PortalAccountActor) == 0
    same_site = client.post(
        "/portal/actors",
        data={"name": "Real", "csrf_token": token},
        headers={"Origin": "http://testserver"},
        follow_redirects=False,
    )
    assert same_site.status_code == 303
    assert count(runtime, PortalAccountActor) == 1


def test_an_agency_adds_two_actors_and_switches(client: TestClient, runtime: Runtime) -> None:
    response = sign_up(client, "agency@example.com", kind="agency", name="Studio Agency")
    assert response.headers["location"] == "/portal/actors"
    assert count(runtime, Actor) == 0
    assert 'id="no-actor"' in client.get("/portal").text

    for name in ("Hana", "Ren"):
        token = csrf_of(client.get("/portal/actors"))
        added = client.post(
            "/portal/actors", data={"name": name, "csrf_token": token}, follow_redirects=False
        )
        assert added.status_code == 303
    with runtime.sessions() as session:
        actors = {a.name: a.id for a in session.scalars(select(Actor))}
    assert set(actors) == {"Hana", "Ren"}
    listing = client.get("/portal/actors").text
    assert "Hana" in listing and "Ren" in listing
    # The last added is shown; switch back to the first.
    assert "Ren" in client.get("/portal").text.split('id="current-actor"')[1]
    token = csrf_of(client.get("/portal/actors"))
    switched = client.post(
        f"/portal/actors/{actors['Hana']}/select",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert switched.status_code == 303
    assert "Hana" in client.get("/portal").text.split('id="current-actor"')[1]
    with runtime.sessions() as session:
        assert session.scalars(select(PortalSession)).one().actor_id == actors["Hana"]


def test_the_dashboard_lists_voices_with_their_consent_status(
    client: TestClient, runtime: Runtime
) -> None:
    seeded = seed_voice(runtime, name="Mio")
    sign_up(client, "agency@example.com", kind="agency", name="Studio Agency")
    with runtime.sessions.begin() as session:
        account = session.scalars(select(PortalAccount)).one()
        session.add(PortalAccountActor(account_id=account.id, actor_id=seeded.actor_id))
    page = client.get(f"/portal/actors/{seeded.actor_id}", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert f'id="voice-{seeded.voice_id}"' in page.text
    assert 'data-status="active"' in page.text
    assert 'data-verification="verified"' in page.text


def test_another_actors_page_is_a_404(client: TestClient, runtime: Runtime) -> None:
    other = seed_voice(runtime, name="Someone Else")
    sign_up(client, "aoi@example.com")
    page = client.get(f"/portal/actors/{other.actor_id}")
    assert page.status_code == 404
    assert "Someone Else" not in page.text
    assert other.voice_id not in page.text
    token = csrf_of(client.get("/portal"))
    select_other = client.post(
        f"/portal/actors/{other.actor_id}/select",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert select_other.status_code == 404
    with runtime.sessions() as session:
        assert session.scalars(select(PortalSession)).one().actor_id != other.actor_id
    # An actor's account has no agency list.
    assert client.get("/portal/actors").status_code == 404


def test_both_languages_render(client: TestClient) -> None:
    assert "ログイン" in client.get("/portal/signin").text  # Japanese by default
    english = client.get("/portal/signin", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert ">Sign in<" in english.text and 'lang="en"' in english.text
    weighted = client.get("/portal/signin", headers={"Accept-Language": "en;q=0.5,ja;q=0.9"})
    assert 'lang="ja"' in weighted.text

    # The switch sets a cookie that wins over Accept-Language.
    token = csrf_of(english)
    switched = client.post(
        "/portal/lang",
        data={"lang": "ja", "next": "/portal/signup", "csrf_token": token},
        follow_redirects=False,
    )
    assert switched.status_code == 303
    assert switched.headers["location"] == "/portal/signup"
    page = client.get("/portal/signup", headers={"Accept-Language": "en"})
    assert "アカウント作成" in page.text
    # Never an open redirect.
    away = client.post(
        "/portal/lang",
        data={"lang": "en", "next": "//evil.example/x", "csrf_token": token},
        follow_redirects=False,
    )
    assert away.headers["location"] == "/portal"


def test_a_signed_in_account_keeps_its_language(client: TestClient, runtime: Runtime) -> None:
    sign_up(client, "aoi@example.com")
    token = csrf_of(client.get("/portal"))
    client.post("/portal/lang", data={"lang": "en", "csrf_token": token, "next": "/portal"})
    with runtime.sessions() as session:
        assert session.scalars(select(PortalAccount)).one().locale == "en"
    client.cookies.delete("lang", path="/portal")
    assert "Voices and consents" in client.get("/portal").text


def test_the_stylesheet_is_served(client: TestClient) -> None:
    css = client.get("/portal/static/portal.css")
    assert css.status_code == 200
    assert "box-sizing" in css.text
    page = client.get("/portal/signin").text
    assert 'name="viewport"' in page and "https://" not in page
