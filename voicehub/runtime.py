"""What a running process holds once: settings, database, engines, storage, queue.

Built at app start-up, worker start or CLI command, never at import.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sqlalchemy.engine import Engine as DatabaseEngine
from sqlalchemy.orm import Session, sessionmaker

import voicehub.schema  # noqa: F401  (every table: foreign keys resolve in any process)
from consent.log import append_event
from consent.receipts import ReceiptKey
from consent.service import Effects
from consent.speaker import SpeakerVerifier
from models.builds.service import blank_transcripts
from models.engines.registry import EngineRegistry
from models.vault import Vault, load_master_key
from voicehub.db import make_engine, make_sessionmaker
from voicehub.notifications.service import emit_event
from voicehub.provenance.credentials import SigningIdentity
from voicehub.queue import JobQueue, make_job_queue
from voicehub.settings import Settings
from voicehub.storage import Storage, make_storage
from voicehub.synthesis.service import Synthesizer

_loading = threading.Lock()


@dataclass
class Runtime:
    settings: Settings
    database: DatabaseEngine
    sessions: sessionmaker[Session]
    engines: EngineRegistry
    storage: Storage
    queue: JobQueue
    vault: Vault

    def close(self) -> None:
        self.database.dispose()

    @cached_property
    def speaker_verifier(self) -> SpeakerVerifier:
        """The speaker-embedding model, loaded on first use and kept (it imports torch)."""
        with _loading:
            verifier = SpeakerVerifier()
            verifier.load()
            return verifier

    @cached_property
    def receipt_key(self) -> ReceiptKey:
        return ReceiptKey.load(self.settings)

    @cached_property
    def signing_identity(self) -> SigningIdentity:
        """The key and certificate chain that sign every take's Content Credentials."""
        return SigningIdentity.load(self.settings)

    @property
    def synthesizer(self) -> Synthesizer:
        """What the path of one line needs from this process."""
        return Synthesizer(
            self.engines, self.storage, self.settings.max_line_chars, self.signing_identity
        )

    @property
    def consent_effects(self) -> Effects:
        """What a consent change does outside consent/: tell studios, shred the voice."""

        def notify(session: Session, studio_id: str, event_type: str, data: dict[str, Any]) -> None:
            emit_event(session, self.queue, studio_id=studio_id, type=event_type, data=data)

        def shred(session: Session, voice_id: str, reason: str) -> None:
            report = self.vault.shred_voice(session, voice_id, reason)
            # The key takes the recordings' audio; their transcripts are plain text, so they
            # are blanked here, in the same transaction (the vault knows nothing of builds).
            transcripts = blank_transcripts(session, voice_id)
            append_event(
                session,
                event="voice.shredded",
                actor_id=None,
                consent_id=None,
                payload={
                    "voice_id": voice_id,
                    "reason": reason,
                    "artifacts": report.artifacts,
                    "transcripts_blanked": transcripts,
                    "destroyed_at": report.destroyed_at.isoformat(),
                },
            )

        return Effects(notify=notify, shred=shred)


def build_runtime(settings: Settings, *, engines: EngineRegistry | None = None) -> Runtime:
    """Connect to the database and queue and load the engines (unless given loaded ones)."""
    database = make_engine(settings.resolved_database_url)
    storage = make_storage(settings)
    if engines is None:
        engines = EngineRegistry.load(
            settings.enabled_engines,
            cache_dir=settings.data_dir / "models",
            coqui_models=settings.coqui_model_paths,
        )
    return Runtime(
        settings=settings,
        database=database,
        sessions=make_sessionmaker(database),
        engines=engines,
        storage=storage,
        queue=make_job_queue(settings),
        vault=Vault(storage, load_master_key(settings)),
    )


_current: Runtime | None = None


def activate(runtime: Runtime) -> None:
    """Make `runtime` the one queued tasks in this process use."""
    global _current
    _current = runtime


def current() -> Runtime:
    if _current is None:
        raise RuntimeError("No VoiceHub runtime is active in this process.")
    return _current
