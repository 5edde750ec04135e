"""Real Piper and Kokoro engines: audio and timing agree to the sample."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from models.engines.base import Engine, SynthesisResult, SynthesisSettings
from models.engines.kokoro import KokoroEngine, _pieces
from models.engines.piper import PiperEngine
from models.engines.registry import EngineRegistry
from models.errors import UnknownSpeaker
from voicehub.errors import EngineUnavailable, TextEmpty

NORMAL = SynthesisSettings()
ENGLISH_LINE = "The quick brown fox jumps over the lazy dog."
JAPANESE_LINE = "今日はいい天気ですね。"


@pytest.fixture(scope="module")
def registry() -> Iterator[EngineRegistry]:
    """Both engines, each loaded once for the whole module."""
    yield EngineRegistry.load(["piper", "kokoro"], cache_dir=None)


@pytest.fixture(scope="module")
def piper(registry: EngineRegistry) -> Engine:
    return registry.get("piper")


@pytest.fixture(scope="module")
def kokoro(registry: EngineRegistry) -> Engine:
    return registry.get("kokoro")


@pytest.fixture(scope="module")
def english(piper: Engine) -> SynthesisResult:
    return piper.synthesize(ENGLISH_LINE, speaker="joe", settings=NORMAL)


@pytest.fixture(scope="module")
def japanese(kokoro: Engine) -> SynthesisResult:
    return kokoro.synthesize(JAPANESE_LINE, speaker="jf_alpha", settings=NORMAL)


def assert_timing_covers_audio(result: SynthesisResult) -> None:
    assert result.audio.dtype == np.float32
    assert result.audio.ndim == 1
    assert float(np.abs(result.audio).max()) <= 1.0
    start = 0
    for phoneme in result.phonemes:
        assert phoneme.start == start
        assert phoneme.samples >= 0
        start = phoneme.end
    assert start == result.num_samples > 0


def spoken(result: SynthesisResult) -> list[str]:
    return [p.phoneme for p in result.phonemes if not p.is_pause]


def test_piper_timing_sums_to_audio_length(english: SynthesisResult) -> None:
    assert english.sample_rate == 22050
    assert_timing_covers_audio(english)


def test_kokoro_timing_sums_to_audio_length(japanese: SynthesisResult) -> None:
    assert japanese.sample_rate == 24000
    assert_timing_covers_audio(japanese)
    assert all(p.samples % 600 == 0 for p in japanese.phonemes)


def test_piper_has_no_bare_stress_marks(english: SynthesisResult) -> None:
    assert not [p for p in english.phonemes if p.phoneme in ("ˈ", "ˌ")]
    # "quick" is stressed in the raw stream; its samples now belong to the vowel.
    assert "ɪ" in spoken(english)


def test_piper_marks_pauses(english: SynthesisResult) -> None:
    pauses = {p.phoneme for p in english.phonemes if p.is_pause}
    assert pauses == {"^", "$", " ", "."}
    assert english.phonemes[0].phoneme == "^"
    assert english.phonemes[-1].phoneme == "$"
    assert all(phoneme.isalpha() for phoneme in spoken(english))


def test_kokoro_marks_pauses(japanese: SynthesisResult) -> None:
    pauses = {p.phoneme for p in japanese.phonemes if p.is_pause}
    assert {"^", "$", " ", "."} <= pauses
    assert not any(p.phoneme in " .,!?" for p in japanese.phonemes if not p.is_pause)
    assert japanese.words == []


def test_piper_labels_words_with_the_text(english: SynthesisResult) -> None:
    assert [w.text for w in english.words] == [
        "The", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog",
    ]  # fmt: skip
    for before, after in zip(english.words, english.words[1:], strict=False):
        assert 0 < before.start < before.end <= after.start
    assert english.words[-1].end < english.num_samples


def test_piper_labels_words_by_phonemes_when_counts_differ(piper: Engine) -> None:
    # espeak reads "1,000" as two words, so no text word can be paired honestly.
    result = piper.synthesize("It costs 1,000 dollars.", speaker="joe", settings=NORMAL)
    assert len(result.words) == 5
    for word in result.words:
        inside = [p for p in result.phonemes if word.start <= p.start < word.end]
        assert word.text == "".join(p.phoneme for p in inside if not p.is_pause)


def test_piper_speaks_sentences_in_order(piper: Engine, english: SynthesisResult) -> None:
    two = piper.synthesize(f"Hello there. {ENGLISH_LINE}", speaker="joe", settings=NORMAL)
    assert_timing_covers_audio(two)
    assert [p.phoneme for p in two.phonemes].count("^") == 2
    assert [w.text for w in two.words][:2] == ["Hello", "there"]
    assert [w.text for w in two.words][2:] == [w.text for w in english.words]
    assert two.num_samples > english.num_samples


def test_kokoro_puts_a_pause_between_sentences(kokoro: Engine, japanese: SynthesisResult) -> None:
    two = kokoro.synthesize(f"こんにちは。{JAPANESE_LINE}", speaker="jf_alpha", settings=NORMAL)
    assert_timing_covers_audio(two)
    inserted = [p for p in two.phonemes if p.phoneme == "_"]
    assert len(inserted) == 1
    assert inserted[0].is_pause
    assert inserted[0].samples == 14 * 600
    assert not two.audio[inserted[0].start : inserted[0].end].any()
    assert [p.phoneme for p in two.phonemes].count("^") == 2
    assert two.num_samples > japanese.num_samples


def test_piper_faster_speed_is_shorter(piper: Engine, english: SynthesisResult) -> None:
    fast = piper.synthesize(ENGLISH_LINE, speaker="joe", settings=SynthesisSettings(speed=2.0))
    assert_timing_covers_audio(fast)
    assert fast.num_samples < english.num_samples * 0.75


def test_kokoro_faster_speed_is_shorter(kokoro: Engine, japanese: SynthesisResult) -> None:
    fast = kokoro.synthesize(
        JAPANESE_LINE, speaker="jf_alpha", settings=SynthesisSettings(speed=2.0)
    )
    assert_timing_covers_audio(fast)
    assert fast.num_samples < japanese.num_samples * 0.75


@pytest.mark.parametrize(("engine", "speaker"), [("piper", "nobody"), ("kokoro", "joe")])
def test_unknown_speaker_is_refused(registry: EngineRegistry, engine: str, speaker: str) -> None:
    with pytest.raises(UnknownSpeaker) as caught:
        registry.get(engine).synthesize("Hello.", speaker=speaker, settings=NORMAL)
    assert caught.value.code == "unknown_speaker"
    assert caught.value.status == 422


@pytest.mark.parametrize(
    ("engine", "speaker", "text"),
    [
        ("piper", "joe", ""),
        ("piper", "joe", "  \n "),
        ("piper", "joe", "— ..."),
        ("kokoro", "jf_alpha", ""),
        ("kokoro", "jf_alpha", "。。。！"),
    ],
)
def test_text_with_nothing_to_say_is_empty(
    registry: EngineRegistry, engine: str, speaker: str, text: str
) -> None:
    with pytest.raises(TextEmpty):
        registry.get(engine).synthesize(text, speaker=speaker, settings=NORMAL)


def test_registry_describes_loaded_engines(registry: EngineRegistry) -> None:
    infos = {info.name: info for info in registry.infos()}
    assert set(infos) == {"piper", "kokoro"}
    assert infos["piper"].speakers == ("joe",)
    assert "jf_alpha" in infos["kokoro"].speakers
    assert all(len(info.model_version) == 64 for info in infos.values())
    assert [info.name for info in registry.for_language("en-US")] == ["piper"]
    assert [info.name for info in registry.for_language("ja")] == ["kokoro"]
    assert registry.for_language("fr") == []


def test_registry_refuses_unknown_and_missing_engines() -> None:
    with pytest.raises(ValueError, match="festival"):
        EngineRegistry.load(["piper", "festival"], cache_dir=None)
    with pytest.raises(EngineUnavailable):
        EngineRegistry({}).get("piper")


def test_kokoro_cuts_long_sentences_at_clauses() -> None:
    clause = "koɲɲiʨiβa " * 20 + "desɨ,"
    pieces = _pieces(" ".join([clause] * 6))
    assert len(pieces) > 1
    assert all(len(piece) <= 500 and piece.endswith(",") for piece in pieces)
    assert " ".join(pieces) == " ".join([clause] * 6)


def test_info_before_load_is_an_error() -> None:
    for engine in (PiperEngine(), KokoroEngine()):
        with pytest.raises(RuntimeError, match="not loaded"):
            _ = engine.info
