"""Fingerprints trace real engine takes through what happens to them in the wild, and nothing else.

The corpus is rendered once per module with the real engines: indexed English lines by
Piper's "joe" and Japanese lines by Kokoro's "jf_alpha"; the negatives are the same voice
saying lines the index lacks, other voices saying indexed texts, noise and music.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pytest

from models.engines.base import SynthesisSettings
from models.engines.registry import EngineRegistry
from tests.provenance import clips
from voicehub.audio import wav_bytes
from voicehub.errors import ClipUnusable
from voicehub.provenance.fingerprints import (
    ACCEPT,
    MIN_SECONDS,
    Clip,
    Fingerprint,
    Match,
    MemoryIndex,
    Method,
    clip_from_audio,
    decode_clip,
    fingerprint,
    rank,
)


@dataclass(frozen=True)
class Take:
    take_id: str
    audio: npt.NDArray[np.float32]
    sample_rate: int
    clip: Clip

    @property
    def wav(self) -> bytes:
        return wav_bytes(self.audio, self.sample_rate)


@dataclass(frozen=True)
class Corpus:
    takes: dict[str, Take]
    negatives: dict[str, Take]
    index: MemoryIndex

    def long(self) -> list[Take]:
        return [take for take in self.takes.values() if take.clip.seconds > 4.5]

    def short(self) -> list[Take]:
        return [take for take in self.takes.values() if take.clip.seconds < 4.0]


def _render(engines: EngineRegistry, engine: str, speaker: str, language: str, text: str) -> Take:
    result = engines.get(engine).synthesize(
        text, speaker=speaker, settings=SynthesisSettings(seed=7, language=language)
    )
    return Take(
        "", result.audio, result.sample_rate, clip_from_audio(result.audio, result.sample_rate)
    )


def _named(take: Take, take_id: str) -> Take:
    return Take(take_id, take.audio, take.sample_rate, take.clip)


@pytest.fixture(scope="module")
def corpus(engines: EngineRegistry) -> Corpus:
    takes: dict[str, Take] = {}
    for number, text in enumerate(clips.INDEXED_ENGLISH):
        takes[f"en-{number}"] = _named(_render(engines, "piper", "joe", "en", text), f"en-{number}")
    for number, text in enumerate(clips.INDEXED_JAPANESE):
        takes[f"ja-{number}"] = _named(
            _render(engines, "kokoro", "jf_alpha", "ja", text), f"ja-{number}"
        )
    negatives: dict[str, Take] = {}
    for number, text in enumerate(clips.UNINDEXED_ENGLISH):
        negatives[f"joe-unindexed-{number}"] = _render(engines, "piper", "joe", "en", text)
    for number, text in enumerate(clips.INDEXED_ENGLISH[::5]):
        negatives[f"espeak-{number}"] = _render(engines, "espeak", "en-us", "en", text)
    for number, text in enumerate(clips.INDEXED_JAPANESE):
        negatives[f"kokoro-kumo-{number}"] = _render(engines, "kokoro", "jm_kumo", "ja", text)
    index = MemoryIndex()
    for take in takes.values():
        for method in Method:
            fp = fingerprint(take.clip, method)
            if fp is not None:
                index.add(take.take_id, fp)
    return Corpus(takes, negatives, index)


def identify(corpus: Corpus, clip: Clip, method: Method) -> list[Match] | None:
    """What the service would answer by `method`; None when the method gives no fingerprint."""
    fp = fingerprint(clip, method)
    if fp is None:
        return None
    return rank(fp, corpus.index.lookup(fp), take_codes=corpus.index.codes)


Transform = Callable[[bytes], bytes]
TRANSFORMS: dict[str, Transform] = {
    "wav": lambda wav: wav,
    "mp3_64k": clips.mp3_64k,
    "resample_16k": lambda wav: clips.resample(wav, 16000),
    "resample_48k": lambda wav: clips.resample(wav, 48000),
    "gain_-12dB": lambda wav: clips.gain(wav, -12.0),
    "gain_+6dB": lambda wav: clips.gain(wav, 6.0),
}


@pytest.mark.parametrize("transform", list(TRANSFORMS))
def test_a_transformed_long_take_is_identified_by_both_methods(
    corpus: Corpus, transform: str
) -> None:
    for take in corpus.long()[::3]:
        clip = decode_clip(TRANSFORMS[transform](take.wav))
        for method in Method:
            matches = identify(corpus, clip, method)
            assert matches, f"{take.take_id} {transform} {method}: nothing found"
            assert matches[0].take_id == take.take_id, (take.take_id, transform, matches)
            assert abs(matches[0].take_start_seconds) < 0.2, matches[0]


@pytest.mark.parametrize("transform", list(TRANSFORMS))
def test_a_transformed_short_take_is_identified_by_landmarks_and_never_misnamed_by_chromaprint(
    corpus: Corpus, transform: str
) -> None:
    for take in [*corpus.short()[::2], corpus.takes["ja-0"], corpus.takes["ja-1"]]:
        clip = decode_clip(TRANSFORMS[transform](take.wav))
        landmarks = identify(corpus, clip, Method.LANDMARKS)
        assert landmarks, f"{take.take_id} {transform}: landmarks found nothing"
        assert landmarks[0].take_id == take.take_id, (take.take_id, transform, landmarks)
        chromaprint = identify(corpus, clip, Method.CHROMAPRINT)
        assert not chromaprint or all(m.take_id == take.take_id for m in chromaprint), chromaprint


@pytest.mark.parametrize(("start_s", "seconds"), [(1.33, 1.5), (0.77, 2.5), (0.41, 4.2)])
def test_an_excerpt_re_encoded_to_mp3_is_placed_inside_its_take(
    corpus: Corpus, start_s: float, seconds: float
) -> None:
    for take in corpus.long()[::2]:
        part = clips.excerpt(take.clip, start_s, seconds)
        clip = decode_clip(clips.mp3_64k(clips.to_wav(part)))
        methods = list(Method) if seconds > 4.0 else [Method.LANDMARKS]
        for method in methods:
            matches = identify(corpus, clip, method)
            assert matches, f"{take.take_id} excerpt {seconds} s {method}: nothing found"
            assert matches[0].take_id == take.take_id, matches
            # The excerpt starts inside the take: the take started before the clip did.
            assert matches[0].take_start_seconds == pytest.approx(-start_s, abs=0.2)
        if seconds < MIN_SECONDS[Method.CHROMAPRINT]:
            assert fingerprint(clip, Method.CHROMAPRINT) is None


def test_a_scene_returns_every_take_it_holds(corpus: Corpus) -> None:
    """Two indexed lines and two unindexed ones, overlapping, over room noise, as an MP3."""
    first, second = corpus.takes["en-16"], corpus.takes["en-23"]
    unindexed = corpus.negatives["joe-unindexed-3"].clip
    scene = clips.mix_into_scene(first.clip, [unindexed, second.clip], at_s=3.0)
    clip = decode_clip(clips.mp3_64k(clips.to_wav(scene)))
    second_at = 3.0 + first.clip.seconds - 0.4
    for method in Method:
        found = {m.take_id: m for m in identify(corpus, clip, method) or []}
        assert set(found) == {first.take_id, second.take_id}, (method, found)
        assert found[first.take_id].take_start_seconds == pytest.approx(3.0, abs=0.2)
        assert found[second.take_id].take_start_seconds == pytest.approx(second_at, abs=0.2)


def test_a_line_mixed_under_louder_dialogue_is_still_found(corpus: Corpus) -> None:
    for take in corpus.long()[1::4]:
        others = [corpus.negatives["joe-unindexed-4"].clip, corpus.negatives["espeak-2"].clip]
        scene = clips.mix_into_scene(take.clip, others, at_s=2.0, other_level_db=3.0)
        clip = decode_clip(clips.mp3_64k(clips.to_wav(scene)))
        for method in Method:
            matches = identify(corpus, clip, method)
            assert matches, (take.take_id, method)
            assert [m.take_id for m in matches] == [take.take_id], matches


def _negative_clips(corpus: Corpus) -> dict[str, Clip]:
    out = {name: take.clip for name, take in corpus.negatives.items()}
    for seed in range(2):
        out[f"white-{seed}"] = clips.noise(5.0, seed=seed)
        out[f"pink-{seed}"] = clips.noise(5.0, pink=True, seed=seed)
        out[f"tones-{seed}"] = clips.tones(5.0, seed=seed)
        out[f"hum-{seed}"] = clips.noise(5.0, level_db=-50.0, pink=True, seed=seed)
    return out


def test_nothing_else_matches(corpus: Corpus) -> None:
    for name, negative in _negative_clips(corpus).items():
        for wav in (clips.to_wav(negative), clips.mp3_64k(clips.to_wav(negative))):
            try:
                clip = decode_clip(wav)
            except ClipUnusable as refused:
                assert refused.reason in ("too_short", "silent"), (name, refused.reason)
                continue
            for method in Method:
                assert not identify(corpus, clip, method), (name, method)


def test_fingerprints_fit_one_index_table(corpus: Corpus) -> None:
    for method in Method:
        for take in corpus.long():
            fp = fingerprint(take.clip, method)
            assert isinstance(fp, Fingerprint)
            assert fp.method is method
            assert fp.hashes.shape == fp.offsets.shape
            assert fp.hashes.dtype == np.int64 and fp.offsets.dtype == np.int32
            assert fp.hashes.min() >= 0 and fp.hashes.max() < 2**31
            assert fp.offsets.min() >= 0
            assert (fp.codes is not None) == (method is Method.CHROMAPRINT)
    seconds = sum(take.clip.seconds for take in corpus.takes.values())
    landmark_hashes = 0
    for take in corpus.takes.values():
        fp = fingerprint(take.clip, Method.LANDMARKS)
        assert fp is not None
        landmark_hashes += fp.hashes.shape[0]
    assert 15 <= landmark_hashes / seconds <= 45


def test_the_index_looks_up_one_method_only(corpus: Corpus) -> None:
    take = corpus.takes["en-20"]
    landmarks = fingerprint(take.clip, Method.LANDMARKS)
    assert landmarks is not None
    chroma_only = MemoryIndex()
    chroma_fp = fingerprint(take.clip, Method.CHROMAPRINT)
    assert chroma_fp is not None
    chroma_only.add(take.take_id, chroma_fp)
    assert chroma_only.lookup(landmarks) == []
    assert rank(landmarks, corpus.index.lookup(landmarks))[0].take_id == take.take_id


def test_rank_keeps_the_limit_and_the_threshold(corpus: Corpus) -> None:
    take = corpus.takes["en-18"]
    fp = fingerprint(decode_clip(clips.mp3_64k(take.wav)), Method.LANDMARKS)
    assert fp is not None
    matches = rank(fp, corpus.index.lookup(fp), limit=1)
    assert len(matches) == 1 and matches[0].take_id == take.take_id
    assert matches[0].confidence >= ACCEPT[Method.LANDMARKS]
    assert matches[0].matched <= matches[0].query_hashes == fp.hashes.shape[0]
    assert rank(fp, [], limit=5) == []


# --- decoding refusals ------------------------------------------------------------------------


def _reason(data: bytes) -> str:
    with pytest.raises(ClipUnusable) as refused:
        decode_clip(data)
    return refused.value.reason


def test_a_clip_too_short_to_identify_is_refused(corpus: Corpus) -> None:
    half_second = clips.excerpt(corpus.takes["en-15"].clip, 1.0, 0.5)
    with pytest.raises(ClipUnusable) as refused:
        decode_clip(clips.to_wav(half_second))
    assert refused.value.reason == "too_short"
    assert "at least 1.0 s" in refused.value.detail


def test_silence_is_refused() -> None:
    assert _reason(clips.to_wav(clips.silence(5.0))) == "silent"
    assert _reason(clips.to_wav(clips.noise(5.0, level_db=-70.0))) == "silent"


def test_damaged_audio_is_refused_as_corrupt(corpus: Corpus) -> None:
    wav = corpus.takes["en-15"].wav
    assert _reason(wav[:44] + bytes(np.random.default_rng(1).integers(0, 256, 500, np.uint8))) == (
        "corrupt"
    )
    assert _reason(wav[:30]) == "corrupt"
    mp3 = clips.mp3_64k(wav)
    assert _reason(mp3[: len(mp3) // 3]) == "corrupt"


def test_what_is_not_audio_is_refused_as_unsupported() -> None:
    png = (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", 13)
        + b"IHDR"
        + struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0)
    )
    assert _reason(png + b"\x00" * 64) == "unsupported_format"
    assert _reason(b"Which take is this? It is a text file, not a clip.\n" * 20) == (
        "unsupported_format"
    )
    assert _reason(b"") == "unsupported_format"


def test_a_clip_over_the_limit_is_refused(corpus: Corpus) -> None:
    wav = corpus.takes["en-15"].wav
    with pytest.raises(ClipUnusable) as refused:
        decode_clip(wav, max_seconds=2.0)
    assert refused.value.reason == "too_long"


def test_decoding_keeps_the_sound(corpus: Corpus) -> None:
    take = corpus.takes["en-15"]
    clip = decode_clip(clips.mp3_64k(take.wav))
    assert clip.samples.dtype == np.float32
    assert clip.seconds == pytest.approx(take.clip.seconds, abs=0.1)


def test_chromaprint_ranks_by_votes_when_no_codes_are_given(corpus: Corpus) -> None:
    take = corpus.takes["en-22"]
    fp = fingerprint(decode_clip(clips.mp3_64k(take.wav)), Method.CHROMAPRINT)
    assert fp is not None and fp.codes is not None
    matches = rank(fp, corpus.index.lookup(fp))
    assert [m.take_id for m in matches][:1] == [take.take_id]
    assert abs(matches[0].take_start_seconds) < 0.2
