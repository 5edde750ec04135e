"""Request and response bodies of the v1 API."""

from __future__ import annotations

import datetime as dt
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from consent.tables import ProjectApproval
from voicehub.delivery.fitting import (
    DEFAULT_MAX_RATIO,
    DEFAULT_MIN_RATIO,
    HARD_MAX_RATIO,
    HARD_MIN_RATIO,
    FitMode,
    FitOptions,
)

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
    model_status: Literal["ready", "not_built"] = Field(
        description="not_built: a voice the actor is building from their recordings, whose model"
        " is not done yet; its lines are refused with voice_not_built until it is."
    )
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
    prices_per_second_micros: dict[str, int] = Field(
        default_factory=dict, description="Uses priced per second of delivered audio instead."
    )
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
    frame_rate: float | str = Field(
        default=24,
        description='23.976, 24, 25, 29.97 or 30 (a number, or a string such as "23.976");'
        " anything else is refused.",
    )
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


class ScriptWarningOut(BaseModel):
    """Something odd in the script that the import went past, and where it is."""

    code: str = Field(
        description="no_speaker (the line became NARRATOR's), cue_without_text (left out),"
        " several_voices, columns_ignored."
    )
    message: str
    cue: int | None = Field(default=None, description="SRT/WebVTT cue or ASS Dialogue, from 1.")
    row: int | None = Field(default=None, description="CSV row; the header is row 1.")
    line: int | None = Field(default=None, description="Line of the file, from 1.")
    fields: list[str] | None = Field(default=None, description="JSON: where, as cuts.0.lines.1.")


class LineUpdateOut(BaseModel):
    id: str
    source_key: str
    changes: list[str] = Field(
        description="What the revised script changed: text, timing, target, character, cut,"
        " language. A changed text makes the line's takes stale; they are kept."
    )


class MissingLineOut(BaseModel):
    """A line the project has and the revised script does not: kept, with its takes."""

    id: str
    source_key: str
    cut: str
    character: str
    text: str


class ScriptImportOut(BaseModel):
    project_id: str
    mode: Literal["update", "append"]
    cut_ids: list[str] = Field(description="The script's cuts, in timeline order.")
    lines_created: int
    lines_updated: int
    lines_unchanged: int
    lines_missing: int
    created: list[str] = Field(description="Ids of the lines created.")
    updated: list[LineUpdateOut]
    missing: list[MissingLineOut] = Field(
        description="update mode: the project's lines the script no longer has; never deleted."
    )
    characters_created: list[str]
    warnings: list[ScriptWarningOut]


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
    target_seconds: float | None = Field(
        description="An explicit length to fit takes into; it wins over the window."
    )
    source_key: str | None = Field(
        description="What matches the line when a revised script is imported: the script's id"
        " for it, or cut/character/order (C-003/KEN/1)."
    )
    updated_at: dt.datetime | None = Field(description="When a re-imported script changed it.")
    latest_take_id: str | None
    latest_take_stale: bool | None = Field(
        description="Whether the newest take speaks an earlier text of the line; null: no take."
    )
    approved_take_id: str | None
    approved_take_stale: bool | None = Field(
        description="Whether the approved take speaks an earlier text; null: none approved."
    )


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


class SynthesisControls(BaseModel):
    """Per-call controls: how the engine speaks this call's lines."""

    speed: float = Field(default=1.0, description="Speaking rate; >1 is faster (0.5 to 2.0).")
    sentence_pause: float | None = Field(
        default=None,
        description="Seconds of silence between sentences (0 to 5); null keeps the engine's own"
        " (Piper: none, Kokoro: 0.35 s).",
    )
    seed: int | None = Field(
        default=None,
        description="0 to 2147483647. The same line, settings and seed give the same audio on a"
        " stochastic engine (Piper); null draws one, which the take reports.",
    )


class FitIn(BaseModel):
    """How a take is fitted into its line's target window (subtitle/cut timing or target length)."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["window", "max", "off"] = Field(
        default="window",
        description="window: match the window's length (shorten or lengthen); max: only shorten"
        " a take that is too long; off: keep the engine's length.",
    )
    min_ratio: float = Field(
        default=DEFAULT_MIN_RATIO,
        ge=HARD_MIN_RATIO,
        le=1.0,
        description="Shortest the take may become, as a fraction of the engine's length.",
    )
    max_ratio: float = Field(
        default=DEFAULT_MAX_RATIO,
        ge=1.0,
        le=HARD_MAX_RATIO,
        description="Longest the take may become, as a multiple of the engine's length.",
    )

    def options(self) -> FitOptions:
        return FitOptions(FitMode(self.mode), self.min_ratio, self.max_ratio)


class TakeIn(SynthesisControls):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"speed": 1.0},
                {"speed": 1.1, "sentence_pause": 0.4, "seed": 1234},
                {"fit": {"mode": "max", "min_ratio": 0.85}},
                {"voice_id": "voice_…", "fit": {"mode": "off"}},
            ]
        },
    )

    fit: FitIn | None = Field(
        default=None,
        description="How the take is fitted into the line's target window; default: window mode"
        " with ratios 0.8 to 1.25. A line without a window is not fitted (the take's fit is null).",
    )
    voice_id: str | None = Field(
        default=None,
        description="Speak the line with this voice instead of the character's cast voice (a"
        " retake with another voice); it passes the consent gate like the cast voice.",
    )


class FitOut(BaseModel):
    """How a take was fitted into its line's target window."""

    mode: Literal["window", "max"]
    target_seconds: float = Field(
        description="The window: the line's target length, else end − start."
    )
    rendered_seconds: float = Field(description="The first render, at the speed asked for.")
    engine_speed: float = Field(
        description="The engine speed of the render the take was made from."
    )
    stretch_ratio: float = Field(
        description="Fitted length over that render's length; 1.0: not stretched."
    )
    fitted_seconds: float = Field(description="The take's length at the engine's rate.")
    off_seconds: float = Field(
        description="fitted_seconds − target_seconds: positive, too long; negative, too short."
    )
    status: Literal["fits", "fitted", "cannot_fit"] = Field(
        description="fits: within 10 ms as rendered (max mode: not longer); fitted: re-rendered"
        " and/or stretched to the window; cannot_fit: stretched to the ratio limit and still"
        " outside it (the take is delivered; the studio decides)."
    )
    detail: str
    min_ratio: float
    max_ratio: float


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
    sentence_pause: float | None = Field(description="As asked for; null: the engine's own.")
    seed: int | None = Field(
        description="The seed the engine used (asked for or drawn): pass it again to make the"
        " same take. null for a deterministic engine."
    )
    sample_rate: int = Field(description="Of the delivered WAV: the studio's delivery spec.")
    engine_sample_rate: int = Field(description="The rate the engine rendered at.")
    bit_depth: int = Field(description="16 or 24-bit PCM.")
    loudness_target: str = Field(description="ebu_r128 (−23 LUFS), atsc_a85 (−24 LKFS) or none.")
    loudness_target_lufs: float | None
    loudness_lufs: float | None = Field(
        description="Integrated loudness measured on the delivered file (BS.1770-4);"
        " null for silence and for takes made before delivery specs."
    )
    true_peak_dbtp: float | None = Field(
        description="True peak of the delivered file (4× oversampled)."
    )
    peak_limited: bool = Field(
        description="The true-peak ceiling held the gain down: the loudness is below the target."
    )
    duration_seconds: float
    window_seconds: float | None = Field(
        description="The line's target window now (its target length, else end − start); null:"
        " the line has no window, so its takes are not fitted."
    )
    fit: FitOut | None = Field(
        description="How the take was fitted; null when the line had no window or fitting was off."
    )
    stale: bool = Field(description="The line's text has changed since this take was made.")
    approved: bool = Field(description="This is the line's approved take.")
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
    morae: list[WordOut] = Field(
        default_factory=list,
        description="Japanese takes: each mora in kana (ん, っ and ー are morae of their own).",
    )


class JobIn(SynthesisControls):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {},
                {"line_ids": ["line_…"]},
                {"cut_ids": ["cut_…"], "fit": {"mode": "max"}, "approve": True},
                {"speed": 0.9, "sentence_pause": 0.5},
            ]
        },
    )

    line_ids: list[str] | None = Field(
        default=None, description="These lines only. Omit (with cut_ids) to synthesize every line."
    )
    cut_ids: list[str] | None = Field(
        default=None,
        description="The lines of these cuts of the project, in timeline order; not with line_ids.",
    )
    fit: FitIn | None = Field(
        default=None,
        description="How each take is fitted into its line's target window; default: window.",
    )
    approve: bool = Field(
        default=False,
        description="Approve each new take whose line has no approved take yet (a first pass).",
    )


class JobErrorOut(BaseModel):
    line_id: str
    code: str
    detail: str


class JobWarningOut(BaseModel):
    line_id: str
    take_id: str
    code: str
    detail: str


class JobOut(BaseModel):
    id: str
    project_id: str
    status: str
    progress: float = Field(description="(lines_done + lines_failed) / lines_total, 0 to 1.")
    percent: float = Field(description="progress as a percentage, to one decimal.")
    lines_total: int
    lines_done: int
    lines_failed: int
    errors: list[JobErrorOut]
    warnings: list[JobWarningOut] = Field(
        description="Lines delivered with a note: `cannot_fit`, a take that stays outside its"
        " window even at the stretch bounds (its `fit` says by how much)."
    )
    speed: float
    sentence_pause: float | None
    seed: int | None = Field(
        description="The seed every line is rendered with; null: each line draws its own."
    )
    fit: FitIn | None = Field(description="How each take is fitted; null: not fitted.")
    approve: bool = Field(description="New takes are approved where their line has none.")
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class JobProgressOut(BaseModel):
    """A `progress` event of a job's event stream."""

    id: str
    status: str
    progress: float
    percent: float
    lines_total: int
    lines_done: int
    lines_failed: int


class LineApprovalIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"take_id": "take_…"}]}
    )

    take_id: str = Field(description="A take of this line.")


class LineApprovalOut(BaseModel):
    """Where one line stands: the take every export uses, if the studio approved one."""

    object: Literal["line_approval"] = "line_approval"
    line_id: str
    cut_id: str
    take_id: str | None = Field(description="The approved take; null: none approved yet.")
    approved_at: dt.datetime | None
    stale: bool = Field(
        description="The line's text changed since the approved take was made from it."
    )
    takes_count: int = Field(description="Takes made of this line so far (retakes included).")


class ProjectApprovalsOut(BaseModel):
    """Every line of a project (or of some of its cuts) in timeline order, with its approval."""

    object: Literal["list"] = "list"
    project_id: str
    lines_total: int
    lines_approved: int
    lines_unapproved: int = Field(description="Lines without an approved take.")
    lines_stale: int = Field(description="Lines whose approved take is stale.")
    data: list[LineApprovalOut]
    has_more: bool = Field(default=False, description="Always false: every line is listed.")


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
    price_unit: str = Field(
        description="`1k_chars` (per 1,000 characters) or `second` (per second)."
    )
    rate_micros: int = Field(description="The price per `price_unit` under the consent version.")
    amount_micros: int
    period: str = Field(description="The billing period (YYYY-MM) the line counts in.")
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
    allows_voice_build: bool = Field(
        description="Whether a voice model may be trained on the actor's recordings."
    )
    currency: str
    prices_per_1k_chars_micros: dict[str, int]
    prices_per_second_micros: dict[str, int] = Field(default_factory=dict)
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
    allows_voice_build: bool = Field(
        default=False,
        description="Allow VoiceHub to train a voice model on my recordings (voice builds).",
    )
    currency: str = Field(description="ISO 4217: JPY, USD, EUR, GBP, KRW, … (docs/MONEY.md).")
    prices_per_1k_chars_micros: dict[str, int] = Field(
        default_factory=dict,
        description="Per allowed use: price per 1,000 billable characters, in micro-units.",
    )
    prices_per_second_micros: dict[str, int] = Field(
        default_factory=dict,
        description="Per allowed use priced by audio length instead: price per second, in micro-units.",
    )
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


class EngineOut(BaseModel):
    name: str = Field(description='"piper", "kokoro", or an operator\'s model as "coqui:<name>".')
    languages: list[str] = Field(description="Primary language subtags the engine speaks.")
    sample_rate: int
    speakers: list[str]
    model_sha256: str = Field(
        description="Content hash of the loaded model; a voice and each take name their model by it."
    )
    gpu_capable: bool = Field(
        description="A GPU could run this engine with what is installed on this server."
    )
    gpu_in_use: bool = Field(description="This engine runs on a GPU on this server now.")


class EngineListOut(BaseModel):
    object: Literal["list"] = "list"
    data: list[EngineOut]
    gpu_available: bool = Field(description="The server process sees a CUDA GPU now.")


class BuildVoiceIn(BaseModel):
    """A voice of the actor's own, to be built from their recordings."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "Rin Mori (own voice)", "language": "ja"}]},
    )

    name: str = Field(min_length=1, max_length=200)
    language: str = Field(
        min_length=2, max_length=3, description="ISO 639 code of the language recorded: ja, en, …"
    )


class BuildVoiceOut(BaseModel):
    id: str
    name: str
    language: str
    engine: str
    built: bool = Field(description="A build has registered the voice's model.")
    model_sha256: str | None = Field(description="Content hash of the built model, once built.")
    created_at: dt.datetime


class BuildRecordingOut(BaseModel):
    id: str
    build_id: str
    transcript: str
    duration_seconds: float
    sample_rate: int
    sha256: str = Field(description="Hash of the uploaded WAV file.")
    created_at: dt.datetime


class BuildOut(BaseModel):
    id: str
    voice_id: str
    stage: Literal[
        "collecting", "queued", "preparing", "training", "packaging", "done", "failed"
    ] = Field(
        description="collecting until started; then queued → preparing → training → packaging"
        " → done, or failed."
    )
    progress: float = Field(description="0 to 1 across preparing, training and packaging.")
    steps_done: int
    steps_total: int
    recordings: int
    recorded_seconds: float
    min_total_seconds: float = Field(description="Recorded speech a build needs to start.")
    error_code: str | None = Field(description="Why it failed: an error code of this API.")
    error: str | None
    base_sha256: str | None = Field(
        description="The base checkpoint the model was fine-tuned from; null when trained from scratch."
    )
    consent_version_id: str | None = Field(
        description="The consent version that allowed the model to be registered."
    )
    model_sha256: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    updated_at: dt.datetime
    finished_at: dt.datetime | None


class DeliverySpecIn(BaseModel):
    """The studio's delivery spec; an omitted field takes its default."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"sample_rate": 48000, "bit_depth": 24, "loudness": "ebu_r128"},
                {"loudness": "atsc_a85", "true_peak_ceiling_dbtp": -2.0},
            ]
        },
    )

    sample_rate: int = Field(default=48000, description="22050, 24000, 44100, 48000 or 96000 Hz.")
    bit_depth: int = Field(default=24, description="16 or 24-bit PCM.")
    loudness: str = Field(
        default="ebu_r128",
        description="ebu_r128 (−23 LUFS integrated), atsc_a85 (−24 LKFS) or none (as rendered).",
    )
    true_peak_ceiling_dbtp: float | None = Field(
        default=None,
        description="−20 to 0 dBTP. Omitted: the standard's usual ceiling (EBU R 128 −1,"
        " ATSC A/85 −2, none −1).",
    )
    channels: str = Field(default="mono", description="Takes are mono.")


class DeliverySpecOut(BaseModel):
    sample_rate: int
    bit_depth: int
    loudness: str
    loudness_target_lufs: float | None
    true_peak_ceiling_dbtp: float
    channels: str
    is_default: bool = Field(description="The studio has not set a spec: this is the default.")


ShapeSetName = Literal["rhubarb", "anime3", "vowel5", "preston_blair"]


class ExportJobIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {},
                {"shape_set": "anime3", "fps": "12"},
                {"takes": "latest", "review_sheets": False},
            ]
        },
    )

    takes: Literal["approved", "latest"] = Field(
        default="approved",
        description="`approved`: each line's approved take. `latest`: a draft from each line's"
        " latest take, marked as a draft.",
    )
    fps: str | None = Field(
        default=None,
        description="24, 12, 8 or a project rate (23.976, 25, 29.97, 30); default each cut's.",
    )
    shape_set: ShapeSetName = Field(default="rhubarb", description="The mouth-shape set.")
    min_hold: int = Field(default=1, description="Shortest mouth shape, in frames (1 to 12).")
    bridge_ms: int = Field(
        default=120,
        description="Pauses shorter than this (ms, 0 to 1000) keep the shape before them.",
    )
    review_sheets: bool = Field(
        default=True,
        description="Draw each cut's review PNG (most of an export's time); false leaves them out.",
    )


class ExportJobErrorOut(BaseModel):
    code: str
    detail: str


class ExportWarningOut(BaseModel):
    code: str = Field(description="`stale_take` or `missing_take`.")
    line_id: str
    take_id: str | None
    detail: str


class ExportJobOut(BaseModel):
    object: Literal["export_job"] = "export_job"
    id: str
    project_id: str
    status: str = Field(description="queued, running, succeeded or failed.")
    progress: float = Field(description="files_done / files_total, 0 to 1.")
    percent: float = Field(description="progress as a percentage, to one decimal.")
    files_total: int = Field(description="Files the bundle holds, manifest included.")
    files_done: int
    options: dict[str, str | int | bool | None] = Field(
        description="takes, fps, shape_set, min_hold, bridge_ms and review_sheets."
    )
    draft: bool = Field(description="Made from the latest takes, not the approved ones.")
    warnings: list[ExportWarningOut]
    error: ExportJobErrorOut | None = Field(description="Why the export failed; null otherwise.")
    size: int | None = Field(description="The zip's size in bytes, once done.")
    sha256: str | None = Field(description="The zip's SHA-256 (hex), once done.")
    download_url: str | None = Field(description="Where to download the zip, once done.")
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class ExportJobProgressOut(BaseModel):
    """A `progress` event of an export job's event stream."""

    id: str
    status: str
    progress: float
    percent: float
    files_total: int
    files_done: int


class TakeCreditOut(BaseModel):
    """What a take's Content Credentials say about it (the `com.voicehub.take` assertion)."""

    take_id: str
    line_id: str
    cut_id: str
    project_id: str
    studio_id: str
    voice_id: str
    actor_name: str = Field(description="The actor's credited name.")
    consent_version_id: str
    language: str
    created_at: str


class CredentialsOut(BaseModel):
    """A file's C2PA manifest as read back and verified with c2pa's own reader."""

    state: Literal["trusted", "untrusted", "invalid", "absent"] = Field(
        description="trusted: valid, and signed by a certificate that chains to one of the"
        " operator's trust anchors; untrusted: valid signature and hashes, but the signer is not"
        " trusted (a development certificate, or an unknown key); invalid: the file or the"
        " manifest was altered or cannot be verified; absent: no manifest."
    )
    validation_codes: list[str] = Field(
        description="The reader's status codes, e.g. signingCredential.untrusted."
    )
    digital_source_type: str | None
    generator: str | None
    signer: str | None
    credit: TakeCreditOut | None


class IdentifyMethodOut(BaseModel):
    method: Literal["chromaprint", "landmarks"]
    outcome: Literal["matched", "no_match", "too_short"]
    detail: str
    best_confidence: float | None


class IdentifiedStudioOut(BaseModel):
    id: str
    name: str


class IdentifiedActorOut(BaseModel):
    id: str
    credited_name: str


class IdentifiedTakeOut(BaseModel):
    """A VoiceHub take the clip was identified as."""

    take_id: str
    line_id: str
    voice_id: str
    voice_name: str
    actor: IdentifiedActorOut
    studio: IdentifiedStudioOut
    made_at: dt.datetime
    confidence: float = Field(description="0–1; only matches the method accepts are listed.")
    methods: list[Literal["chromaprint", "landmarks"]]
    take_start_seconds: float = Field(
        description="Where the take starts on the clip's clock; negative when the clip is an"
        " excerpt that starts inside the take."
    )
    text: str | None = Field(
        description="The line's text: only for the studio that made the take and the actor whose"
        " voice it is; null for anyone else."
    )
    project_id: str | None = Field(description="As `text`: null unless it is yours.")
    cut_id: str | None = Field(description="As `text`: null unless it is yours.")


class IdentificationOut(BaseModel):
    identified: bool = Field(
        description="True when at least one take matched; false names nobody (never a guess)."
    )
    clip_seconds: float
    matches: list[IdentifiedTakeOut] = Field(
        description="Best first; a scene with several VoiceHub lines lists each of them."
    )
    methods: list[IdentifyMethodOut] = Field(
        description="What each fingerprint method made of the clip: matched, no_match, or"
        " too_short (Chromaprint needs about 3 s)."
    )
    content_credentials: CredentialsOut | None = Field(
        description="The clip's own C2PA manifest when it still carries one (WAV or MP3), else"
        " null. A manifest alone attributes nothing: it can be copied onto other audio."
    )
