"""Japanese text normalisation, Kokoro's phonemizer on it, and morae from a real Kokoro."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyopenjtalk
import pytest

from models.engines.base import (
    Engine,
    PhonemeTiming,
    SynthesisResult,
    SynthesisSettings,
    timings_from_counts,
)
from models.engines.registry import EngineRegistry
from models.japanese import (
    Phonemizer,
    group_morae,
    kana_by_sound,
    kokoro_phonemizer,
    normalize,
    spell,
)
from voicehub.errors import TextEmpty

NORMAL = SynthesisSettings()


@pytest.fixture(scope="module")
def phonemizer() -> Phonemizer:
    return kokoro_phonemizer()


@pytest.fixture(scope="module")
def kana(phonemizer: Phonemizer) -> dict[str, str]:
    return kana_by_sound(phonemizer.table)


def reading(text: str) -> str:
    """pyopenjtalk's reading of `text` in katakana, accent marks dropped."""
    nodes = pyopenjtalk.run_frontend(text, use_sudachi_kanji_yomi=False)
    return "".join(node["pron"] for node in nodes).replace("’", "")


# --- normalisation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        # Width: half-width katakana and full-width Latin and digits.
        ("ｺｰﾋｰ", "コーヒー"),
        ("ﾊﾟｰﾃｨｰ", "パーティー"),
        ("ＡＩ", "AI"),
        ("１２３", "123"),
        # Numbers stay digits: pyopenjtalk reads them (see the readings below).
        ("1,000円", "1,000円"),
        ("3.14", "3.14"),
        ("007", "007"),
        ("3本", "3本"),
        # Dates and times become what pyopenjtalk reads as dates and times.
        ("2026年11月26日", "2026年11月26日"),
        ("2026/11/26", "2026年11月26日"),
        ("2026-11-26", "2026年11月26日"),
        ("11/26(木)", "11月26日(木)"),
        ("令和8年11月26日", "令和8年11月26日"),
        ("1/40", "1/40"),  # no 40th day: not a date
        ("13/5", "13/5"),  # no 13th month
        ("10:30", "10時30分"),
        ("9:05", "9時5分"),
        ("10:00", "10時"),
        ("10:00:05", "10時0分5秒"),
        ("3:2", "3:2"),  # minutes take two digits: a ratio, not a time
        # A wave dash before a number is から, full-width or not.
        ("5〜10人", "5から10人"),
        ("5～10人", "5から10人"),
        ("10:00〜11:30", "10時から11時30分"),
        ("¥1,000", "1,000円"),
        ("$5", "5ドル"),
        # Long vowels.
        ("すご〜い", "すごーい"),
        ("すごーーい", "すごーい"),
        ("ね～", "ねー"),
        ("ｽｺﾞｰｰｲ", "スゴーイ"),
        ("コ－ヒ－", "コーヒー"),
        ("ラ―メン", "ラーメン"),
        ("それは——", "それは——"),  # a dash after hiragana is punctuation
        # Latin: words pyopenjtalk knows stay; camel case is split; the rest is spelled.
        ("AIとNHK", "AIとNHK"),
        ("YouTube", "YouTube"),
        ("OpenAI", "Open AI"),
        ("VoiceHub", "Voice エイチユービー"),
        ("Aさん", "エーさん"),
        ("MP3", "MP 3"),
        ("3D", "3D"),
        ("ㇰ", "ク"),
    ],
)
def test_normalize(text: str, normalised: str) -> None:
    assert normalize(text) == normalised


@pytest.mark.parametrize(
    ("text", "read_as"),
    [
        ("あと5分で", "アトゴフンデ"),
        ("1,000円", "センエン"),
        ("3.14", "サンテンイチヨン"),
        ("007", "ゼロゼロナナ"),
        ("20日", "ハツカ"),
        ("2026/11/26", "ニセンニジューロクネンジューイチガツニジューロクニチ"),
        ("3/1", "サンガツツイタチ"),
        ("10:30", "ジュージサンジュップン"),
        ("5〜10人", "ゴカラジューニン"),
        ("¥1,000", "センエン"),
        ("AI", "エーアイ"),
        ("NHK", "エヌエイチケイ"),
        ("OpenAI", "オープンエーアイ"),
        ("VoiceHub", "ボイスエイチユービー"),
    ],
)
def test_pyopenjtalk_reads_the_normalised_text(text: str, read_as: str) -> None:
    assert reading(normalize(text)) == read_as


@pytest.mark.parametrize(
    ("text", "phonemes"),
    [
        # misaki's own digit reader gave "ato ɡobɯ de" (five percent), "iʨi, ʣeɾo eɴ",
        # "saɴ ʥɨːjoɴ", "na na" and "ɲiʥɨː bʲi"; its Latin path dropped "A" and "D".
        ("あと5分で", "ato ɡo ɸɯɴ de"),
        ("1,000円", "seɴ eɴ"),
        ("3.14", "saɴ teɴ iʨi joɴ"),
        ("007", "ʣeɾo ʣeɾo nana"),
        ("20日", "haʦɨka"),
        ("Aさん", "eː saɴ"),
        ("3D", "sɨɾʲiːdʲiː"),
        ("コーヒー", "koːçiː"),
    ],
)
def test_kokoro_phonemizer_reads_numbers_through_pyopenjtalk(
    phonemizer: Phonemizer, text: str, phonemes: str
) -> None:
    assert phonemizer(normalize(text)) == phonemes


@pytest.mark.parametrize("text", ["", "   ", "。。。！", "😀🎉", "——", "・・・"])
def test_text_with_nothing_readable_is_empty(text: str) -> None:
    with pytest.raises(TextEmpty) as caught:
        normalize(text)
    assert "text the Japanese phonemizer cannot read" in caught.value.detail
    assert caught.value.code == "text_empty"
    assert caught.value.status == 422


def test_spell_uses_the_letter_names() -> None:
    assert spell("NHK") == "エヌエイチケー"
    assert spell("wx") == "ダブリューエックス"


# --- morae from phonemes ----------------------------------------------------------------------


def timed(phonemes: str, frames: int = 3) -> list[PhonemeTiming]:
    """Kokoro-style tokens, 600 samples a frame; spaces and punctuation are pauses."""
    return timings_from_counts(
        [(symbol, symbol in " .,") for symbol in phonemes], [frames * 600] * len(phonemes)
    )


@pytest.mark.parametrize(
    ("phonemes", "morae"),
    [
        ("saŋkaʔkei", "さ ん か っ け い"),
        ("koːçiː", "こ ー ひ ー"),
        ("ɡaʔkoː", "が っ こ ー"),
        ("aɾʲiɡatoː ɡoʣaimasɨ", "あ り が と ー ご ざ い ま す"),
        ("koɲɲiʨiβa", "こ ん に ち わ"),  # ɲ before ɲ is ん, ɲ before i is に
        ("kʲoː βa", "きょ ー わ"),
        ("ɕaɕiɴ o", "しゃ し ん お"),
        ("samma", "さ ん ま"),  # ん before m is written m
        ("hoɴja", "ほ ん や"),
        ("dʲizɨɲiː", "でぃ ず に ー"),
        ("vaioɾʲiɴ", "ゔぁ い お り ん"),
        ("kᵝa", "くぁ"),
        # No kana has these sounds: the mora keeps its phonemes as its label.
        ("tja", "t や"),
        ("x", "x"),
    ],
)
def test_group_morae_labels(kana: dict[str, str], phonemes: str, morae: str) -> None:
    assert [m.text for m in group_morae(timed(phonemes), kana)] == morae.split()


def test_morae_span_exactly_their_phonemes_and_skip_pauses(kana: dict[str, str]) -> None:
    labels = [("^", True), *((symbol, symbol == " ") for symbol in "kʲoː βa"), ("$", True)]
    phonemes = timings_from_counts(labels, [600, 1200, 600, 1800, 2400, 600, 1200, 3000, 600])
    morae = group_morae(phonemes, kana)
    # k ʲ o | ː | (space) | β a
    assert [(m.text, m.start, m.samples) for m in morae] == [
        ("きょ", 600, 3600),
        ("ー", 4200, 2400),
        ("わ", 7200, 4200),
    ]
    pauses = sum(p.samples for p in phonemes if p.is_pause)
    assert sum(m.samples for m in morae) + pauses == phonemes[-1].end


def test_kana_by_sound_picks_the_usual_kana(kana: dict[str, str]) -> None:
    assert kana["ʥi"] == "じ"  # not ぢ
    assert kana["zɨ"] == "ず"  # not づ
    assert kana["o"] == "お"  # not を
    assert kana["βa"] == "わ"  # not ゎ
    assert kana["a"] == "あ"  # not ぁ
    assert kana["kʲa"] == "きゃ"


# --- the real engine --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kokoro(engines: EngineRegistry) -> Engine:
    return engines.get("kokoro")


@pytest.fixture(scope="module")
def say(kokoro: Engine) -> Callable[[str], SynthesisResult]:
    """Synthesize with the default settings, each text once for the module."""
    done: dict[str, SynthesisResult] = {}

    def synthesize(text: str) -> SynthesisResult:
        if text not in done:
            done[text] = kokoro.synthesize(text, speaker="jf_alpha", settings=NORMAL)
        return done[text]

    return synthesize


def assert_morae_and_pauses_cover_the_audio(result: SynthesisResult) -> None:
    boundaries = {p.start for p in result.phonemes} | {result.num_samples}
    for mora in result.morae:
        assert mora.start in boundaries and mora.end in boundaries
        assert mora.samples > 0
    for before, after in zip(result.morae, result.morae[1:], strict=False):
        assert before.end <= after.start
    pauses = sum(p.samples for p in result.phonemes if p.is_pause)
    assert sum(m.samples for m in result.morae) + pauses == result.num_samples


@pytest.mark.parametrize(
    ("text", "phonemes", "morae"),
    [
        # Normalised first (5分 ごふん); ん at the end is ɴ.
        ("あと5分。", "ato ɡo ɸɯɴ.", "あ と ご ふ ん"),
        # A digraph, っ and long vowels; the space between words is a pause of its own.
        ("きょうはがっこう。", "kʲoː βa ɡaʔkoː.", "きょ ー わ が っ こ ー"),
    ],
)
def test_kokoro_fills_morae(
    say: Callable[[str], SynthesisResult], text: str, phonemes: str, morae: str
) -> None:
    result = say(text)
    assert "".join(p.phoneme for p in result.phonemes) == f"^{phonemes}$"
    assert [m.text for m in result.morae] == morae.split()
    assert_morae_and_pauses_cover_the_audio(result)


def test_kokoro_refuses_text_the_phonemizer_cannot_read(kokoro: Engine) -> None:
    with pytest.raises(TextEmpty, match="text the Japanese phonemizer cannot read"):
        kokoro.synthesize("🎉🎉", speaker="jf_alpha", settings=NORMAL)


TWO_SENTENCES = "あ。い。"


@pytest.mark.parametrize(("pause", "samples"), [(None, 8400), (0.123, 2952), (0, 0)])
def test_kokoro_sentence_pause(
    kokoro: Engine, say: Callable[[str], SynthesisResult], pause: float | None, samples: int
) -> None:
    settings = SynthesisSettings(sentence_pause=pause)
    result = (
        say(TWO_SENTENCES)
        if pause is None
        else kokoro.synthesize(TWO_SENTENCES, speaker="jf_alpha", settings=settings)
    )
    # Exact samples, not whole frames: 0.123 s is 2,952 samples, 4.92 frames.
    inserted = [p for p in result.phonemes if p.phoneme == "_"]
    assert [p.samples for p in inserted] == ([samples] if samples else [])
    assert all(p.is_pause and not result.audio[p.start : p.end].any() for p in inserted)
    assert [p.phoneme for p in result.phonemes].count("^") == 2
    assert [m.text for m in result.morae] == ["あ", "い"]
    assert_morae_and_pauses_cover_the_audio(result)
    # The second sentence's mora moves with it, past the pause.
    second_start = [p.start for p in result.phonemes if p.phoneme == "^"][1]
    assert result.morae[1].start > second_start
    assert result.num_samples == say(TWO_SENTENCES).num_samples - 8400 + samples


def test_kokoro_is_deterministic_and_reports_no_seed(
    kokoro: Engine, say: Callable[[str], SynthesisResult]
) -> None:
    first = say("あ")
    again = kokoro.synthesize("あ", speaker="jf_alpha", settings=NORMAL)
    seeded = kokoro.synthesize("あ", speaker="jf_alpha", settings=SynthesisSettings(seed=7))
    assert first.seed is None and again.seed is None and seeded.seed is None
    assert np.array_equal(first.audio, again.audio)
    assert np.array_equal(first.audio, seeded.audio)
    assert first.phonemes == again.phonemes and first.morae == again.morae
