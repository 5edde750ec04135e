"""The training set: each recording resampled, trimmed and loudness-normalised with torchaudio.

Written LJSpeech-style (`wavs/<name>.wav` and `metadata.csv` with `name|text|text`),
the layout coqui-tts's `ljspeech` formatter reads, into a directory the caller
owns and removes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from models.builds.recordings import decode_wav
from voicehub.audio import wav_bytes

if TYPE_CHECKING:
    import torch

METADATA = "metadata.csv"
# Speech kept before the first and after the last detected sound, so no onset is cut.
_MARGIN_SECONDS = 0.1
# A VAD that leaves less than this found no speech, only its own margin: keep the clip whole.
_MIN_TRIMMED_SECONDS = 0.25
# Normalising may not push a clip's peak above this: gain never clips.
_PEAK_CEILING = 0.99
# BS.1770 gates in 400 ms blocks; a shorter clip has no measurable loudness.
_LOUDNESS_BLOCK_SECONDS = 0.4


@dataclass(frozen=True)
class Clip:
    """One recording to prepare: a file name, its WAV bytes and its transcript."""

    name: str
    wav: bytes
    transcript: str


@dataclass(frozen=True)
class PreparedClip:
    name: str
    seconds: float
    loudness_lufs: float


@dataclass(frozen=True)
class PreparedDataset:
    root: Path
    sample_rate: int
    clips: tuple[PreparedClip, ...]

    @property
    def seconds(self) -> float:
        return sum(clip.seconds for clip in self.clips)


def prepare_dataset(
    clips: Iterable[Clip],
    root: Path,
    *,
    sample_rate: int,
    loudness_lufs: float,
    on_clip: Callable[[int], None] | None = None,
) -> PreparedDataset:
    """Write every clip at `sample_rate`, trimmed and at `loudness_lufs`, plus metadata.csv."""
    wavs = root / "wavs"
    wavs.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    prepared: list[PreparedClip] = []
    for index, clip in enumerate(clips):
        audio, loudness = prepare_clip(clip.wav, sample_rate, loudness_lufs)
        (wavs / f"{clip.name}.wav").write_bytes(wav_bytes(audio, sample_rate))
        lines.append(f"{clip.name}|{clip.transcript}|{clip.transcript}")
        prepared.append(PreparedClip(clip.name, audio.shape[0] / sample_rate, loudness))
        if on_clip is not None:
            on_clip(index + 1)
    (root / METADATA).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return PreparedDataset(root=root, sample_rate=sample_rate, clips=tuple(prepared))


def prepare_clip(
    wav: bytes, sample_rate: int, loudness_lufs: float
) -> tuple[npt.NDArray[np.float32], float]:
    """One recording as mono float32 at `sample_rate`, trimmed and normalised; and its loudness."""
    import torch
    import torchaudio.functional as F

    recording = decode_wav(wav)
    waveform = torch.from_numpy(recording.samples).unsqueeze(0)
    if recording.sample_rate != sample_rate:
        waveform = F.resample(waveform, recording.sample_rate, sample_rate)
    loudness = -math.inf
    if waveform.shape[-1] >= _LOUDNESS_BLOCK_SECONDS * sample_rate:
        loudness = float(F.loudness(waveform, sample_rate))
    if math.isfinite(loudness):
        waveform = waveform * 10.0 ** ((loudness_lufs - loudness) / 20.0)
    # Trimmed after normalising: the VAD's trigger is a level, and it misses quiet speech.
    # BS.1770 gates out silence, so trimming leaves the loudness where it was set.
    waveform = trim_silence(waveform, sample_rate)
    peak = float(waveform.abs().max())
    if peak > _PEAK_CEILING:
        waveform = waveform * (_PEAK_CEILING / peak)
    audio = waveform.squeeze(0).numpy().astype(np.float32)
    return audio, loudness


def trim_silence(waveform: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """The waveform without its leading and trailing silence (torchaudio's sox-style VAD).

    The VAD trims only the front, so it runs again on the reversed audio for the
    back. A clip in which it finds no speech is kept whole.
    """
    import torchaudio.functional as F

    shortest = round(_MIN_TRIMMED_SECONDS * sample_rate)
    front = F.vad(waveform, sample_rate, pre_trigger_time=_MARGIN_SECONDS)
    if front.shape[-1] < shortest:
        return waveform
    back: torch.Tensor = F.vad(front.flip(-1), sample_rate, pre_trigger_time=_MARGIN_SECONDS)
    return back.flip(-1) if back.shape[-1] >= shortest else front
