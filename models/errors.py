"""Errors the synthesis engines raise, in the same typed shape as `voicehub.errors`."""

from __future__ import annotations

from voicehub.errors import InvalidInput, VoiceHubError


class UnknownSpeaker(InvalidInput):
    code = "unknown_speaker"
    title = "The engine has no such speaker"


class EngineFailed(VoiceHubError):
    """The model ran but gave no usable timing; we never guess it instead."""

    status = 502
    code = "engine_failed"
    title = "Synthesis engine failed"
