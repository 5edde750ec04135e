"""Who made this clip? Its Content Credentials when it still carries them, and its fingerprints.

A clip found in the wild is decoded, fingerprinted by each method it is long
enough for, and looked up in the index. Only a match the method accepts is an
attribution; otherwise the answer says so ("no match", "too short for this
method") and names nobody. A clip that still carries a VoiceHub manifest is
also read back and its trust reported: the manifest alone never attributes a
clip (it could be copied onto other audio), the fingerprint does.
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from consent.tables import Actor
from models.tables import Voice
from voicehub.production.tables import Line, Take
from voicehub.provenance.credentials import CredentialsReport, read_credentials
from voicehub.provenance.fingerprints import (
    MIN_SECONDS,
    Match,
    Method,
    decode_clip,
    fingerprint,
)
from voicehub.provenance.index import lookup
from voicehub.tenancy.tables import Studio


class Outcome(enum.StrEnum):
    MATCHED = "matched"
    NO_MATCH = "no_match"
    TOO_SHORT = "too_short"


@dataclass(frozen=True)
class MethodResult:
    """What one method made of the clip."""

    method: Method
    outcome: Outcome
    detail: str
    best_confidence: float | None = None


@dataclass(frozen=True)
class Attribution:
    """A take the clip was identified as, with everyone it names."""

    take: Take
    line: Line
    voice: Voice
    actor: Actor
    studio: Studio
    confidence: float
    methods: list[Method]
    # Where the take starts on the clip's clock (negative: the clip starts inside the take).
    take_start_seconds: float

    def as_json(self, *, yours: bool) -> dict[str, Any]:
        take = self.take
        return {
            "take_id": take.id,
            "line_id": take.line_id,
            "voice_id": self.voice.id,
            "voice_name": self.voice.name,
            "actor": {"id": self.actor.id, "credited_name": self.actor.credited_name},
            "studio": {"id": self.studio.id, "name": self.studio.name},
            "made_at": take.created_at,
            "confidence": round(self.confidence, 3),
            "methods": [method.value for method in self.methods],
            "take_start_seconds": round(self.take_start_seconds, 3),
            "text": take.text if yours else None,
            "project_id": take.project_id if yours else None,
            "cut_id": self.line.cut_id if yours else None,
        }


@dataclass(frozen=True)
class Identification:
    clip_seconds: float
    attributions: list[Attribution]
    methods: list[MethodResult]
    credentials: CredentialsReport | None = field(default=None)

    @property
    def identified(self) -> bool:
        return bool(self.attributions)

    def as_json(self, *, studio_id: str | None, actor_ids: Collection[str]) -> dict[str, Any]:
        """The answer for a caller who is `studio_id` or acts for `actor_ids` (API and CLI).

        The line's text, project and cut are shown only to the studio that made
        the take and to the actor whose voice it is.
        """
        return {
            "identified": self.identified,
            "clip_seconds": round(self.clip_seconds, 3),
            "matches": [
                a.as_json(yours=a.take.studio_id == studio_id or a.actor.id in actor_ids)
                for a in self.attributions
            ],
            "methods": [
                {
                    "method": result.method.value,
                    "outcome": result.outcome.value,
                    "detail": result.detail,
                    "best_confidence": None
                    if result.best_confidence is None
                    else round(result.best_confidence, 3),
                }
                for result in self.methods
            ],
            "content_credentials": None if self.credentials is None else self.credentials.as_json(),
        }


def credentials_mime_type(data: bytes) -> str | None:
    """The media type c2pa reads the clip as, from its first bytes (WAV or MP3), else None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    return None


def identify(
    session: Session, data: bytes, *, trust_anchors_pem: bytes | None = None, limit: int = 5
) -> Identification:
    """Identify a clip (any audio format ffmpeg reads); refuses unusable clips with `ClipUnusable`."""
    clip = decode_clip(data)
    results: list[MethodResult] = []
    found: dict[str, list[Match]] = {}
    for method in Method:
        fp = fingerprint(clip, method)
        if fp is None:
            results.append(
                MethodResult(
                    method,
                    Outcome.TOO_SHORT,
                    f"{method.value} needs at least {MIN_SECONDS[method]:g} s of audio;"
                    f" the clip has {clip.seconds:.1f} s.",
                )
            )
            continue
        matches = lookup(session, fp, limit=limit)
        for match in matches:
            found.setdefault(match.take_id, []).append(match)
        results.append(
            MethodResult(
                method,
                Outcome.MATCHED if matches else Outcome.NO_MATCH,
                f"{len(matches)} take(s) identified." if matches else "No take matches.",
                max((m.confidence for m in matches), default=None),
            )
        )
    attributions = [
        attribution
        for take_id, matches in found.items()
        if (attribution := _attribution(session, take_id, matches)) is not None
    ]
    attributions.sort(key=lambda a: (-a.confidence, a.take.id))
    mime_type = credentials_mime_type(data)
    credentials = (
        None
        if mime_type is None
        else read_credentials(data, mime_type=mime_type, trust_anchors_pem=trust_anchors_pem)
    )
    return Identification(clip.seconds, attributions[:limit], results, credentials)


def _attribution(session: Session, take_id: str, matches: list[Match]) -> Attribution | None:
    take = session.get(Take, take_id)
    if take is None:
        return None
    line = session.get(Line, take.line_id)
    voice = session.get(Voice, take.voice_id)
    studio = session.get(Studio, take.studio_id)
    actor = None if voice is None else session.get(Actor, voice.actor_id)
    if line is None or voice is None or studio is None or actor is None:
        return None
    best = max(matches, key=lambda m: m.confidence)
    return Attribution(
        take=take,
        line=line,
        voice=voice,
        actor=actor,
        studio=studio,
        confidence=best.confidence,
        methods=sorted({m.method for m in matches}, key=list(Method).index),
        take_start_seconds=best.take_start_seconds,
    )
