"""The portal's pages: sign-up, sign-in, the dashboard, an agency's actors, the language switch.

Server-rendered HTML over the same services as the REST API. Errors become HTML pages here
(not problem+json): the portal's users are people in a browser. Every page about an actor
checks that the signed-in account acts for that actor; any other actor is a 404.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import SessionDep
from api.portal import auth, csrf, i18n, sessions
from api.portal.tables import AccountKind, PortalAccount, PortalSession
from consent import service as consent_service
from consent.tables import Actor, Consent
from models.tables import Voice
from voicehub.errors import (
    CsrfRejected,
    EmailTaken,
    InvalidInput,
    NotFound,
    SignInFailed,
    SignInRateLimited,
    VoiceHubError,
)

HERE = Path(__file__).parent
templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)

router = APIRouter(prefix="/portal", include_in_schema=False)

# Messages the sign-in page shows after a redirect (`?m=`), by key: never free text from a URL.
NOTICES = {"expired": "session_expired", "signed_out": "signed_out"}


@dataclass
class Context:
    """One request's view of the portal: who is signed in, in which language."""

    request: Request
    db: Session
    portal_session: PortalSession | None
    account: PortalAccount | None
    lang: str
    anon_csrf: str = field(default="")

    def t(self, key: str, **values: object) -> str:
        return i18n.translator(self.lang)(key, **values)

    @property
    def csrf_token(self) -> str:
        return self.portal_session.csrf_token if self.portal_session else self.anon_csrf


def get_context(request: Request, db: SessionDep) -> Context:
    portal_session = sessions.current(db, request)
    account = db.get(PortalAccount, portal_session.account_id) if portal_session else None
    lang = i18n.choose(
        request.cookies.get(i18n.LANG_COOKIE),
        account.locale if account else None,
        request.headers.get("accept-language"),
    )
    return Context(request, db, portal_session, account, lang, csrf.anonymous_token(request))


Ctx = Annotated[Context, Depends(get_context)]
Field = Annotated[str, Form()]
OptionalField = Annotated[str | None, Form()]


def render(
    ctx: Context,
    template: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **values: Any,
) -> HTMLResponse:
    actors = auth.actors_of(ctx.db, ctx.account.id) if ctx.account else []
    html = templates.get_template(template).render(
        t=ctx.t,
        lang=ctx.lang,
        csrf_token=ctx.csrf_token,
        account=ctx.account,
        actors=actors,
        current_actor_id=ctx.portal_session.actor_id if ctx.portal_session else None,
        path=ctx.request.url.path,
        **values,
    )
    response = HTMLResponse(html, status_code=status, headers=headers)
    if ctx.portal_session is None:
        csrf.remember(ctx.request, response, ctx.anon_csrf)
    return response


def error_page(ctx: Context, error: VoiceHubError) -> HTMLResponse:
    key = {
        NotFound: "err_not_found",
        CsrfRejected: "err_csrf",
        SignInFailed: "err_sign_in_failed",
        EmailTaken: "err_email_taken",
    }.get(type(error), "error_title")
    return render(ctx, "error.html", error.status, message=ctx.t(key), code=error.code)


def to_sign_in() -> RedirectResponse:
    return RedirectResponse("/portal/signin?m=expired", status_code=303)


def signed_in(ctx: Context) -> tuple[PortalSession, PortalAccount] | None:
    if ctx.portal_session is None or ctx.account is None:
        return None
    return ctx.portal_session, ctx.account


def start_session(ctx: Context, account: PortalAccount, actor_id: str | None) -> Response:
    token, _ = sessions.start(ctx.db, account.id, actor_id)
    target = "/portal/actors" if account.kind is AccountKind.AGENCY and not actor_id else "/portal"
    response = RedirectResponse(target, status_code=303)
    sessions.set_session_cookie(ctx.request, response, token)
    return response


# -- sign-up, sign-in, sign-out ---------------------------------------------------------------


@router.get("/signup")
def signup_form(ctx: Ctx) -> Response:
    if signed_in(ctx):
        return RedirectResponse("/portal", status_code=303)
    return render(ctx, "signup.html", form={})


@router.post("/signup")
def signup(
    ctx: Ctx,
    email: Field = "",
    password: Field = "",
    display_name: Field = "",
    kind: Field = "",
    csrf_token: OptionalField = None,
) -> Response:
    try:
        csrf.check(ctx.request, csrf_token, None)
    except CsrfRejected as error:
        return error_page(ctx, error)
    form = {"email": email, "display_name": display_name, "kind": kind}
    if kind not in (AccountKind.ACTOR.value, AccountKind.AGENCY.value):
        return render(ctx, "signup.html", 422, form=form, error=ctx.t("err_kind"))
    try:
        account, actor = auth.sign_up(
            ctx.db,
            email=email,
            password=password,
            display_name=display_name,
            kind=AccountKind(kind),
            locale=ctx.lang,
        )
    except InvalidInput as error:
        field_name = (error.extra.get("fields") or ["email"])[0]
        message = {"password": "err_password", "display_name": "err_name"}.get(
            field_name, "err_email"
        )
        return render(ctx, "signup.html", 422, form=form, error=ctx.t(message))
    except EmailTaken:
        return render(ctx, "signup.html", 409, form=form, error=ctx.t("err_email_taken"))
    return start_session(ctx, account, actor.id if actor else None)


@router.get("/signin")
def signin_form(ctx: Ctx, m: str = "") -> Response:
    if signed_in(ctx):
        return RedirectResponse("/portal", status_code=303)
    notice = ctx.t(NOTICES[m]) if m in NOTICES else None
    return render(ctx, "signin.html", notice=notice, form={})


@router.post("/signin")
def signin(
    ctx: Ctx, email: Field = "", password: Field = "", csrf_token: OptionalField = None
) -> Response:
    try:
        csrf.check(ctx.request, csrf_token, None)
    except CsrfRejected as error:
        return error_page(ctx, error)
    client = ctx.request.client.host if ctx.request.client else "unknown"
    form = {"email": email}
    try:
        account = auth.sign_in(ctx.db, email=email, password=password, client=client)
    except SignInRateLimited as error:
        wait = int(error.extra["retry_after"])
        message = ctx.t("err_rate_limited", minutes=max(1, (wait + 59) // 60))
        return render(ctx, "signin.html", 429, {"Retry-After": str(wait)}, form=form, error=message)
    except SignInFailed:
        # Returned, not raised: the failed attempt must commit to count toward the limit.
        return render(ctx, "signin.html", 401, form=form, error=ctx.t("err_sign_in_failed"))
    actors = auth.actors_of(ctx.db, account.id)
    return start_session(ctx, account, actors[0].id if actors else None)


@router.post("/signout")
def signout(ctx: Ctx, csrf_token: OptionalField = None) -> Response:
    if ctx.portal_session is None:
        return to_sign_in()
    try:
        csrf.check(ctx.request, csrf_token, ctx.portal_session)
    except CsrfRejected as error:
        return error_page(ctx, error)
    sessions.end(ctx.db, ctx.request)
    response = RedirectResponse("/portal/signin?m=signed_out", status_code=303)
    response.delete_cookie(sessions.COOKIE, path="/portal")
    return response


@router.post("/lang")
def switch_language(
    ctx: Ctx, lang: Field = "", next: Field = "/portal", csrf_token: OptionalField = None
) -> Response:
    try:
        csrf.check(ctx.request, csrf_token, ctx.portal_session)
    except CsrfRejected as error:
        return error_page(ctx, error)
    if lang not in i18n.LANGUAGES:
        lang = i18n.DEFAULT
    if ctx.account is not None:
        ctx.account.locale = lang
    # Only back to a portal page: never an open redirect.
    target = next if next.startswith("/portal") and "//" not in next else "/portal"
    response = RedirectResponse(target, status_code=303)
    sessions.set_cookie(ctx.request, response, i18n.LANG_COOKIE, lang, 60 * 60 * 24 * 365)
    return response


# -- the dashboard ----------------------------------------------------------------------------


def voices_and_consents(db: Session, actor_id: str) -> list[dict[str, Any]]:
    """Each voice of the actor with its consent's current version (as the actor API lists)."""
    voices = list(
        db.scalars(select(Voice).where(Voice.actor_id == actor_id).order_by(Voice.created_at))
    )
    consents = {
        c.voice_id: c
        for c in db.scalars(select(Consent).where(Consent.voice_id.in_([v.id for v in voices])))
    }
    rows = []
    for voice in voices:
        consent = consents.get(voice.id)
        version = consent_service.current_version(db, consent) if consent else None
        rows.append({"voice": voice, "consent": consent, "version": version})
    return rows


def dashboard(ctx: Context, account: PortalAccount, actor_id: str | None) -> Response:
    actor = ctx.db.get(Actor, actor_id) if actor_id else None
    if actor_id is not None and (actor is None or not auth.acts_for(ctx.db, account.id, actor_id)):
        return error_page(ctx, NotFound("No such actor."))
    rows = voices_and_consents(ctx.db, actor.id) if actor else []
    return render(ctx, "dashboard.html", actor=actor, rows=rows)


@router.get("")
def home(ctx: Ctx) -> Response:
    if (who := signed_in(ctx)) is None:
        return to_sign_in()
    portal_session, account = who
    return dashboard(ctx, account, portal_session.actor_id)


@router.get("/actors/{actor_id}")
def actor_page(ctx: Ctx, actor_id: str) -> Response:
    if (who := signed_in(ctx)) is None:
        return to_sign_in()
    return dashboard(ctx, who[1], actor_id)


# -- an agency's actors -----------------------------------------------------------------------


@router.get("/actors")
def list_actors(ctx: Ctx) -> Response:
    if (who := signed_in(ctx)) is None:
        return to_sign_in()
    if who[1].kind is not AccountKind.AGENCY:
        return error_page(ctx, NotFound("Only an agency lists actors."))
    return render(ctx, "actors.html")


@router.post("/actors")
def add_actor(ctx: Ctx, name: Field = "", csrf_token: OptionalField = None) -> Response:
    if (who := signed_in(ctx)) is None:
        return to_sign_in()
    portal_session, account = who
    try:
        csrf.check(ctx.request, csrf_token, portal_session)
    except CsrfRejected as error:
        return error_page(ctx, error)
    if account.kind is not AccountKind.AGENCY:
        return error_page(ctx, NotFound("Only an agency adds actors."))
    if not name.strip():
        return render(ctx, "actors.html", 422, error=ctx.t("err_name"))
    actor = auth.add_actor(ctx.db, account, name)
    portal_session.actor_id = actor.id
    return RedirectResponse("/portal/actors", status_code=303)


@router.post("/actors/{actor_id}/select")
def select_actor(ctx: Ctx, actor_id: str, csrf_token: OptionalField = None) -> Response:
    if (who := signed_in(ctx)) is None:
        return to_sign_in()
    portal_session, account = who
    try:
        csrf.check(ctx.request, csrf_token, portal_session)
    except CsrfRejected as error:
        return error_page(ctx, error)
    if not auth.acts_for(ctx.db, account.id, actor_id):
        return error_page(ctx, NotFound("No such actor."))
    portal_session.actor_id = actor_id
    return RedirectResponse("/portal", status_code=303)


def install(app: FastAPI) -> None:
    """The portal's pages and its stylesheet (no CDN: everything is served from here)."""
    from api.portal import pages_consent, pages_earnings, pages_identify, pages_usage

    app.include_router(router)
    for pages in (pages_consent, pages_usage, pages_earnings, pages_identify):
        app.include_router(pages.router)
    app.mount("/portal/static", StaticFiles(directory=HERE / "static"), name="portal-static")
