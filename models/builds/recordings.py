"""Checking a recording before a model is trained on it: readable, long enough, clean, transcribed."""

from __future__ import annotations

import hashlib
import io
import math
import unicodedata
from dataclasses import dataclass

import numpy as np

from consent.verification import Recording
from models.builds.errors import RecordingUnusable
from voicehub.settings import Settings

# A sample this close to full scale was cut off by the converter, not spoken that loud.
CLIP_LEVEL = 0.999
# Overall level below which a recording holds no usable speech (RMS, dBFS), and the sound
# it must hold at least: 30 ms frames at or above ACTIVE_FRAME_DBFS.
SILENCE_DBFS = -50.0
ACTIVE_FRAME_DBFS = -40.0
MIN_ACTIVE_SECONDS = 0.5
_FRAME_SECONDS = 0.03
MAX_TRANSCRIPT_CHARS = 1000
# What libsndfile calls a WAV file, and the sample encodings accepted in one.
_WAV_FORMATS = frozenset({"WAV", "WAVEX", "RF64"})
_ENCODINGS = frozenset({"PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"})


@dataclass(frozen=True)
class RecordingLimits:
    """What each recording must meet; from the `build_*` settings."""

    min_seconds: float
    max_seconds: float
    max_clipped_fraction: float

    @classmethod
    def from_settings(cls, settings: Settings) -> RecordingLimits:
        return cls(
            min_seconds=settings.build_min_recording_seconds,
            max_seconds=settings.build_max_recording_seconds,
            max_clipped_fraction=settings.build_max_clipped_fraction,
        )


def decode_wav(data: bytes) -> Recording:
    """A WAV file (PCM 8 to 32-bit or float, any channels) as mono; the content decides."""
    import soundfile

    try:
        info = soundfile.info(io.BytesIO(data))
        if info.format not in _WAV_FORMATS:
            raise RecordingUnusable(
                f"The recording is a {info.format} file; upload a WAV file.", reason="format"
            )
        if info.subtype not in _ENCODINGS:
            raise RecordingUnusable(
                f"The WAV file's encoding ({info.subtype}) is not supported; upload PCM 16, 24"
                " or 32-bit, or 32-bit float.",
                reason="format",
            )
        frames, sample_rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, ValueError) as error:
        raise RecordingUnusable(
            f"The recording cannot be read as a WAV file ({error}).", reason="format"
        ) from None
    if frames.shape[0] == 0:
        raise RecordingUnusable("The WAV file holds no audio.", reason="format")
    if not np.isfinite(frames).all():
        raise RecordingUnusable("The WAV file holds samples that are not numbers.", reason="format")
    mono = np.clip(frames.mean(axis=1, dtype=np.float32), -1.0, 1.0).astype(np.float32)
    return Recording(
        samples=mono, sample_rate=int(sample_rate), sha256=hashlib.sha256(data).hexdigest()
    )


def check_recording(data: bytes, limits: RecordingLimits) -> Recording:
    """The decoded recording, or a `RecordingUnusable` naming the first thing wrong with it."""
    audio = decode_wav(data)
    seconds = audio.duration_seconds
    if seconds < limits.min_seconds:
        raise RecordingUnusable(
            f"The recording is {seconds:.2f} seconds long; each recording must be at least"
            f" {limits.min_seconds:g} seconds. Record a whole sentence.",
            reason="too_short",
            seconds=round(seconds, 3),
        )
    if seconds > limits.max_seconds:
        raise RecordingUnusable(
            f"The recording is {seconds:.1f} seconds long; each recording must be at most"
            f" {limits.max_seconds:g} seconds. Split it into sentences.",
            reason="too_long",
            seconds=round(seconds, 3),
        )
    _check_not_silent(audio)
    samples = audio.samples
    clipped = float(np.count_nonzero(np.abs(samples) >= CLIP_LEVEL)) / samples.shape[0]
    if clipped > limits.max_clipped_fraction:
        raise RecordingUnusable(
            f"{clipped:.2%} of the recording's samples are clipped (at full scale); at most"
            f" {limits.max_clipped_fraction:.2%} may be. Lower the input gain and record the"
            " line again.",
            reason="clipped",
            clipped_fraction=round(clipped, 6),
        )
    return audio


def check_transcript(text: str) -> str:
    """The transcript with its whitespace collapsed, or why it cannot be used."""
    cleaned = " ".join(unicodedata.normalize("NFC", text).split())
    if not cleaned:
        raise RecordingUnusable(
            "The transcript is empty: give the exact words spoken in the recording.",
            reason="transcript_empty",
            fields=["transcript"],
        )
    if len(cleaned) > MAX_TRANSCRIPT_CHARS:
        raise RecordingUnusable(
            f"The transcript is {len(cleaned)} characters long; one recording's transcript is"
            f" at most {MAX_TRANSCRIPT_CHARS}. Split long passages into several recordings.",
            reason="transcript_invalid",
            fields=["transcript"],
        )
    if "|" in cleaned:
        # The dataset's metadata.csv separates its fields with "|".
        raise RecordingUnusable(
            "The transcript may not contain '|'.",
            reason="transcript_invalid",
            fields=["transcript"],
        )
    return cleaned


def _dbfs(rms: float) -> float:
    return 20.0 * math.log10(rms) if rms > 0 else -math.inf


def _check_not_silent(audio: Recording) -> None:
    samples = audio.samples
    level = _dbfs(float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))))
    if level < SILENCE_DBFS:
        raise RecordingUnusable(
            f"The recording is almost silent ({level:.0f} dBFS; speech needs at least"
            f" {SILENCE_DBFS:.0f} dBFS). Check the microphone and record the line again.",
            reason="silent",
            level_dbfs=round(level, 1) if math.isfinite(level) else None,
        )
    frame = max(1, round(_FRAME_SECONDS * audio.sample_rate))
    usable = samples[: samples.shape[0] - samples.shape[0] % frame].reshape(-1, frame)
    frame_rms = np.sqrt(np.mean(np.square(usable, dtype=np.float64), axis=1))
    active = int(np.count_nonzero(frame_rms >= 10.0 ** (ACTIVE_FRAME_DBFS / 20.0)))
    active_seconds = active * frame / audio.sample_rate
    if active_seconds < MIN_ACTIVE_SECONDS:
        raise RecordingUnusable(
            f"The recording holds only {active_seconds:.2f} seconds of sound (at least"
            f" {MIN_ACTIVE_SECONDS:g} needed); record the whole line, close to the microphone.",
            reason="silent",
        )
