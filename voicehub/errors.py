"""Business errors: typed exceptions that carry their HTTP status and a stable code.

The HTTP edge turns them into RFC 9457 problem details; the CLI prints them.
Every `code` is documented in docs/API.md and always means the same thing.
"""

from __future__ import annotations

from typing import Any, ClassVar


class VoiceHubError(Exception):
    """Base of every error a user can cause or must be told about."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(VoiceHubError):
    status = 404
    code = "not_found"
    title = "Not found"


class Conflict(VoiceHubError):
    status = 409
    code = "conflict"
    title = "Conflict"


class InvalidInput(VoiceHubError):
    status = 422
    code = "invalid_input"
    title = "Invalid input"


class TextEmpty(InvalidInput):
    code = "text_empty"
    title = "Text is empty"


class TextTooLong(InvalidInput):
    code = "text_too_long"
    title = "Text is too long"


class ScriptInvalid(InvalidInput):
    code = "script_invalid"
    title = "The script cannot be read"


class ScriptTooLarge(VoiceHubError):
    status = 413
    code = "script_too_large"
    title = "The script is too large"


class PayloadTooLarge(VoiceHubError):
    status = 413
    code = "payload_too_large"
    title = "The request body is too large"


class CharacterNotCast(Conflict):
    code = "character_not_cast"
    title = "The character has no voice"


class LanguageUnsupported(InvalidInput):
    code = "language_unsupported"
    title = "The voice cannot speak this language"


class EngineUnavailable(VoiceHubError):
    status = 503
    code = "engine_unavailable"
    title = "Synthesis engine unavailable"


class NoTakes(Conflict):
    code = "no_takes"
    title = "Nothing has been synthesized yet"


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"
    title = "Idempotency key reused with a different request"


class IdempotencyKeyInUse(Conflict):
    code = "idempotency_key_in_use"
    title = "A concurrent request used the same idempotency key"


class Unauthenticated(VoiceHubError):
    status = 401
    code = "unauthenticated"
    title = "Authentication required"


class Forbidden(VoiceHubError):
    status = 403
    code = "insufficient_scope"
    title = "The API key lacks the scope for this"


class TakeStale(Conflict):
    code = "take_stale"
    title = "The take speaks an earlier text of its line"


class TakeLineMismatch(InvalidInput):
    code = "take_line_mismatch"
    title = "The take is not a take of this line"


class ScriptEncodingUnsupported(InvalidInput):
    code = "script_encoding_unsupported"
    title = "The script's text encoding is not one VoiceHub reads"


class ScriptOverlap(ScriptInvalid):
    code = "script_overlap"
    title = "Two lines of one character overlap in time"


class UnknownCharacters(InvalidInput):
    code = "unknown_characters"
    title = "The script names characters the project does not have"


class NoApprovedTake(Conflict):
    code = "no_approved_take"
    title = "Lines to export have no approved take"


class ExportNotReady(Conflict):
    code = "export_not_ready"
    title = "The export is not ready yet"


class ExportFailed(Conflict):
    code = "export_failed"
    title = "The export failed"


class CsrfRejected(Forbidden):
    code = "csrf_rejected"
    title = "The form was not sent by this site"


class SignInFailed(Unauthenticated):
    code = "sign_in_failed"
    title = "Wrong e-mail address or password"


class SignInRateLimited(VoiceHubError):
    status = 429
    code = "sign_in_rate_limited"
    title = "Too many failed sign-ins"


class EmailTaken(Conflict):
    code = "email_taken"
    title = "An account with this e-mail address exists"


class ClipUnusable(InvalidInput):
    """A clip sent to be identified cannot be: `reason` says why, and nothing is guessed.

    Reasons: `too_short`, `silent`, `corrupt`, `unsupported_format`, `too_long`.
    """

    code = "clip_unusable"
    title = "The clip cannot be identified"

    def __init__(self, detail: str, *, reason: str, **extra: object) -> None:
        super().__init__(detail, reason=reason, **extra)
        self.reason = reason


class CredentialsUnavailable(VoiceHubError):
    """The platform's Content Credentials signing certificate or key is missing or unreadable."""

    status = 503
    code = "credentials_unavailable"
    title = "Content Credentials cannot be signed"


class RateLimited(VoiceHubError):
    """The API key has used up its requests for now; `retry_after` says when to try again."""

    status = 429
    code = "rate_limited"
    title = "Too many requests for this API key"

    def __init__(self, detail: str, *, headers: dict[str, str], **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.headers = headers


class ApiKeyInactive(Conflict):
    code = "api_key_inactive"
    title = "The API key is revoked or expired"


class LastKeyManager(Conflict):
    code = "last_key_manager"
    title = "The last key that can manage keys cannot be revoked"


class BatchTooLarge(VoiceHubError):
    """A synthesis job over more lines than `VOICEHUB_MAX_BATCH_LINES`."""

    status = 413
    code = "batch_too_large"
    title = "Too many lines for one job"
