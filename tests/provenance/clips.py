"""What happens to a take in the wild, as plain functions: the tests and the benchmark share them.

A clip found outside VoiceHub has usually been re-encoded (MP3 at 64 kbit/s), cut to an
excerpt, resampled, made louder or quieter, or mixed into a scene with other lines. Each
function here does one of those, deterministically (seeded numpy Generators), on a Clip
or on WAV bytes, the way the clip would reach the identification endpoint.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from voicehub.audio import read_wav, wav_bytes
from voicehub.provenance.fingerprints import ANALYSIS_RATE, Clip

# Lines the calibration corpus indexes: short ones (1 to 2 s), middling and long (4 to 6 s).
INDEXED_ENGLISH = (
    "Hold the door, they are coming!",
    "Not today, thank you very much.",
    "Where did you go last night?",
    "Run, now, and do not look back!",
    "I told you so, didn't I?",
    "Look behind you, by the window.",
    "Is anyone there? Hello?",
    "That was close, far too close.",
    "Follow me, quickly, this way.",
    "We have to leave before the sun comes up.",
    "The key was under the blue flower pot.",
    "Nobody has opened that gate in forty years.",
    "My brother sold the farm and moved to the city.",
    "Count the boxes twice before the truck leaves.",
    "The lighthouse keeper kept a diary of every storm that passed the island. It was all he ever wrote about.",
    "When the orchestra stopped playing, the whole hall held its breath for a moment. Nobody dared to cough.",
    "She packed three sandwiches, a torch and a map that nobody could read anymore. They left at dawn anyway.",
    "If the river floods again, the bridge on the north road will be closed for weeks. Plan for that now.",
    "Our captain says the engine will hold, but I have heard that promise before. Nobody believed him.",
    "Every morning the baker opened his shop at five and gave the first loaf away. People still talk about it.",
    "Please remember to water the tomatoes while I am visiting my grandmother in Leeds. Thank you so much.",
    "The museum guard swore the painting moved its eyes when the lights went out. Nobody believed him either.",
    "Turn left at the old church, then keep walking until you hear the waterfall. Do not stop until then.",
    "Thirty seven ships left the harbour that winter, and only nine came back in spring. It was a terrible winter.",
    "I never wanted to be a hero; I only wanted to get home before dinner. Dinner was cold, of course.",
    "The radio crackled twice, then a calm voice read out the coordinates again. Nobody knew what they meant.",
    "Bring the lantern closer, the writing on this wall is almost gone. We need to read it tonight.",
    "He laughed so hard at the wedding that the priest had to start over. Everyone laughed with him.",
    "Close the windows, the storm is moving faster than they said on the news. We should hurry.",
    "Somewhere under this city there is a train station that was never finished. I have seen the plans myself.",
)
INDEXED_JAPANESE = (
    "おはようございます。",
    "ちょっと待ってください。",
    "明日の朝、駅の前で会いましょう。",
    "この森には昔から不思議な言い伝えがあるんです。",
)
# The same voice saying lines the index does not hold.
UNINDEXED_ENGLISH = (
    "Pass me the salt.",
    "Quiet, they can hear us.",
    "Green apples taste better in autumn.",
    "The printer jammed again during the board meeting.",
    "Seven penguins escaped from the zoo and nobody noticed until lunch.",
    "Her violin teacher insisted on scales for an hour before any real music.",
    "A tall giraffe wandered slowly across the dusty savanna at noon.",
    "Mathematics exams always make my cousin extremely nervous.",
)


def mp3_64k(wav: bytes) -> bytes:
    """The WAV re-encoded to MP3 at 64 kbit/s with LAME, as a site that re-uploads it would.

    Written to a file, not a pipe, so that ffmpeg goes back and fills in the Xing/Info header
    (frame and byte counts) as every MP3 file saved to disk has it.
    """
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "clip.mp3"
        command = ["ffmpeg", "-nostdin", "-loglevel", "error", "-i", "pipe:0"]
        command += ["-c:a", "libmp3lame", "-b:a", "64k", str(path)]
        subprocess.run(command, input=wav, capture_output=True, check=True, timeout=60)
        return path.read_bytes()


def resample(wav: bytes, rate: int) -> bytes:
    """The WAV resampled to `rate` Hz by ffmpeg (e.g. 48 kHz to 22.05 kHz or 16 kHz)."""
    return _ffmpeg(wav, "-ar", str(rate), "-c:a", "pcm_s16le", "-f", "wav")


def _ffmpeg(data: bytes, *arguments: str) -> bytes:
    command = ["ffmpeg", "-nostdin", "-loglevel", "error", "-i", "pipe:0", *arguments, "pipe:1"]
    return subprocess.run(command, input=data, capture_output=True, check=True, timeout=60).stdout


def to_wav(clip: Clip) -> bytes:
    """A Clip as the 16-bit WAV a user would upload."""
    return wav_bytes(np.clip(clip.samples, -1.0, 1.0), ANALYSIS_RATE)


def excerpt(clip: Clip, start_s: float, seconds: float) -> Clip:
    """`seconds` of the clip from `start_s`, cut at the nearest sample (not on any frame grid)."""
    start = round(start_s * ANALYSIS_RATE)
    return Clip(clip.samples[start : start + round(seconds * ANALYSIS_RATE)].copy())


@overload
def gain(audio: Clip, db: float) -> Clip: ...
@overload
def gain(audio: bytes, db: float) -> bytes: ...
def gain(audio: Clip | bytes, db: float) -> Clip | bytes:
    """Louder or quieter by `db`; what goes past full scale is clipped, as an editor would."""
    if isinstance(audio, Clip):
        return Clip(_gain(audio.samples, db))
    samples, rate = read_wav(audio)
    return wav_bytes(_gain(samples, db), rate)


def _gain(samples: npt.NDArray[np.floating[Any]], db: float) -> npt.NDArray[np.float32]:
    scaled = np.asarray(samples, dtype=np.float64) * 10.0 ** (db / 20.0)
    return np.asarray(np.clip(scaled, -1.0, 1.0), dtype=np.float32)


def noise(seconds: float, *, level_db: float = -20.0, pink: bool = False, seed: int = 0) -> Clip:
    """White (or pink: 1/f power) noise at `level_db` dBFS RMS."""
    rng = np.random.default_rng(seed)
    count = round(seconds * ANALYSIS_RATE)
    white = rng.standard_normal(count)
    if pink:
        spectrum = np.fft.rfft(white)
        spectrum[1:] /= np.sqrt(np.arange(1, spectrum.shape[0]))
        spectrum[0] = 0.0
        white = np.fft.irfft(spectrum, count)
    scaled = white / max(float(np.sqrt(np.mean(white * white))), 1e-12) * 10.0 ** (level_db / 20.0)
    return Clip(np.clip(scaled, -1.0, 1.0).astype(np.float32))


def silence(seconds: float) -> Clip:
    """Digital silence."""
    return Clip(np.zeros(round(seconds * ANALYSIS_RATE), dtype=np.float32))


def tones(seconds: float, *, seed: int = 0) -> Clip:
    """Music-like audio: a melody of harmonic notes with a decaying envelope, and a soft chord."""
    rng = np.random.default_rng(seed)
    count = round(seconds * ANALYSIS_RATE)
    t = np.arange(count) / ANALYSIS_RATE
    out = np.zeros(count)
    note = round(0.25 * ANALYSIS_RATE)
    for start in range(0, count, note):
        pitch = 220.0 * 2.0 ** (int(rng.integers(0, 24)) / 12.0)
        span = t[start : start + note] - t[start]
        envelope = np.exp(-span * 6.0)
        for harmonic in (1, 2, 3):
            out[start : start + note] += (
                envelope * np.sin(2 * np.pi * pitch * harmonic * span) / harmonic
            )
    for pitch in (130.8, 164.8, 196.0):
        out += 0.15 * np.sin(2 * np.pi * pitch * t)
    return Clip((0.3 * out / np.abs(out).max()).astype(np.float32))


def mix_into_scene(
    target: Clip,
    others: Sequence[Clip],
    *,
    at_s: float,
    other_level_db: float = 0.0,
    overlap_s: float = 0.4,
    room_db: float = -50.0,
    seed: int = 0,
) -> Clip:
    """The target line inside a longer scene: other lines before and after it, quiet room noise.

    The first of `others` ends `overlap_s` into the target, the second starts `overlap_s`
    before the target ends (so both overlap it), the rest follow with short gaps; the others
    play at `other_level_db` relative to their own level. The target starts at `at_s`.
    """
    start = round(at_s * ANALYSIS_RATE)
    overlap = round(overlap_s * ANALYSIS_RATE)
    gap = round(0.3 * ANALYSIS_RATE)
    placed: list[tuple[int, npt.NDArray[np.float32]]] = [(start, target.samples)]
    scale = 10.0 ** (other_level_db / 20.0)
    for index, other in enumerate(others):
        size = other.samples.shape[0]
        if index == 0:
            at = max(0, start + overlap - size)
        elif index == 1:
            at = start + target.samples.shape[0] - overlap
        else:
            previous_at, previous = placed[-1]
            at = previous_at + previous.shape[0] + gap
        placed.append((at, (other.samples * scale).astype(np.float32)))
    length = max(at + samples.shape[0] for at, samples in placed) + gap
    room = noise(length / ANALYSIS_RATE, level_db=room_db, pink=True, seed=seed).samples
    scene = room[:length].astype(np.float64)
    for at, samples in placed:
        scene[at : at + samples.shape[0]] += samples
    return Clip(np.clip(scene, -1.0, 1.0).astype(np.float32))
