"""Mastering a take to its studio's delivery spec, with torchaudio.

resample → measure integrated loudness (ITU-R BS.1770-4) → gain to the target →
cap the gain so the true peak stays under the ceiling (never clip) → PCM at
the spec's bit depth → measure again what the file holds.

The timing stays exact: every phoneme, word and mora boundary b moves to
b × new_rate / old_rate rounded to the nearest sample, and the resampled audio
is cut to the length that same rule gives its end, so the counts still sum to
the audio's length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import torch
import torchaudio.functional as AF
from torchaudio.transforms import Resample

from models.engines.base import PhonemeTiming, SynthesisResult, WordTiming
from voicehub.audio import pcm_samples, pcm_to_float, pcm_wav_bytes
from voicehub.delivery.spec import DeliverySpec, LoudnessStandard

# torchaudio's documented "kaiser_best" setting (the one that matches librosa's
# kaiser_best): a 64-zero-crossing Kaiser-windowed sinc. Slower than the default
# 6-crossing Hann window, and far cleaner: the default lets aliasing through at
# around −60 dB, which is audible on a quiet dubbing stage.
RESAMPLING_QUALITY = {
    "resampling_method": "sinc_interp_kaiser",
    "lowpass_filter_width": 64,
    "rolloff": 0.9475937167399596,
    "beta": 14.769656459379492,
}
# BS.1770-4 Annex 2: true peak is the peak of the signal oversampled four times.
TRUE_PEAK_OVERSAMPLING = 4
# BS.1770-4's gating block; a clip shorter than one block has no block to gate.
GATE_SECONDS = 0.4
ABSOLUTE_GATE_LUFS = -70.0
# torchaudio's K-weighting filters clamp their output to [-1, 1], and the
# high-shelf stage lifts by up to 4 dB: a loud clip is under-measured (a
# full-scale 3 kHz tone reads 2.3 dB low). Loudness is measured on the clip
# scaled down by powers of two (exact in floating point) until its peak is at
# most this, then the same whole number of 6.02 dB steps is added back. (The
# −70 LUFS absolute gate moves by those steps too: it decides nothing for a line
# loud enough to need them, whose relative gate sits far above it.)
MEASURING_PEAK = 0.5
# Kept under the ceiling when the ceiling caps the gain, so that rounding to PCM
# (at most half a step of 16 bits) cannot lift the true peak over it.
PEAK_MARGIN_DB = 0.005


@dataclass(frozen=True)
class MasteredTake:
    """A take as delivered: the file, its timing at the delivered rate, and what was measured.

    `result.audio` is what the file holds, read back as float. `loudness_lufs` and
    `true_peak_dbtp` are measured on it (None for digital silence); `peak_limited`
    says the ceiling held the gain down, so the loudness landed below the target.
    """

    result: SynthesisResult
    wav: bytes
    bit_depth: int
    loudness: LoudnessStandard
    loudness_lufs: float | None
    true_peak_dbtp: float | None
    peak_limited: bool
    engine_sample_rate: int


def master(result: SynthesisResult, spec: DeliverySpec) -> MasteredTake:
    """Resample, normalize and encode an engine's output to `spec`."""
    rate = spec.sample_rate
    audio = resample_exact(torch.from_numpy(result.audio), result.sample_rate, rate)
    measured = integrated_loudness(audio, rate)
    peak = true_peak_dbtp(audio)
    target = spec.loudness.target_lufs
    gain_db = 0.0 if target is None or measured is None else target - measured
    ceiling = spec.true_peak_ceiling_dbtp
    limited = False
    if peak is not None and peak + gain_db > ceiling:
        gain_db = ceiling - PEAK_MARGIN_DB - peak
        limited = True
    samples, heard = _encode(audio, gain_db, spec.bit_depth)
    final_peak = true_peak_dbtp(heard)
    while final_peak is not None and final_peak > ceiling:
        # Rounding to PCM lifted it past the margin: take off what it overshot.
        gain_db -= final_peak - ceiling + PEAK_MARGIN_DB
        limited = True
        samples, heard = _encode(audio, gain_db, spec.bit_depth)
        final_peak = true_peak_dbtp(heard)
    phonemes, words, morae = rescale_timing(result, rate)
    delivered = SynthesisResult(
        audio=heard.numpy(),
        sample_rate=rate,
        phonemes=phonemes,
        words=words,
        morae=morae,
        seed=result.seed,
    )
    return MasteredTake(
        result=delivered,
        wav=pcm_wav_bytes(samples, rate, bit_depth=spec.bit_depth),
        bit_depth=spec.bit_depth,
        loudness=spec.loudness,
        loudness_lufs=integrated_loudness(heard, rate),
        true_peak_dbtp=final_peak,
        peak_limited=limited,
        engine_sample_rate=result.sample_rate,
    )


def _encode(
    audio: torch.Tensor, gain_db: float, bit_depth: int
) -> tuple[npt.NDArray[np.int32], torch.Tensor]:
    """PCM samples of `audio` after the gain, and those samples as a reader hears them."""
    samples = pcm_samples(audio.numpy().astype(np.float64) * 10.0 ** (gain_db / 20.0), bit_depth)
    return samples, torch.from_numpy(pcm_to_float(samples, bit_depth).astype(np.float32))


def scale_position(position: int, old_rate: int, new_rate: int) -> int:
    """A sample position at `old_rate` as the nearest position at `new_rate`, halves up.

    The same rule scales a position by any ratio of whole numbers, such as a
    stretched length over the length before.

    Exact integer arithmetic. Halves go up, not to even, so that rounding commutes
    with whole-sample shifts: a pause of N samples becomes the same number of
    samples wherever it falls in the line.
    """
    return (2 * position * new_rate + old_rate) // (2 * old_rate)


@lru_cache(maxsize=16)
def _resampler(old_rate: int, new_rate: int) -> Resample:
    """The resampling filter for a pair of rates, built once (its kernel is the costly part).

    float32: a 24-bit sample fits its mantissa exactly, the filter's rounding stays
    far below 24-bit quantization, and it runs five to ten times faster than float64.
    """
    return Resample(old_rate, new_rate, **RESAMPLING_QUALITY, dtype=torch.float32)


def resample_exact(audio: torch.Tensor, old_rate: int, new_rate: int) -> torch.Tensor:
    """`audio` (1-D) at `new_rate`, exactly `scale_position(len(audio))` samples long.

    The resampler gives ceil(n × new / old) samples; the rounding rule at most one
    fewer, so this trims (or, defensively, pads with silence) at the very end.
    """
    if old_rate == new_rate:
        return audio
    length = scale_position(int(audio.shape[0]), old_rate, new_rate)
    out: torch.Tensor = _resampler(old_rate, new_rate)(audio.to(torch.float32))
    if out.shape[0] >= length:
        return out[:length]
    return torch.nn.functional.pad(out, (0, length - int(out.shape[0])))


def rescale_timing(
    result: SynthesisResult, new_rate: int
) -> tuple[list[PhonemeTiming], list[WordTiming], list[WordTiming]]:
    """Phonemes, words and morae of `result` with their boundaries moved to `new_rate`."""
    return scale_timing(result, result.sample_rate, new_rate)


def scale_timing(
    result: SynthesisResult, old: int, new: int
) -> tuple[list[PhonemeTiming], list[WordTiming], list[WordTiming]]:
    """Phonemes, words and morae of `result` with every boundary b moved to b × new / old.

    Used for a change of rate (old and new rates) and for a time-stretch (old and
    new lengths): with `old` the audio's length, its end lands exactly on `new`.
    Boundaries are scaled, not counts: rounding each count on its own would let
    the errors add up along the line and the total drift from the audio's length.
    """

    def at(position: int) -> int:
        return scale_position(position, old, new)

    phonemes = [
        PhonemeTiming(p.phoneme, at(p.start), at(p.end) - at(p.start), p.is_pause)
        for p in result.phonemes
    ]
    words = [WordTiming(w.text, at(w.start), at(w.end) - at(w.start)) for w in result.words]
    morae = [WordTiming(m.text, at(m.start), at(m.end) - at(m.start)) for m in result.morae]
    return phonemes, words, morae


def integrated_loudness(audio: torch.Tensor, rate: int) -> float | None:
    """Integrated loudness in LUFS (BS.1770-4, torchaudio), or None for silence.

    A clip shorter than one 400 ms gating block has no block for torchaudio to
    measure (it raises). Such a clip is measured as one block of its own
    length: the same K-weighting and mean square, with the absolute gate but no
    relative gate (one block cannot be gated against itself). Short interjections
    ("Huh?") are thereby normalized like the lines around them.
    """
    peak = float(audio.abs().max()) if audio.numel() else 0.0
    if peak == 0.0:
        return None
    steps = max(0, math.ceil(math.log2(peak / MEASURING_PEAK)))
    scaled = (audio * 2.0**-steps).unsqueeze(0)
    if audio.shape[0] >= round(GATE_SECONDS * rate):
        lufs = float(AF.loudness(scaled, rate))
    else:
        weighted = AF.treble_biquad(scaled, rate, 4.0, 1500.0, 1 / math.sqrt(2))
        weighted = AF.highpass_biquad(weighted, rate, 38.0, 0.5)
        energy = float(torch.mean(weighted**2))
        if energy <= 0.0:
            return None
        lufs = -0.691 + 10 * math.log10(energy)
    lufs += 20 * math.log10(2.0**steps)
    if not math.isfinite(lufs) or lufs <= ABSOLUTE_GATE_LUFS:
        return None
    return lufs


def true_peak_dbtp(audio: torch.Tensor) -> float | None:
    """True peak in dBTP: the largest magnitude of `audio` oversampled ×4, or None for silence.

    The sample peak is included too, so the true peak is never reported below it.
    """
    if not audio.numel():
        return None
    oversampled: torch.Tensor = _resampler(1, TRUE_PEAK_OVERSAMPLING)(audio.to(torch.float32))
    peak = max(float(oversampled.abs().max()), float(audio.abs().max()))
    if peak == 0.0:
        return None
    return 20 * math.log10(peak)
