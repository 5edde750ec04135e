"""espeak-ng: every language it ships, with timing from its own phoneme events.

espeak-ng is formant synthesis: robotic, but it starts in milliseconds, speaks a
hundred-odd languages and is deterministic, so it is the fallback voice and the
fast engine for tests. Its C library (`libespeak-ng.so.1`, Debian packages
`libespeak-ng1` and `espeak-ng-data`) runs through ctypes in a helper process,
`models.engines.espeak_native`, which says why.

Timing: with phoneme events switched on, the library reports each phoneme as it
writes it, and the event's `sample` field is the exact index of the phoneme's
first sample in the output of that `espeak_Synth` call (its `audio_position` is
the same point truncated to milliseconds, too coarse to use). A phoneme runs to
the next one's start; silence before the first and after the last is a pause.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import subprocess
import sys
import threading
import unicodedata
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from models.engines import espeak_native
from models.engines.base import (
    PAUSE_LABEL,
    EngineInfo,
    PhonemeTiming,
    SynthesisResult,
    SynthesisSettings,
    WordTiming,
    check_speaker,
    is_punctuation,
    join_sentences,
)
from models.errors import EngineFailed
from voicehub.errors import EngineUnavailable, TextEmpty

NAME = "espeak"
DEBIAN_PACKAGES = "espeak-ng (with libespeak-ng1 and espeak-ng-data)"
# Silence between sentences when the call leaves it to the engine: espeak's own at its default rate.
DEFAULT_SENTENCE_PAUSE_SECONDS = 0.3

_RATE_MINIMUM = 80
# From 450 words a minute espeak-ng speeds up with libsonic, which moves the audio
# after the phoneme events were placed; below it every event is exact.
_RATE_MAXIMUM = 449
# Sentences end where a sentence mark meets a space (or, in CJK text, right after the mark),
# which is also where espeak ends them.
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|(?<=[。！？])\s*")


@dataclass(frozen=True)
class EspeakEngineConfig:
    """Which espeak-ng shared library to load: a file name the loader finds, or a path."""

    library: str = espeak_native.LIBRARY


@dataclass(frozen=True)
class _Mark:
    """A word or phoneme event: where it starts in the output, and what it names."""

    kind: int
    sample: int
    phoneme: str
    text_start: int
    text_end: int


class _Helper:
    """The helper process and the lock that keeps one request on its pipes at a time."""

    def __init__(self, library: str) -> None:
        self.pid = os.getpid()
        self.lock = threading.Lock()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-I", espeak_native.__file__, library],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
        except OSError as error:
            raise EngineUnavailable(
                f"The espeak-ng helper process could not start: {error}.", engine=NAME
            ) from error
        self._finalizer = weakref.finalize(self, _stop, self.process)
        status, payload = self._read()
        if status != "ready":
            self.close()
            raise EngineUnavailable(
                f"espeak-ng is not available: {payload}; install the Debian package"
                f" {DEBIAN_PACKAGES} (apt-get install espeak-ng).",
                engine=NAME,
            )
        self.info: dict[str, Any] = payload

    def render(
        self, voice: str, rate: int, sentences: list[str]
    ) -> list[tuple[bytes, list[tuple[int, int, str, int, int]]]]:
        with self.lock:
            assert self.process.stdin is not None
            # If the helper is gone the write fails, and reading says why.
            with contextlib.suppress(OSError):
                espeak_native.write_frame(self.process.stdin, (voice, rate, sentences))
            status, payload = self._read()
        if status != "ok":
            raise EngineFailed(f"espeak-ng failed: {payload}.", engine=NAME)
        rendered: list[tuple[bytes, list[tuple[int, int, str, int, int]]]] = payload
        return rendered

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        self._finalizer()

    def _read(self) -> tuple[str, Any]:
        assert self.process.stdout is not None
        reply = espeak_native.read_frame(self.process.stdout)
        if reply is None:
            code = self.process.wait()
            return "failed", f"its helper process ended with status {code}"
        status, payload = reply
        return str(status), payload


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Close the helper's input, which ends it; kill it if it does not end."""
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            stream.close()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass(frozen=True)
class _Loaded:
    info: EngineInfo
    voice_names: Mapping[str, str]
    default_rate: int


class EspeakEngine:
    """Every espeak-ng voice; a speaker is an espeak voice, named by its first language.

    "en-us", "en-gb", "fr-fr", "ja", ... as `espeak-ng --voices` lists them in its
    Language column; where two voices list the same first language, the second
    goes by its file name ("yue-latn-jyutping").
    """

    def __init__(self, config: EspeakEngineConfig | None = None) -> None:
        self.config = config or EspeakEngineConfig()
        self._loaded: _Loaded | None = None
        self._helper: _Helper | None = None
        self._helper_lock = threading.Lock()

    @property
    def info(self) -> EngineInfo:
        return self._require_loaded().info

    def load(self) -> None:
        """Start the helper process and list the voices; later calls do nothing."""
        if self._loaded is not None:
            return
        helper = _Helper(self.config.library)
        native = helper.info
        voice_names: dict[str, str] = {}
        languages: dict[str, None] = {}
        for name, file_name, voice_languages in native["voices"]:
            if not voice_languages:
                continue
            speaker = voice_languages[0] if voice_languages[0] not in voice_names else file_name
            voice_names[speaker] = name
            languages.update(dict.fromkeys(lang.split("-")[0] for lang in voice_languages))
        self._helper = helper
        self._loaded = _Loaded(
            voice_names=voice_names,
            default_rate=int(native["default_rate"]),
            info=EngineInfo(
                name=NAME,
                languages=tuple(sorted(languages)),
                sample_rate=int(native["sample_rate"]),
                model_version=_data_version(native["version"], Path(native["data_dir"])),
                speakers=tuple(voice_names),
            ),
        )

    def synthesize(
        self, text: str, *, speaker: str, settings: SynthesisSettings
    ) -> SynthesisResult:
        """Render `text` sentence by sentence; espeak is deterministic, so `seed` is unused."""
        loaded = self._require_loaded()
        check_speaker(loaded.info, speaker)
        rate = min(max(round(loaded.default_rate * settings.speed), _RATE_MINIMUM), _RATE_MAXIMUM)
        sentences = [s for s in _SENTENCE_END.split(text.replace("\0", " ").strip()) if s]
        if not sentences:
            raise TextEmpty("The text is empty.")
        rendered = self._running_helper().render(loaded.voice_names[speaker], rate, sentences)
        spoken = [
            part
            for sentence, (audio, marks) in zip(sentences, rendered, strict=True)
            if (part := _sentence_result(sentence, audio, marks, loaded.info.sample_rate))
            is not None
        ]
        if not spoken:
            raise TextEmpty("The text has nothing espeak-ng can speak.")
        parts = [
            _trimmed(part, head=index > 0, tail=index < len(spoken) - 1)
            for index, part in enumerate(spoken)
        ]
        pause = settings.pause_samples(loaded.info.sample_rate, DEFAULT_SENTENCE_PAUSE_SECONDS)
        return join_sentences(parts, pause)

    def _running_helper(self) -> _Helper:
        """The helper, started again if it died or if this process was forked from its owner."""
        with self._helper_lock:
            helper = self._helper
            if helper is None or helper.pid != os.getpid() or not helper.alive:
                helper = self._helper = _Helper(self.config.library)
            return helper

    def _require_loaded(self) -> _Loaded:
        if self._loaded is None:
            raise RuntimeError("The espeak engine is not loaded; call load() first.")
        return self._loaded


def _data_version(version: str, data_dir: Path) -> str:
    """sha256 of the library's version and of every file of its espeak-ng-data, names included.

    The data (phoneme tables, dictionaries, voices) is what makes a voice sound as it does.
    """
    digest = hashlib.sha256(f"espeak-ng {version}\n".encode())
    for path in sorted(data_dir.rglob("*")):
        if path.is_file():
            digest.update(f"{path.relative_to(data_dir)}\n".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


@dataclass
class _Entry:
    """A phoneme or pause being laid out; `word` indexes the sentence's word groups."""

    label: str
    is_pause: bool
    start: int
    end: int
    word: int | None = None


def _sentence_result(
    sentence: str,
    audio16: bytes,
    raw_marks: list[tuple[int, int, str, int, int]],
    sample_rate: int,
) -> SynthesisResult | None:
    """One sentence's audio, phonemes laid on the events' sample indices; None if nothing spoken."""
    audio = np.frombuffer(audio16, dtype=np.int16).astype(np.float32) / 32768.0
    # Text positions count characters from 1.
    marks = [
        _Mark(kind, sample, phoneme, position - 1, position - 1 + length)
        for kind, sample, phoneme, position, length in raw_marks
    ]
    word_spans, entries = _entries(marks, audio)
    if not any(not entry.is_pause for entry in entries):
        return None
    phonemes = [
        PhonemeTiming(entry.label, entry.start, entry.end - entry.start, entry.is_pause)
        for entry in entries
    ]
    # Each word from the start of its first phoneme to the end of its last.
    spans: dict[int, tuple[int, int]] = {}
    for entry in entries:
        if entry.word is not None and not entry.is_pause:
            spans[entry.word] = (spans.get(entry.word, (entry.start, 0))[0], entry.end)
    words = [
        WordTiming(text, start, end - start)
        for index, (start, end) in spans.items()
        if (text := _strip_separators(sentence[slice(*word_spans[index])]))
    ]
    return SynthesisResult(audio=audio, sample_rate=sample_rate, phonemes=phonemes, words=words)


def _entries(
    marks: list[_Mark], audio: npt.NDArray[np.float32]
) -> tuple[list[tuple[int, int]], list[_Entry]]:
    """The sentence's word text spans, and its phonemes and pauses covering every sample.

    Each phoneme event runs from its sample to the next one's, the last to the end of
    the audio; silence before the first is a pause. Events with no IPA name (pauses,
    and language-switch marks such as "(en)") are pauses where the audio is silent.
    Where it is not, espeak made a sound it has no IPA symbol for (the glide in French
    "Élodie a", the short schwa in Russian "Привет"): its samples belong to the phoneme
    before it or, where a pause or the sentence start comes before, to the entry after it.

    A word event's phonemes are the phoneme events after it, up to the next word event.
    espeak reads some written words as several ("42" is "forty" "two", both events
    pointing into "42"): word events whose text overlaps make one written word.
    """
    total = int(audio.shape[0])
    starts = [mark.sample for mark in marks if mark.kind == espeak_native.EVENT_PHONEME]
    if not starts:
        return [], []
    if starts != sorted(starts) or starts[0] < 0 or starts[-1] > total:
        raise EngineFailed(
            f"espeak-ng's phoneme events ({starts[0]} to {starts[-1]}) are not in order"
            f" within its {total} samples.",
            engine=NAME,
        )
    ends = iter([*starts[1:], total])
    word_spans: list[tuple[int, int]] = []
    entries: list[_Entry] = []
    carried: int | None = None

    def place(name: str, start: int, end: int, word: int | None) -> None:
        nonlocal carried
        if end == start:
            return
        if not _is_ipa_name(name) and audio[start:end].any():
            if entries and not entries[-1].is_pause:
                entries[-1].end = end
            elif carried is None:
                carried = start
            return
        if carried is not None:
            start, carried = carried, None
        if not _is_ipa_name(name):
            if entries and entries[-1].is_pause:
                entries[-1].end = end
            else:
                entries.append(_Entry(PAUSE_LABEL, True, start, end))
            return
        entries.append(_Entry(name, False, start, end, word))

    place("", 0, starts[0], None)
    for mark in marks:
        if mark.kind == espeak_native.EVENT_WORD:
            if word_spans and mark.text_start < word_spans[-1][1]:
                first, last = word_spans[-1]
                word_spans[-1] = (first, max(last, mark.text_end))
            else:
                word_spans.append((mark.text_start, mark.text_end))
        else:
            place(
                mark.phoneme, mark.sample, next(ends), len(word_spans) - 1 if word_spans else None
            )
    if carried is not None and entries:
        # A sound with no IPA name and nothing after it: it ends the entry before it.
        entries[-1].end = total
    return word_spans, entries


def _is_ipa_name(name: str) -> bool:
    """A sound's IPA name, not an empty pause name or a language switch such as "(en)"."""
    return bool(name) and not is_punctuation(name) and not name.startswith("(")


def _strip_separators(text: str) -> str:
    """The word as written, without surrounding spaces or punctuation ("$" is kept: it is read)."""
    return text.strip("".join(char for char in set(text) if _is_separator(char)))


def _is_separator(char: str) -> bool:
    return unicodedata.category(char)[0] in "PZC"


def _trimmed(part: SynthesisResult, *, head: bool, tail: bool) -> SynthesisResult:
    """The sentence without the silence espeak put before (`head`) or after (`tail`) it.

    Between sentences the pause is the one the caller asked for, not that plus espeak's own.
    """
    phonemes = list(part.phonemes)
    cut = phonemes.pop(0).samples if head and phonemes[0].is_pause else 0
    end = part.num_samples - (phonemes.pop().samples if tail and phonemes[-1].is_pause else 0)
    return SynthesisResult(
        audio=part.audio[cut:end],
        sample_rate=part.sample_rate,
        phonemes=[PhonemeTiming(p.phoneme, p.start - cut, p.samples, p.is_pause) for p in phonemes],
        words=[WordTiming(w.text, w.start - cut, w.samples) for w in part.words],
    )
