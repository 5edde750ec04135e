"""Acoustic fingerprints that trace a clip found in the wild back to the VoiceHub take it came from.

Two methods fill one index of (method, hash, take_id, offset) rows:

- **Chromaprint** (AcoustID's fingerprinter): one 32-bit code per 0.124 s frame. Robust on
  whole takes and long excerpts, but it needs about 3 s of audio to say anything and about
  4 s to say it clearly. The index keeps a stable part of each code as the hash; a candidate
  is then verified by the bit error rate of the full codes at the aligned offset.
- **Landmarks** (Wang 2003): pairs of spectral peaks hashed as (f1, f2, dt) with the anchor's
  frame. Made for the short lines speech synthesis delivers (1 to 4 s).

Both identify by voting: a hash that the clip and a take share at query frame q and take
frame t votes for the take at the offset t - q; the true take collects many votes at one
offset, an unrelated take a few scattered ones. This module is pure signal processing and
scoring: storing rows and looking hashes up belongs to the provenance service.
"""

from __future__ import annotations

import enum
import struct
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import chromaprint
import numpy as np
import numpy.typing as npt
from scipy import ndimage, signal

from voicehub.errors import ClipUnusable

ANALYSIS_RATE = 11025
"""Both methods analyse at Chromaprint's own rate, so it never resamples behind our back."""

MAX_CLIP_SECONDS = 600.0
MIN_CLIP_SECONDS = 1.0
FFMPEG = "ffmpeg"
FFMPEG_TIMEOUT_SECONDS = 60.0

# Loudness gates, on the RMS of 50 ms frames in dBFS.
_LEVEL_FRAME = ANALYSIS_RATE // 20
SILENT_DBFS = -55.0
"""A clip whose loudest 50 ms stays below this holds no speech-level signal."""
_SOUND_RANGE_DB = 40.0
"""Frames within this of the loudest count as sound when a clip's length is judged."""
_SOUND_FLOOR_DBFS = -70.0
"""…and above this: a quieter copy of a clip keeps its length (the silence gate would not)."""


@dataclass(frozen=True)
class Clip:
    """Mono float32 audio at ANALYSIS_RATE: what both methods fingerprint."""

    samples: npt.NDArray[np.float32]

    @property
    def seconds(self) -> float:
        return float(self.samples.shape[0]) / ANALYSIS_RATE


class Method(enum.StrEnum):
    CHROMAPRINT = "chromaprint"
    LANDMARKS = "landmarks"


MIN_SECONDS: dict[Method, float] = {Method.CHROMAPRINT: 3.0, Method.LANDMARKS: MIN_CLIP_SECONDS}
"""Below this a method gives no fingerprint: Chromaprint's filters span about 3 s."""


@dataclass(frozen=True)
class Fingerprint:
    """Hashes with the frame each was taken at; the same shape for both methods.

    Every hash is in [0, 2**31), so it fits a 32-bit signed column. `codes` holds
    Chromaprint's raw 32-bit codes (uint32, little-endian) for verifying a candidate.
    """

    method: Method
    hashes: npt.NDArray[np.int64]
    offsets: npt.NDArray[np.int32]
    frame_seconds: float
    codes: bytes | None = None

    def __post_init__(self) -> None:
        if self.hashes.shape != self.offsets.shape:
            raise ValueError(f"{self.hashes.shape[0]} hashes but {self.offsets.shape[0]} offsets")


@dataclass(frozen=True)
class Match:
    """A take that a clip was identified as, and where it sits on the clip's clock."""

    take_id: str
    method: Method
    confidence: float
    matched: int
    query_hashes: int
    take_start_seconds: float


# ---------------------------------------------------------------------------------------------
# Decoding


_AUDIO_MAGIC: tuple[tuple[int, bytes], ...] = (
    (0, b"RIFF"),
    (0, b"RIFX"),
    (0, b"RF64"),
    (0, b"ID3"),
    (0, b"fLaC"),
    (0, b"OggS"),
    (0, b"FORM"),
    (0, b"caff"),
    (0, b"#!AMR"),
    (0, b"\x1a\x45\xdf\xa3"),  # Matroska / WebM
    (4, b"ftyp"),  # MP4 / M4A
)


def _looks_like_audio(data: bytes) -> bool:
    """Whether the bytes start like an audio container (so a failure to decode means damage)."""
    if any(data[at : at + len(magic)] == magic for at, magic in _AUDIO_MAGIC):
        return True
    # A bare MPEG audio frame: 11 sync bits, then a layer other than "reserved".
    return len(data) >= 2 and data[0] == 0xFF and (data[1] & 0xE0) == 0xE0 and data[1] & 0x06 != 0


def _wav_shortfall(data: bytes) -> tuple[int, int] | None:
    """(declared, present) bytes of a RIFF/WAVE data chunk that the file cuts off, else None."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    at = 12
    while at + 8 <= len(data):
        chunk, size = data[at : at + 4], struct.unpack("<I", data[at + 4 : at + 8])[0]
        if chunk == b"data":
            present = len(data) - at - 8
            # Writers that stream set the size to 0 or 0xFFFFFFFF: they declare nothing.
            if size not in (0, 0xFFFFFFFF) and present < size:
                return size, present
            return None
        at += 8 + size + (size & 1)
    return None


def _mp3_shortfall(data: bytes) -> tuple[int, int] | None:
    """(declared, present) bytes of an MP3 whose Xing/Info header announces more than it holds."""
    if not (data[:3] == b"ID3" or data[:1] == b"\xff"):
        return None
    at = 0
    if data[:3] == b"ID3" and len(data) >= 10:
        size = data[6:10]
        at = 10 + ((size[0] << 21) | (size[1] << 14) | (size[2] << 7) | size[3])
    head = data[at : at + 200]
    for tag in (b"Xing", b"Info"):
        found = head.find(tag)
        if found < 0 or found + 8 > len(head):
            continue
        flags = struct.unpack(">I", head[found + 4 : found + 8])[0]
        field = found + 8 + (4 if flags & 0x1 else 0)
        if flags & 0x2 and field + 4 <= len(head):
            declared = struct.unpack(">I", head[field : field + 4])[0]
            present = len(data) - at
            # A few bytes short is a sloppy writer; a missing tenth is a cut-off file.
            if present < 0.9 * declared:
                return declared, present
    return None


def _run_ffmpeg(data: bytes, max_seconds: float) -> tuple[int, bytes, str]:
    """Decode with ffmpeg from stdin to f32le mono at ANALYSIS_RATE; it may open nothing else."""
    command = [
        FFMPEG,
        *("-nostdin", "-hide_banner", "-loglevel", "error"),
        *("-protocol_whitelist", "pipe", "-i", "pipe:0"),
        *("-map", "0:a:0", "-vn", "-sn", "-dn"),
        *("-ac", "1", "-ar", str(ANALYSIS_RATE), "-f", "f32le"),
        # Decode a little past the limit, enough to tell a clip that is too long.
        *("-t", f"{max_seconds + 1.0:.3f}", "pipe:1"),
    ]
    try:
        done = subprocess.run(
            command, input=data, capture_output=True, timeout=FFMPEG_TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired:
        raise ClipUnusable(
            "The clip took too long to decode; it is probably damaged.", reason="corrupt"
        ) from None
    return done.returncode, done.stdout, done.stderr.decode("utf-8", "replace")


def decode_clip(data: bytes, *, max_seconds: float = MAX_CLIP_SECONDS) -> Clip:
    """Any audio file ffmpeg reads, as a Clip; raises ClipUnusable saying why it cannot be used."""
    if not data:
        raise ClipUnusable("The clip is empty.", reason="unsupported_format")
    audio_like = _looks_like_audio(data)
    shortfall = _wav_shortfall(data) or _mp3_shortfall(data)
    if shortfall is not None:
        declared, present = shortfall
        raise ClipUnusable(
            f"The clip's file is cut off: its header announces {declared} bytes of audio"
            f" but {present} are there.",
            reason="corrupt",
        )
    returncode, raw, errors = _run_ffmpeg(data, max_seconds)
    if returncode != 0 or not raw:
        last = errors.strip().splitlines()[-1] if errors.strip() else "no audio decoded"
        if audio_like:
            raise ClipUnusable(
                f"The clip looks like an audio file but cannot be decoded ({last}).",
                reason="corrupt",
            )
        raise ClipUnusable(
            "The clip is not in an audio format VoiceHub can read (WAV, MP3, FLAC, OGG, M4A...).",
            reason="unsupported_format",
        )
    samples = np.frombuffer(raw[: len(raw) - len(raw) % 4], dtype="<f4").astype(np.float32)
    clip = Clip(np.nan_to_num(samples, nan=0.0, posinf=0.0, neginf=0.0))
    if clip.seconds > max_seconds:
        raise ClipUnusable(
            f"The clip is longer than {max_seconds:g} s; send the part to identify.",
            reason="too_long",
        )
    check_usable(clip)
    return clip


def _frame_levels(samples: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    """RMS of consecutive 50 ms frames in dBFS."""
    count = samples.shape[0] // _LEVEL_FRAME
    if count == 0:
        frames = samples.astype(np.float64)[None, :]
    else:
        frames = samples[: count * _LEVEL_FRAME].astype(np.float64).reshape(count, _LEVEL_FRAME)
    rms = np.sqrt(np.mean(frames * frames, axis=1))
    return np.asarray(20.0 * np.log10(np.maximum(rms, 1e-10)), dtype=np.float64)


def sound_seconds(clip: Clip) -> float:
    """Seconds of the clip within 40 dB of its loudest moment (and above −70 dBFS)."""
    levels = _frame_levels(clip.samples)
    floor = max(float(levels.max()) - _SOUND_RANGE_DB, _SOUND_FLOOR_DBFS)
    return float(np.count_nonzero(levels > floor)) * _LEVEL_FRAME / ANALYSIS_RATE


def check_usable(clip: Clip) -> None:
    """Refuse a clip that holds no speech-level sound, or too little of it to identify."""
    if clip.samples.shape[0] == 0 or float(_frame_levels(clip.samples).max()) < SILENT_DBFS:
        raise ClipUnusable(
            f"The clip is silent: nothing in it is louder than {SILENT_DBFS:g} dBFS.",
            reason="silent",
        )
    sound = sound_seconds(clip)
    if sound < MIN_CLIP_SECONDS:
        raise ClipUnusable(
            f"The clip holds {sound:.1f} s of sound; at least {MIN_CLIP_SECONDS:.1f} s"
            " is needed to identify it.",
            reason="too_short",
        )


def clip_from_audio(audio: npt.NDArray[np.floating[Any]], sample_rate: int) -> Clip:
    """A take's own audio at its own rate, resampled to ANALYSIS_RATE."""
    mono = np.asarray(audio, dtype=np.float64)
    if mono.ndim > 1:
        mono = mono.mean(axis=1)
    if sample_rate != ANALYSIS_RATE:
        divisor = int(np.gcd(sample_rate, ANALYSIS_RATE))
        mono = signal.resample_poly(mono, ANALYSIS_RATE // divisor, sample_rate // divisor)
    return Clip(np.clip(mono, -1.0, 1.0).astype(np.float32))


# ---------------------------------------------------------------------------------------------
# Chromaprint

# Chromaprint's hop: frames of 4096 samples overlapping by two thirds.
_CHROMA_HOP = 4096 // 3
_CHROMA_FRAME_SECONDS = _CHROMA_HOP / ANALYSIS_RATE
_CHROMA_HALF_BITS = 16
"""Each code is indexed as its two 16-bit halves (the half's number in bit 16): a whole 32-bit
code rarely survives MP3 at 64 kbit/s or an excerpt off Chromaprint's frame grid, while one
half of it usually does. The full codes then verify the candidate."""


def _chromaprint_codes(clip: Clip) -> npt.NDArray[np.uint32]:
    pcm = np.clip(np.rint(clip.samples.astype(np.float64) * 32767.0), -32768, 32767)
    printer = chromaprint.Fingerprinter()
    printer.start(ANALYSIS_RATE, 1)
    printer.feed(pcm.astype("<i2").tobytes())
    encoded = printer.finish()
    if not encoded:
        return np.zeros(0, dtype=np.uint32)
    codes, _algorithm = chromaprint.decode_fingerprint(encoded)
    return np.asarray(codes, dtype=np.uint32)


def _chromaprint(clip: Clip) -> Fingerprint | None:
    codes = _chromaprint_codes(clip)
    if codes.shape[0] == 0:
        return None
    wide = codes.astype(np.int64)
    halves = np.stack([wide >> _CHROMA_HALF_BITS, (wide & 0xFFFF) | (1 << _CHROMA_HALF_BITS)])
    frames = np.arange(codes.shape[0], dtype=np.int32)
    return Fingerprint(
        method=Method.CHROMAPRINT,
        hashes=halves.T.reshape(-1),
        offsets=np.repeat(frames, 2),
        frame_seconds=_CHROMA_FRAME_SECONDS,
        codes=codes.astype("<u4").tobytes(),
    )


# ---------------------------------------------------------------------------------------------
# Landmarks

_FFT = 512
_HOP = 128
_LANDMARK_FRAME_SECONDS = _HOP / ANALYSIS_RATE
_LOW_BIN, _HIGH_BIN = 4, 240
"""86 Hz to 5.2 kHz: where a voice's formants and harmonics are, below any MP3 low-pass."""
_PEAK_NEIGHBOURHOOD = (17, 11)
"""A peak is the loudest point within ±8 bins (±170 Hz) and ±5 frames (±58 ms)."""
_PEAK_RANGE_DB = 60.0
_PEAKS_PER_WINDOW = 6
_PEAK_WINDOW_FRAMES = 43
"""At most 6 peaks per half second (about 12 per second), the strongest in a sliding window."""
_FAN_OUT = 3
_MIN_DT, _MAX_DT = 2, 63
_MAX_DF = 64
_F_BITS, _DT_BITS = 8, 6
"""A hash is f1 (8 bits) | f2 (8 bits) | dt (6 bits): 22 bits, well inside a signed 32-bit column."""


def _spectrogram_db(samples: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    """Log magnitude, bins × frames, of a Hann-windowed STFT over _LOW_BIN.._HIGH_BIN."""
    padded = np.concatenate([samples.astype(np.float64), np.zeros(_FFT, dtype=np.float64)])
    count = max(0, (padded.shape[0] - _FFT) // _HOP + 1)
    frames = np.lib.stride_tricks.sliding_window_view(padded, _FFT)[::_HOP][:count]
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(_FFT), axis=1))
    magnitude = spectrum[:, _LOW_BIN:_HIGH_BIN].T
    return np.asarray(20.0 * np.log10(np.maximum(magnitude, 1e-9)), dtype=np.float64)


def _peaks(db: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(frame, bin) of the spectral peaks kept as landmarks, in time order."""
    if db.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    local = db == ndimage.maximum_filter(db, size=_PEAK_NEIGHBOURHOOD, mode="constant", cval=-400)
    # Relative to the clip's loudest point, so gain does not change which peaks count; and
    # above digital silence's floor, so a quiet pause does not fill the index with noise.
    loud = db > max(float(db.max()) - _PEAK_RANGE_DB, 20.0 * np.log10(1e-4 * _FFT))
    bins, frames = np.nonzero(local & loud)
    strength = db[bins, frames]
    order = np.argsort(frames, kind="stable")
    bins, frames, strength = bins[order], frames[order], strength[order]
    half = _PEAK_WINDOW_FRAMES // 2
    starts = np.searchsorted(frames, frames - half, side="left")
    ends = np.searchsorted(frames, frames + half, side="right")
    keep = np.zeros(frames.shape[0], dtype=bool)
    for index, (start, end) in enumerate(zip(starts, ends, strict=True)):
        stronger = np.count_nonzero(strength[start:end] > strength[index])
        keep[index] = stronger < _PEAKS_PER_WINDOW
    return frames[keep].astype(np.int64), bins[keep].astype(np.int64)


def _landmarks(clip: Clip) -> Fingerprint:
    frames, bins = _peaks(_spectrogram_db(clip.samples))
    hashes: list[int] = []
    offsets: list[int] = []
    for index in range(frames.shape[0]):
        anchor_frame, anchor_bin = int(frames[index]), int(bins[index])
        paired = 0
        for target in range(index + 1, frames.shape[0]):
            dt = int(frames[target]) - anchor_frame
            if dt > _MAX_DT or paired >= _FAN_OUT:
                break
            if dt < _MIN_DT or abs(int(bins[target]) - anchor_bin) > _MAX_DF:
                continue
            hashes.append(
                (((anchor_bin << _F_BITS) | int(bins[target])) << _DT_BITS) | dt,
            )
            offsets.append(anchor_frame)
            paired += 1
    return Fingerprint(
        method=Method.LANDMARKS,
        hashes=np.asarray(hashes, dtype=np.int64),
        offsets=np.asarray(offsets, dtype=np.int32),
        frame_seconds=_LANDMARK_FRAME_SECONDS,
    )


def fingerprint(clip: Clip, method: Method) -> Fingerprint | None:
    """The clip's fingerprint by `method`; None when the clip is shorter than the method needs."""
    if clip.seconds < MIN_SECONDS[method]:
        return None
    if method is Method.CHROMAPRINT:
        return _chromaprint(clip)
    return _landmarks(clip)


# ---------------------------------------------------------------------------------------------
# Matching


@dataclass(frozen=True)
class _Candidate:
    take_id: str
    offset: int
    """take frame - clip frame at the best alignment."""
    matched: int
    votes: int
    """All of the take's votes, at any offset: the background its best offset stands out from."""
    spread: int
    """How many offsets the take could sit at (as far as the rows tell its length)."""


_VOTE_TOLERANCE = 1
"""Votes one frame either side count: an excerpt's frames fall between the take's."""


def _candidates(query: Fingerprint, hits: Iterable[tuple[str, int, int]]) -> list[_Candidate]:
    """Each take's best offset and its votes there, from the index rows for the query's hashes."""
    take_ids: dict[str, int] = {}
    rows = [(take_ids.setdefault(take, len(take_ids)), value, at) for take, value, at in hits]
    if not rows:
        return []
    row_take, row_hash, row_offset = np.asarray(rows, dtype=np.int64).T
    # Every (row, query occurrence) pair with equal hashes votes once.
    order = np.argsort(query.hashes, kind="stable")
    sorted_hashes = query.hashes[order]
    sorted_offsets = query.offsets[order].astype(np.int64)
    first = np.searchsorted(sorted_hashes, row_hash, side="left")
    last = np.searchsorted(sorted_hashes, row_hash, side="right")
    counts = last - first
    voter = np.repeat(np.arange(row_hash.shape[0]), counts)
    occurrence = np.repeat(first - np.cumsum(counts) + counts, counts) + np.arange(voter.shape[0])
    take = row_take[voter]
    offset = row_offset[voter] - sorted_offsets[occurrence]
    if take.shape[0] == 0:
        return []
    return _best_offsets(query, list(take_ids), take, offset, row_take, row_offset)


def _best_offsets(
    query: Fingerprint,
    names: list[str],
    take: npt.NDArray[np.int64],
    offset: npt.NDArray[np.int64],
    row_take: npt.NDArray[np.int64],
    row_offset: npt.NDArray[np.int64],
) -> list[_Candidate]:
    """Each take's offset with the most votes (within the tolerance), in one pass over all votes.

    A clip looked up in a large index draws votes for thousands of takes: no loop per take.
    """
    low = int(offset.min()) - _VOTE_TOLERANCE
    width = int(offset.max()) - low + _VOTE_TOLERANCE + 1
    keys, counts = np.unique(take * width + (offset - low), return_counts=True)
    window = counts.copy()
    for shift in range(1, _VOTE_TOLERANCE + 1):
        for neighbour in (keys - shift, keys + shift):
            at = np.searchsorted(keys, neighbour)
            present = (at < keys.shape[0]) & (keys[np.minimum(at, keys.shape[0] - 1)] == neighbour)
            window[present] += counts[at[present]]
    key_take = keys // width
    # Most votes first within each take, then the first row of each take is its best offset.
    order = np.lexsort((-window, key_take))
    first = order[np.r_[True, key_take[order][1:] != key_take[order][:-1]]]
    votes = np.bincount(take, minlength=len(names))
    take_frames = np.zeros(len(names), dtype=np.int64)
    np.maximum.at(take_frames, row_take, row_offset + 1)
    query_frames = int(query.offsets.max()) + 1
    return [
        _Candidate(
            take_id=names[int(key_take[at])],
            offset=int(keys[at] % width) + low,
            matched=int(window[at]),
            votes=int(votes[key_take[at]]),
            spread=query_frames + int(take_frames[key_take[at]]),
        )
        for at in first.tolist()
    ]


class MemoryIndex:
    """The fingerprint index in memory, with the SQL lookup's semantics: tests and benchmarks."""

    def __init__(self) -> None:
        self._rows: dict[tuple[Method, int], list[tuple[str, int]]] = {}
        self.codes: dict[str, bytes] = {}

    def add(self, take_id: str, fp: Fingerprint) -> None:
        for value, at in zip(fp.hashes.tolist(), fp.offsets.tolist(), strict=True):
            self._rows.setdefault((fp.method, value), []).append((take_id, at))
        if fp.codes is not None:
            self.codes[take_id] = fp.codes

    def lookup(self, query_fp: Fingerprint) -> list[tuple[str, int, int]]:
        """(take_id, hash, take_offset) for every row holding one of the query's hash values."""
        return [
            (take_id, value, at)
            for value in np.unique(query_fp.hashes).tolist()
            for take_id, at in self._rows.get((query_fp.method, value), [])
        ]


_LANDMARK_EVIDENCE_HALF = 5.0
"""Votes above chance at which a landmark match's confidence reaches one half."""
_CHROMA_EVIDENCE_HALF = 5.0
_CHROMA_VERIFY = 20
"""Candidates (most votes first) whose full codes are compared bit by bit."""
_CHROMA_NULL_BER = 0.40
_CHROMA_SURE_BER = 0.10
"""Unrelated speech differs in about 40 % of the bits or more; a re-encoded take in under 10 %."""
_CHROMA_MIN_OVERLAP = 8
"""Frames (1 s) of overlap below which a bit error rate says too little to count fully."""

ACCEPT: dict[Method, float] = {Method.CHROMAPRINT: 0.6, Method.LANDMARKS: 0.55}
"""Set from the calibration corpus with room to spare: landmarks accept from about six votes
above chance, where unrelated speech reached three and true clips eleven or more; Chromaprint
from a bit error rate of 0.22 over a second or more, where other takes scored 0.30 or worse."""


def _vote_evidence(candidate: _Candidate) -> float:
    """Votes at the best offset above what the take's other votes would put there by chance."""
    chance = candidate.votes * (2 * _VOTE_TOLERANCE + 1) / max(candidate.spread, 1)
    return max(0.0, candidate.matched - chance)


def _bit_error_rate(query: bytes, take: bytes, offset: int) -> tuple[float, int]:
    """(share of differing bits, frames compared) of the codes with take frame = query frame + offset."""
    q = np.frombuffer(query, dtype="<u4")
    t = np.frombuffer(take, dtype="<u4")
    low, high = max(0, -offset), min(q.shape[0], t.shape[0] - offset)
    if high <= low:
        return 1.0, 0
    differing = np.unpackbits((q[low:high] ^ t[low + offset : high + offset]).view(np.uint8))
    return float(differing.mean()), high - low


def _chroma_confidence(
    query: Fingerprint, candidate: _Candidate, codes: bytes
) -> tuple[float, int]:
    """Confidence from the best bit error rate within a frame of the voted offset, and that offset."""
    assert query.codes is not None
    tried = [
        (*_bit_error_rate(query.codes, codes, candidate.offset + shift), candidate.offset + shift)
        for shift in range(-_VOTE_TOLERANCE, _VOTE_TOLERANCE + 1)
    ]
    ber, overlap, offset = min(tried)
    closeness = (_CHROMA_NULL_BER - ber) / (_CHROMA_NULL_BER - _CHROMA_SURE_BER)
    return float(np.clip(closeness, 0.0, 1.0) * min(1.0, overlap / _CHROMA_MIN_OVERLAP)), offset


def _scored(
    query: Fingerprint, candidate: _Candidate, take_codes: Mapping[str, bytes] | None
) -> Match:
    offset = candidate.offset
    if query.method is Method.LANDMARKS:
        evidence = _vote_evidence(candidate)
        confidence = evidence / (evidence + _LANDMARK_EVIDENCE_HALF)
    elif take_codes is not None and query.codes is not None and candidate.take_id in take_codes:
        confidence, offset = _chroma_confidence(query, candidate, take_codes[candidate.take_id])
    else:
        evidence = _vote_evidence(candidate)
        confidence = evidence / (evidence + _CHROMA_EVIDENCE_HALF)
    return Match(
        take_id=candidate.take_id,
        method=query.method,
        confidence=round(confidence, 4),
        matched=candidate.matched,
        query_hashes=int(query.hashes.shape[0]),
        take_start_seconds=-offset * query.frame_seconds,
    )


def score_all(
    query: Fingerprint,
    hits: Iterable[tuple[str, int, int]],
    *,
    take_codes: Mapping[str, bytes] | None = None,
) -> list[Match]:
    """Every candidate take scored, accepted or not, best first: for calibration and benchmarks."""
    candidates = sorted(_candidates(query, hits), key=lambda c: (-c.matched, c.take_id))
    if query.method is Method.CHROMAPRINT and take_codes is not None:
        # Bit-level verification costs a pass over the codes: only the best-voted few get it.
        candidates = candidates[:_CHROMA_VERIFY]
    matches = [_scored(query, candidate, take_codes) for candidate in candidates]
    return sorted(matches, key=lambda m: (-m.confidence, -m.matched, m.take_id))


def rank(
    query: Fingerprint,
    hits: Iterable[tuple[str, int, int]],
    *,
    take_codes: Mapping[str, bytes] | None = None,
    limit: int = 5,
) -> list[Match]:
    """The takes the clip is identified as, best first: only those at or above ACCEPT."""
    accepted = [
        match
        for match in score_all(query, hits, take_codes=take_codes)
        if match.confidence >= ACCEPT[query.method]
    ]
    return accepted[:limit]
