"""Shared set-up for the benchmarks: a throwaway data dir, migrated database, seeded studio."""

from __future__ import annotations

import datetime as dt
import os
import socket
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import uvicorn
from fastapi import FastAPI

from consent.identity import consent_of_voice
from consent.service import create_actor, grant_consent, verify_in_person
from consent.terms import ConsentTerms
from models.engines.registry import EngineRegistry
from models.voices import register_voice
from voicehub.db import migrate, transaction, utcnow
from voicehub.runtime import Runtime, activate, build_runtime
from voicehub.settings import Settings
from voicehub.tenancy.service import create_studio, issue_api_key

# Eight-word lines of the kind a dubbing script is made of.
LINES = [
    "We have to leave before the storm arrives.",
    "Nobody told me the bridge was already gone.",
    "Keep your voice down, they can hear us.",
    "I found the letter hidden under the floor.",
    "Tell me again what you saw last night.",
    "The lighthouse has been dark for ten years.",
    "If we run now we might still make it.",
    "Your brother asked about you at the station.",
    "Open the gate and wait for my signal.",
    "This is not the map your father drew.",
]


@dataclass(frozen=True)
class Bench:
    runtime: Runtime
    studio_key: str
    voice_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.studio_key}"}


@contextmanager
def bench_runtime(
    engine: str = "piper", speaker: str = "joe", language: str = "en"
) -> Iterator[Bench]:
    """A runtime on SQLite in a temporary directory (or `VOICEHUB_DATABASE_URL` if set)."""
    with tempfile.TemporaryDirectory(prefix="voicehub-bench-") as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            database_url=os.environ.get("VOICEHUB_DATABASE_URL", ""),
            queue_url=os.environ.get("VOICEHUB_QUEUE_URL", ""),
            embedded_worker=False,
        )
        migrate(settings.resolved_database_url)
        engines = EngineRegistry.load([engine], cache_dir=None)
        runtime = build_runtime(settings, engines=engines)
        activate(runtime)
        with transaction(runtime.sessions) as session:
            studio = create_studio(session, "Bench studio")
            key = issue_api_key(session, studio_id=studio.id).secret
            actor = create_actor(session, "Bench actor")
            voice = register_voice(
                session,
                engines,
                actor_id=actor.id,
                name="v",
                engine=engine,
                speaker=speaker,
                language=language,
            )
            grant_consent(
                session,
                voice=voice,
                terms=ConsentTerms(
                    signer_name="Bench actor",
                    use_description="Benchmark lines for measuring the service, never delivered.",
                    allowed_uses=("animation",),
                    languages=(language,),
                    currency="JPY",
                    prices_per_1k_chars_micros={"animation": 3_000_000_000},
                    actor_share_bps=7000,
                    starts_at=utcnow() - dt.timedelta(days=1),
                ),
                changed_by="bench",
            )
            verify_in_person(
                session,
                consent_id=consent_of_voice(session, voice.id).id,
                operator="bench",
                note="bench",
            )
            voice_id = voice.id
        try:
            yield Bench(runtime, key, voice_id)
        finally:
            runtime.close()


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """Serve `app` with uvicorn on a free loopback port in a thread; yields its base URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


# Twenty Japanese dubbing lines, one to three sentences each (about 1 to 7 s spoken).
LINES_JA = [
    "待って！まだ話は終わってないよ。",
    "あの日、君が言ったこと、僕はずっと覚えてる。",
    "急げ、扉が閉まる前に向こう側へ行くんだ！",
    "ねえ、本当にあの橋を渡るつもりなの？もう誰も戻ってこなかったって聞いたよ。",
    "大丈夫。私がついてるから、何も心配しなくていい。",
    "この地図、おじいちゃんが描いたものじゃない。線の引き方が全然違う。",
    "お前の兄さんが駅で君のことを聞いていたぞ。",
    "静かに。あいつらに聞こえる。",
    "灯台の明かりが消えてから、もう十年になる。",
    "今すぐ走れば、まだ間に合うかもしれない。",
    "ごめん、遅くなった。電車が途中で止まっちゃってさ。",
    "それで、結局どうするの？逃げるの、それとも戦うの？",
    "床下に隠してあった手紙を見つけたんだ。読んでみて。",
    "嵐が来る前に、ここを出なきゃいけない。",
    "信じられない……あれが全部、夢だったなんて。",
    "門を開けて、私の合図を待って。",
    "昨日の夜、何を見たのか、もう一度話してくれる？",
    "ありがとう。君がいなかったら、ここまで来られなかった。",
    "おい、冗談だろ？こんなところで置いていくなよ！",
    "約束する。必ず帰ってくるから、それまで待っていて。",
]


def interleaved_rounds(names: list[str], rounds: int) -> list[list[str]]:
    """Each round runs every name once; the order rotates so no name always runs first."""
    return [names[r % len(names) :] + names[: r % len(names)] for r in range(rounds)]


@dataclass(frozen=True)
class BenchVoice:
    """A consenting voice on one engine."""

    engine: str
    speaker: str
    language: str
    voice_id: str


@contextmanager
def bench_studio(
    engines: EngineRegistry, voices: list[tuple[str, str, str]], **overrides: Any
) -> Iterator[tuple[Runtime, str, list[BenchVoice]]]:
    """Like `bench_runtime`, for engines already loaded and a voice on each of several.

    `voices` holds (engine, speaker, language); `overrides` are Settings fields
    (`synthesis_threads=3`). Yields the runtime, the studio's API key and the voices.
    """
    with tempfile.TemporaryDirectory(prefix="voicehub-bench-") as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            database_url=os.environ.get("VOICEHUB_DATABASE_URL", ""),
            queue_url=os.environ.get("VOICEHUB_QUEUE_URL", ""),
            # Runtimes side by side in one process each get a queue of their own.
            queue_name=f"voicehub-bench-{Path(tmp).name}",
            embedded_worker=False,
            **overrides,
        )
        migrate(settings.resolved_database_url)
        runtime = build_runtime(settings, engines=engines)
        activate(runtime)
        made: list[BenchVoice] = []
        with transaction(runtime.sessions) as session:
            studio = create_studio(session, "Bench studio")
            key = issue_api_key(session, studio_id=studio.id).secret
            for engine, speaker, language in voices:
                actor = create_actor(session, f"Bench actor {engine}")
                voice = register_voice(
                    session,
                    engines,
                    actor_id=actor.id,
                    name=f"{engine} {speaker}",
                    engine=engine,
                    speaker=speaker,
                    language=language,
                )
                grant_consent(
                    session,
                    voice=voice,
                    terms=ConsentTerms(
                        signer_name=f"Bench actor {engine}",
                        use_description="Benchmark lines for measuring the service, never delivered.",
                        allowed_uses=("animation",),
                        languages=(language,),
                        currency="JPY",
                        prices_per_1k_chars_micros={"animation": 3_000_000_000},
                        actor_share_bps=7000,
                        starts_at=utcnow() - dt.timedelta(days=1),
                    ),
                    changed_by="bench",
                )
                verify_in_person(
                    session,
                    consent_id=consent_of_voice(session, voice.id).id,
                    operator="bench",
                    note="bench",
                )
                made.append(BenchVoice(engine, speaker, language, voice.id))
        try:
            yield runtime, key, made
        finally:
            runtime.close()


def cast_script(
    client: httpx.Client, headers: dict[str, str], voice: BenchVoice, texts: list[str]
) -> tuple[str, list[str]]:
    """A project in the voice's language, one cut of `texts` cast to it: (project id, line ids)."""
    project = client.post(
        "/v1/projects",
        json={"name": f"Bench {voice.engine}", "language": voice.language, "use": "animation"},
        headers=headers,
    ).json()
    script = {"cuts": [{"lines": [{"character": "KEN", "text": text} for text in texts]}]}
    response = client.post(f"/v1/projects/{project['id']}/script", json=script, headers=headers)
    response.raise_for_status()
    cut_id = response.json()["cut_ids"][0]
    client.post(
        f"/v1/projects/{project['id']}/cast",
        json={"character": "KEN", "voice_id": voice.voice_id},
        headers=headers,
    ).raise_for_status()
    lines = client.get(f"/v1/cuts/{cut_id}", headers=headers).json()["lines"]
    return project["id"], [line["id"] for line in lines]


PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextmanager
def scratch_postgresql(prefix: str, admin_url: str = PG_ADMIN) -> Iterator[str]:
    """A new, empty PostgreSQL database for one run (its SQLAlchemy URL); dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
