"""The real espeak-ng library: audio and timing agree to the sample, in several languages."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from models.engines.base import SynthesisResult, SynthesisSettings
from models.engines.espeak import EspeakEngine, EspeakEngineConfig
from models.engines.registry import EngineRegistry
from models.errors import UnknownSpeaker
from voicehub.errors import EngineUnavailable, TextEmpty
from voicehub.lipsync.shapes import PHONEME_CLASSES, SHAPE_SETS

NORMAL = SynthesisSettings()
SAMPLE_RATE = 22050
ENGLISH_LINE = "The quick brown fox jumps over the lazy dog."
# Letters that modify the sound before them (ː ʲ) and combining marks.
MODIFIERS = frozenset({"Lm", "Mn", "Me", "Sk"})

LINES = [
    pytest.param("en-us", ENGLISH_LINE, id="english"),
    pytest.param("en-gb", "Wait. Really?! Yes: the area, I owe you... (truly).", id="punctuation"),
    pytest.param("en-us", "It cost $3.50 on 12/05/2024, for 1,000 people.", id="numbers"),
    # The glide between "Élodie" and "a" has no IPA symbol in espeak.
    pytest.param("fr-fr", "Élodie a mangé. Il y a une idée à Orléans.", id="french"),
    pytest.param("ja", "こんにちは、せかい。ありがとう。", id="japanese-kana"),
    pytest.param("ru", "Привет, как дела?", id="russian"),
]


@pytest.fixture(scope="module")
def espeak() -> Iterator[EspeakEngine]:
    engine = EspeakEngine()
    engine.load()
    yield engine


@pytest.fixture(scope="module")
def english(espeak: EspeakEngine) -> SynthesisResult:
    return espeak.synthesize(ENGLISH_LINE, speaker="en-us", settings=NORMAL)


def assert_timing_covers_audio(result: SynthesisResult) -> None:
    assert result.audio.dtype == np.float32
    assert result.audio.ndim == 1
    assert float(np.abs(result.audio).max()) <= 1.0
    start = 0
    for phoneme in result.phonemes:
        assert phoneme.start == start
        assert phoneme.samples > 0
        start = phoneme.end
    assert start == result.num_samples > 0


def spoken(result: SynthesisResult) -> list[str]:
    return [p.phoneme for p in result.phonemes if not p.is_pause]


def test_info_lists_espeak_voices_and_languages(espeak: EspeakEngine) -> None:
    info = espeak.info
    assert info.name == "espeak"
    assert info.sample_rate == SAMPLE_RATE
    assert len(info.model_version) == 64
    assert {"en-us", "en-gb", "fr-fr", "ja", "de", "cmn"} <= set(info.speakers)
    assert len(set(info.speakers)) == len(info.speakers)
    assert {"en", "fr", "ja", "de", "zh"} <= set(info.languages)
    assert all(lang == lang.lower() and "-" not in lang for lang in info.languages)


@pytest.mark.parametrize(("speaker", "text"), LINES)
def test_timing_sums_to_audio_length(espeak: EspeakEngine, speaker: str, text: str) -> None:
    result = espeak.synthesize(text, speaker=speaker, settings=NORMAL)
    assert result.sample_rate == SAMPLE_RATE
    assert result.seed is None
    assert_timing_covers_audio(result)
    # A pause is silence: sounds espeak names no IPA symbol for belong to a phoneme.
    for phoneme in result.phonemes:
        if phoneme.is_pause:
            assert not result.audio[phoneme.start : phoneme.end].any(), phoneme
        else:
            assert phoneme.phoneme != "_" and not phoneme.phoneme.startswith("(")
    for word in result.words:
        assert word.samples > 0
        assert word.start in {p.start for p in result.phonemes}
        assert word.end in {p.end for p in result.phonemes}


def test_english_phonemes_are_ipa(english: SynthesisResult) -> None:
    assert spoken(english)[:5] == ["ð", "ə", "k", "w", "ɪ"]
    # Leading silence before the first phoneme event is a pause; stress is not a phoneme.
    assert english.phonemes[0].is_pause and english.phonemes[0].start == 0
    assert not [p for p in english.phonemes if p.phoneme in ("ˈ", "ˌ")]


@pytest.mark.parametrize(("speaker", "text"), LINES)
def test_every_spoken_phoneme_has_a_mouth_shape(
    espeak: EspeakEngine, speaker: str, text: str
) -> None:
    result = espeak.synthesize(text, speaker=speaker, settings=NORMAL)
    for phoneme in spoken(result):
        sounds = [char for char in phoneme if unicodedata.category(char) not in MODIFIERS]
        # By a symbol in it ("oʊ" by "o", "ɑ̃" by "ɑ"), never the fallback shape; a lone
        # modifier (Russian "ʲ") continues the shape before it.
        assert not sounds or any(char in PHONEME_CLASSES for char in sounds), phoneme
        for shape_set in SHAPE_SETS.values():
            assert shape_set.shape_for(phoneme, "X") in {*shape_set.shape_ids, "X"}


def test_words_come_from_word_events(espeak: EspeakEngine) -> None:
    result = espeak.synthesize("Hello, world. 42 cats!", speaker="en-us", settings=NORMAL)
    # "42" is read as two words, "forty" "two": one written word.
    assert [w.text for w in result.words] == ["Hello", "world", "42", "cats"]
    starts = [w.start for w in result.words]
    assert starts == sorted(starts)
    kana = espeak.synthesize("こんにちは、せかい。", speaker="ja", settings=NORMAL)
    assert [w.text for w in kana.words] == ["こんにちは", "せかい"]


def test_speed_two_is_shorter(espeak: EspeakEngine, english: SynthesisResult) -> None:
    fast = espeak.synthesize(ENGLISH_LINE, speaker="en-us", settings=SynthesisSettings(speed=2.0))
    assert_timing_covers_audio(fast)
    assert fast.num_samples < 0.65 * english.num_samples
    assert spoken(fast) == spoken(english)


def test_speed_beyond_espeaks_range_is_clamped(espeak: EspeakEngine) -> None:
    # 449 words a minute at most: from 450 espeak's speed-up moves audio under its events.
    fastest = espeak.synthesize(ENGLISH_LINE, speaker="en-us", settings=SynthesisSettings(speed=9))
    at_limit = espeak.synthesize(
        ENGLISH_LINE, speaker="en-us", settings=SynthesisSettings(speed=449 / 175)
    )
    assert_timing_covers_audio(fastest)
    assert fastest.audio.tobytes() == at_limit.audio.tobytes()


def test_sentence_pause_is_exact(espeak: EspeakEngine) -> None:
    text = "One. Two! Three?"
    paused = espeak.synthesize(
        text, speaker="en-us", settings=SynthesisSettings(sentence_pause=0.5)
    )
    joined = espeak.synthesize(text, speaker="en-us", settings=SynthesisSettings(sentence_pause=0))
    assert_timing_covers_audio(paused)
    assert_timing_covers_audio(joined)
    pause = round(0.5 * SAMPLE_RATE)
    phonemes = paused.phonemes
    between = [i for i, p in enumerate(phonemes[1:-1], start=1) if p.is_pause]
    # The only silence between sentences is the one asked for, right up to the sounds.
    assert [phonemes[i].samples for i in between] == [pause, pause]
    assert not any(phonemes[i - 1].is_pause or phonemes[i + 1].is_pause for i in between)
    assert paused.num_samples - joined.num_samples == 2 * pause
    assert spoken(paused) == spoken(joined)


def test_same_input_gives_identical_audio(espeak: EspeakEngine, english: SynthesisResult) -> None:
    # espeak-ng keeps wave-generator state between calls; each call starts afresh.
    espeak.synthesize("Élodie a mangé.", speaker="fr-fr", settings=SynthesisSettings(speed=1.5))
    again = espeak.synthesize(ENGLISH_LINE, speaker="en-us", settings=SynthesisSettings(seed=7))
    assert again.audio.tobytes() == english.audio.tobytes()
    assert again.phonemes == english.phonemes
    assert again.seed is None


def test_concurrent_calls_take_turns(espeak: EspeakEngine, english: SynthesisResult) -> None:
    lines = [(ENGLISH_LINE, "en-us"), ("Élodie a mangé.", "fr-fr")] * 3
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(
            pool.map(
                lambda line: espeak.synthesize(line[0], speaker=line[1], settings=NORMAL), lines
            )
        )
    for result in results:
        assert_timing_covers_audio(result)
    assert all(r.audio.tobytes() == english.audio.tobytes() for r in results[::2])
    assert len({r.audio.tobytes() for r in results[1::2]}) == 1


@pytest.mark.parametrize("text", ["", "   ", "...", "?!", "\n\t"])
def test_nothing_speakable_is_text_empty(espeak: EspeakEngine, text: str) -> None:
    with pytest.raises(TextEmpty):
        espeak.synthesize(text, speaker="en-us", settings=NORMAL)


def test_unknown_speaker_is_refused(espeak: EspeakEngine) -> None:
    with pytest.raises(UnknownSpeaker) as refused:
        espeak.synthesize("Hello.", speaker="en-zz", settings=NORMAL)
    assert refused.value.extra == {"speaker": "en-zz", "engine": "espeak"}


def test_missing_library_names_the_package() -> None:
    engine = EspeakEngine(EspeakEngineConfig(library="libespeak-ng-missing.so.9"))
    with pytest.raises(EngineUnavailable, match="apt-get install espeak-ng"):
        engine.load()


def test_a_crashed_helper_is_started_again(espeak: EspeakEngine) -> None:
    helper = espeak._running_helper()
    helper.process.kill()
    helper.process.wait()
    result = espeak.synthesize("Still here.", speaker="en-us", settings=NORMAL)
    assert_timing_covers_audio(result)
    assert espeak._running_helper() is not helper


def test_registry_finds_espeak_by_language() -> None:
    registry = EngineRegistry.load(["espeak"], cache_dir=None)
    assert [info.name for info in registry.for_language("fr-FR")] == ["espeak"]
    assert [info.name for info in registry.for_language("ja")] == ["espeak"]
