"""The portal's two languages. Every visible string is a key here, so a page never mixes them.

Language choice, first match wins: the `lang` cookie (set by the header's switch), the signed-in
account's locale, the browser's Accept-Language, then Japanese.
"""

from __future__ import annotations

from collections.abc import Callable

LANGUAGES = ("ja", "en")
DEFAULT = "ja"
LANG_COOKIE = "lang"

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "app_name": "VoiceHub for actors",
        "lang_switch": "日本語",
        "nav_dashboard": "My voices",
        "nav_actors": "Actors",
        "sign_in": "Sign in",
        "sign_up": "Create an account",
        "sign_out": "Sign out",
        "email": "E-mail address",
        "password": "Password",
        "password_hint": "At least 10 characters.",
        "display_name": "Your name (or your agency's)",
        "kind": "I am",
        "kind_actor": "an actor",
        "kind_agency": "an agency representing actors",
        "have_account": "Already have an account?",
        "no_account": "New to VoiceHub?",
        "signed_out": "You have signed out.",
        "session_expired": "Please sign in (your session has ended or you were not signed in).",
        "dashboard_title": "Voices and consents",
        "acting_for": "Showing",
        "no_actor": "Add an actor you represent to see their voices and consents.",
        "no_voices": "No voices yet.",
        "voice": "Voice",
        "language": "Language",
        "consent": "Consent",
        "status": "Status",
        "verification": "Verification",
        "no_consent": "No consent given",
        "actors_title": "Actors you represent",
        "actor_name": "Actor's name",
        "add_actor": "Add actor",
        "select": "Show",
        "selected": "shown now",
        "no_actors": "No actors yet.",
        "error_title": "Something went wrong",
        "back": "Back to the portal",
        "err_not_found": "This page does not exist, or it is not yours to see.",
        "err_csrf": "This form was not sent from a VoiceHub page (its security token is missing "
        "or wrong). Nothing was changed. Reload the page and try again.",
        "err_sign_in_failed": "Wrong e-mail address or password.",
        "err_rate_limited": "Too many failed sign-ins. Try again in {minutes} minutes.",
        "err_email_taken": "An account with this e-mail address already exists. Sign in instead.",
        "err_email": "Enter a valid e-mail address.",
        "err_password": "The password needs at least 10 characters.",
        "err_name": "Enter a name.",
        "err_kind": "Choose an account type.",
        "status_active": "In force",
        "status_paused": "Paused",
        "status_revoked": "Revoked",
        "status_expired": "Expired",
        "verification_pending": "Waiting for the recorded statement",
        "verification_verified": "Verified",
        "verification_operator_review": "Being reviewed",
        "verification_rejected": "Rejected",
    },
    "ja": {
        "app_name": "VoiceHub 声優ポータル",
        "lang_switch": "English",
        "nav_dashboard": "わたしの声",
        "nav_actors": "所属声優",
        "sign_in": "ログイン",
        "sign_up": "アカウント作成",
        "sign_out": "ログアウト",
        "email": "メールアドレス",
        "password": "パスワード",
        "password_hint": "10文字以上",
        "display_name": "お名前（事務所名）",
        "kind": "アカウントの種類",
        "kind_actor": "声優本人",
        "kind_agency": "声優が所属する事務所",
        "have_account": "アカウントをお持ちの方",
        "no_account": "はじめての方",
        "signed_out": "ログアウトしました。",
        "session_expired": "ログインしてください（セッションが終了したか、ログインしていません）。",
        "dashboard_title": "声と同意",
        "acting_for": "表示中",
        "no_actor": "所属する声優を追加すると、その声と同意が表示されます。",
        "no_voices": "まだ声が登録されていません。",
        "voice": "声",
        "language": "言語",
        "consent": "同意",
        "status": "状態",
        "verification": "本人確認",
        "no_consent": "同意なし",
        "actors_title": "所属声優",
        "actor_name": "声優の名前",
        "add_actor": "声優を追加",
        "select": "表示",
        "selected": "表示中",
        "no_actors": "まだ声優がいません。",
        "error_title": "エラーが発生しました",
        "back": "ポータルに戻る",
        "err_not_found": "このページは存在しないか、閲覧する権限がありません。",
        "err_csrf": "このフォームは VoiceHub のページから送信されていません（セキュリティトークンが"
        "ないか正しくありません）。何も変更されていません。ページを再読み込みしてやり直してください。",
        "err_sign_in_failed": "メールアドレスまたはパスワードが違います。",
        "err_rate_limited": "ログインの失敗が多すぎます。{minutes}分後にもう一度お試しください。",
        "err_email_taken": "このメールアドレスのアカウントは既にあります。ログインしてください。",
        "err_email": "正しいメールアドレスを入力してください。",
        "err_password": "パスワードは10文字以上にしてください。",
        "err_name": "名前を入力してください。",
        "err_kind": "アカウントの種類を選んでください。",
        "status_active": "有効",
        "status_paused": "一時停止中",
        "status_revoked": "撤回済み",
        "status_expired": "期限切れ",
        "verification_pending": "同意の録音待ち",
        "verification_verified": "確認済み",
        "verification_operator_review": "確認中",
        "verification_rejected": "却下",
    },
}


def register(messages: dict[str, dict[str, str]]) -> None:
    """Add a page module's strings to the catalogs; both languages, no key defined twice."""
    if set(messages) != set(LANGUAGES):
        raise ValueError(f"portal strings come in {LANGUAGES}, got {sorted(messages)}")
    if set(messages["ja"]) != set(messages["en"]):
        raise ValueError(f"untranslated keys: {sorted(set(messages['ja']) ^ set(messages['en']))}")
    for lang, catalog in messages.items():
        twice = set(catalog) & set(MESSAGES[lang])
        if twice:
            raise ValueError(f"portal strings defined twice: {sorted(twice)}")
        MESSAGES[lang].update(catalog)


def translator(lang: str) -> Callable[..., str]:
    """`t(key, **values)` for one language; a missing key falls back to English, then the key."""
    catalog = MESSAGES.get(lang, MESSAGES[DEFAULT])

    def t(key: str, **values: object) -> str:
        text = catalog.get(key) or MESSAGES["en"].get(key) or key
        return text.format(**values) if values else text

    return t


def from_accept_language(header: str | None) -> str | None:
    """The first of our languages the browser lists, by its q-weights."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, index, primary))
    return min(ranked)[2] if ranked else None


def choose(cookie: str | None, account_locale: str | None, accept_language: str | None) -> str:
    for candidate in (cookie, account_locale, from_accept_language(accept_language)):
        if candidate in LANGUAGES:
            return candidate
    return DEFAULT
