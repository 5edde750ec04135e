"""Portal accounts: sign-up, sign-in with argon2id hashes and rate limits, agencies' actors.

Actors are made by `consent.service.create_actor`, the same rule the rest of VoiceHub uses;
the portal only links accounts to them.
"""

from __future__ import annotations

import datetime as dt
import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.deps import ActorPrincipal
from api.portal.tables import AccountKind, PortalAccount, PortalAccountActor, SignInAttempt
from consent.service import create_actor
from consent.tables import Actor
from voicehub.db import utcnow
from voicehub.errors import EmailTaken, InvalidInput, SignInFailed, SignInRateLimited
from voicehub.ids import new_id
from voicehub.tenancy.service import Principal

# argon2-cffi's defaults are argon2id (RFC 9106's low-memory profile).
_hasher = PasswordHasher()
# A hash to verify against when the address is unknown, so both paths cost the same.
_DUMMY_HASH = _hasher.hash("no such account, same cost")

MIN_PASSWORD = 10
WINDOW = dt.timedelta(minutes=15)
MAX_FAILURES_PER_EMAIL = 5
# Several people may share one address (an office): a looser limit per client.
MAX_FAILURES_PER_CLIENT = 20
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalize_email(email: str) -> str:
    email = email.strip().lower()
    if len(email) > 320 or not _EMAIL.match(email):
        raise InvalidInput("Enter a valid e-mail address.", fields=["email"])
    return email


def sign_up(
    session: Session,
    *,
    email: str,
    password: str,
    display_name: str,
    kind: AccountKind,
    locale: str,
) -> tuple[PortalAccount, Actor | None]:
    """An actor's account comes with its actor; an agency's adds actors later."""
    email = normalize_email(email)
    if len(password) < MIN_PASSWORD:
        raise InvalidInput("The password needs at least 10 characters.", fields=["password"])
    if not display_name.strip():
        raise InvalidInput("Enter a name.", fields=["display_name"])
    if session.scalar(select(PortalAccount.id).where(PortalAccount.email == email)) is not None:
        raise EmailTaken("An account with this e-mail address exists.")
    account = PortalAccount(
        id=new_id("pac"),
        email=email,
        password_hash=_hasher.hash(password),
        kind=kind,
        display_name=display_name.strip(),
        locale=locale,
    )
    session.add(account)
    session.flush()
    actor = None
    if kind is AccountKind.ACTOR:
        actor = add_actor(session, account, display_name)
    return account, actor


def add_actor(session: Session, account: PortalAccount, name: str) -> Actor:
    actor = create_actor(session, name)
    session.add(PortalAccountActor(account_id=account.id, actor_id=actor.id))
    session.flush()
    return actor


def actors_of(session: Session, account_id: str) -> list[Actor]:
    return list(
        session.scalars(
            select(Actor)
            .join(PortalAccountActor, PortalAccountActor.actor_id == Actor.id)
            .where(PortalAccountActor.account_id == account_id)
            .order_by(PortalAccountActor.created_at, Actor.id)
        )
    )


def acts_for(session: Session, account_id: str, actor_id: str) -> bool:
    return (
        session.get(PortalAccountActor, {"account_id": account_id, "actor_id": actor_id})
        is not None
    )


def retry_after(session: Session, email: str, client: str) -> int | None:
    """Seconds until another try is allowed, or None when the limits are not reached."""
    now = utcnow()
    since = now - WINDOW
    waits: list[int] = []
    for column, value, limit in (
        (SignInAttempt.email, email, MAX_FAILURES_PER_EMAIL),
        (SignInAttempt.client, client, MAX_FAILURES_PER_CLIENT),
    ):
        failed = (
            column == value,
            SignInAttempt.succeeded.is_(False),
            SignInAttempt.attempted_at > since,
        )
        if (session.scalar(select(func.count()).where(*failed)) or 0) >= limit:
            # Allowed again once the oldest counted failure leaves the window.
            times = session.scalars(
                select(SignInAttempt.attempted_at)
                .where(*failed)
                .order_by(SignInAttempt.attempted_at.desc())
                .limit(limit)
            ).all()
            waits.append(max(1, int((times[-1] + WINDOW - now).total_seconds()) + 1))
    return max(waits) if waits else None


def sign_in(session: Session, *, email: str, password: str, client: str) -> PortalAccount:
    """The account, or SignInFailed / SignInRateLimited. Every try is recorded.

    The caller must commit even when this raises SignInFailed, or failures would not count.
    """
    email = email.strip().lower()[:320]
    client = client[:64]
    wait = retry_after(session, email, client)
    if wait is not None:
        raise SignInRateLimited("Too many failed sign-ins.", retry_after=wait)
    account = session.scalar(select(PortalAccount).where(PortalAccount.email == email))
    ok = False
    try:
        ok = _hasher.verify(account.password_hash if account else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        ok = False
    ok = ok and account is not None
    session.add(SignInAttempt(id=new_id("sia"), email=email, client=client, succeeded=ok))
    session.flush()
    if not ok or account is None:
        raise SignInFailed("Wrong e-mail address or password.")
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = _hasher.hash(password)
    return account


def acting_as(actor_id: str) -> ActorPrincipal:
    """The portal acts for the session's actor as the actor's own API key would, so the
    REST API's actor handlers serve its pages unchanged."""
    principal = Principal(key_id="portal", scopes=frozenset({"read", "consent"}), actor_id=actor_id)
    return ActorPrincipal(actor_id, principal)
