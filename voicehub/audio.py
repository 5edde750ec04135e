"""Audio encoding shared by takes, exports and benchmarks: mono PCM WAV, 16 or 24 bits."""

from __future__ import annotations

import io
import wave
from typing import Any

import numpy as np
import numpy.typing as npt

BIT_DEPTHS = (16, 24)


def pcm_samples(audio: npt.NDArray[np.floating[Any]], bit_depth: int = 16) -> npt.NDArray[np.int32]:
    """Float audio in [-1, 1] as signed integers of `bit_depth` bits, rounded to nearest.

    Full scale is 2^(bits-1), as soundfile, torchaudio and the `wave`-based readers
    divide by when they read PCM back, so a sample reads back as the value written.
    """
    if bit_depth not in BIT_DEPTHS:
        raise ValueError(f"bit depth {bit_depth} is not one of {BIT_DEPTHS}")
    full_scale = float(1 << (bit_depth - 1))
    scaled = np.rint(np.asarray(audio, dtype=np.float64) * full_scale)
    return np.clip(scaled, -full_scale, full_scale - 1).astype(np.int32)


def pcm_to_float(samples: npt.NDArray[np.int32], bit_depth: int) -> npt.NDArray[np.float64]:
    """The inverse of `pcm_samples`: what a reader of the file hears."""
    return samples.astype(np.float64) / float(1 << (bit_depth - 1))


def wav_bytes(
    audio: npt.NDArray[np.floating[Any]], sample_rate: int, *, bit_depth: int = 16
) -> bytes:
    """Mono float audio in [-1, 1] as a 16- or 24-bit PCM WAV file."""
    return pcm_wav_bytes(pcm_samples(audio, bit_depth), sample_rate, bit_depth=bit_depth)


def pcm_wav_bytes(samples: npt.NDArray[np.int32], sample_rate: int, *, bit_depth: int) -> bytes:
    """Integer samples (from `pcm_samples`) as a mono PCM WAV file.

    A 24-bit sample is the low three bytes of its little-endian int32: two's
    complement, so the sign comes along in the third byte.
    """
    if bit_depth == 16:
        frames = samples.astype("<i2").tobytes()
    elif bit_depth == 24:
        frames = samples.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    else:
        raise ValueError(f"bit depth {bit_depth} is not one of {BIT_DEPTHS}")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(bit_depth // 8)
        out.setframerate(sample_rate)
        out.writeframes(frames)
    return buffer.getvalue()


def read_wav(data: bytes) -> tuple[npt.NDArray[np.float64], int]:
    """The inverse of `wav_bytes`: a PCM WAV (16 or 24-bit; channels averaged) as float samples."""
    with wave.open(io.BytesIO(data), "rb") as wav:
        width, rate, frames = (
            wav.getsampwidth(),
            wav.getframerate(),
            wav.readframes(wav.getnframes()),
        )
        channels = wav.getnchannels()
    if width == 2:
        samples = np.frombuffer(frames, dtype="<i2").astype(np.int32)
    elif width == 3:
        raw = np.frombuffer(frames, dtype=np.uint8).reshape(-1, 3)
        padded = np.zeros((raw.shape[0], 4), dtype=np.uint8)
        padded[:, 1:] = raw
        samples = padded.view("<i4").reshape(-1) >> 8
    else:
        raise ValueError(f"take audio has {width * 8}-bit samples; takes are 16 or 24-bit")
    audio = pcm_to_float(samples, width * 8)
    if channels > 1:
        audio = audio.reshape(-1, channels).mean(axis=1)
    return audio, rate
