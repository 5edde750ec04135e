"""Registering an actor's voice: bound to an installed engine, a speaker and a model hash."""

from __future__ import annotations

from sqlalchemy.orm import Session

from models.engines.registry import EngineRegistry
from models.tables import Voice
from voicehub.errors import InvalidInput
from voicehub.ids import new_id


def register_voice(
    session: Session,
    engines: EngineRegistry,
    *,
    actor_id: str,
    name: str,
    engine: str,
    speaker: str,
    language: str,
    is_demo: bool = False,
) -> Voice:
    """A voice on an installed engine; the model it names is pinned by content hash."""
    info = engines.get(engine).info
    if speaker not in info.speakers:
        raise InvalidInput(
            f"Engine {engine} has no speaker '{speaker}'; it has {', '.join(info.speakers)}.",
            fields=["speaker"],
        )
    if language not in info.languages:
        raise InvalidInput(
            f"Engine {engine} speaks {', '.join(info.languages)}, not '{language}'.",
            fields=["language"],
        )
    voice = Voice(
        id=new_id("voice"),
        actor_id=actor_id,
        name=name,
        language=language,
        engine=engine,
        speaker=speaker,
        model_sha256=info.model_version,
        is_demo=is_demo,
    )
    session.add(voice)
    session.flush()
    return voice
