"""Phoneme → mouth-shape mapping for the shape sets studios pick from."""

from __future__ import annotations

import unicodedata
from types import MappingProxyType

import pytest

from models.engines.base import PhonemeTiming, WordTiming, timings_from_counts
from voicehub.errors import InvalidInput
from voicehub.lipsync.frames import mora_shapes, mouth_phonemes
from voicehub.lipsync.shapes import (
    ANIME3,
    PHONEME_CLASSES,
    PRESTON_BLAIR,
    RHUBARB,
    SHAPE_SETS,
    VOWEL5,
    MouthShape,
    PhonemeClass,
    ShapeSet,
    get_shape_set,
    shape_set_from_classes,
)

# What the engines emit: espeak IPA through Piper (stress already folded away)
# and misaki-style Japanese through Kokoro, one symbol per token.
ENGLISH_SYMBOLS = (
    "ð ə k w ɪ b ɹ a ʊ n f ɑ ɛ ŋ ʃ ʒ θ tʃ dʒ i u o e æ ʌ ɔ ɜ ɚ ɐ ᵻ ɾ ʔ l m p s z t d g h j v"
)
JAPANESE_SYMBOLS = "k o ɲ ʨ i β a ʥ ɕ ɯ ɨ ɾ ŋ N ʔ j w h ç ɸ z ʦ m b p n d t g s e u"


def shapes(shape_set: ShapeSet, phonemes: str) -> list[str]:
    """Shapes of a space-separated phoneme string, each knowing the one before."""
    out: list[str] = []
    previous: str | None = None
    for phoneme in phonemes.split():
        previous = shape_set.shape_for(phoneme, previous, is_pause=phoneme == "_")
        out.append(previous)
    return out


@pytest.mark.parametrize("symbol", sorted(set(ENGLISH_SYMBOLS.split() + JAPANESE_SYMBOLS.split())))
def test_every_engine_symbol_is_classified_not_defaulted(symbol: str) -> None:
    assert symbol in PHONEME_CLASSES
    for shape_set in SHAPE_SETS.values():
        assert shape_set.mapping[symbol] in shape_set.shape_ids


@pytest.mark.parametrize(
    ("phonemes", "expected"),
    [
        ("m ɑ p", "A D A"),  # mop
        ("b ɔ b", "A E A"),  # bob (AO)
        ("f a ɪ v", "G D B G"),  # five
        ("l ʌ v", "H C G"),  # love
        ("w ɪ ð", "F B B"),  # with
        ("ʃ u ː", "B F F"),  # shoe: ː holds F
        ("b ɜ ː d", "A E E B"),  # bird
        ("k æ t", "B C B"),  # cat
        ("b ɛ d", "A C B"),  # bed
        ("tʃ ɪ p", "B B A"),  # chip
        ("ð ə k w ɪ k b ɹ a ʊ n f ɑ ː k s", "B B B F B B A B D F B G D D B B"),
    ],
)
def test_rhubarb_english_words(phonemes: str, expected: str) -> None:
    assert shapes(RHUBARB, phonemes) == expected.split()


def test_rhubarb_letters_for_the_classic_consonants_and_pauses() -> None:
    assert {RHUBARB.shape_for(p) for p in ["m", "b", "p"]} == {"A"}
    assert {RHUBARB.shape_for(p) for p in ["f", "v"]} == {"G"}
    assert RHUBARB.shape_for("l") == "H"
    assert RHUBARB.shape_for(" ") == "X"
    assert RHUBARB.shape_for(".") == "X"
    assert RHUBARB.shape_for("") == "X"
    assert RHUBARB.shape_for("a", is_pause=True) == "X"


@pytest.mark.parametrize(
    ("phonemes", "expected"),
    [
        ("a", "open"),  # あ
        ("i", "half"),  # い
        ("ɯ", "half"),  # う
        ("e", "half"),  # え
        ("o", "half"),  # お
        ("N", "closed"),  # ん
        ("ʔ", "closed"),  # っ
        ("m a m a", "closed open closed open"),
        ("b a p a", "closed open closed open"),
        ("k a ː", "half open open"),  # かー: the long mark holds アキ
        ("k o ɲ ɲ i ʨ i β a", "half half half half half half half half open"),
        ("k ʲ o ː", "half half half half"),
        ("h o N _ d a", "half half closed closed half open"),
    ],
)
def test_anime3_japanese(phonemes: str, expected: str) -> None:
    assert shapes(ANIME3, phonemes) == expected.split()


def test_rhubarb_japanese_vowels() -> None:
    assert shapes(RHUBARB, "a i ɯ e o") == ["D", "B", "F", "C", "E"]


def test_anime3_labels_are_the_cel_names() -> None:
    assert ANIME3.shape_ids == ("closed", "half", "open")
    assert [ANIME3.shape(i).label for i in ANIME3.shape_ids] == ["トジ", "中", "アキ"]
    assert ANIME3.rest == "closed"
    with pytest.raises(InvalidInput):
        ANIME3.shape("A")


def test_rhubarb_has_the_nine_letters_and_rests_on_x() -> None:
    assert RHUBARB.shape_ids == tuple("ABCDEFGHX")
    assert RHUBARB.rest == "X"


def test_long_mark_and_modifiers_continue_the_previous_shape() -> None:
    for modifier in ("ː", "ʲ", "ʰ", "\u0303"):
        assert RHUBARB.shape_for(modifier, "F") == "F"
        assert ANIME3.shape_for(modifier, "open") == "open"
    assert RHUBARB.shape_for("ː") == "X"  # nothing to continue


def test_clusters_and_decorated_symbols_resolve_by_their_sounds() -> None:
    assert RHUBARB.shape_for("aɪ") == "D"  # a diphthong token: its first sound
    assert RHUBARB.shape_for("oʊ") == "E"
    assert RHUBARB.shape_for("mʲ") == "A"
    assert RHUBARB.shape_for("n\u0329") == "B"  # syllabic n
    assert ANIME3.shape_for("aː") == "open"


@pytest.mark.parametrize("symbol", ["ʘ", "$", "Q", "☃", "ǃ", "ʘʼ"])
def test_unknown_symbols_get_the_default_consonant_shape(symbol: str) -> None:
    assert RHUBARB.shape_for(symbol) == "B"
    assert ANIME3.shape_for(symbol) == "half"


def test_get_shape_set_by_name() -> None:
    assert get_shape_set("rhubarb") is RHUBARB
    assert get_shape_set("anime3") is ANIME3


def test_unknown_shape_set_names_the_valid_ones() -> None:
    with pytest.raises(InvalidInput) as caught:
        get_shape_set("preston")
    message = str(caught.value)
    assert "'preston'" in message
    assert "anime3, preston_blair, rhubarb, vowel5" in message
    assert caught.value.status == 422
    assert caught.value.code == "invalid_input"


def test_a_new_set_must_give_every_phoneme_class_a_shape() -> None:
    shapes_ = (MouthShape("x", "x", "rest"), MouthShape("o", "o", "open"))
    partial = {PhonemeClass.OPEN: "o"}
    with pytest.raises(ValueError, match="gives no shape for"):
        shape_set_from_classes("tiny", shapes_, rest="x", default="o", by_class=partial)
    full = {phoneme_class: "o" for phoneme_class in PhonemeClass}
    tiny = shape_set_from_classes("tiny", shapes_, rest="x", default="o", by_class=full)
    assert tiny.shape_for("m") == "o"
    assert tiny.shape_for(" ") == "x"


def test_a_set_cannot_map_to_a_shape_it_does_not_have() -> None:
    with pytest.raises(ValueError, match="unknown shapes"):
        ShapeSet(
            name="broken",
            shapes=(MouthShape("x", "x", "rest"),),
            rest="x",
            default="x",
            mapping=MappingProxyType({"a": "open"}),
        )


def test_phoneme_table_holds_letters_not_modifiers() -> None:
    for symbol in PHONEME_CLASSES:
        assert unicodedata.category(symbol[0]) not in {"Lm", "Mn", "Sk"}, symbol


@pytest.mark.parametrize(
    ("phonemes", "expected"),
    [
        ("a i ɯ e o", "a i u e o"),  # あいうえお
        ("N", "closed"),  # ん closes the mouth
        ("ʔ", "closed"),  # っ too
        ("k a ː", "i a a"),  # かー: the long mark holds あ
        ("m a ʔ t e", "closed a closed i e"),  # まって
        ("h o N _ d a", "a o closed closed i a"),  # ほん だ: the pause rests closed
        ("ɸ ɯ", "u u"),  # ふ
    ],
)
def test_vowel5_japanese(phonemes: str, expected: str) -> None:
    assert shapes(VOWEL5, phonemes) == expected.split()


def test_vowel5_labels_are_the_kana_and_every_symbol_is_classified() -> None:
    assert VOWEL5.shape_ids == ("closed", "a", "i", "u", "e", "o")
    assert [VOWEL5.shape(i).label for i in VOWEL5.shape_ids] == ["ん", "あ", "い", "う", "え", "お"]
    assert get_shape_set("vowel5") is VOWEL5
    for symbol in (ENGLISH_SYMBOLS + " " + JAPANESE_SYMBOLS).split():
        assert VOWEL5.shape_for(symbol) in VOWEL5.shape_ids


def test_kokoro_final_n_is_a_moraic_nasal_and_closes() -> None:
    # Kokoro writes ん as ɴ at the end of a phrase; m, n, ɲ, ŋ elsewhere (see the morae below).
    assert PHONEME_CLASSES["ɴ"] is PhonemeClass.MORAIC_NASAL
    assert shapes(ANIME3, "h o ɴ") == ["half", "half", "closed"]
    assert shapes(VOWEL5, "h o ɴ") == ["a", "o", "closed"]
    assert RHUBARB.shape_for("ɴ") == "B"


# --- Japanese: the mora decides --------------------------------------------------------------


def japanese(spec: str) -> tuple[list[PhonemeTiming], list[WordTiming]]:
    """Phonemes and morae from "kana:p h o n e m e s|…", 600 samples a phoneme; "_" is a pause."""
    labels: list[tuple[str, bool]] = []
    spans: list[tuple[str, int, int]] = []
    for part in spec.split("|"):
        if part == "_":
            labels.append(("_", True))
            continue
        kana, phonemes = part.split(":")
        spans.append((kana, len(labels), len(phonemes.split())))
        labels.extend((symbol, False) for symbol in phonemes.split())
    timing = timings_from_counts(labels, [600] * len(labels))
    morae = [WordTiming(kana, first * 600, count * 600) for kana, first, count in spans]
    return timing, morae


def mouth(shape_set: ShapeSet, spec: str) -> list[str]:
    phonemes, morae = japanese(spec)
    out: list[str] = []
    previous: str | None = None
    for p in mouth_phonemes(phonemes, morae):
        previous = shape_set.shape_for(p.phoneme, previous, is_pause=p.is_pause)
        out.append(previous)
    return out


SANKAKKEI = "さ:s a|ん:ŋ|か:k a|っ:ʔ|け:k e|い:i"
KONNICHIWA = "こ:k o|ん:ɲ|に:ɲ i|ち:ʨ i|わ:β a"
ARIGATOU = "あ:a|り:ɾ ʲ i|が:ɡ a|と:t o|ー:ː|_|ご:ɡ o|ざ:ʣ a|い:i|ま:m a|す:s ɨ"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        # Each mora shows its vowel from its start; ん (here ŋ and ɲ) and っ close.
        (SANKAKKEI, "a a closed a a closed e e i"),
        (KONNICHIWA, "o o closed i i i i a a"),
        # ー holds お across the word gap; ま closes first; す (sɨ) is う.
        (ARIGATOU, "a i i i a a o o o closed o o a a i closed a u u"),
        ("こ:k o|ー:ː|ひ:ç i|ー:ː", "o o o i i i"),  # コーヒー
        ("が:ɡ a|っ:ʔ|こ:k o|ー:ː", "a a closed o o o"),  # がっこう
        ("さ:s a|ん:m|ま:m a", "a a closed closed a"),  # さんま: ん written m
        ("みゃ:m ʲ a", "closed closed a"),  # the palatal mark keeps the closed lips
        ("ふ:ɸ ɯ|と:t o", "u u o o"),
        ("ほ:h o|ん:n|だ:d a", "o o closed a a"),  # ん written n before d
        ("t:t|や:j a", "i a a"),  # a mora labelled by its phonemes keeps them
    ],
)
def test_vowel5_japanese_morae(spec: str, expected: str) -> None:
    assert mouth(VOWEL5, spec) == expected.split()


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (SANKAKKEI, "open open closed open open closed half half half"),
        (KONNICHIWA, "half half closed half half half half open open"),
        (ARIGATOU, "open half half half open open half half half closed half half open open "
         "half closed open half half"),
        ("か:k a|ー:ː", "open open open"),  # かー: アキ from the k, held by ー
        ("ほ:h o|ん:ɴ", "half half closed"),
    ],
)  # fmt: skip
def test_anime3_japanese_morae(spec: str, expected: str) -> None:
    assert mouth(ANIME3, spec) == expected.split()


def test_mouth_phonemes_changes_symbols_never_timing() -> None:
    phonemes, morae = japanese(ARIGATOU)
    driving = mouth_phonemes(phonemes, morae)
    assert [(p.start, p.samples, p.is_pause) for p in driving] == [
        (p.start, p.samples, p.is_pause) for p in phonemes
    ]
    assert [p.phoneme for p in driving if p.is_pause] == ["_"]
    assert mouth_phonemes(phonemes, []) == phonemes


def test_mora_shapes_say_which_mora_made_which_shape() -> None:
    phonemes, morae = japanese(ARIGATOU)
    by_mora = dict(zip([m.text for m in morae], mora_shapes(phonemes, morae, VOWEL5), strict=False))
    assert by_mora["ま"] == ("closed", "a")
    assert by_mora["が"] == ("a",)
    assert by_mora["ー"] == ("o",)
    assert by_mora["す"] == ("u",)
    anime = mora_shapes(*japanese(SANKAKKEI), ANIME3)
    assert anime == [("open",), ("closed",), ("open",), ("closed",), ("half",), ("half",)]


# --- Preston Blair (Moho, OpenToonz, Papagayo) -----------------------------------------------

PRESTON_BLAIR_BY_CLASS = {
    PhonemeClass.BILABIAL: "MBP",
    PhonemeClass.BILABIAL_FRICATIVE: "WQ",
    PhonemeClass.LABIAL_APPROXIMANT: "WQ",
    PhonemeClass.LABIODENTAL: "FV",
    PhonemeClass.DENTAL: "etc",
    PhonemeClass.ALVEOLAR: "etc",
    PhonemeClass.POSTALVEOLAR: "etc",
    PhonemeClass.LATERAL: "L",
    PhonemeClass.DORSAL: "etc",
    PhonemeClass.GLOTTAL: "etc",
    PhonemeClass.GLOTTAL_STOP: "etc",
    PhonemeClass.MORAIC_NASAL: "etc",
    PhonemeClass.CLOSE_FRONT: "E",
    PhonemeClass.CLOSE_MID_FRONT: "E",
    PhonemeClass.OPEN_MID_FRONT: "E",
    PhonemeClass.NEAR_OPEN_FRONT: "AI",
    PhonemeClass.OPEN: "AI",
    PhonemeClass.OPEN_MID_CENTRAL: "AI",
    PhonemeClass.MID_CENTRAL: "etc",
    PhonemeClass.RHOTIC: "O",
    PhonemeClass.OPEN_MID_BACK_ROUNDED: "O",
    PhonemeClass.CLOSE_MID_BACK_ROUNDED: "O",
    PhonemeClass.CLOSE_BACK_ROUNDED: "U",
    PhonemeClass.CLOSE_BACK_UNROUNDED: "U",
}


def test_preston_blair_has_the_ten_moho_names_and_is_registered() -> None:
    assert PRESTON_BLAIR.shape_ids == ("AI", "E", "O", "U", "FV", "L", "MBP", "WQ", "etc", "rest")
    assert PRESTON_BLAIR.rest == "rest"
    assert PRESTON_BLAIR.default == "etc"
    assert get_shape_set("preston_blair") is PRESTON_BLAIR
    assert SHAPE_SETS["preston_blair"] is PRESTON_BLAIR


@pytest.mark.parametrize("phoneme_class", list(PhonemeClass))
def test_preston_blair_shape_for_each_phoneme_class(phoneme_class: PhonemeClass) -> None:
    expected = PRESTON_BLAIR_BY_CLASS[phoneme_class]
    symbols = [s for s, c in PHONEME_CLASSES.items() if c is phoneme_class]
    assert symbols
    assert {PRESTON_BLAIR.shape_for(symbol) for symbol in symbols} == {expected}


@pytest.mark.parametrize(
    ("phonemes", "expected"),
    [
        ("m ɑ p", "MBP AI MBP"),  # mop
        ("f a ɪ v", "FV AI E FV"),  # five
        ("l ʌ v", "L AI FV"),  # love
        ("w ɪ ð", "WQ E etc"),  # with: the w purses, the vowel spreads
        ("ʃ u ː", "etc U U"),  # shoe: u is U, not WQ
        ("b ɔ ɪ", "MBP O E"),  # boy
        ("h ɛ l o ʊ _", "etc E L O U rest"),  # hello, then a pause
    ],
)
def test_preston_blair_english_words(phonemes: str, expected: str) -> None:
    assert shapes(PRESTON_BLAIR, phonemes) == expected.split()


def test_preston_blair_agrees_with_the_rhubarb_conversion_except_where_documented() -> None:
    # Rhubarb letter → Preston Blair name, as Moho's converter has it (F → U).
    converted = {"A": "MBP", "B": "etc", "C": "E", "D": "AI", "E": "O", "F": "U", "G": "FV",
                 "H": "L", "X": "rest"}  # fmt: skip
    differ = {}
    for symbol in PHONEME_CLASSES:
        ours, theirs = PRESTON_BLAIR.mapping[symbol], converted[RHUBARB.mapping[symbol]]
        if ours != theirs:
            differ[PHONEME_CLASSES[symbol]] = (theirs, ours)
    # Only the documented splits: w and ɸ purse (WQ), EE spreads (E), AE and AH open (AI).
    assert differ == {
        PhonemeClass.NEAR_OPEN_FRONT: ("E", "AI"),
        PhonemeClass.BILABIAL_FRICATIVE: ("U", "WQ"),
        PhonemeClass.LABIAL_APPROXIMANT: ("U", "WQ"),
        PhonemeClass.CLOSE_FRONT: ("etc", "E"),
        PhonemeClass.OPEN_MID_CENTRAL: ("E", "AI"),
    }
