"""Shared set-up for the benchmarks: a throwaway data dir, migrated database, seeded studio."""

from __future__ import annotations

import datetime as dt
import os
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

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
