"""Mouth-shape sets and the phoneme → shape mapping behind them.

Every phoneme symbol the engines emit (espeak IPA from Piper, misaki-style
Japanese from Kokoro) belongs to one articulatory `PhonemeClass`. A shape set
is then a small table from class to shape, so adding a set (`vowel5`,
`preston_blair`, a studio's own chart) means adding one table entry here and
nothing else; `ShapeSet.mapping` is the resolved phoneme → shape table.

Symbols that only modify the one before them (the long mark ː, palatalisation
ʲ, aspiration ʰ, combining diacritics) continue the previous shape. Pauses
show the set's rest shape. A symbol nobody listed gets the set's default
consonant shape: a new phoneme from an engine update must never fail an export.

Kokoro writes ん by the sound it takes before what follows: m, n, ɲ, ŋ, or ɴ
at the end of a phrase. Only ɴ is always ん, so only ɴ is a moraic nasal here;
the others are ん only in a take's morae, which `frames.mouth_phonemes` reads.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from voicehub.errors import InvalidInput


class PhonemeClass(StrEnum):
    """How a phoneme shapes the mouth, independent of any shape set."""

    BILABIAL = "bilabial"  # m b p: lips closed
    BILABIAL_FRICATIVE = "bilabial_fricative"  # ɸ (ふ): lips compressed, not closed
    LABIAL_APPROXIMANT = "labial_approximant"  # w β ɥ: lips rounded
    LABIODENTAL = "labiodental"  # f v: upper teeth on the lower lip
    DENTAL = "dental"  # θ ð: tongue between the teeth
    ALVEOLAR = "alveolar"  # t d n s z ɹ ɾ ʦ
    POSTALVEOLAR = "postalveolar"  # ʃ ʒ tʃ dʒ ʨ ʥ ɕ
    LATERAL = "lateral"  # l: tongue visible behind the teeth
    DORSAL = "dorsal"  # k g ŋ ɲ j ç x: made at the back, mouth follows the vowel
    GLOTTAL = "glottal"  # h ɦ
    GLOTTAL_STOP = "glottal_stop"  # ʔ, also the Japanese sokuon っ
    MORAIC_NASAL = "moraic_nasal"  # Japanese ん: N (OpenJTalk), ɴ (Kokoro)
    CLOSE_FRONT = "close_front"  # i ɪ y ɨ: EE
    CLOSE_MID_FRONT = "close_mid_front"  # e ø: Japanese え, start of English eɪ
    OPEN_MID_FRONT = "open_mid_front"  # ɛ œ: EH
    NEAR_OPEN_FRONT = "near_open_front"  # æ: AE
    OPEN = "open"  # a ɑ ɒ: AA, Japanese あ
    OPEN_MID_CENTRAL = "open_mid_central"  # ʌ ɐ: AH
    MID_CENTRAL = "mid_central"  # ə ɘ ɵ: schwa
    RHOTIC = "rhotic"  # ɚ ɝ ɜ: ER
    OPEN_MID_BACK_ROUNDED = "open_mid_back_rounded"  # ɔ: AO
    CLOSE_MID_BACK_ROUNDED = "close_mid_back_rounded"  # o: Japanese お, start of OW
    CLOSE_BACK_ROUNDED = "close_back_rounded"  # u ʊ: UW, UH
    CLOSE_BACK_UNROUNDED = "close_back_unrounded"  # ɯ ɤ: Japanese う


def _classes(table: Mapping[PhonemeClass, str]) -> dict[str, PhonemeClass]:
    """Expand `class → space-separated symbols` into `symbol → class`."""
    out: dict[str, PhonemeClass] = {}
    for phoneme_class, symbols in table.items():
        for symbol in symbols.split():
            if symbol in out:
                raise ValueError(f"phoneme {symbol!r} is listed twice")
            out[symbol] = phoneme_class
    return out


_C = PhonemeClass

PHONEME_CLASSES: Mapping[str, PhonemeClass] = MappingProxyType(
    _classes(
        {
            _C.BILABIAL: "m b p",
            _C.BILABIAL_FRICATIVE: "ɸ",
            _C.LABIAL_APPROXIMANT: "w ʍ β ɥ",
            _C.LABIODENTAL: "f v ɱ ʋ",
            _C.DENTAL: "θ ð",
            _C.ALVEOLAR: "t d n s z ɹ r ɾ ɺ ɻ ɽ ʈ ɖ ɳ ʂ ʐ ʦ ʣ ts dz",
            _C.POSTALVEOLAR: "ʃ ʒ ʧ ʤ tʃ dʒ ʨ ʥ tɕ dʑ ɕ ʑ",
            _C.LATERAL: "l ɫ ɬ ɮ ʎ ɭ ʟ",
            _C.DORSAL: "k g ɡ ŋ ɲ c ɟ ç ʝ j x ɣ q ɢ χ ʁ ʀ ħ ʕ",
            _C.GLOTTAL: "h ɦ",
            _C.GLOTTAL_STOP: "ʔ",
            _C.MORAIC_NASAL: "N ɴ",
            _C.CLOSE_FRONT: "i ɪ y ʏ ɨ ᵻ",
            _C.CLOSE_MID_FRONT: "e ø",
            _C.OPEN_MID_FRONT: "ɛ œ",
            _C.NEAR_OPEN_FRONT: "æ",
            _C.OPEN: "a ɑ ɒ ɶ ä",
            _C.OPEN_MID_CENTRAL: "ʌ ɐ",
            _C.MID_CENTRAL: "ə ɘ ɵ",
            _C.RHOTIC: "ɚ ɝ ɜ ɞ",
            _C.OPEN_MID_BACK_ROUNDED: "ɔ",
            _C.CLOSE_MID_BACK_ROUNDED: "o",
            _C.CLOSE_BACK_ROUNDED: "u ʊ ʉ",
            _C.CLOSE_BACK_UNROUNDED: "ɯ ɤ",
        }
    )
)

VOWEL_CLASSES = frozenset(
    {
        _C.CLOSE_FRONT,
        _C.CLOSE_MID_FRONT,
        _C.OPEN_MID_FRONT,
        _C.NEAR_OPEN_FRONT,
        _C.OPEN,
        _C.OPEN_MID_CENTRAL,
        _C.MID_CENTRAL,
        _C.RHOTIC,
        _C.OPEN_MID_BACK_ROUNDED,
        _C.CLOSE_MID_BACK_ROUNDED,
        _C.CLOSE_BACK_ROUNDED,
        _C.CLOSE_BACK_UNROUNDED,
    }
)

# Letters that only modify the sound before them (ː ʲ ʰ ʷ ˞) and combining marks.
_MODIFIER_CATEGORIES = frozenset({"Lm", "Mn", "Me", "Sk"})
# Whitespace, punctuation and control characters: engines emit them as pauses.
_PAUSE_CATEGORY_PREFIXES = ("P", "Z", "C")


def _is_modifier(char: str) -> bool:
    return unicodedata.category(char) in _MODIFIER_CATEGORIES


def is_pause_symbol(phoneme: str) -> bool:
    """True for what engines emit as a pause: empty, whitespace or punctuation."""
    return all(unicodedata.category(char).startswith(_PAUSE_CATEGORY_PREFIXES) for char in phoneme)


@dataclass(frozen=True)
class MouthShape:
    """One drawing in a set: `id` goes into files, `label` is what animators call it."""

    id: str
    label: str
    description: str


@dataclass(frozen=True)
class ShapeSet:
    """A named set of mouth shapes and the phoneme → shape table that drives it."""

    name: str
    shapes: tuple[MouthShape, ...]
    rest: str
    default: str
    mapping: Mapping[str, str] = field(hash=False)
    description: str = ""

    def __post_init__(self) -> None:
        ids = self.shape_ids
        if len(set(ids)) != len(ids):
            raise ValueError(f"shape set {self.name!r} repeats a shape id")
        stray = {self.rest, self.default, *self.mapping.values()} - set(ids)
        if stray:
            raise ValueError(f"shape set {self.name!r} maps to unknown shapes {sorted(stray)}")

    @property
    def shape_ids(self) -> tuple[str, ...]:
        return tuple(shape.id for shape in self.shapes)

    def shape(self, shape_id: str) -> MouthShape:
        """The shape with this id; InvalidInput if the set has none."""
        for shape in self.shapes:
            if shape.id == shape_id:
                return shape
        raise InvalidInput(f"shape set {self.name!r} has no shape {shape_id!r}")

    def shape_for(
        self, phoneme: str, previous: str | None = None, *, is_pause: bool = False
    ) -> str:
        """The shape for one phoneme; `previous` is the shape of the phoneme before it.

        Never raises: pauses get the rest shape, modifiers (ː ʲ, diacritics)
        continue `previous`, unknown symbols get the default consonant shape.
        """
        if is_pause or is_pause_symbol(phoneme):
            return self.rest
        shape = self.mapping.get(phoneme)
        if shape is not None:
            return shape
        base = "".join(char for char in phoneme if not _is_modifier(char))
        if not base:
            return self.rest if previous is None else previous
        shape = self.mapping.get(base)
        if shape is not None:
            return shape
        # An unlisted cluster such as a diphthong "aɪ": its first sound leads.
        for char in base:
            shape = self.mapping.get(char)
            if shape is not None:
                return shape
        return self.default


def shape_set_from_classes(
    name: str,
    shapes: tuple[MouthShape, ...],
    *,
    rest: str,
    default: str,
    by_class: Mapping[PhonemeClass, str],
    description: str = "",
) -> ShapeSet:
    """Build a shape set from one shape per phoneme class (every class must be covered)."""
    missing = [
        phoneme_class.value for phoneme_class in PhonemeClass if phoneme_class not in by_class
    ]
    if missing:
        raise ValueError(f"shape set {name!r} gives no shape for {missing}")
    mapping = {symbol: by_class[phoneme_class] for symbol, phoneme_class in PHONEME_CLASSES.items()}
    return ShapeSet(
        name=name,
        shapes=shapes,
        rest=rest,
        default=default,
        mapping=MappingProxyType(mapping),
        description=description,
    )


RHUBARB = shape_set_from_classes(
    "rhubarb",
    (
        MouthShape("A", "A", "closed mouth: M, B, P"),
        MouthShape("B", "B", "slightly open, teeth together: most consonants, EE"),
        MouthShape("C", "C", "open: EH, AE"),
        MouthShape("D", "D", "wide open: AA"),
        MouthShape("E", "E", "slightly rounded: AO, ER"),
        MouthShape("F", "F", "puckered: UW, OW, W"),
        MouthShape("G", "G", "upper teeth on lower lip: F, V"),
        MouthShape("H", "H", "tongue raised behind the teeth: L"),
        MouthShape("X", "X", "idle, mouth at rest"),
    ),
    rest="X",
    default="B",
    description="Hanna-Barbera letters as used by Rhubarb Lip Sync and Toon Boom",
    # Follows Rhubarb's own phone → shape rules, one shape where it allows several.
    by_class={
        _C.BILABIAL: "A",
        _C.BILABIAL_FRICATIVE: "F",
        _C.LABIAL_APPROXIMANT: "F",
        _C.LABIODENTAL: "G",
        _C.DENTAL: "B",
        _C.ALVEOLAR: "B",
        _C.POSTALVEOLAR: "B",
        _C.LATERAL: "H",
        _C.DORSAL: "B",
        _C.GLOTTAL: "B",
        _C.GLOTTAL_STOP: "B",
        # ん is [ɴ], [n] or [ŋ] unless a labial follows (misaki then writes m):
        # lips apart, like Rhubarb's N.
        _C.MORAIC_NASAL: "B",
        _C.CLOSE_FRONT: "B",
        _C.CLOSE_MID_FRONT: "C",
        _C.OPEN_MID_FRONT: "C",
        _C.NEAR_OPEN_FRONT: "C",
        _C.OPEN: "D",
        _C.OPEN_MID_CENTRAL: "C",
        _C.MID_CENTRAL: "B",
        _C.RHOTIC: "E",
        _C.OPEN_MID_BACK_ROUNDED: "E",
        _C.CLOSE_MID_BACK_ROUNDED: "E",
        _C.CLOSE_BACK_ROUNDED: "F",
        _C.CLOSE_BACK_UNROUNDED: "F",
    },
)

ANIME3 = shape_set_from_classes(
    "anime3",
    (
        MouthShape("closed", "トジ", "mouth closed: ん, m/b/p, っ, silence"),
        MouthShape("half", "中", "half open: い え う お and consonants"),
        MouthShape("open", "アキ", "open: あ"),
    ),
    rest="closed",
    default="half",
    description="口パク three cels: トジ (closed), 中 (half), アキ (open)",
    # Only the openness of the jaw is drawn; lip rounding has no cel of its own.
    by_class={
        _C.BILABIAL: "closed",
        _C.BILABIAL_FRICATIVE: "half",
        _C.LABIAL_APPROXIMANT: "half",
        _C.LABIODENTAL: "half",
        _C.DENTAL: "half",
        _C.ALVEOLAR: "half",
        _C.POSTALVEOLAR: "half",
        _C.LATERAL: "half",
        _C.DORSAL: "half",
        _C.GLOTTAL: "half",
        _C.GLOTTAL_STOP: "closed",
        _C.MORAIC_NASAL: "closed",
        _C.CLOSE_FRONT: "half",
        _C.CLOSE_MID_FRONT: "half",
        _C.OPEN_MID_FRONT: "half",
        _C.NEAR_OPEN_FRONT: "open",
        _C.OPEN: "open",
        _C.OPEN_MID_CENTRAL: "open",
        _C.MID_CENTRAL: "half",
        _C.RHOTIC: "half",
        _C.OPEN_MID_BACK_ROUNDED: "half",
        _C.CLOSE_MID_BACK_ROUNDED: "half",
        _C.CLOSE_BACK_ROUNDED: "half",
        _C.CLOSE_BACK_UNROUNDED: "half",
    },
)

VOWEL5 = shape_set_from_classes(
    "vowel5",
    (
        MouthShape("closed", "ん", "mouth closed: ん, m/b/p, っ, silence"),
        MouthShape("a", "あ", "あ: jaw open"),
        MouthShape("i", "い", "い: lips spread, teeth showing"),
        MouthShape("u", "う", "う: lips rounded forward"),
        MouthShape("e", "え", "え: half open, spread"),
        MouthShape("o", "お", "お: open and rounded"),
    ),
    rest="closed",
    default="i",
    description="five vowel mouths あ い う え お and closed; consonants show the nearest lips",
    by_class={
        _C.BILABIAL: "closed",
        _C.BILABIAL_FRICATIVE: "u",
        _C.LABIAL_APPROXIMANT: "u",
        _C.LABIODENTAL: "i",
        _C.DENTAL: "i",
        _C.ALVEOLAR: "i",
        _C.POSTALVEOLAR: "u",
        _C.LATERAL: "i",
        _C.DORSAL: "i",
        _C.GLOTTAL: "a",
        _C.GLOTTAL_STOP: "closed",
        _C.MORAIC_NASAL: "closed",
        _C.CLOSE_FRONT: "i",
        _C.CLOSE_MID_FRONT: "e",
        _C.OPEN_MID_FRONT: "e",
        _C.NEAR_OPEN_FRONT: "a",
        _C.OPEN: "a",
        _C.OPEN_MID_CENTRAL: "a",
        _C.MID_CENTRAL: "e",
        _C.RHOTIC: "o",
        _C.OPEN_MID_BACK_ROUNDED: "o",
        _C.CLOSE_MID_BACK_ROUNDED: "o",
        _C.CLOSE_BACK_ROUNDED: "u",
        _C.CLOSE_BACK_UNROUNDED: "u",
    },
)

PRESTON_BLAIR = shape_set_from_classes(
    "preston_blair",
    (
        MouthShape("AI", "AI", "open: AA, AE, AH"),
        MouthShape("E", "E", "spread, teeth showing: EE, EH, EY"),
        MouthShape("O", "O", "rounded open: AO, OW, ER"),
        MouthShape("U", "U", "small rounded: UW, UH"),
        MouthShape("FV", "FV", "upper teeth on lower lip: F, V"),
        MouthShape("L", "L", "tongue behind the upper teeth: L"),
        MouthShape("MBP", "MBP", "lips closed: M, B, P"),
        MouthShape("WQ", "WQ", "lips pursed forward: W"),
        MouthShape("etc", "etc", "most consonants, teeth together: T D S N K G ..."),
        MouthShape("rest", "rest", "idle, mouth at rest"),
    ),
    rest="rest",
    default="etc",
    description="Preston Blair mouths as read by Moho, OpenToonz and Papagayo",
    # Rhubarb's letters convert one to one (A→MBP, B→etc, C→E, D→AI, E→O,
    # G→FV, H→L, X→rest) except F, which Moho's converter turns into U and
    # Papagayo into WQ. From phoneme classes there is no need to choose: the
    # vowels u ʊ ɯ get U, the rounded consonants w ɸ get WQ. Vowels follow
    # Papagayo's own English table where it is finer than Rhubarb's letters:
    # EE spreads (E, where Rhubarb folds it into B), AE and AH open (AI).
    by_class={
        _C.BILABIAL: "MBP",
        _C.BILABIAL_FRICATIVE: "WQ",
        _C.LABIAL_APPROXIMANT: "WQ",
        _C.LABIODENTAL: "FV",
        _C.DENTAL: "etc",
        _C.ALVEOLAR: "etc",
        _C.POSTALVEOLAR: "etc",
        _C.LATERAL: "L",
        _C.DORSAL: "etc",
        _C.GLOTTAL: "etc",
        _C.GLOTTAL_STOP: "etc",
        _C.MORAIC_NASAL: "etc",
        _C.CLOSE_FRONT: "E",
        _C.CLOSE_MID_FRONT: "E",
        _C.OPEN_MID_FRONT: "E",
        _C.NEAR_OPEN_FRONT: "AI",
        _C.OPEN: "AI",
        _C.OPEN_MID_CENTRAL: "AI",
        _C.MID_CENTRAL: "etc",
        _C.RHOTIC: "O",
        _C.OPEN_MID_BACK_ROUNDED: "O",
        _C.CLOSE_MID_BACK_ROUNDED: "O",
        _C.CLOSE_BACK_ROUNDED: "U",
        _C.CLOSE_BACK_UNROUNDED: "U",
    },
)

SHAPE_SETS: dict[str, ShapeSet] = {
    shape_set.name: shape_set for shape_set in (RHUBARB, ANIME3, VOWEL5, PRESTON_BLAIR)
}


def get_shape_set(name: str) -> ShapeSet:
    """The registered shape set called `name`; InvalidInput naming the valid ones otherwise."""
    try:
        return SHAPE_SETS[name]
    except KeyError:
        valid = ", ".join(sorted(SHAPE_SETS))
        raise InvalidInput(
            f"unknown shape set {name!r}; valid shape sets: {valid}",
            shape_set=name,
            valid=sorted(SHAPE_SETS),
        ) from None
