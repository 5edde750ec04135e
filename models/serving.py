"""The engine that speaks for a voice: an installed one, or the voice's own built model.

A built voice's model is a vault artifact: decrypted, checked against the hash
the voice names, and loaded once per model hash. The cached model is content
addressed, so it can never be another voice's; but it is decrypted data, so
every use first checks that the voice's key still exists: a shredded voice is
never served from memory.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.builds.errors import VoiceNotBuilt
from models.builds.service import BUILT_ENGINE, MODEL_ARTIFACT
from models.engines.base import Engine
from models.engines.registry import EngineRegistry
from models.errors import ModelChanged, ModelCorrupt
from models.tables import Voice, VoiceArtifact, VoiceKey
from models.vault import ArtifactShredded, Vault, VaultIntegrityError

log = logging.getLogger(__name__)

# Loaded built models kept in memory, least recently used first out.
CACHE_SIZE = 4

_cache: OrderedDict[str, Engine] = OrderedDict()
_cache_lock = threading.Lock()


def engine_for_voice(
    session: Session, engines: EngineRegistry, voice: Voice, *, vault: Vault | None = None
) -> Engine:
    """The loaded engine that synthesizes `voice`.

    Built voices (engine "coqui") need the vault to decrypt their model; it
    defaults to the active runtime's, as queued tasks use it.
    """
    if voice.engine != BUILT_ENGINE:
        return _installed(engines, voice)
    if not has_model(voice):
        raise VoiceNotBuilt(
            f"Voice {voice.id} has no model yet: its actor's build has not finished.",
            voice_id=voice.id,
        )
    artifact = session.scalar(
        select(VoiceArtifact)
        .where(
            VoiceArtifact.voice_id == voice.id,
            VoiceArtifact.kind == MODEL_ARTIFACT,
            VoiceArtifact.sha256 == voice.model_sha256,
        )
        .order_by(VoiceArtifact.created_at.desc(), VoiceArtifact.id.desc())
    )
    if artifact is None:
        raise ModelCorrupt(
            f"Voice {voice.id} names model {voice.model_sha256}, which is not in the vault.",
            voice_id=voice.id,
        )
    _check_not_shredded(session, voice.id, artifact.id)
    with _cache_lock:
        cached = _cache.get(voice.model_sha256)
        if cached is not None:
            _cache.move_to_end(voice.model_sha256)
            return cached
    engine = _load(session, vault or _active_vault(), voice, artifact.id)
    with _cache_lock:
        _cache[voice.model_sha256] = engine
        _cache.move_to_end(voice.model_sha256)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return engine


def _installed(engines: EngineRegistry, voice: Voice) -> Engine:
    """The installed engine, if it still runs the exact model the voice names.

    The actor consented to a voice, and a voice is its model: after an engine's
    model is replaced (a package upgrade, another file) its voices are refused
    until they are registered again on the new model, never silently served by it.
    """
    engine = engines.get(voice.engine)
    installed = engine.info.model_version
    if installed != voice.model_sha256:
        raise ModelChanged(
            f"Voice {voice.id} was registered with {voice.engine} model {voice.model_sha256[:12]}…,"
            f" but this server runs {installed[:12]}…; the voice must be registered on the new model.",
            voice_id=voice.id,
            engine=voice.engine,
        )
    return engine


def has_model(voice: Voice) -> bool:
    """Whether the voice has a model: always on an installed engine; once built for a built voice."""
    return voice.engine != BUILT_ENGINE or bool(voice.model_sha256)


def forget_models() -> None:
    """Drop every loaded built model (they load again on next use)."""
    with _cache_lock:
        _cache.clear()


def _check_not_shredded(session: Session, voice_id: str, artifact_id: str) -> None:
    destroyed = session.scalar(
        select(VoiceKey.voice_id)
        .where(VoiceKey.voice_id == voice_id, VoiceKey.wrapped_key.is_(None))
        .execution_options(populate_existing=True)
    )
    if destroyed is not None:
        raise ArtifactShredded(
            f"Artifact {artifact_id} was shredded with voice {voice_id}.", voice_id=voice_id
        )


def _load(session: Session, vault: Vault, voice: Voice, artifact_id: str) -> Engine:
    from models.engines.coqui import CoquiEngine

    try:
        data = vault.read_artifact(session, artifact_id)
    except VaultIntegrityError as error:
        log.error("the model of voice %s does not open: %s", voice.id, error)
        raise ModelCorrupt(
            f"The model of voice {voice.id} cannot be read from the vault: {error}",
            voice_id=voice.id,
        ) from None
    return CoquiEngine.from_checkpoint_bytes(
        data, name=BUILT_ENGINE, expected_sha256=voice.model_sha256, device=_device()
    )


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _active_vault() -> Vault:
    from voicehub.runtime import current

    return current().vault
