"""CSRF protection for every portal form.

Signed in, each form carries the session's own token. Before sign-in (the sign-up and sign-in
forms, the language switch) there is no session, so the token is a random value kept in an
HTTP-only cookie and repeated in the form (a double-submit): another site can make the browser
send the cookie, but cannot read it to put in the form. Independently, a POST whose `Origin`
header names another site is refused.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import Request, Response

from api.portal import sessions
from api.portal.tables import PortalSession
from voicehub.errors import CsrfRejected

COOKIE = "vh_csrf"
FIELD = "csrf_token"


def anonymous_token(request: Request) -> str:
    """The pre-sign-in token: the cookie's, or a new one (`remember` must then set it)."""
    return request.cookies.get(COOKIE) or secrets.token_urlsafe(32)


def remember(request: Request, response: Response, token: str) -> None:
    if request.cookies.get(COOKIE) != token:
        sessions.set_cookie(request, response, COOKIE, token, 60 * 60 * 24)


def check(request: Request, sent: object, portal_session: PortalSession | None) -> None:
    """Refuse the POST unless it came from our own page of this session (or this browser)."""
    origin = request.headers.get("origin")
    if origin and origin != "null":
        parts = urlsplit(origin)
        if (parts.scheme, parts.netloc) != (request.url.scheme, request.url.netloc):
            raise CsrfRejected("The form was posted from another site.")
    elif origin == "null":
        raise CsrfRejected("The form was posted from an opaque origin.")
    expected = portal_session.csrf_token if portal_session else request.cookies.get(COOKIE)
    if not isinstance(sent, str) or not expected:
        raise CsrfRejected("The form has no CSRF token.")
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfRejected("The form's CSRF token is wrong.")
