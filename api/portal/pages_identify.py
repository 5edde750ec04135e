"""Portal page: find a clip. Did VoiceHub make this audio, and with whose voice?

An actor (or an agency for its actors) uploads a clip found anywhere. It goes to
`voicehub.provenance.identify.identify`, the same call as the REST API's `POST /v1/identify`,
and the page shows that call's `as_json` for the actors the account acts for: the line's text,
project and cut only for their own voices, as the API answers an actor's key. No rule of
identification lives here; the page only puts the answer into words. The upload is size-checked
before it is read, as every portal upload is (`pages_consent.read_upload`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from api.portal import auth, i18n
from api.portal.pages_consent import check_csrf, read_upload
from api.portal.routes import Context, Ctx, error_page, render, signed_in, to_sign_in
from consent.tables import Consent
from voicehub.errors import ClipUnusable, CsrfRejected, PayloadTooLarge, VoiceHubError
from voicehub.provenance.fingerprints import MIN_SECONDS
from voicehub.provenance.identify import identify
from voicehub.runtime import Runtime

router = APIRouter(include_in_schema=False)

PATH = "/portal/identify"
# Why a clip cannot be identified (`ClipUnusable.reason`), each with its own message; a reason
# added later still gets a clear (if general) one rather than an error page.
REASONS = ("too_short", "silent", "corrupt", "unsupported_format", "too_long")


def _limit_text(limit: int) -> str:
    return f"{limit / 1_000_000:g} MB"


def acts_for_ids(ctx: Context) -> list[str]:
    """The actors whose voices are "yours" on this page: every actor the account acts for."""
    return [actor.id for actor in auth.actors_of(ctx.db, ctx.account.id)] if ctx.account else []


def identify_page(
    ctx: Context,
    *,
    status: int = 200,
    answer: dict[str, Any] | None = None,
    problem: str | None = None,
    problem_code: str | None = None,
) -> Response:
    """The upload form, and the last clip's answer or the reason it got none."""
    runtime: Runtime = ctx.request.app.state.runtime
    current_actor_id = ctx.portal_session.actor_id if ctx.portal_session else None
    return render(
        ctx,
        "identify_page.html",
        status,
        answer=answer,
        problem=problem,
        problem_code=problem_code,
        own_ids=set(acts_for_ids(ctx)),
        consent_ids=_consent_ids(ctx, answer, current_actor_id),
        min_seconds={method.value: f"{seconds:g}" for method, seconds in MIN_SECONDS.items()},
        limit=_limit_text(runtime.settings.max_upload_bytes),
    )


def _consent_ids(
    ctx: Context, answer: dict[str, Any] | None, current_actor_id: str | None
) -> dict[str, str]:
    """voice id → consent id for matches of the shown actor's voices: where "pause or revoke"
    leads. Another actor the agency represents is shown first (their consent pages are theirs)."""
    if answer is None or current_actor_id is None:
        return {}
    voice_ids = [m["voice_id"] for m in answer["matches"] if m["actor"]["id"] == current_actor_id]
    if not voice_ids:
        return {}
    rows = ctx.db.execute(
        select(Consent.voice_id, Consent.id).where(
            Consent.voice_id.in_(voice_ids), Consent.actor_id == current_actor_id
        )
    )
    return {voice_id: consent_id for voice_id, consent_id in rows}


@router.get(PATH)
def identify_form(ctx: Ctx) -> Response:
    if signed_in(ctx) is None:
        return to_sign_in()
    return identify_page(ctx)


@router.post(PATH)
async def identify_clip(request: Request, ctx: Ctx) -> Response:
    if signed_in(ctx) is None:
        return to_sign_in()
    try:
        data, token = await read_upload(request, ctx)
        check_csrf(ctx, token)
    except CsrfRejected as error:
        return await run_in_threadpool(error_page, ctx, error)
    except PayloadTooLarge as error:
        return await run_in_threadpool(
            identify_page, ctx, status=error.status, problem="too_large", problem_code=error.code
        )
    return await run_in_threadpool(answer_clip, ctx, data)


def answer_clip(ctx: Context, data: bytes) -> Response:
    """Identify the clip with the API's own service and show its answer (or why there is none)."""
    if not data:
        return identify_page(ctx, status=422, problem="no_file", problem_code="invalid_input")
    runtime: Runtime = ctx.request.app.state.runtime
    try:
        found = identify(ctx.db, data, trust_anchors_pem=runtime.signing_identity.trust_anchors_pem)
    except ClipUnusable as error:
        reason = error.reason if error.reason in REASONS else "other"
        return identify_page(ctx, status=error.status, problem=reason, problem_code=error.code)
    except VoiceHubError as error:
        return identify_page(ctx, status=error.status, problem="other", problem_code=error.code)
    return identify_page(ctx, answer=found.as_json(studio_id=None, actor_ids=acts_for_ids(ctx)))


i18n.register(
    {
        "en": {
            "nav_identify": "Find a clip",
            "identify_title": "Did VoiceHub make this clip?",
            "identify_intro": "Found audio that sounds like your voice? Upload it (WAV, MP3, "
            "FLAC, Ogg or M4A, at least 1 second of sound). VoiceHub compares it with every "
            "take it has made, even after re-encoding, cutting or mixing, and says which take "
            "it is, or that none matches. Nothing you upload is kept.",
            "identify_file": "Audio file",
            "identify_limit": "Up to {size}.",
            "identify_submit": "Find the clip",
            "identify_result": "Result",
            "identify_clip_seconds": "The clip is {seconds} seconds long.",
            "identify_found": "VoiceHub made this clip.",
            "identify_none": "No VoiceHub take matches this clip. Either VoiceHub did not make "
            "it, or too little of a take is left in it to be sure; nobody is named on a guess.",
            "identify_yours": "Your voice",
            "identify_theirs": "Another actor's voice",
            "identify_theirs_help": "This clip was made with VoiceHub, with a voice that is not "
            "yours. Only the take, the studio and the date are shown.",
            "identify_take": "Take",
            "identify_studio": "Studio",
            "identify_made_at": "Made on",
            "identify_voice": "Voice",
            "identify_actor": "Actor",
            "identify_text": "Line",
            "identify_confidence": "Confidence",
            "identify_next": "If you did not agree to this use, pause or revoke your consent.",
            "identify_next_link": "Open the consent for {voice}",
            "identify_next_select": "Show {actor} to pause or revoke this consent",
            "identify_methods": "How it was checked",
            "identify_method_chromaprint_matched": "Identified by Chromaprint, the audio "
            "fingerprint (confidence {confidence}%).",
            "identify_method_chromaprint_no_match": "Chromaprint, the audio fingerprint, found "
            "no VoiceHub take.",
            "identify_method_chromaprint_too_short": "Too short for Chromaprint (needs about "
            "{seconds} s).",
            "identify_method_landmarks_matched": "Identified by the short-clip method "
            "(confidence {confidence}%).",
            "identify_method_landmarks_no_match": "The short-clip method found no VoiceHub take.",
            "identify_method_landmarks_too_short": "Too short for the short-clip method (needs "
            "about {seconds} s).",
            "identify_credentials": "Content Credentials",
            "identify_credentials_trusted": "The file still carries VoiceHub's Content "
            "Credentials, signed by a trusted authority.",
            "identify_credentials_untrusted": "The file still carries VoiceHub's Content "
            "Credentials — signed, not by a trusted authority.",
            "identify_credentials_invalid": "The file carries Content Credentials that do not "
            "verify: the file or its credentials were changed.",
            "identify_credentials_absent": "The file carries no Content Credentials (re-encoding "
            "usually removes them).",
            "identify_credentials_note": "Content Credentials alone never name a take: they can "
            "be copied onto other audio. The fingerprint decides.",
            "identify_signer": "Signed by",
            "identify_error": "This clip cannot be identified.",
            "identify_problem_too_short": "The clip is too short: upload at least 1 second of "
            "sound.",
            "identify_problem_silent": "The clip is silent: there is no sound to compare.",
            "identify_problem_corrupt": "The file is damaged or incomplete and cannot be read as "
            "audio.",
            "identify_problem_unsupported_format": "This file is not audio VoiceHub can read. "
            "Upload WAV, MP3, FLAC, Ogg or M4A.",
            "identify_problem_too_long": "The clip is too long. Cut it to the part with the "
            "voice and upload that.",
            "identify_problem_too_large": "The file is too large (the limit is {size}). Cut it "
            "to the part with the voice and upload that.",
            "identify_problem_no_file": "Choose an audio file to upload.",
            "identify_problem_other": "Something went wrong while reading the clip. Try another "
            "file.",
        },
        "ja": {
            "nav_identify": "音声を調べる",
            "identify_title": "この音声はVoiceHubで作られたものですか？",
            "identify_intro": "あなたの声に似た音声を見つけたら、アップロードしてください（WAV、"
            "MP3、FLAC、Ogg、M4A。音が1秒以上あるもの）。再エンコードや切り抜き、ほかの音との"
            "ミックスのあとでも、VoiceHubが作ったすべてのテイクと照合し、どのテイクか、または"
            "一致するものがないかをお知らせします。アップロードした音声は保存されません。",
            "identify_file": "音声ファイル",
            "identify_limit": "{size}まで。",
            "identify_submit": "調べる",
            "identify_result": "結果",
            "identify_clip_seconds": "音声の長さは{seconds}秒です。",
            "identify_found": "この音声はVoiceHubで作られました。",
            "identify_none": "この音声に一致するVoiceHubのテイクはありません。VoiceHubで作られて"
            "いないか、テイクの部分が少なすぎて確かめられません。推測で誰かの名前を出すことは"
            "ありません。",
            "identify_yours": "あなたの声",
            "identify_theirs": "ほかの俳優の声",
            "identify_theirs_help": "この音声はVoiceHubで、あなたのものではない声で作られました。"
            "テイク、スタジオ、日付だけを表示します。",
            "identify_take": "テイク",
            "identify_studio": "スタジオ",
            "identify_made_at": "作成日",
            "identify_voice": "声",
            "identify_actor": "俳優",
            "identify_text": "セリフ",
            "identify_confidence": "確からしさ",
            "identify_next": "この使われ方に同意していない場合は、同意を一時停止または撤回して"
            "ください。",
            "identify_next_link": "{voice}の同意を開く",
            "identify_next_select": "{actor}を表示して、この同意を一時停止・撤回する",
            "identify_methods": "照合の方法",
            "identify_method_chromaprint_matched": "音声指紋Chromaprintで特定しました"
            "（確からしさ{confidence}%）。",
            "identify_method_chromaprint_no_match": "音声指紋Chromaprintでは、一致するVoiceHubの"
            "テイクは見つかりませんでした。",
            "identify_method_chromaprint_too_short": "Chromaprintには短すぎます（約{seconds}秒"
            "必要）。",
            "identify_method_landmarks_matched": "短い音声用の方法で特定しました"
            "（確からしさ{confidence}%）。",
            "identify_method_landmarks_no_match": "短い音声用の方法では、一致するVoiceHubの"
            "テイクは見つかりませんでした。",
            "identify_method_landmarks_too_short": "短い音声用の方法にも短すぎます（約{seconds}秒"
            "必要）。",
            "identify_credentials": "コンテンツクレデンシャル",
            "identify_credentials_trusted": "このファイルにはVoiceHubのコンテンツクレデンシャルが"
            "残っており、信頼できる認証局の署名があります。",
            "identify_credentials_untrusted": "このファイルにはVoiceHubのコンテンツクレデンシャルが"
            "残っています。署名はありますが、信頼できる認証局によるものではありません。",
            "identify_credentials_invalid": "このファイルのコンテンツクレデンシャルは検証できません。"
            "ファイルまたはクレデンシャルが変更されています。",
            "identify_credentials_absent": "このファイルにはコンテンツクレデンシャルがありません"
            "（再エンコードでたいてい失われます）。",
            "identify_credentials_note": "コンテンツクレデンシャルだけでテイクを特定することは"
            "ありません（ほかの音声に付け替えられるため）。判断は音声指紋によります。",
            "identify_signer": "署名者",
            "identify_error": "この音声は調べられません。",
            "identify_problem_too_short": "音声が短すぎます。音が1秒以上あるものをアップロード"
            "してください。",
            "identify_problem_silent": "音声が無音です。照合できる音がありません。",
            "identify_problem_corrupt": "ファイルが壊れているか不完全で、音声として読めません。",
            "identify_problem_unsupported_format": "VoiceHubが読める音声ファイルではありません。"
            "WAV、MP3、FLAC、Ogg、M4Aをアップロードしてください。",
            "identify_problem_too_long": "音声が長すぎます。声の部分だけを切り出してアップロード"
            "してください。",
            "identify_problem_too_large": "ファイルが大きすぎます（上限は{size}）。声の部分だけを"
            "切り出してアップロードしてください。",
            "identify_problem_no_file": "アップロードする音声ファイルを選んでください。",
            "identify_problem_other": "音声の読み込み中に問題が起きました。別のファイルで試して"
            "ください。",
        },
    }
)
