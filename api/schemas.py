"""Request and response bodies of the v1 API."""

from __future__ import annotations

import datetime as dt
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

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
    consent_status: str
    allowed_uses: list[str]
    languages: list[str]
    currency: str
    price_per_1k_chars_micros: int


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


class ProjectOut(BaseModel):
    id: str
    name: str
    language: str
    use: str
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


class CharacterOut(BaseModel):
    id: str
    project_id: str
    name: str
    voice_id: str | None


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
    allowed_uses: list[str]
    languages: list[str]
    allowed_studio_ids: list[str]
    currency: str
    price_per_1k_chars_micros: int
    actor_share_bps: int
    starts_at: dt.datetime
    ends_at: dt.datetime | None
    changed_by: str
    reason: str
    created_at: dt.datetime


class ConsentOut(BaseModel):
    id: str
    voice_id: str
    current: ConsentVersionOut


class StatusChangeIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "strike"}]}
    )

    reason: str = Field(default="", max_length=500)
