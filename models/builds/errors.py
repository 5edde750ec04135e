"""Why a recording, a build or a built voice was refused: typed, with a stable code each."""

from __future__ import annotations

from voicehub.errors import Conflict, InvalidInput


class RecordingUnusable(InvalidInput):
    """A recording a model cannot be trained on; `reason` says which check it failed.

    Reasons: format, too_short, too_long, silent, clipped, transcript_empty,
    transcript_invalid.
    """

    code = "recording_unusable"
    title = "The recording cannot be used to build a voice"

    def __init__(self, detail: str, *, reason: str, **extra: object) -> None:
        super().__init__(detail, reason=reason, **extra)
        self.reason = reason


class RecordingDuplicate(Conflict):
    code = "recording_duplicate"
    title = "This recording is already in the build"


class BuildTooShort(InvalidInput):
    code = "build_too_short"
    title = "The build has too little recorded speech"


class BuildNotCollecting(Conflict):
    code = "build_not_collecting"
    title = "The build has started; it takes no more recordings"


class BuildInProgress(Conflict):
    code = "build_in_progress"
    title = "The build (or another build of this voice) is already running"


class VoiceNotBuildable(InvalidInput):
    code = "voice_not_buildable"
    title = "This voice is not one VoiceHub builds"


class VoiceNotBuilt(Conflict):
    code = "voice_not_built"
    title = "The voice's model has not been built yet"
