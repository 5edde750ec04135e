"""Why the consent gate refused: one stable code per reason, always a 403."""

from __future__ import annotations

from voicehub.errors import VoiceHubError


class ConsentRefused(VoiceHubError):
    status = 403
    code = "consent_refused"
    title = "Refused by the consent gate"


class ConsentMissing(ConsentRefused):
    code = "consent_missing"
    title = "No consent in force for this voice"


class ConsentUnverified(ConsentRefused):
    code = "consent_unverified"
    title = "The signer of this consent has not been verified"


class ConsentRevoked(ConsentRefused):
    code = "consent_revoked"
    title = "The actor revoked consent for this voice"


class ConsentPaused(ConsentRefused):
    code = "consent_paused"
    title = "The actor paused consent for this voice"


class ConsentExpired(ConsentRefused):
    code = "consent_expired"
    title = "Consent for this voice has expired"


class OutOfScope(ConsentRefused):
    code = "out_of_scope"
    title = "Outside the scope the actor consented to"

    def __init__(self, detail: str, *, field: str) -> None:
        super().__init__(detail, field=field)
        self.field = field


class ExcludedContent(ConsentRefused):
    code = "excluded_content"
    title = "The line contains content the actor excluded"


class BlockedTerm(ConsentRefused):
    code = "blocked_term"
    title = "The line contains a term the actor blocked"


class ApprovalPending(ConsentRefused):
    code = "approval_pending"
    title = "The actor has not yet approved this project"


class ApprovalDeclined(ConsentRefused):
    code = "approval_declined"
    title = "The actor declined this project"


class ApprovalRevoked(ConsentRefused):
    code = "approval_revoked"
    title = "The actor withdrew their approval of this project"


class VoiceBuildNotAllowed(ConsentRefused):
    code = "voice_build_not_allowed"
    title = "The actor has not agreed to a voice model trained on their recordings"
