"""Test data made through VoiceHub's own services (never inserted behind their back)."""

from __future__ import annotations

import datetime as dt
import io
import wave
from collections.abc import Sequence
from dataclasses import dataclass

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from consent.service import create_actor, grant_consent, verify_in_person
from consent.tables import SignerKind
from consent.terms import ConsentTerms
from models.voices import register_voice
from voicehub.db import transaction, utcnow
from voicehub.ledger.tables import LedgerKind, LedgerTransaction
from voicehub.metering.tables import UsageRecord
from voicehub.production.tables import Take
from voicehub.runtime import Runtime
from voicehub.tenancy.service import create_studio, issue_api_key


@dataclass(frozen=True)
class SeededStudio:
    id: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@dataclass(frozen=True)
class SeededVoice:
    actor_id: str
    voice_id: str
    consent_id: str
    actor_key: str

    @property
    def actor_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.actor_key}"}


def seed_studio(
    rt: Runtime, name: str = "Studio", scopes: tuple[str, ...] | None = None
) -> SeededStudio:
    with transaction(rt.sessions) as session:
        studio = create_studio(session, name)
        key = issue_api_key(session, studio_id=studio.id, scopes=scopes)
    return SeededStudio(studio.id, key.secret)


ENGLISH = {"engine": "piper", "speaker": "joe", "language": "en"}
JAPANESE = {"engine": "kokoro", "speaker": "jf_alpha", "language": "ja"}


def seed_voice(
    rt: Runtime,
    *,
    name: str = "Actor",
    voice: dict[str, str] | None = None,
    uses: Sequence[str] = ("animation",),
    languages: Sequence[str] | None = None,
    territories: Sequence[str] = ("WW",),
    studio_ids: Sequence[str] = (),
    blocked_studio_ids: Sequence[str] = (),
    excluded_categories: Sequence[str] = (),
    blocked_terms: Sequence[str] = (),
    requires_project_approval: bool = False,
    currency: str = "JPY",
    price_per_1k_chars_micros: int = 1_000_000_000,
    price_per_second_micros: int | None = None,
    minimum_per_line_micros: int = 0,
    actor_share_bps: int = 7000,
    notice_period_days: int = 0,
    starts_at: dt.datetime | None = None,
    ends_at: dt.datetime | None = None,
    verified: bool = True,
    signer_kind: SignerKind = SignerKind.ACTOR,
) -> SeededVoice:
    """An actor, their voice and their consent; verified in person by an operator unless told not to."""
    spec = voice or ENGLISH
    with transaction(rt.sessions) as session:
        actor = create_actor(session, name)
        registered = register_voice(
            session,
            rt.engines,
            actor_id=actor.id,
            name=f"{name} voice",
            engine=spec["engine"],
            speaker=spec["speaker"],
            language=spec["language"],
        )
        version = grant_consent(
            session,
            voice=registered,
            terms=ConsentTerms(
                signer_kind=signer_kind,
                signer_name=name if signer_kind is SignerKind.ACTOR else f"{name}'s agent",
                use_description="Character voices for the studio's animated series and its trailers.",
                allowed_uses=tuple(uses),
                languages=tuple(languages or (spec["language"],)),
                territories=tuple(territories),
                currency=currency,
                prices_per_1k_chars_micros=(
                    dict.fromkeys(uses, price_per_1k_chars_micros)
                    if price_per_second_micros is None
                    else {}
                ),
                prices_per_second_micros=(
                    {}
                    if price_per_second_micros is None
                    else dict.fromkeys(uses, price_per_second_micros)
                ),
                minimum_per_line_micros=minimum_per_line_micros,
                actor_share_bps=actor_share_bps,
                starts_at=starts_at or utcnow() - dt.timedelta(days=1),
                ends_at=ends_at,
                allowed_studio_ids=tuple(studio_ids),
                blocked_studio_ids=tuple(blocked_studio_ids),
                excluded_categories=tuple(excluded_categories),
                blocked_terms=tuple(blocked_terms),
                requires_project_approval=requires_project_approval,
                notice_period_days=notice_period_days,
            ),
            changed_by="test",
        )
        if verified:
            verify_in_person(
                session, consent_id=version.consent_id, operator="test", note="ID checked"
            )
        key = issue_api_key(session, actor_id=actor.id)
    return SeededVoice(actor.id, registered.id, version.consent_id, key.secret)


@dataclass(frozen=True)
class CastProject:
    project_id: str
    cut_ids: list[str]
    line_ids: list[str]


def cast_project(
    client: TestClient,
    studio: SeededStudio,
    voices: dict[str, SeededVoice],
    cuts: list[dict[str, object]],
    *,
    language: str = "en",
    use: str = "animation",
) -> CastProject:
    """Create a project through the API, import `cuts` as JSON and cast each character."""
    response = client.post(
        "/v1/projects",
        json={"name": "Episode 1", "language": language, "use": use},
        headers=studio.headers,
    )
    assert response.status_code == 201, response.text
    project_id = response.json()["id"]
    response = client.post(
        f"/v1/projects/{project_id}/script", json={"cuts": cuts}, headers=studio.headers
    )
    assert response.status_code == 201, response.text
    cut_ids = response.json()["cut_ids"]
    for character, seeded in voices.items():
        response = client.post(
            f"/v1/projects/{project_id}/cast",
            json={"character": character, "voice_id": seeded.voice_id},
            headers=studio.headers,
        )
        assert response.status_code == 200, response.text
    line_ids = [
        line["id"]
        for cut_id in cut_ids
        for line in client.get(f"/v1/cuts/{cut_id}", headers=studio.headers).json()["lines"]
    ]
    return CastProject(project_id, cut_ids, line_ids)


def one_line(
    text: str = "Hello there, how are you today?", character: str = "KEN"
) -> list[dict[str, object]]:
    return [
        {
            "number": "C-001",
            "start": 0,
            "end": 4,
            "lines": [{"character": character, "text": text, "start": 0.5}],
        }
    ]


def audio_frames(wav: bytes) -> bytes:
    """A WAV file's audio frames, byte for byte.

    Each take's file also carries its own signed Content Credentials (its take id,
    a fresh signature), so two takes' files differ even when their audio does not.
    """
    with wave.open(io.BytesIO(wav)) as reader:
        frames: bytes = reader.readframes(reader.getnframes())
    return frames


def delivered_per_line(runtime: Runtime, line_ids: list[str]) -> dict[str, tuple[int, int, int]]:
    """Per line: (takes, usage records, usage postings)."""
    per_line = select(Take.line_id, func.count()).group_by(Take.line_id)
    with runtime.sessions() as session:
        takes = {line: n for line, n in session.execute(per_line)}
        usage = {
            line: n
            for line, n in session.execute(
                per_line.join(UsageRecord, UsageRecord.take_id == Take.id)
            )
        }
        postings = {
            line: n
            for line, n in session.execute(
                per_line.join(LedgerTransaction, LedgerTransaction.take_id == Take.id).where(
                    LedgerTransaction.kind == LedgerKind.USAGE
                )
            )
        }
    return {
        line: (takes.get(line, 0), usage.get(line, 0), postings.get(line, 0)) for line in line_ids
    }
