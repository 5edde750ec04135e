"""Request and response bodies of the v1 API."""

from __future__ import annotations

import datetime as dt
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from consent.tables import ProjectApproval

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """A cursor-paginated list: pass the last id as `starting_after` for the next page."""

    object: Literal["list"] = "list"
    data: list[T]
    has_more: bool


class VoiceOut(BaseModel):
    id: str
    name: str
    actor_id: str
    actor_credit: str
    language: str
    engine: str
    consent_status: str = Field(
        description="active, paused, revoked, expired, not_started or unverified: where the studio stands now."
    )
    consent_version_id: str
    allowed_uses: list[str]
    languages: list[str]
    territories: list[str]
    requires_project_approval: bool
    currency: str
    prices_per_1k_chars_micros: dict[str, int]
    minimum_per_line_micros: int
    ends_at: dt.datetime | None
    notice_ends_at: dt.datetime | None = Field(
        description="After a revocation with notice: projects already using the voice may finish until then."
    )


class ProjectIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "Episode 1", "language": "ja", "use": "animation", "frame_rate": 24}
            ]
        },
    )

    name: str = Field(min_length=1, max_length=200)
    language: str = Field(
        min_length=2, max_length=16, description="Default language of lines (BCP 47)."
    )
    use: str = Field(description="What the voices are used for: dubbing, animation, games, …")
    frame_rate: float = Field(default=24, description="23.976, 24, 25, 29.97 or 30.")
    territories: list[str] = Field(
        default=["WW"], description="Where it is distributed: ISO 3166 codes, or WW for worldwide."
    )


class ProjectOut(BaseModel):
    id: str
    name: str
    language: str
    use: str
    territories: list[str]
    frame_rate: float
    created_at: dt.datetime


class ScriptImportOut(BaseModel):
    project_id: str
    cut_ids: list[str]
    lines_created: int
    characters_created: list[str]


class CastIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"character": "KEN", "voice_id": "voice_…"}]},
    )

    character: str = Field(min_length=1, max_length=200)
    voice_id: str
    use_description: str = Field(
        default="",
        max_length=2000,
        description="What the voice will be used for, shown to the actor.",
    )
    expected_lines: int | None = Field(
        default=None, ge=0, description="Default: the character's lines."
    )


class ApprovalOut(BaseModel):
    id: str
    project_id: str
    voice_id: str
    character: str
    use: str
    use_description: str
    expected_lines: int
    territories: list[str]
    status: str
    note: str
    decided_at: dt.datetime | None
    created_at: dt.datetime

    @classmethod
    def of(cls, approval: ProjectApproval) -> ApprovalOut:
        return cls(
            id=approval.id,
            project_id=approval.project_id,
            voice_id=approval.voice_id,
            character=approval.character_name,
            use=approval.use,
            use_description=approval.use_description,
            expected_lines=approval.expected_lines,
            territories=approval.territories,
            status=approval.status.value,
            note=approval.note,
            decided_at=approval.decided_at,
            created_at=approval.created_at,
        )


class CharacterOut(BaseModel):
    id: str
    project_id: str
    name: str
    voice_id: str | None
    approval: ApprovalOut | None = None


class LineOut(BaseModel):
    id: str
    cut_id: str
    character: str
    text: str
    language: str
    start_seconds: float | None
    end_seconds: float | None
    latest_take_id: str | None


class CutOut(BaseModel):
    id: str
    project_id: str
    number: str
    start_seconds: float
    end_seconds: float
    frame_rate: float
    start_frame: int
    end_frame: int
    lines: list[LineOut]


class TakeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"speed": 1.0}]})

    speed: float = Field(default=1.0, description="Speaking rate; >1 is faster (0.5 to 2.0).")


class TakeOut(BaseModel):
    id: str
    line_id: str
    voice_id: str
    consent_version_id: str
    engine: str
    model_sha256: str
    text: str
    language: str
    speed: float
    sample_rate: int
    duration_seconds: float
    audio_url: str
    timing_url: str
    usage_id: str
    amount_micros: int
    currency: str
    created_at: dt.datetime


class PhonemeOut(BaseModel):
    phoneme: str
    start_seconds: float
    end_seconds: float
    start_sample: int
    samples: int
    is_pause: bool


class WordOut(BaseModel):
    text: str
    start_seconds: float
    end_seconds: float


class TimingOut(BaseModel):
    take_id: str
    sample_rate: int
    duration_seconds: float
    num_samples: int
    phonemes: list[PhonemeOut]
    words: list[WordOut]


class JobIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{}, {"line_ids": ["line_…"]}]}
    )

    line_ids: list[str] | None = Field(default=None, description="Omit to synthesize every line.")


class JobErrorOut(BaseModel):
    line_id: str
    code: str
    detail: str


class JobOut(BaseModel):
    id: str
    project_id: str
    status: str
    progress: float
    lines_total: int
    lines_done: int
    lines_failed: int
    errors: list[JobErrorOut]
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class UsageOut(BaseModel):
    id: str
    take_id: str
    project_id: str
    voice_id: str
    consent_version_id: str
    use: str
    characters: int
    audio_seconds: float
    currency: str
    amount_micros: int
    period: str
    created_at: dt.datetime


class ConsentVersionOut(BaseModel):
    id: str
    version: int
    status: str
    verification: str
    signer_kind: str
    signer_name: str
    representation: str
    use_description: str
    allowed_uses: list[str]
    excluded_categories: list[str]
    blocked_terms: list[str]
    languages: list[str]
    territories: list[str]
    allowed_studio_ids: list[str]
    blocked_studio_ids: list[str]
    requires_project_approval: bool
    currency: str
    prices_per_1k_chars_micros: dict[str, int]
    minimum_per_line_micros: int
    actor_share_bps: int
    starts_at: dt.datetime
    ends_at: dt.datetime | None
    notice_period_days: int
    notice_ends_at: dt.datetime | None
    changed_by: str
    reason: str
    created_at: dt.datetime


class ConsentOut(BaseModel):
    id: str
    voice_id: str
    current: ConsentVersionOut


class TermsIn(BaseModel):
    """The terms the actor (or their agency or estate) signs."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "signer_kind": "actor",
                    "signer_name": "Rin Mori",
                    "representation": "union",
                    "use_description": "Supporting characters in TV anime series and their trailers, Japanese only.",
                    "allowed_uses": ["animation"],
                    "excluded_categories": ["politics"],
                    "blocked_terms": ["brand x"],
                    "languages": ["ja"],
                    "territories": ["JP"],
                    "requires_project_approval": True,
                    "currency": "JPY",
                    "prices_per_1k_chars_micros": {"animation": 3000000000},
                    "minimum_per_line_micros": 50000000,
                    "actor_share_bps": 7000,
                    "starts_at": "2026-12-01T00:00:00Z",
                    "ends_at": "2027-12-01T00:00:00Z",
                    "notice_period_days": 30,
                }
            ]
        },
    )

    signer_kind: Literal["actor", "agency", "estate"] = "actor"
    signer_name: str = Field(
        min_length=1,
        max_length=200,
        description="Who signs; for an agency or estate, its representative.",
    )
    representation: Literal["none", "union", "legal", "union_and_legal"] = "none"
    use_description: str = Field(
        max_length=4000, description="A reasonably specific description of intended uses."
    )
    allowed_uses: list[str] = Field(description="dubbing is allowed only when listed.")
    excluded_categories: list[str] = []
    blocked_terms: list[str] = []
    languages: list[str]
    territories: list[str] = ["WW"]
    allowed_studio_ids: list[str] = []
    blocked_studio_ids: list[str] = []
    requires_project_approval: bool = False
    currency: str
    prices_per_1k_chars_micros: dict[str, int]
    minimum_per_line_micros: int = 0
    actor_share_bps: int
    starts_at: dt.datetime | None = Field(default=None, description="Default: now.")
    ends_at: dt.datetime | None = None
    notice_period_days: int = 0


class StatementOut(BaseModel):
    consent_id: str
    consent_version_id: str
    language: str
    text: str
    challenge: str
    verification: str


class VerificationAttemptOut(BaseModel):
    id: str
    consent_version_id: str
    recording_sha256: str
    duration_seconds: float
    score: float | None
    accept_threshold: float
    reject_threshold: float
    decision: str
    reason: str
    model: str
    decided_by: str
    created_at: dt.datetime


class VerificationResultOut(BaseModel):
    attempt: VerificationAttemptOut
    consent: ConsentOut


class ArtifactOut(BaseModel):
    id: str
    voice_id: str
    kind: str
    sha256: str
    size: int
    created_at: dt.datetime


class ApprovalDecisionIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"note": "Happy to join this one."}]}
    )

    note: str = Field(default="", max_length=2000)


class RevokeIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "retiring", "immediately": False}]},
    )

    reason: str = Field(default="", max_length=500)
    immediately: bool = Field(
        default=False,
        description="Skip the notice period: every project stops and the voice is destroyed now.",
    )


class StatusChangeIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "strike"}]}
    )

    reason: str = Field(default="", max_length=500)
