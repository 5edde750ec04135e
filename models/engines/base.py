"""The one interface every synthesis engine implements.

An engine renders text to audio **and** reports how many samples each phoneme
took, straight from the model's own duration output. Nothing downstream
guesses timing: lip-sync, fitting and exports all read these counts.
"""

from __future__ import annotations

import hashlib
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from models.errors import UnknownSpeaker
from voicehub.errors import InvalidInput


@dataclass(frozen=True)
class PhonemeTiming:
    """One phoneme (or pause, marked by `is_pause`) and the samples it occupies."""

    phoneme: str
    start: int
    samples: int
    is_pause: bool = False

    @property
    def end(self) -> int:
        return self.start + self.samples


@dataclass(frozen=True)
class WordTiming:
    """A word of the input text and the samples its phonemes occupy."""

    text: str
    start: int
    samples: int

    @property
    def end(self) -> int:
        return self.start + self.samples


MAX_SENTENCE_PAUSE_SECONDS = 5.0


@dataclass(frozen=True)
class SynthesisSettings:
    """Per-call settings every engine honours.

    - `speed` > 1 speaks faster (engines map it to their own scale).
    - `sentence_pause`: seconds of silence between sentences; None keeps the engine's own.
    - `seed`: makes a stochastic engine reproducible; None lets it draw one, which it
      reports in `SynthesisResult.seed` so that the take can be made again.
    - `language`: the line's language (BCP 47). An engine whose model speaks several
      picks by it; None speaks the model's first.
    """

    speed: float = 1.0
    sentence_pause: float | None = None
    seed: int | None = None
    language: str | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.speed) and self.speed > 0):
            raise InvalidInput(
                f"Speed must be a positive number, not {self.speed}.", fields=["speed"]
            )
        if self.sentence_pause is not None and not (
            math.isfinite(self.sentence_pause)
            and 0 <= self.sentence_pause <= MAX_SENTENCE_PAUSE_SECONDS
        ):
            raise InvalidInput(
                f"The pause between sentences must be 0 to {MAX_SENTENCE_PAUSE_SECONDS:g}"
                f" seconds, not {self.sentence_pause}.",
                fields=["sentence_pause"],
            )
        if self.seed is not None and not 0 <= self.seed < 2**31:
            raise InvalidInput(
                f"The seed must be a whole number from 0 to {2**31 - 1}, not {self.seed}.",
                fields=["seed"],
            )

    def pause_samples(self, sample_rate: int, default_seconds: float) -> int:
        """The sentence pause in samples at `sample_rate`."""
        seconds = default_seconds if self.sentence_pause is None else self.sentence_pause
        return round(seconds * sample_rate)


@dataclass(frozen=True)
class SynthesisResult:
    """Audio (mono float32 in [-1, 1]) and the timing that produced it.

    Invariant: phonemes are contiguous from sample 0 and their counts sum to
    `len(audio)` exactly. `words` and `morae` (Japanese) group the same samples
    where the engine can tell them; `seed` is the seed a stochastic engine used
    (None for a deterministic one).
    """

    audio: npt.NDArray[np.float32]
    sample_rate: int
    phonemes: list[PhonemeTiming]
    words: list[WordTiming] = field(default_factory=list)
    morae: list[WordTiming] = field(default_factory=list)
    seed: int | None = None

    @property
    def num_samples(self) -> int:
        return int(self.audio.shape[0])

    @property
    def duration_seconds(self) -> float:
        return self.num_samples / self.sample_rate


@dataclass(frozen=True)
class EngineInfo:
    """What the registry tells about an installed engine."""

    name: str
    languages: tuple[str, ...]
    sample_rate: int
    model_version: str
    speakers: tuple[str, ...]
    gpu_capable: bool = False


class Engine(Protocol):
    """A loaded synthesis engine. Loading happens once, in `load()`, never at import."""

    @property
    def info(self) -> EngineInfo: ...

    def load(self) -> None: ...

    def synthesize(
        self, text: str, *, speaker: str, settings: SynthesisSettings
    ) -> SynthesisResult: ...


def check_speaker(info: EngineInfo, speaker: str) -> None:
    """Refuse a speaker the engine does not have, naming the ones it has."""
    if speaker not in info.speakers:
        raise UnknownSpeaker(
            f"{info.name} has no speaker {speaker!r}; it has {', '.join(info.speakers)}.",
            speaker=speaker,
            engine=info.name,
        )


def is_punctuation(text: str) -> bool:
    """True for tokens made only of punctuation, symbols or spaces: pauses, not sounds."""
    return all(unicodedata.category(char)[0] in "PSZ" for char in text)


def file_sha256(path: Path) -> str:
    """Content hash of a model artifact: voices name their model by it."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def timings_from_counts(labels: list[tuple[str, bool]], counts: list[int]) -> list[PhonemeTiming]:
    """Lay per-phoneme sample counts end to end from sample 0."""
    if len(labels) != len(counts):
        raise ValueError(f"{len(labels)} phonemes but {len(counts)} durations")
    out: list[PhonemeTiming] = []
    start = 0
    for (phoneme, is_pause), samples in zip(labels, counts, strict=True):
        out.append(PhonemeTiming(phoneme, start, int(samples), is_pause))
        start += int(samples)
    return out


PAUSE_LABEL = "_"


def join_sentences(parts: list[SynthesisResult], pause_samples: int) -> SynthesisResult:
    """Sentences rendered one by one, laid end to end with `pause_samples` of silence between.

    Each pause is a phoneme of its own (marked as a pause), so the timing still
    covers every sample. Words and morae move with their sentence.
    """
    if not parts:
        raise ValueError("nothing to join")
    rates = {part.sample_rate for part in parts}
    if len(rates) != 1:
        raise ValueError(f"sentences at different sample rates {sorted(rates)}")
    audio: list[npt.NDArray[np.float32]] = []
    phonemes: list[PhonemeTiming] = []
    words: list[WordTiming] = []
    morae: list[WordTiming] = []
    offset = 0
    for index, part in enumerate(parts):
        if index and pause_samples > 0:
            audio.append(np.zeros(pause_samples, dtype=np.float32))
            phonemes.append(PhonemeTiming(PAUSE_LABEL, offset, pause_samples, True))
            offset += pause_samples
        audio.append(part.audio)
        phonemes.extend(
            PhonemeTiming(p.phoneme, p.start + offset, p.samples, p.is_pause) for p in part.phonemes
        )
        words.extend(WordTiming(w.text, w.start + offset, w.samples) for w in part.words)
        morae.extend(WordTiming(m.text, m.start + offset, m.samples) for m in part.morae)
        offset += part.num_samples
    return SynthesisResult(
        audio=np.concatenate(audio),
        sample_rate=parts[0].sample_rate,
        phonemes=phonemes,
        words=words,
        morae=morae,
        seed=parts[0].seed,
    )


WORD_BOUNDARY = " "


def word_groups(labels: Sequence[tuple[str, bool]], *, first_index: int = 0) -> list[list[int]]:
    """Indices of the spoken phonemes of each word: the runs between word-boundary tokens.

    `labels` are (phoneme, is_pause) pairs; indices count from `first_index`.
    """
    groups: list[list[int]] = [[]]
    for offset, (phoneme, is_pause) in enumerate(labels):
        if phoneme == WORD_BOUNDARY:
            groups.append([])
        elif not is_pause:
            groups[-1].append(first_index + offset)
    return [group for group in groups if group]


def text_words(text: str) -> list[str]:
    """The text's words, split at whitespace, with surrounding punctuation stripped."""
    words = (_strip_punctuation(token) for token in text.split())
    return [word for word in words if word]


def _strip_punctuation(token: str) -> str:
    start, end = 0, len(token)
    while start < end and is_punctuation(token[start]):
        start += 1
    while end > start and is_punctuation(token[end - 1]):
        end -= 1
    return token[start:end]


def label_words(
    text: str, groups: list[list[int]], phonemes: list[PhonemeTiming]
) -> list[WordTiming]:
    """Name each group of phoneme indices by its word of `text` when the counts agree.

    Phonemizers and cleaners sometimes read one written word as several ("1,000",
    "3" → "three") or run two together; then there is no honest one-to-one pairing
    left to make, and each group is named by its own phonemes instead.
    """
    words = text_words(text)
    if len(words) == len(groups):
        labels = words
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
