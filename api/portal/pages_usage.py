"""Portal pages: the approvals inbox and every use of the actor's voice.

Approvals are decided through `consent.service.decide_approval`, the same call as the actor
API's `/v1/actor/approvals/{id}/approve|decline|revoke`, so the allowed moves and the studio's
notification live in one place. The usage feed reads the metering records (one per delivered
take) of the session's current actor only; a take's audio is served only when the take was
made with one of that actor's voices.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import Session

from api.deps import RuntimeDep
from api.portal import auth, csrf, i18n
from api.portal.routes import Context, Ctx, OptionalField, error_page, render, signed_in, to_sign_in
from consent import service as consent_service
from consent.tables import ApprovalStatus, ProjectApproval
from models.tables import Voice
from voicehub.errors import Conflict, CsrfRejected, NotFound, VoiceHubError
from voicehub.metering.currency import format_micros
from voicehub.metering.tables import UsageRecord
from voicehub.production.tables import Character, Line, Project, Take
from voicehub.tenancy.tables import Studio

router = APIRouter(include_in_schema=False)
Q = TypeVar("Q", bound="Select[*tuple[Any, ...]]")

PAGE_SIZE = 50
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
ACTIONS = {
    "approve": ApprovalStatus.APPROVED,
    "decline": ApprovalStatus.DECLINED,
    "revoke": ApprovalStatus.REVOKED,
}

i18n.register(
    {
        "en": {
            "nav_approvals": "Approvals",
            "nav_usage": "Uses of my voice",
            "approvals_title": "Project approvals",
            "approvals_intro": "Studios ask before using your voice in a project when your "
            "consent requires it. Approve or decline each request.",
            "approvals_none": "No project has asked yet.",
            "approvals_studio": "Studio",
            "approvals_project": "Project",
            "approvals_character": "Character",
            "approvals_use": "Use",
            "approvals_description": "Description of use",
            "approvals_territories": "Territories",
            "approvals_lines": "Expected lines",
            "approvals_requested": "Requested",
            "approvals_decided": "Decided",
            "approvals_note": "Note",
            "approvals_approve": "Approve",
            "approvals_decline": "Decline",
            "approvals_revoke": "Withdraw approval",
            "approvals_state_pending": "Waiting for you",
            "approvals_state_approved": "Approved",
            "approvals_state_declined": "Declined",
            "approvals_state_revoked": "Approval withdrawn",
            "approvals_done_approved": "Approved: the studio may now synthesize this project.",
            "approvals_done_declined": "Declined: the studio cannot use your voice here.",
            "approvals_done_revoked": "Withdrawn: no further lines will be synthesized.",
            "approvals_err_conflict": "This request can no longer be changed that way "
            "(it was already decided). Nothing was changed.",
            "usage_title": "Every use of my voice",
            "usage_intro": "Each line a studio has delivered with your voice, newest first.",
            "usage_month": "Month (YYYY-MM)",
            "usage_studio": "Studio",
            "usage_project": "Project",
            "usage_all": "All",
            "usage_filter": "Filter",
            "usage_totals": "Totals for this selection",
            "usage_lines": "Lines",
            "usage_seconds": "Seconds",
            "usage_royalty": "Royalty",
            "usage_none": "No lines yet.",
            "usage_date": "Date",
            "usage_character": "Character",
            "usage_use": "Use",
            "usage_older": "Older lines",
            "usage_newest": "Newest lines",
            "usage_listen": "Listen to the take",
            "usage_live": "This page updates itself when a new line is delivered.",
            "usage_err_month": "Enter the month as YYYY-MM.",
        },
        "ja": {
            "nav_approvals": "承認",
            "nav_usage": "声の利用履歴",
            "approvals_title": "プロジェクトの承認",
            "approvals_intro": "同意でプロジェクトごとの承認を求めている場合、スタジオは声を使う前に"
            "申請します。申請ごとに承認または拒否してください。",
            "approvals_none": "まだ申請はありません。",
            "approvals_studio": "スタジオ",
            "approvals_project": "プロジェクト",
            "approvals_character": "役",
            "approvals_use": "用途",
            "approvals_description": "利用内容",
            "approvals_territories": "地域",
            "approvals_lines": "予定セリフ数",
            "approvals_requested": "申請日",
            "approvals_decided": "決定日",
            "approvals_note": "メモ",
            "approvals_approve": "承認する",
            "approvals_decline": "拒否する",
            "approvals_revoke": "承認を取り消す",
            "approvals_state_pending": "あなたの回答待ち",
            "approvals_state_approved": "承認済み",
            "approvals_state_declined": "拒否済み",
            "approvals_state_revoked": "承認取り消し済み",
            "approvals_done_approved": "承認しました。スタジオはこのプロジェクトで合成できます。",
            "approvals_done_declined": "拒否しました。スタジオはこのプロジェクトで声を使えません。",
            "approvals_done_revoked": "取り消しました。これ以降のセリフは合成されません。",
            "approvals_err_conflict": "この申請は既に決定済みのため、その変更はできません。"
            "何も変更されていません。",
            "usage_title": "声の利用履歴",
            "usage_intro": "スタジオがあなたの声で納品したセリフの一覧です（新しい順）。",
            "usage_month": "月（YYYY-MM）",
            "usage_studio": "スタジオ",
            "usage_project": "プロジェクト",
            "usage_all": "すべて",
            "usage_filter": "絞り込む",
            "usage_totals": "この条件の合計",
            "usage_lines": "セリフ数",
            "usage_seconds": "秒数",
            "usage_royalty": "報酬",
            "usage_none": "まだセリフはありません。",
            "usage_date": "日時",
            "usage_character": "役",
            "usage_use": "用途",
            "usage_older": "以前のセリフ",
            "usage_newest": "最新のセリフ",
            "usage_listen": "テイクを聴く",
            "usage_live": "新しいセリフが納品されると、このページは自動で更新されます。",
            "usage_err_month": "月は YYYY-MM の形で入力してください。",
        },
    }
)


def current_actor(ctx: Context) -> str | Response:
    """The session's current actor, or the response to send instead (sign-in, or none chosen)."""
    if (who := signed_in(ctx)) is None:
        return to_sign_in()
    portal_session, account = who
    actor_id = portal_session.actor_id
    if actor_id is None or not auth.acts_for(ctx.db, account.id, actor_id):
        return RedirectResponse("/portal", status_code=303)
    return actor_id


# -- approvals --------------------------------------------------------------------------------


def approvals_of(db: Session, actor_id: str) -> list[dict[str, Any]]:
    pending_first = case((ProjectApproval.status == ApprovalStatus.PENDING, 0), else_=1)
    rows = db.execute(
        select(ProjectApproval, Studio.name, Project.name)
        .join(Studio, Studio.id == ProjectApproval.studio_id)
        .join(Project, Project.id == ProjectApproval.project_id)
        .where(ProjectApproval.actor_id == actor_id)
        .order_by(pending_first, ProjectApproval.created_at.desc(), ProjectApproval.id)
    )
    return [
        {"approval": approval, "studio": studio, "project": project}
        for approval, studio, project in rows
    ]


def approvals_page(ctx: Context, actor_id: str, status: int = 200, **values: Any) -> Response:
    return render(
        ctx, "usage_approvals.html", status, rows=approvals_of(ctx.db, actor_id), **values
    )


@router.get("/portal/approvals")
def approvals(ctx: Ctx, done: str = "") -> Response:
    actor_id = current_actor(ctx)
    if isinstance(actor_id, Response):
        return actor_id
    notice = (
        ctx.t(f"approvals_done_{done}") if done in {s.value for s in ACTIONS.values()} else None
    )
    return approvals_page(ctx, actor_id, notice=notice)


@router.post("/portal/approvals/{approval_id}/{action}")
def decide(
    ctx: Ctx,
    runtime: RuntimeDep,
    approval_id: str,
    action: str,
    csrf_token: OptionalField = None,
) -> Response:
    actor_id = current_actor(ctx)
    if isinstance(actor_id, Response):
        return actor_id
    try:
        csrf.check(ctx.request, csrf_token, ctx.portal_session)
    except CsrfRejected as error:
        return error_page(ctx, error)
    if action not in ACTIONS:
        return error_page(ctx, NotFound("No such action."))
    try:
        approval = consent_service.decide_approval(
            ctx.db,
            runtime.consent_effects,
            actor_id=actor_id,
            approval_id=approval_id,
            status=ACTIONS[action],
        )
    except Conflict:
        return approvals_page(ctx, actor_id, 409, error=ctx.t("approvals_err_conflict"))
    except VoiceHubError as error:
        return error_page(ctx, error)
    return RedirectResponse(f"/portal/approvals?done={approval.status.value}", status_code=303)


# -- the usage feed ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    month: str = ""
    studio: str = ""
    project: str = ""

    def apply(self, query: Q) -> Q:
        if self.month:
            query = query.where(UsageRecord.period == self.month)
        if self.studio:
            query = query.where(UsageRecord.studio_id == self.studio)
        if self.project:
            query = query.where(UsageRecord.project_id == self.project)
        return query

    def query_string(self, **extra: str) -> str:
        from urllib.parse import urlencode

        pairs = {"month": self.month, "studio": self.studio, "project": self.project, **extra}
        return urlencode({k: v for k, v in pairs.items() if v})


def feed_query(actor_id: str, filters: Filters) -> Select[*tuple[Any, ...]]:
    query = (
        select(UsageRecord, Take.text, Studio.name, Project.name, Character.name)
        .join(Take, Take.id == UsageRecord.take_id)
        .join(Line, Line.id == Take.line_id)
        .join(Character, Character.id == Line.character_id)
        .join(Studio, Studio.id == UsageRecord.studio_id)
        .join(Project, Project.id == UsageRecord.project_id)
        .where(UsageRecord.actor_id == actor_id)
    )
    return filters.apply(query)


def _position(db: Session, actor_id: str, record_id: str) -> tuple[dt.datetime, str] | None:
    created = db.scalar(
        select(UsageRecord.created_at).where(
            UsageRecord.id == record_id, UsageRecord.actor_id == actor_id
        )
    )
    return None if created is None else (created, record_id)


def feed_rows(
    db: Session, actor_id: str, filters: Filters, *, before: str = "", since: str = ""
) -> tuple[list[dict[str, Any]], bool]:
    """Newest first; `before` pages to older lines, `since` fetches only newer ones (live)."""
    query = feed_query(actor_id, filters)
    for cursor, older in ((before, True), (since, False)):
        if not cursor:
            continue
        position = _position(db, actor_id, cursor)
        if position is None:
            raise NotFound("No such line.")
        created, record_id = position
        if older:
            query = query.where(
                or_(
                    UsageRecord.created_at < created,
                    and_(UsageRecord.created_at == created, UsageRecord.id < record_id),
                )
            )
        else:
            query = query.where(
                or_(
                    UsageRecord.created_at > created,
                    and_(UsageRecord.created_at == created, UsageRecord.id > record_id),
                )
            )
    query = query.order_by(UsageRecord.created_at.desc(), UsageRecord.id.desc())
    fetched = list(db.execute(query.limit(PAGE_SIZE + 1)))
    rows = [
        {
            "record": record,
            "text": text,
            "studio": studio,
            "project": project,
            "character": character,
            "seconds": f"{record.audio_ms / 1000:.1f}",
            "royalty": format_micros(record.actor_royalty_micros),
        }
        for record, text, studio, project, character in fetched[:PAGE_SIZE]
    ]
    return rows, len(fetched) > PAGE_SIZE


def feed_totals(db: Session, actor_id: str, filters: Filters) -> dict[str, Any]:
    """Lines, seconds and royalty for the whole selection, royalty per currency (never mixed)."""
    query = filters.apply(
        select(
            UsageRecord.currency,
            func.count(UsageRecord.id),
            func.coalesce(func.sum(UsageRecord.audio_ms), 0),
            func.coalesce(func.sum(UsageRecord.actor_royalty_micros), 0),
        ).where(UsageRecord.actor_id == actor_id)
    ).group_by(UsageRecord.currency)
    lines = 0
    audio_ms = 0
    royalties = []
    for currency, count, ms, micros in db.execute(query.order_by(UsageRecord.currency)):
        lines += int(count)
        audio_ms += int(ms)
        royalties.append({"currency": currency, "amount": format_micros(int(micros))})
    return {"lines": lines, "seconds": f"{audio_ms / 1000:.1f}", "royalties": royalties}


def filter_choices(db: Session, actor_id: str) -> dict[str, list[tuple[str, str]]]:
    studios = db.execute(
        select(Studio.id, Studio.name)
        .where(Studio.id.in_(select(UsageRecord.studio_id).where(UsageRecord.actor_id == actor_id)))
        .order_by(Studio.name)
    )
    projects = db.execute(
        select(Project.id, Project.name)
        .where(
            Project.id.in_(select(UsageRecord.project_id).where(UsageRecord.actor_id == actor_id))
        )
        .order_by(Project.name)
    )
    return {
        "studios": [(i, n) for i, n in studios],
        "projects": [(i, n) for i, n in projects],
    }


def read_filters(month: str, studio: str, project: str) -> Filters:
    return Filters(month.strip(), studio.strip(), project.strip())


@router.get("/portal/usage")
def usage(
    ctx: Ctx, month: str = "", studio: str = "", project: str = "", before: str = ""
) -> Response:
    actor_id = current_actor(ctx)
    if isinstance(actor_id, Response):
        return actor_id
    filters = read_filters(month, studio, project)
    values: dict[str, Any] = {
        "filters": filters,
        "choices": filter_choices(ctx.db, actor_id),
        "before": before,
    }
    if filters.month and not MONTH.match(filters.month):
        return render(
            ctx,
            "usage_feed.html",
            422,
            error=ctx.t("usage_err_month"),
            rows=[],
            more=False,
            totals=feed_totals(ctx.db, actor_id, Filters()),
            **{**values, "filters": Filters()},
        )
    try:
        rows, more = feed_rows(ctx.db, actor_id, filters, before=before)
    except VoiceHubError as error:
        return error_page(ctx, error)
    totals = feed_totals(ctx.db, actor_id, filters)
    return render(ctx, "usage_feed.html", rows=rows, more=more, totals=totals, **values)


@router.get("/portal/usage/rows")
def usage_rows(
    ctx: Ctx, month: str = "", studio: str = "", project: str = "", since: str = ""
) -> Response:
    """The lines newer than `since` and the selection's totals: the feed's live part."""
    actor_id = current_actor(ctx)
    if isinstance(actor_id, Response):
        return actor_id
    filters = read_filters(month, studio, project)
    if filters.month and not MONTH.match(filters.month):
        return error_page(ctx, NotFound("No such month."))
    try:
        rows, _ = feed_rows(ctx.db, actor_id, filters, since=since)
    except VoiceHubError as error:
        return error_page(ctx, error)
    totals = feed_totals(ctx.db, actor_id, filters)
    return render(ctx, "usage_rows.html", rows=rows, totals=totals)


@router.get("/portal/usage/takes/{take_id}/audio")
def take_audio(ctx: Ctx, runtime: RuntimeDep, take_id: str) -> Response:
    """A take's WAV, only when it was made with one of the current actor's voices."""
    actor_id = current_actor(ctx)
    if isinstance(actor_id, Response):
        return actor_id
    take = ctx.db.scalar(
        select(Take)
        .join(Voice, Voice.id == Take.voice_id)
        .where(Take.id == take_id, Voice.actor_id == actor_id)
    )
    if take is None:
        return error_page(ctx, NotFound("No such take."))
    return Response(
        runtime.storage.get(take.audio_key),
        media_type="audio/wav",
        headers={"Content-Disposition": f'inline; filename="{take.id}.wav"'},
    )
