"""Errors the synthesis engines raise, in the same typed shape as `voicehub.errors`."""

from __future__ import annotations

from voicehub.errors import EngineUnavailable, InvalidInput, VoiceHubError


class UnknownSpeaker(InvalidInput):
    code = "unknown_speaker"
    title = "The engine has no such speaker"


class EngineFailed(VoiceHubError):
    """The model ran but gave no usable timing; we never guess it instead."""

    status = 502
    code = "engine_failed"
    title = "Synthesis engine failed"


class ModelMissing(EngineUnavailable):
    """A model file or directory the server was told to load is not there."""

    code = "model_missing"
    title = "The voice model file is missing"


class ModelCorrupt(EngineUnavailable):
    """A model file cannot be read, or its content hash is not the one expected."""

    code = "model_corrupt"
    title = "The voice model file is corrupt"


class ModelChanged(EngineUnavailable):
    """The installed engine's model is not the one the voice was registered (and consented) with."""

    code = "model_changed"
    title = "The voice's model is not the one installed"


class ModelUnsupported(InvalidInput):
    """A model VoiceHub cannot serve: not a VITS-family coqui-tts model, or incomplete."""

    code = "model_unsupported"
    title = "The voice model is not supported"


class EngineNoTiming(ModelUnsupported):
    """A model with no duration output (autoregressive, e.g. XTTS): timing would be a guess."""

    code = "engine_no_timing"
    title = "The model reports no timing"
