"""Is the voice in a consent recording the voice being licensed? A speaker-embedding match.

The encoder is resemblyzer's GE2E model (its weights ship inside the wheel).
It is loaded once, explicitly, by `SpeakerVerifier.load()`: importing this
module does not import torch.
"""

from __future__ import annotations

import math
import warnings
from importlib.metadata import version
from typing import Any

import numpy as np
import numpy.typing as npt

from consent.tables import Verification
from consent.verification import Recording, RecordingRejected, RejectionReason
from voicehub.errors import EngineUnavailable

# The encoder's partial utterances are 1.6 s long; less speech than this left
# after voice-activity trimming gives an embedding too unstable to decide on.
MIN_SPEECH_SECONDS = 1.0
_WARMUP_RATE = 22_050


class SpeakerVerifier:
    """Embeds recordings with resemblyzer's voice encoder, on the CPU, and compares them."""

    def __init__(self) -> None:
        self._encoder: Any = None

    def load(self) -> None:
        """Load the encoder (once; later calls do nothing)."""
        if self._encoder is not None:
            return
        with warnings.catch_warnings():
            # resemblyzer imports binary_dilation from scipy's deprecated namespace.
            warnings.filterwarnings("ignore", category=DeprecationWarning, module="resemblyzer")
            from resemblyzer import VoiceEncoder, preprocess_wav
        import torch

        # One short utterance at a time gains little from a second thread, and
        # on a busy machine torch's thread pool waits on descheduled workers:
        # embeddings took seconds with two threads and a tenth of that with one.
        torch.set_num_threads(1)
        encoder = VoiceEncoder(device="cpu", verbose=False)
        # The first resampling and forward pass pay for lazy imports and
        # one-off setup; pay them here rather than on the first signer.
        rng = np.random.default_rng(0)
        warmup = (rng.standard_normal(2 * _WARMUP_RATE) * 0.1).astype(np.float32)
        encoder.embed_utterance(preprocess_wav(warmup, source_sr=_WARMUP_RATE))
        self._encoder = encoder

    @property
    def model_name(self) -> str:
        """What scored an attempt, as recorded beside it."""
        return f"resemblyzer-{version('resemblyzer')} GE2E"

    def embed(self, recording: Recording) -> npt.NDArray[np.float32]:
        """The L2-normalised speaker embedding of a recording's speech."""
        if self._encoder is None:
            raise EngineUnavailable(
                "The speaker verification model is not loaded on this server.",
                engine="resemblyzer",
            )
        from resemblyzer import preprocess_wav, sampling_rate

        # Resampled to the encoder's 16 kHz, raised to its reference level, and
        # stripped of long pauses by WebRTC's voice-activity detector.
        speech = preprocess_wav(recording.samples, source_sr=recording.sample_rate)
        if len(speech) < MIN_SPEECH_SECONDS * sampling_rate:
            raise RecordingRejected(
                f"Only {len(speech) / sampling_rate:.1f} seconds of speech were found in the "
                "recording; read the whole statement aloud, close to the microphone.",
                reason=RejectionReason.SILENT,
            )
        embedding = self._encoder.embed_utterance(speech)
        return np.asarray(embedding, dtype=np.float32)

    def similarity(self, a: Recording, b: Recording) -> float:
        """Cosine similarity of the two recordings' speakers, in [-1, 1]."""
        first, second = self.embed(a), self.embed(b)
        cosine = float(np.dot(first, second) / (np.linalg.norm(first) * np.linalg.norm(second)))
        return max(-1.0, min(1.0, cosine))


def decide(score: float, *, accept: float, reject: float) -> tuple[Verification, str]:
    """Verified at or above `accept`, rejected below `reject`, an operator's call between."""
    if not math.isfinite(score):
        raise ValueError(f"score must be a finite number, not {score}")
    if reject > accept:
        raise ValueError(f"reject threshold {reject} is above accept threshold {accept}")
    shown = _shown(score, accept, reject)
    if score >= accept:
        return (
            Verification.VERIFIED,
            "the voice in the recording matches the voice's reference audio "
            f"(score {shown}, at or above {accept:.2f})",
        )
    if score < reject:
        return (
            Verification.REJECTED,
            "the voice in the recording does not match the voice's reference audio "
            f"(score {shown}, below {reject:.2f})",
        )
    return (
        Verification.OPERATOR_REVIEW,
        "the voice in the recording may or may not match the voice's reference audio "
        f"(score {shown}, between {reject:.2f} and {accept:.2f}): an operator must listen",
    )


def _shown(score: float, *thresholds: float) -> str:
    """The score to two decimals, or four where two would print it equal to a threshold."""
    two = f"{score:.2f}"
    if any(two == f"{t:.2f}" and score != t for t in thresholds):
        return f"{score:.4f}"
    return two
