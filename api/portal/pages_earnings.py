"""Portal pages: earnings: royalties over time and per studio, statements, payouts and the payout account.

Every figure comes from the code behind the actor's REST API (the statement summary, the
statement downloads, the payout account and the payouts), called for the session's current
actor, so the portal and the API can never disagree about money.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Response
from fastapi.responses import RedirectResponse

from api.deps import RuntimeDep
from api.portal import auth, csrf, i18n
from api.portal.routes import Context, Ctx, OptionalField, error_page, render, signed_in, to_sign_in
from api.routers.billing import (
    PayoutAccountIn,
    PayoutAccountOut,
    PayoutOut,
    list_payouts,
    open_payout_account,
    payout_account_out,
)
from api.routers.statements import (
    PeriodStatementOut,
    StatementPeriodOut,
    statement_download,
    statement_list,
    statement_summary,
)
from voicehub.billing.stripe_gateway import StripeNotConfigured
from voicehub.db import utcnow
from voicehub.errors import CsrfRejected, InvalidInput, NotFound, VoiceHubError
from voicehub.ledger.service import check_period, period_of
from voicehub.ledger.tables import PartyKind
from voicehub.metering.currency import format_minor, micros_per_minor
from voicehub.metering.statements import build_statement, grouped, statement_session
from voicehub.runtime import Runtime

router = APIRouter(include_in_schema=False)

MONTHS = 12
FORMATS = ("csv", "pdf")

i18n.register(
    {
        "en": {
            "nav_earnings": "Earnings",
            "earnings_title": "Earnings",
            "earnings_no_actor": "Add an actor you represent to see their earnings.",
            "earnings_current": "This month so far ({period})",
            "earnings_provisional": "Provisional: the month is still open and these figures "
            "can still grow.",
            "earnings_no_figures": "No royalties yet this month.",
            "earnings_lines": "Lines",
            "earnings_accrued": "Royalties this month",
            "earnings_carried_in": "Carried in from earlier months",
            "earnings_total": "Total",
            "earnings_payable": "Payable",
            "earnings_carried_out": "Carried to next month (under one unit)",
            "earnings_by_month": "Royalties per month (last 12 months)",
            "earnings_by_month_desc": "Bar chart of royalties in {currency} for each of the "
            "last 12 months; the same figures are in the table below.",
            "earnings_by_studio": "Royalties per studio (last 12 months)",
            "earnings_by_studio_desc": "Bar chart of royalties in {currency} from each studio "
            "over the last 12 months; the same figures are in the table below.",
            "earnings_month": "Month",
            "earnings_studio": "Studio",
            "earnings_amount": "Royalties",
            "earnings_no_chart": "Nothing to chart yet.",
            "earnings_statements": "Statements",
            "earnings_no_statements": "No statements yet.",
            "earnings_status_open": "open (provisional)",
            "earnings_status_closed": "closed",
            "earnings_download_csv": "CSV",
            "earnings_download_pdf": "PDF",
            "earnings_payout": "Payouts",
            "earnings_payout_account": "Payout account",
            "earnings_account_not_opened": "Not opened yet",
            "earnings_account_onboarding": "Stripe still needs your details",
            "earnings_account_verified": "Verified: payouts can be made",
            "earnings_threshold": "Paid out from",
            "earnings_held": "Held because",
            "earnings_held_below_threshold": "below the payout threshold",
            "earnings_held_payout_account_unverified": "the payout account is not verified yet",
            "earnings_paid_next": "Paid at the next payout run",
            "earnings_onboard": "Set up payouts with Stripe",
            "earnings_onboard_again": "Continue the Stripe setup",
            "earnings_country": "Country (ISO code, e.g. JP)",
            "earnings_stripe_not_configured": "Payouts through Stripe are not set up on this "
            "VoiceHub server yet, so the payout account cannot be opened now.",
            "earnings_payout_error": "The payout account could not be opened.",
            "earnings_no_payouts": "No payouts yet.",
            "earnings_payout_period": "Month",
            "earnings_payout_amount": "Amount",
            "earnings_payout_status": "Status",
            "earnings_bad_period": "'{period}' is not a month: statements are named by month, "
            "written YYYY-MM (for example 2026-11).",
            "earnings_bad_format": "Statements download as CSV or PDF only.",
            "earnings_payout_pending": "pending",
            "earnings_payout_paid": "paid",
            "earnings_payout_failed": "failed (payable again)",
            "earnings_payout_reversed": "reversed",
        },
        "ja": {
            "nav_earnings": "収益",
            "earnings_title": "収益",
            "earnings_no_actor": "担当する声優を追加すると、その収益が表示されます。",
            "earnings_current": "今月の途中経過（{period}）",
            "earnings_provisional": "暫定値：月が締まるまで金額は増えることがあります。",
            "earnings_no_figures": "今月のロイヤリティはまだありません。",
            "earnings_lines": "セリフ数",
            "earnings_accrued": "今月のロイヤリティ",
            "earnings_carried_in": "前月までの繰越",
            "earnings_total": "合計",
            "earnings_payable": "支払対象額",
            "earnings_carried_out": "翌月への繰越（1単位未満）",
            "earnings_by_month": "月別ロイヤリティ（過去12か月）",
            "earnings_by_month_desc": "過去12か月の月ごとのロイヤリティ（{currency}）の棒グラフ。"
            "同じ数値を下の表に示します。",
            "earnings_by_studio": "スタジオ別ロイヤリティ（過去12か月）",
            "earnings_by_studio_desc": "過去12か月のスタジオごとのロイヤリティ（{currency}）の"
            "棒グラフ。同じ数値を下の表に示します。",
            "earnings_month": "月",
            "earnings_studio": "スタジオ",
            "earnings_amount": "ロイヤリティ",
            "earnings_no_chart": "グラフにするデータはまだありません。",
            "earnings_statements": "明細書",
            "earnings_no_statements": "明細書はまだありません。",
            "earnings_status_open": "集計中（暫定）",
            "earnings_status_closed": "確定",
            "earnings_download_csv": "CSV",
            "earnings_download_pdf": "PDF",
            "earnings_payout": "お支払い",
            "earnings_payout_account": "受取口座",
            "earnings_account_not_opened": "未開設",
            "earnings_account_onboarding": "Stripeへの情報登録が未完了です",
            "earnings_account_verified": "確認済み：お支払いできます",
            "earnings_threshold": "最低支払額",
            "earnings_held": "保留の理由",
            "earnings_held_below_threshold": "最低支払額に達していません",
            "earnings_held_payout_account_unverified": "受取口座の確認が済んでいません",
            "earnings_paid_next": "次回の支払いでお支払いします",
            "earnings_onboard": "Stripeで受取口座を設定する",
            "earnings_onboard_again": "Stripeでの設定を続ける",
            "earnings_country": "国（ISOコード、例：JP）",
            "earnings_stripe_not_configured": "このVoiceHubサーバーではStripeによる支払いが"
            "まだ設定されていないため、今は受取口座を開設できません。",
            "earnings_payout_error": "受取口座を開設できませんでした。",
            "earnings_no_payouts": "お支払いはまだありません。",
            "earnings_payout_period": "対象月",
            "earnings_payout_amount": "金額",
            "earnings_payout_status": "状態",
            "earnings_bad_period": "「{period}」は月ではありません。明細書は YYYY-MM 形式の月で"
            "指定します（例：2026-11）。",
            "earnings_bad_format": "明細書は CSV または PDF でダウンロードできます。",
            "earnings_payout_pending": "処理中",
            "earnings_payout_paid": "支払済み",
            "earnings_payout_failed": "失敗（再度支払対象）",
            "earnings_payout_reversed": "取消",
        },
    }
)


@dataclass(frozen=True)
class Bar:
    label: str
    micros: int
    money: str


@dataclass(frozen=True)
class Chart:
    currency: str
    bars: list[Bar]
    max_micros: int


def money(micros: int, currency: str) -> str:
    """Whole minor units, rounded down as statements round a payable amount."""
    return f"{grouped(format_minor(micros // micros_per_minor(currency), currency))} {currency}"


def last_months(current: str, count: int = MONTHS) -> list[str]:
    year, month = (int(part) for part in current.split("-"))
    months = []
    for _ in range(count):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months[::-1]


def _chart(currency: str, values: list[tuple[str, int]]) -> Chart:
    bars = [Bar(label, micros, money(micros, currency)) for label, micros in values]
    return Chart(currency, bars, max([b.micros for b in bars] + [1]))


def monthly_charts(listing: list[StatementPeriodOut], months: list[str]) -> list[Chart]:
    """One chart per currency: what each month accrued (royalties after refunds)."""
    accrued: dict[str, dict[str, int]] = {}
    for row in listing:
        if row.period in months:
            for figures in row.currencies:
                accrued.setdefault(figures.currency, {})[row.period] = figures.accrued_micros
    return [
        _chart(currency, [(m, per_month.get(m, 0)) for m in months])
        for currency, per_month in sorted(accrued.items())
    ]


def studio_charts(runtime: Runtime, actor_id: str, periods: list[str]) -> list[Chart]:
    """Each studio's share of the window, from the statements' own studio subtotals."""
    totals: dict[str, dict[str, int]] = {}
    with statement_session(runtime.sessions) as session:
        for period in periods:
            statement = build_statement(
                session,
                PartyKind.ACTOR,
                actor_id,
                period,
                thresholds=runtime.settings.payout_thresholds,
            )
            for summary in statement.currencies:
                for subtotal in summary.subtotals:
                    if subtotal.level == "studio":
                        per_studio = totals.setdefault(summary.currency, {})
                        name = subtotal.studio
                        per_studio[name] = per_studio.get(name, 0) + subtotal.net_micros
    return [
        _chart(currency, sorted(per_studio.items(), key=lambda item: (-item[1], item[0])))
        for currency, per_studio in sorted(totals.items())
    ]


def payouts_of(ctx: Context, actor_id: str) -> list[PayoutOut]:
    return list_payouts(ctx.db, auth.acting_as(actor_id), 100, None).data


def current_actor(ctx: Context) -> str | VoiceHubError | None:
    """The session's actor, checked again against the account (an agency may lose one)."""
    who = signed_in(ctx)
    assert who is not None
    portal_session, account = who
    actor_id = portal_session.actor_id
    if actor_id is None:
        return None
    if not auth.acts_for(ctx.db, account.id, actor_id):
        return NotFound("No such actor.")
    return actor_id


def earnings_page(
    ctx: Context, runtime: Runtime, *, status: int = 200, payout_error: str | None = None
) -> Response:
    actor_id = current_actor(ctx)
    if isinstance(actor_id, VoiceHubError):
        return error_page(ctx, actor_id)
    if actor_id is None:
        return render(ctx, "earnings_page.html", status, actor_id=None)
    period = period_of(utcnow())
    months = last_months(period)
    current: PeriodStatementOut = statement_summary(runtime, PartyKind.ACTOR, actor_id, period)
    listing = statement_list(ctx.db, runtime, PartyKind.ACTOR, actor_id).data
    account: PayoutAccountOut = payout_account_out(ctx.db, runtime.settings, actor_id)
    return render(
        ctx,
        "earnings_page.html",
        status,
        actor_id=actor_id,
        period=period,
        current=current,
        listing=listing,
        monthly=monthly_charts(listing, months),
        studios=studio_charts(runtime, actor_id, [r.period for r in listing if r.period in months]),
        account_out=account,
        payouts=payouts_of(ctx, actor_id),
        payout_error=payout_error,
        money=money,
        format_minor=format_minor,
        grouped=grouped,
    )


@router.get("/portal/earnings")
def earnings(ctx: Ctx, runtime: RuntimeDep) -> Response:
    if signed_in(ctx) is None:
        return to_sign_in()
    return earnings_page(ctx, runtime)


@router.get("/portal/earnings/statements/{period}/{file_format}")
def download_statement(ctx: Ctx, runtime: RuntimeDep, period: str, file_format: str) -> Response:
    """The API's own download (same bytes), for the session's actor only."""
    if signed_in(ctx) is None:
        return to_sign_in()
    actor_id = current_actor(ctx)
    if isinstance(actor_id, VoiceHubError):
        return error_page(ctx, actor_id)
    if actor_id is None:
        return error_page(ctx, NotFound("No actor selected."))
    if file_format not in FORMATS:
        return render(
            ctx, "error.html", 404, message=ctx.t("earnings_bad_format"), code="not_found"
        )
    try:
        check_period(period)
        return statement_download(runtime, PartyKind.ACTOR, actor_id, period, file_format)
    except InvalidInput as error:
        message = ctx.t("earnings_bad_period", period=period)
        return render(ctx, "error.html", 422, message=message, code=error.code)
    except VoiceHubError as error:
        return render(ctx, "error.html", error.status, message=error.detail, code=error.code)


@router.post("/portal/earnings/payout-account")
def open_payouts(
    ctx: Ctx, runtime: RuntimeDep, country: OptionalField = None, csrf_token: OptionalField = None
) -> Response:
    """Opens (or resumes) the Stripe Connect onboarding as POST /v1/actor/payout-account does,
    then sends the browser to Stripe's single-use link."""
    if (who := signed_in(ctx)) is None:
        return to_sign_in()
    try:
        csrf.check(ctx.request, csrf_token, who[0])
    except CsrfRejected as error:
        return error_page(ctx, error)
    actor_id = current_actor(ctx)
    if isinstance(actor_id, VoiceHubError):
        return error_page(ctx, actor_id)
    if actor_id is None:
        return error_page(ctx, NotFound("No actor selected."))
    try:
        opened = open_payout_account(
            ctx.db,
            runtime,
            auth.acting_as(actor_id),
            Response(),
            PayoutAccountIn(country=(country or "JP").strip() or "JP"),
        )
    except StripeNotConfigured as error:
        message = f"{ctx.t('earnings_stripe_not_configured')} ({error.detail})"
        return earnings_page(ctx, runtime, status=error.status, payout_error=message)
    except VoiceHubError as error:
        message = f"{ctx.t('earnings_payout_error')} {error.detail}"
        return earnings_page(ctx, runtime, status=error.status, payout_error=message)
    assert opened.onboarding_url is not None
    return RedirectResponse(opened.onboarding_url, status_code=303)
