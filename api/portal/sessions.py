"""Browser sessions: a random token in an HTTP-only cookie; the database keeps only its SHA-256.

A session ends after 12 hours without a request (idle) or 7 days after sign-in (absolute),
whichever comes first; `expires_at` always holds the earlier of the two. The cookie is
`Secure` whenever the request came over https or the service runs in production: only a
development or test server on plain http gets a cookie without it (browsers would drop a
Secure cookie there, and nobody could sign in).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from fastapi import Request, Response
from sqlalchemy import delete
from sqlalchemy.orm import Session

from api.portal.tables import PortalSession
from voicehub.db import utcnow

COOKIE = "vh_session"
IDLE = dt.timedelta(hours=12)
ABSOLUTE = dt.timedelta(days=7)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(session: Session, account_id: str, actor_id: str | None) -> tuple[str, PortalSession]:
    """A new session; returns the cookie's token (never stored) and the row."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row = PortalSession(
        token_sha256=_digest(token),
        account_id=account_id,
        csrf_token=secrets.token_urlsafe(32),
        actor_id=actor_id,
        created_at=now,
        last_seen_at=now,
        expires_at=min(now + IDLE, now + ABSOLUTE),
    )
    session.add(row)
    session.flush()
    return token, row


def current(session: Session, request: Request) -> PortalSession | None:
    """The request's live session, its idle expiry pushed forward; None if missing or ended."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    row = session.get(PortalSession, _digest(token))
    if row is None:
        return None
    now = utcnow()
    if row.expires_at <= now or row.created_at + ABSOLUTE <= now:
        session.delete(row)
        return None
    row.last_seen_at = now
    row.expires_at = min(now + IDLE, row.created_at + ABSOLUTE)
    return row


def end(session: Session, request: Request) -> None:
    token = request.cookies.get(COOKIE)
    if token:
        session.execute(delete(PortalSession).where(PortalSession.token_sha256 == _digest(token)))


def secure_cookies(request: Request) -> bool:
    environment: str = request.app.state.runtime.settings.environment
    return request.url.scheme == "https" or environment == "production"


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/portal",
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
    )


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    set_cookie(request, response, COOKIE, token, int(ABSOLUTE.total_seconds()))
