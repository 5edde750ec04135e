"""Portal pages: the consent wizard, recording the spoken statement, pausing, resuming and revoking.

Every change goes through the same services as the actor API (consent.service, consent.identity,
the API's own receipt handler), so the portal cannot grant what the API would refuse. Uploads are
size-checked from their declared length before a byte is read.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.deps import get_raw_body
from api.portal import auth, csrf, i18n
from api.portal.routes import (
    Context,
    Ctx,
    OptionalField,
    error_page,
    render,
    signed_in,
    to_sign_in,
    voices_and_consents,
)
from api.portal.tables import PortalAccount
from api.routers.actor import get_receipt
from consent import service
from consent.content import CONTENT_CATEGORIES
from consent.identity import (
    REFERENCE_AUDIO,
    Thresholds,
    actor_voice,
    submit_statement,
    upload_reference_audio,
)
from consent.tables import (
    Consent,
    ConsentStatus,
    ConsentVersion,
    Representation,
    SignerKind,
    Use,
    VerificationAttempt,
)
from consent.terms import ConsentTerms
from models.tables import Voice, VoiceArtifact
from voicehub.db import utcnow
from voicehub.errors import CsrfRejected, InvalidInput, NotFound, PayloadTooLarge, VoiceHubError
from voicehub.runtime import Runtime

router = APIRouter(include_in_schema=False)

ACTIONS = {
    "pause": ConsentStatus.PAUSED,
    "resume": ConsentStatus.ACTIVE,
    "revoke": ConsentStatus.REVOKED,
}
CSRF_HEADER = "x-csrf-token"
_AMOUNT = re.compile(r"^\s*(\d{1,12})(?:\.(\d{1,6}))?\s*$")


# -- who: the session's current actor -----------------------------------------------------------


def current_actor(ctx: Context) -> tuple[str, PortalAccount] | Response:
    """The actor this session shows, or the response to send instead (sign-in, or 404)."""
    if (who := signed_in(ctx)) is None:
        return to_sign_in()
    portal_session, account = who
    actor_id = portal_session.actor_id
    if actor_id is None or not auth.acts_for(ctx.db, account.id, actor_id):
        return error_page(ctx, NotFound("No actor is selected."))
    return actor_id, account


def changed_by(actor_id: str, account: PortalAccount) -> str:
    return f"actor:{actor_id} via portal:{account.id}"


def check_csrf(ctx: Context, sent: object) -> None:
    csrf.check(ctx.request, sent, ctx.portal_session)


# -- the wizard ---------------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return [w for w in (p.strip() for p in re.split(r"[,\n、，]", text)) if w]


def parse_amount_micros(text: str, field_name: str) -> int:
    """A decimal amount in major units ("3000", "0.5") as integer micro-units, never a float."""
    found = _AMOUNT.match(text)
    if not found:
        raise InvalidInput(
            f"{field_name}: enter a number such as 3000 or 0.5.", fields=[field_name]
        )
    whole, fraction = found.group(1), (found.group(2) or "")
    return int(whole) * 1_000_000 + int(fraction.ljust(6, "0"))


def parse_share_bps(text: str) -> int:
    """A percentage ("70", "72.5") as basis points."""
    found = re.match(r"^\s*(\d{1,3})(?:\.(\d{1,2}))?\s*$", text)
    if not found:
        raise InvalidInput("actor_share: enter a percentage such as 70.", fields=["actor_share"])
    return int(found.group(1)) * 100 + int((found.group(2) or "").ljust(2, "0"))


def parse_date(text: str, field_name: str) -> dt.datetime | None:
    if not text.strip():
        return None
    try:
        day = dt.date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            f"{field_name}: enter a date as YYYY-MM-DD.", fields=[field_name]
        ) from None
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def terms_from_form(form: dict[str, Any]) -> ConsentTerms:
    """The wizard's answers as the same `ConsentTerms` the API builds (and validates the same)."""
    uses = list(form["uses"])
    per_1k: dict[str, int] = {}
    per_second: dict[str, int] = {}
    for use in uses:
        price = parse_amount_micros(form["prices"].get(use, ""), f"price_{use}")
        if form["units"].get(use) == "second":
            per_second[use] = price
        else:
            per_1k[use] = price
    minimum_text = form["minimum_per_line"].strip() or "0"
    minimum = parse_amount_micros(minimum_text, "minimum_per_line")
    share = parse_share_bps(form["actor_share"])
    notice = form["notice_period_days"].strip() or "0"
    if not notice.isdigit():
        raise InvalidInput("notice_period_days: enter a whole number of days.", fields=["notice"])
    starts_at = parse_date(form["starts_at"], "starts_at")
    signer_kind = (
        form["signer_kind"] if form["signer_kind"] in {k.value for k in SignerKind} else "actor"
    )
    representation = (
        form["representation"]
        if form["representation"] in {r.value for r in Representation}
        else "none"
    )
    listed = form["studios"] == "listed"
    return ConsentTerms(
        signer_kind=SignerKind(signer_kind),
        signer_name=form["signer_name"],
        representation=Representation(representation),
        use_description=form["use_description"],
        allowed_uses=tuple(uses),
        excluded_categories=tuple(form["excluded_categories"]),
        blocked_terms=tuple(_words(form["blocked_terms"])),
        languages=tuple(_words(form["languages"])),
        territories=tuple(w.upper() for w in _words(form["territories"])),
        allowed_studio_ids=tuple(_words(form["allowed_studio_ids"])) if listed else (),
        blocked_studio_ids=tuple(_words(form["blocked_studio_ids"])),
        requires_project_approval=form["requires_project_approval"],
        currency=form["currency"].strip().upper(),
        prices_per_1k_chars_micros=per_1k,
        prices_per_second_micros=per_second,
        minimum_per_line_micros=minimum,
        allows_voice_build=form["allows_voice_build"],
        actor_share_bps=share,
        starts_at=starts_at or utcnow(),
        ends_at=parse_date(form["ends_at"], "ends_at"),
        notice_period_days=int(notice),
    )


def _amount_text(micros: int) -> str:
    whole, fraction = divmod(micros, 1_000_000)
    return f"{whole}.{fraction:06d}".rstrip("0").rstrip(".") if fraction else str(whole)


def form_of_version(version: ConsentVersion | None, voice: Voice, signer: str) -> dict[str, Any]:
    """The wizard's starting values: the current terms when amending, safe defaults otherwise."""
    if version is None:
        return {
            "signer_kind": "actor",
            "signer_name": signer,
            "representation": "none",
            "use_description": "",
            "uses": [],
            "excluded_categories": [],
            "blocked_terms": "",
            "languages": voice.language,
            "territories": "WW",
            "studios": "all",
            "allowed_studio_ids": "",
            "blocked_studio_ids": "",
            "requires_project_approval": False,
            "currency": "JPY",
            "prices": {},
            "units": {},
            "minimum_per_line": "0",
            "allows_voice_build": False,
            "actor_share": "70",
            "starts_at": "",
            "ends_at": "",
            "notice_period_days": "30",
        }
    prices = {use: _amount_text(p) for use, p in version.prices_per_1k_chars_micros.items()}
    units = dict.fromkeys(version.prices_per_1k_chars_micros, "1k")
    for use, price in version.prices_per_second_micros.items():
        prices[use], units[use] = _amount_text(price), "second"
    return {
        "signer_kind": version.signer_kind.value,
        "signer_name": version.signer_name,
        "representation": version.representation.value,
        "use_description": version.use_description,
        "uses": list(version.allowed_uses),
        "excluded_categories": list(version.excluded_categories),
        "blocked_terms": ", ".join(version.blocked_terms),
        "languages": ", ".join(version.languages),
        "territories": ", ".join(version.territories),
        "studios": "listed" if version.allowed_studio_ids else "all",
        "allowed_studio_ids": "\n".join(version.allowed_studio_ids),
        "blocked_studio_ids": "\n".join(version.blocked_studio_ids),
        "requires_project_approval": version.requires_project_approval,
        "currency": version.currency,
        "prices": prices,
        "units": units,
        "minimum_per_line": _amount_text(version.minimum_per_line_micros),
        "allows_voice_build": version.allows_voice_build,
        "actor_share": _amount_text(version.actor_share_bps * 10_000),
        "starts_at": version.starts_at.date().isoformat(),
        "ends_at": version.ends_at.date().isoformat() if version.ends_at else "",
        "notice_period_days": str(version.notice_period_days),
    }


def wizard_page(
    ctx: Context,
    voice: Voice | None,
    consent: Consent | None,
    form: dict[str, Any],
    status: int = 200,
    error: VoiceHubError | None = None,
) -> Response:
    categories = [
        {"id": c.id, "label": c.label_ja if ctx.lang == "ja" else c.label_en}
        for c in CONTENT_CATEGORIES.values()
    ]
    return render(
        ctx,
        "consent_new.html",
        status,
        voice=voice,
        consent=consent,
        form=form,
        error=error,
        uses=[u.value for u in Use],
        categories=categories,
    )


def _voice_and_consent(ctx: Context, actor_id: str, voice_id: str) -> tuple[Voice, Consent | None]:
    voice = actor_voice(ctx.db, actor_id, voice_id)
    consent = ctx.db.scalar(select(Consent).where(Consent.voice_id == voice.id))
    return voice, consent


@router.get("/portal/consent")
def consent_index(ctx: Ctx) -> Response:
    """The current actor's voices, each with a way to give, open or change its consent."""
    who = current_actor(ctx)
    if isinstance(who, Response):
        return who
    return render(ctx, "consent_index.html", rows=voices_and_consents(ctx.db, who[0]))


@router.get("/portal/consent/new")
def wizard(ctx: Ctx, voice: str = "") -> Response:
    who = current_actor(ctx)
    if isinstance(who, Response):
        return who
    actor_id, account = who
    if not voice:
        return wizard_page(ctx, None, None, {}, 404)
    try:
        found, consent = _voice_and_consent(ctx, actor_id, voice)
    except NotFound:
        return wizard_page(ctx, None, None, {}, 404)
    version = service.current_version(ctx.db, consent) if consent else None
    return wizard_page(ctx, found, consent, form_of_version(version, found, account.display_name))


@router.post("/portal/consent/new")
async def submit_wizard(request: Request, ctx: Ctx, voice: str = "") -> Response:
    who = current_actor(ctx)
    if isinstance(who, Response):
        return who
    actor_id, account = who
    posted = await request.form(max_files=0)
    try:
        check_csrf(ctx, posted.get(csrf.FIELD))
    except CsrfRejected as error:
        return error_page(ctx, error)

    def text(name: str) -> str:
        value = posted.get(name)
        return value if isinstance(value, str) else ""

    form: dict[str, Any] = {
        name: text(name)
        for name in (
            "signer_kind",
            "signer_name",
            "representation",
            "use_description",
            "blocked_terms",
            "languages",
            "territories",
            "studios",
            "allowed_studio_ids",
            "blocked_studio_ids",
            "currency",
            "minimum_per_line",
            "actor_share",
            "starts_at",
            "ends_at",
            "notice_period_days",
        )
    }
    form["uses"] = [u for u in posted.getlist("uses") if isinstance(u, str)]
    form["excluded_categories"] = [
        c for c in posted.getlist("excluded_categories") if isinstance(c, str)
    ]
    form["requires_project_approval"] = text("requires_project_approval") == "on"
    form["allows_voice_build"] = text("allows_voice_build") == "on"
    form["prices"] = {use.value: text(f"price_{use.value}") for use in Use}
    form["units"] = {use.value: text(f"unit_{use.value}") for use in Use}
    return await run_in_threadpool(save_terms, ctx, actor_id, account, voice, form)


def save_terms(
    ctx: Context, actor_id: str, account: PortalAccount, voice_id: str, form: dict[str, Any]
) -> Response:
    try:
        voice, consent = _voice_and_consent(ctx, actor_id, voice_id)
    except NotFound as error:
        return error_page(ctx, error)
    runtime: Runtime = ctx.request.app.state.runtime
    try:
        terms = terms_from_form(form)
        if consent is None:
            version = service.grant_consent(
                ctx.db, voice=voice, terms=terms, changed_by=changed_by(actor_id, account)
            )
            consent_id = version.consent_id
        else:
            service.amend_terms(
                ctx.db,
                runtime.consent_effects,
                actor_id=actor_id,
                consent_id=consent.id,
                terms=terms,
                changed_by=changed_by(actor_id, account),
            )
            consent_id = consent.id
    except VoiceHubError as error:
        ctx.db.rollback()
        return wizard_page(ctx, voice, consent, form, error.status, error)
    return RedirectResponse(f"/portal/consent/{consent_id}", status_code=303)


# -- one consent: statement, recordings, the off switch, the receipt ----------------------------


def consent_page(
    ctx: Context,
    actor_id: str,
    consent_id: str,
    *,
    status: int = 200,
    attempt_id: str = "",
    error: VoiceHubError | None = None,
) -> Response:
    try:
        consent = service.get_actor_consent(ctx.db, actor_id, consent_id)
    except NotFound as error_404:
        return error_page(ctx, error_404)
    version = service.current_version(ctx.db, consent)
    voice = ctx.db.get(Voice, consent.voice_id)
    assert voice is not None
    has_reference = (
        ctx.db.scalar(
            select(VoiceArtifact.id).where(
                VoiceArtifact.voice_id == voice.id, VoiceArtifact.kind == REFERENCE_AUDIO
            )
        )
        is not None
    )
    attempt = None
    if attempt_id:
        attempt = ctx.db.scalar(
            select(VerificationAttempt)
            .join(ConsentVersion, ConsentVersion.id == VerificationAttempt.consent_version_id)
            .where(VerificationAttempt.id == attempt_id, ConsentVersion.consent_id == consent.id)
        )
    return render(
        ctx,
        "consent_show.html",
        status,
        consent=consent,
        version=version,
        voice=voice,
        has_reference=has_reference,
        attempt=attempt,
        error=error,
        actions=service_actions(version),
        max_upload_bytes=ctx.request.app.state.runtime.settings.max_upload_bytes,
    )


def service_actions(version: ConsentVersion) -> list[str]:
    """Which of pause/resume/revoke the current status allows (the service refuses the rest)."""
    if version.status is ConsentStatus.ACTIVE:
        return ["pause", "revoke"]
    if version.status is ConsentStatus.PAUSED:
        return ["resume", "revoke"]
    if version.status is ConsentStatus.REVOKED and version.notice_ends_at:
        return ["revoke"]
    return []


@router.get("/portal/consent/{consent_id}")
def show_consent(ctx: Ctx, consent_id: str, attempt: str = "") -> Response:
    who = current_actor(ctx)
    if isinstance(who, Response):
        return who
    return consent_page(ctx, who[0], consent_id, attempt_id=attempt)


async def read_upload(request: Request, ctx: Context) -> tuple[bytes, object]:
    """The WAV and the CSRF token sent with it: a raw `audio/wav` body from the page's recorder
    (token in a header) or a file form (token in a field). The declared size is checked first."""
    runtime: Runtime = request.app.state.runtime
    limit = runtime.settings.max_upload_bytes
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        declared = request.headers.get("content-length", "")
        # Multipart needs a declared length here: the file form always sends one.
        if not declared.isdigit() or int(declared) > limit + 64 * 1024:
            raise PayloadTooLarge(f"The upload is over the limit of {limit} bytes.", limit=limit)
        posted = await request.form(max_files=1, max_fields=4, max_part_size=64 * 1024)
        upload = posted.get("file")
        data = await upload.read(limit + 1) if isinstance(upload, UploadFile) else b""
        if len(data) > limit:
            raise PayloadTooLarge(f"The upload is over the limit of {limit} bytes.", limit=limit)
        return data, posted.get(csrf.FIELD)
    return await get_raw_body(request, runtime), request.headers.get(CSRF_HEADER)


def _upload_error(ctx: Context, actor_id: str, consent_id: str, error: VoiceHubError) -> Response:
    if isinstance(error, CsrfRejected):
        return error_page(ctx, error)
    return consent_page(ctx, actor_id, consent_id, status=error.status, error=error)


async def _receive_upload(
    request: Request,
    ctx: Context,
    consent_id: str,
    store: Callable[[Context, str, str, bytes], Response],
) -> Response:
    """A recording upload: signed in, CSRF-checked, size-checked, then `store`d."""
    who = current_actor(ctx)
    if isinstance(who, Response):
        return who
    actor_id = who[0]
    try:
        data, token = await read_upload(request, ctx)
        check_csrf(ctx, token)
    except VoiceHubError as error:
        return await run_in_threadpool(_upload_error, ctx, actor_id, consent_id, error)
    return await run_in_threadpool(store, ctx, actor_id, consent_id, data)


@router.post("/portal/consent/{consent_id}/statement")
async def upload_statement(request: Request, ctx: Ctx, consent_id: str) -> Response:
    return await _receive_upload(request, ctx, consent_id, record_statement)


def record_statement(ctx: Context, actor_id: str, consent_id: str, data: bytes) -> Response:
    runtime: Runtime = ctx.request.app.state.runtime
    settings = runtime.settings
    try:
        attempt, _ = submit_statement(
            ctx.db,
            vault=runtime.vault,
            storage=runtime.storage,
            verifier=runtime.speaker_verifier,
            thresholds=Thresholds(
                settings.verify_accept_threshold, settings.verify_reject_threshold
            ),
            actor_id=actor_id,
            consent_id=consent_id,
            data=data,
        )
    except VoiceHubError as error:
        ctx.db.rollback()
        return _upload_error(ctx, actor_id, consent_id, error)
    return RedirectResponse(
        f"/portal/consent/{consent_id}?attempt={attempt.id}#result", status_code=303
    )


@router.post("/portal/consent/{consent_id}/reference")
async def upload_reference(request: Request, ctx: Ctx, consent_id: str) -> Response:
    return await _receive_upload(request, ctx, consent_id, store_reference)


def store_reference(ctx: Context, actor_id: str, consent_id: str, data: bytes) -> Response:
    runtime: Runtime = ctx.request.app.state.runtime
    try:
        consent = service.get_actor_consent(ctx.db, actor_id, consent_id)
        upload_reference_audio(
            ctx.db, runtime.vault, actor_id=actor_id, voice_id=consent.voice_id, data=data
        )
    except VoiceHubError as error:
        ctx.db.rollback()
        return _upload_error(ctx, actor_id, consent_id, error)
    return RedirectResponse(f"/portal/consent/{consent_id}#statement", status_code=303)


@router.get("/portal/consent/{consent_id}/receipt")
def download_receipt(ctx: Ctx, consent_id: str) -> Response:
    """The API's own signed receipt, offered as a file to keep."""
    who = current_actor(ctx)
    if isinstance(who, Response):
        return who
    actor_id = who[0]
    runtime: Runtime = ctx.request.app.state.runtime
    try:
        receipt = get_receipt(consent_id, ctx.db, auth.acting_as(actor_id), runtime)
    except VoiceHubError as error:
        return error_page(ctx, error)
    return Response(
        json.dumps(receipt, ensure_ascii=False, indent=2),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="consent-{consent_id}.json"'},
    )


@router.get("/portal/consent/{consent_id}/{action}")
def confirm_action(ctx: Ctx, consent_id: str, action: str) -> Response:
    """Say exactly what pausing, resuming or revoking will do, before it is done."""
    who = current_actor(ctx)
    if isinstance(who, Response):
        return who
    if action not in ACTIONS:
        return error_page(ctx, NotFound("No such action."))
    try:
        consent = service.get_actor_consent(ctx.db, who[0], consent_id)
    except NotFound as error:
        return error_page(ctx, error)
    version = service.current_version(ctx.db, consent)
    notice_ends = (
        utcnow() + dt.timedelta(days=version.notice_period_days)
        if version.notice_period_days
        else None
    )
    return render(
        ctx,
        "consent_confirm.html",
        consent=consent,
        version=version,
        action=action,
        notice_ends=notice_ends,
    )


@router.post("/portal/consent/{consent_id}/{action}")
def do_action(
    ctx: Ctx,
    consent_id: str,
    action: str,
    csrf_token: OptionalField = None,
    reason: OptionalField = None,
    immediately: OptionalField = None,
) -> Response:
    who = current_actor(ctx)
    if isinstance(who, Response):
        return who
    actor_id, account = who
    try:
        check_csrf(ctx, csrf_token)
    except CsrfRejected as error:
        return error_page(ctx, error)
    if action not in ACTIONS:
        return error_page(ctx, NotFound("No such action."))
    runtime: Runtime = ctx.request.app.state.runtime
    try:
        service.change_status(
            ctx.db,
            runtime.consent_effects,
            actor_id=actor_id,
            consent_id=consent_id,
            status=ACTIONS[action],
            changed_by=changed_by(actor_id, account),
            reason=(reason or "").strip()[:500],
            immediately=immediately == "on",
        )
    except NotFound as error:
        return error_page(ctx, error)
    except VoiceHubError as error:
        ctx.db.rollback()
        return consent_page(ctx, actor_id, consent_id, status=error.status, error=error)
    return RedirectResponse(f"/portal/consent/{consent_id}", status_code=303)


i18n.register(
    {
        "en": {
            "nav_consent": "Consent",
            "consent_index_title": "Consent for my voices",
            "consent_give": "Give consent",
            "consent_open": "Open consent",
            "consent_change": "Change terms",
            "consent_no_voice": "No such voice for this actor.",
            "consent_no_voice_help": "Voices are registered by the VoiceHub operator after an "
            "identity check (or you can create a voice through the actor API). Ask the operator "
            "to register your voice; it then appears on your dashboard.",
            "consent_new_title": "Consent for {voice}",
            "consent_amend_note": "Changing the terms creates a new version. Until you record "
            "the statement again, studios cannot use the voice.",
            "consent_error": "The terms were not saved:",
            "consent_signer": "Who signs",
            "consent_signer_help": "You, or the agency or estate signing for you.",
            "consent_signer_actor": "the actor",
            "consent_signer_agency": "an agency",
            "consent_signer_estate": "an estate",
            "consent_signer_name": "Name of the person signing",
            "consent_representation": "Representation",
            "consent_representation_help": "Whether a union or a lawyer advised you.",
            "consent_rep_none": "none",
            "consent_rep_union": "union",
            "consent_rep_legal": "lawyer",
            "consent_rep_union_and_legal": "union and lawyer",
            "consent_uses": "Uses",
            "consent_uses_help": "Studios may use your voice only for what you tick. Dubbing "
            "stays off unless you tick it.",
            "consent_use_dubbing": "Dubbing",
            "consent_use_animation": "Animation",
            "consent_use_games": "Games",
            "consent_use_advertising": "Advertising",
            "consent_use_audiobooks": "Audiobooks",
            "consent_use_elearning": "E-learning",
            "consent_use_description": "Describe the uses in your own words",
            "consent_use_description_help": "At least 30 characters; studios read this.",
            "consent_excluded": "Content you refuse",
            "consent_excluded_help": "Lines in these categories are refused before they are "
            "spoken.",
            "consent_blocked_terms": "Blocked words (comma separated)",
            "consent_blocked_terms_help": "Any line containing one of these words is refused.",
            "consent_languages": "Languages (comma separated codes, e.g. ja, en)",
            "consent_languages_help": "Your voice speaks only these languages.",
            "consent_territories": "Territories (WW for worldwide, or codes like JP, US)",
            "consent_territories_help": "Where the audio may be published.",
            "consent_studios": "Studios",
            "consent_studios_help": "All studios, or only the ones you list. Blocked studios "
            "are always refused.",
            "consent_studios_all": "all studios",
            "consent_studios_listed": "only these studios",
            "consent_allowed_studios": "Allowed studio IDs (one per line)",
            "consent_blocked_studios": "Blocked studio IDs (one per line)",
            "consent_approval": "Ask me to approve each project",
            "consent_approval_help": "A project cannot use your voice until you approve it.",
            "consent_prices": "Price",
            "consent_prices_help": "What a studio pays for each use you ticked, in major "
            "units (e.g. 3000 yen), per 1,000 characters or per second of audio. Uses you "
            "did not tick need no price.",
            "consent_currency": "Currency (e.g. JPY, USD)",
            "consent_price": "Price",
            "consent_price_for": "Price for {use}",
            "consent_minimum": "Minimum per line",
            "consent_minimum_help": "The least a studio pays for any one line, however short "
            "(0 for no minimum).",
            "consent_voice_build": "Allow VoiceHub to build a voice model from my recordings",
            "consent_voice_build_help": "Off unless you tick it. Without it, your recordings are "
            "not used to train a model of your voice.",
            "consent_unit_1k": "per 1,000 characters",
            "consent_unit_second": "per second",
            "consent_share": "Your royalty share (%)",
            "consent_share_help": "The part of each price paid to you.",
            "consent_dates": "Dates",
            "consent_dates_help": "Consent starts on the start date (today if empty) and ends "
            "on the end date (never if empty).",
            "consent_starts": "Start date",
            "consent_ends": "End date",
            "consent_notice": "Notice period (days)",
            "consent_notice_help": "If you revoke, projects you already approved may finish "
            "within this many days. 0 means everything stops at once.",
            "consent_save": "Save terms",
            "consent_title": "Consent for {voice}",
            "consent_version": "Version",
            "consent_terms": "Terms",
            "consent_prices_label": "Prices",
            "consent_per_1k": "/ 1,000 characters",
            "consent_per_second": "/ second",
            "consent_notice_ends": "Approved projects may continue until",
            "consent_statement": "Record the statement",
            "consent_statement_help": "Read this aloud. Your recording is compared with your "
            "voice's reference recording; the terms take effect once it matches.",
            "consent_reference": "Reference recording",
            "consent_reference_help": "This voice has no reference recording yet. Upload a WAV "
            "of you speaking naturally (3 to 120 seconds) before recording the statement.",
            "consent_upload_reference": "Upload reference",
            "consent_record": "Record",
            "consent_stop": "Stop and send",
            "consent_recording": "Recording… seconds:",
            "consent_mic_error": "The microphone could not be used. Upload a WAV file instead.",
            "consent_or_file": "Or upload a WAV file",
            "consent_upload": "Upload",
            "consent_result": "Verification result",
            "consent_decision": "Decision",
            "consent_score": "Speaker match score",
            "consent_reason": "Why",
            "consent_upload_error": "The recording was not accepted:",
            "consent_action_error": "That change could not be made:",
            "consent_switch": "Pause, resume or revoke",
            "consent_pause": "Pause",
            "consent_resume": "Resume",
            "consent_revoke": "Revoke",
            "consent_receipt": "Download the consent receipt",
            "consent_receipt_help": "A signed record of the terms and their verification.",
            "consent_confirm_title": "Confirm: {action}",
            "consent_confirm_pause": "Pausing stops every studio from generating your voice "
            "from now on, until you resume. Nothing is deleted.",
            "consent_confirm_resume": "Resuming lets studios generate your voice again under "
            "the current terms, from now on.",
            "consent_confirm_revoke_now": "Revoking stops everything now: no new projects and "
            "no further lines. Your voice's recordings and models are then destroyed. Lines "
            "already delivered stay credited and paid. This cannot be undone.",
            "consent_confirm_revoke_notice": "Revoking stops new projects now. Projects you "
            "already approved may continue until {date} (your notice period of {days} days). "
            "After that, your voice's recordings and models are destroyed. Lines already "
            "delivered stay credited and paid. This cannot be undone.",
            "consent_confirm_revoke_cut": "Your consent is revoked and its notice period runs "
            "until {date}. Ending it now stops every project at once and destroys your "
            "voice's recordings and models.",
            "consent_immediately": "Stop everything now, without the notice period",
            "consent_reason_field": "Reason (optional)",
            "consent_confirm": "Yes, {action}",
            "consent_cancel": "Cancel",
        },
        "ja": {
            "nav_consent": "同意",
            "consent_index_title": "声の利用への同意",
            "consent_give": "同意する",
            "consent_open": "同意を開く",
            "consent_change": "条件を変更",
            "consent_no_voice": "この俳優の声が見つかりません。",
            "consent_no_voice_help": "声は本人確認のあとVoiceHubの運営者が登録します（俳優APIで"
            "声を作成することもできます）。運営者に声の登録を依頼してください。登録後、"
            "ダッシュボードに表示されます。",
            "consent_new_title": "{voice}の利用への同意",
            "consent_amend_note": "条件を変更すると新しい版になります。同意文をもう一度録音する"
            "まで、スタジオはこの声を使えません。",
            "consent_error": "条件は保存されませんでした：",
            "consent_signer": "署名する人",
            "consent_signer_help": "ご本人、またはご本人に代わって署名する事務所・遺族など。",
            "consent_signer_actor": "俳優本人",
            "consent_signer_agency": "事務所",
            "consent_signer_estate": "遺族・相続人",
            "consent_signer_name": "署名する人の氏名",
            "consent_representation": "助言を受けた相手",
            "consent_representation_help": "組合や弁護士から助言を受けたかどうか。",
            "consent_rep_none": "なし",
            "consent_rep_union": "組合",
            "consent_rep_legal": "弁護士",
            "consent_rep_union_and_legal": "組合と弁護士",
            "consent_uses": "用途",
            "consent_uses_help": "スタジオはチェックした用途にだけ声を使えます。吹き替えは"
            "チェックしない限り許可されません。",
            "consent_use_dubbing": "吹き替え",
            "consent_use_animation": "アニメーション",
            "consent_use_games": "ゲーム",
            "consent_use_advertising": "広告",
            "consent_use_audiobooks": "オーディオブック",
            "consent_use_elearning": "eラーニング",
            "consent_use_description": "用途をご自分の言葉で説明してください",
            "consent_use_description_help": "30文字以上。スタジオが読みます。",
            "consent_excluded": "断る内容",
            "consent_excluded_help": "これらの分類のセリフは、音声にする前に拒否されます。",
            "consent_blocked_terms": "禁止語（カンマ区切り）",
            "consent_blocked_terms_help": "これらの語を含むセリフはすべて拒否されます。",
            "consent_languages": "言語（カンマ区切りのコード。例：ja, en）",
            "consent_languages_help": "あなたの声はこれらの言語だけを話します。",
            "consent_territories": "地域（全世界はWW、または JP, US などのコード）",
            "consent_territories_help": "音声を公開してよい地域。",
            "consent_studios": "スタジオ",
            "consent_studios_help": "すべてのスタジオ、または指定したスタジオのみ。ブロックした"
            "スタジオは常に拒否されます。",
            "consent_studios_all": "すべてのスタジオ",
            "consent_studios_listed": "指定したスタジオのみ",
            "consent_allowed_studios": "許可するスタジオID（1行に1つ）",
            "consent_blocked_studios": "ブロックするスタジオID（1行に1つ）",
            "consent_approval": "プロジェクトごとに承認する",
            "consent_approval_help": "承認するまで、そのプロジェクトはあなたの声を使えません。",
            "consent_prices": "料金",
            "consent_prices_help": "チェックした用途ごとにスタジオが支払う金額（例：3000円）。"
            "1,000文字あたり、または音声1秒あたり。チェックしていない用途の料金は不要です。",
            "consent_currency": "通貨（例：JPY, USD）",
            "consent_price": "料金",
            "consent_price_for": "{use}の料金",
            "consent_minimum": "1セリフあたりの最低料金",
            "consent_minimum_help": "どんなに短いセリフでも、スタジオが1セリフごとに支払う最低額"
            "（最低額なしは0）。",
            "consent_voice_build": "録音から声のモデルを作ることをVoiceHubに許可する",
            "consent_voice_build_help": "チェックしない限り許可されません。許可しなければ、録音は"
            "あなたの声のモデルの学習に使われません。",
            "consent_unit_1k": "1,000文字あたり",
            "consent_unit_second": "1秒あたり",
            "consent_share": "あなたの取り分（%）",
            "consent_share_help": "料金のうち、あなたに支払われる割合。",
            "consent_dates": "期間",
            "consent_dates_help": "開始日（空欄なら今日）から終了日（空欄なら期限なし）まで"
            "有効です。",
            "consent_starts": "開始日",
            "consent_ends": "終了日",
            "consent_notice": "予告期間（日数）",
            "consent_notice_help": "同意を撤回したとき、承認済みのプロジェクトはこの日数の間だけ"
            "続けられます。0ならすぐにすべて止まります。",
            "consent_save": "条件を保存",
            "consent_title": "{voice}の同意",
            "consent_version": "版",
            "consent_terms": "条件",
            "consent_prices_label": "料金",
            "consent_per_1k": "／1,000文字",
            "consent_per_second": "／秒",
            "consent_notice_ends": "承認済みプロジェクトの継続期限",
            "consent_statement": "同意文を録音する",
            "consent_statement_help": "次の文を読み上げてください。録音はこの声の参照録音と"
            "照合され、一致すると条件が有効になります。",
            "consent_reference": "参照録音",
            "consent_reference_help": "この声にはまだ参照録音がありません。同意文を録音する前に、"
            "自然に話したWAV（3〜120秒）をアップロードしてください。",
            "consent_upload_reference": "参照録音をアップロード",
            "consent_record": "録音",
            "consent_stop": "停止して送信",
            "consent_recording": "録音中… 秒数：",
            "consent_mic_error": "マイクを使えませんでした。WAVファイルをアップロードしてください。",
            "consent_or_file": "またはWAVファイルをアップロード",
            "consent_upload": "アップロード",
            "consent_result": "照合結果",
            "consent_decision": "判定",
            "consent_score": "話者一致スコア",
            "consent_reason": "理由",
            "consent_upload_error": "録音は受け付けられませんでした：",
            "consent_action_error": "変更できませんでした：",
            "consent_switch": "一時停止・再開・撤回",
            "consent_pause": "一時停止",
            "consent_resume": "再開",
            "consent_revoke": "撤回",
            "consent_receipt": "同意の受領証をダウンロード",
            "consent_receipt_help": "条件と照合結果の署名付き記録です。",
            "consent_confirm_title": "確認：{action}",
            "consent_confirm_pause": "一時停止すると、今からすべてのスタジオがあなたの声を生成"
            "できなくなります。再開するまで続きます。何も削除されません。",
            "consent_confirm_resume": "再開すると、今から現在の条件でスタジオが再びあなたの声を"
            "生成できます。",
            "consent_confirm_revoke_now": "撤回すると、今すぐすべて止まります。新しいプロジェクトも"
            "追加のセリフもありません。その後、あなたの声の録音とモデルは破棄されます。納品済みの"
            "セリフのクレジットと支払いは残ります。取り消せません。",
            "consent_confirm_revoke_notice": "撤回すると、新しいプロジェクトは今すぐ止まります。"
            "承認済みのプロジェクトは{date}まで（予告期間{days}日）続けられます。その後、あなたの"
            "声の録音とモデルは破棄されます。納品済みのセリフのクレジットと支払いは残ります。"
            "取り消せません。",
            "consent_confirm_revoke_cut": "同意は撤回済みで、予告期間は{date}までです。今すぐ"
            "終了すると、すべてのプロジェクトが止まり、声の録音とモデルが破棄されます。",
            "consent_immediately": "予告期間を待たずに今すぐすべて止める",
            "consent_reason_field": "理由（任意）",
            "consent_confirm": "はい、{action}します",
            "consent_cancel": "キャンセル",
        },
    }
)
