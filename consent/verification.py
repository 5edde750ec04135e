"""The spoken consent statement a signer records, and the recording they upload.

Each consent version gets its own statement: who agrees, to what, until when,
and a one-time challenge so that an old recording cannot be replayed. The
recording is then matched against the voice's reference audio by
`consent.speaker`; this module only builds the text and reads the upload.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from consent.tables import SignerKind
from voicehub.errors import InvalidInput

# How many words the challenge has. With 64 words a list, three distinct words
# give 249,984 ordered phrases: replaying a recording made for another version
# would have to hit the one phrase drawn for this one.
CHALLENGE_WORDS = 3

_EN_WORDS = (
    "amber", "anchor", "apple", "arrow", "autumn", "bamboo", "basket", "beacon",
    "bicycle", "blossom", "bridge", "butter", "candle", "canyon", "carpet", "castle",
    "cherry", "circle", "cobalt", "copper", "cotton", "crystal", "dolphin", "eagle",
    "falcon", "feather", "forest", "garden", "glacier", "harbor", "helmet", "island",
    "jacket", "jungle", "kettle", "ladder", "lantern", "lemon", "marble", "meadow",
    "mirror", "monkey", "needle", "orange", "orchid", "pebble", "pepper", "pillow",
    "planet", "pocket", "rabbit", "ribbon", "river", "rocket", "saddle", "seven",
    "silver", "spider", "summer", "thunder", "tiger", "tomato", "velvet", "window",
)  # fmt: skip

_JA_WORDS = (
    "あさがお", "いちご", "うみべ", "えんぴつ", "おにぎり", "かがみ", "きつね", "くじら",
    "けしごむ", "こおり", "さくら", "しんかんせん", "すいか", "せなか", "そらまめ", "たいこ",
    "ちきゅう", "つばめ", "てぶくろ", "とけい", "なのはな", "にじ", "ぬいぐるみ", "ねこ",
    "のはら", "はなび", "ひまわり", "ふうせん", "へちま", "ほたる", "まつり", "みかん",
    "むぎわら", "めがね", "もみじ", "やまびこ", "ゆきだるま", "よあけ", "らっぱ", "りんご",
    "るりいろ", "れんこん", "ろうそく", "わたがし", "いなずま", "うさぎ", "かみなり", "きんぎょ",
    "こだま", "さかな", "しずく", "たんぽぽ", "つくえ", "とんぼ", "なみだ", "はしご",
    "ひこうき", "ふじさん", "ほしぞら", "みずうみ", "もりのみち", "やかん", "ゆうやけ", "わかば",
)  # fmt: skip

_WORDS = {"en": _EN_WORDS, "ja": _JA_WORDS}

_USE_NAMES = {
    "en": {
        "dubbing": "dubbing",
        "animation": "animation",
        "games": "games",
        "advertising": "advertising",
        "audiobooks": "audiobooks",
        "elearning": "e-learning",
    },
    "ja": {
        "dubbing": "吹き替え",
        "animation": "アニメーション",
        "games": "ゲーム",
        "advertising": "広告",
        "audiobooks": "オーディオブック",
        "elearning": "eラーニング",
    },
}

_LANGUAGE_NAMES = {
    "en": {
        "en": "English",
        "ja": "Japanese",
        "zh": "Chinese",
        "ko": "Korean",
        "fr": "French",
        "de": "German",
        "es": "Spanish",
        "it": "Italian",
        "pt": "Portuguese",
    },
    "ja": {
        "en": "英語",
        "ja": "日本語",
        "zh": "中国語",
        "ko": "韓国語",
        "fr": "フランス語",
        "de": "ドイツ語",
        "es": "スペイン語",
        "it": "イタリア語",
        "pt": "ポルトガル語",
    },
}

_TERRITORY_NAMES = {
    "en": {
        "JP": "Japan",
        "US": "the United States",
        "GB": "the United Kingdom",
        "KR": "South Korea",
        "CN": "China",
        "TW": "Taiwan",
        "FR": "France",
        "DE": "Germany",
        "CA": "Canada",
        "AU": "Australia",
    },
    "ja": {
        "JP": "日本",
        "US": "アメリカ合衆国",
        "GB": "イギリス",
        "KR": "韓国",
        "CN": "中国",
        "TW": "台湾",
        "FR": "フランス",
        "DE": "ドイツ",
        "CA": "カナダ",
        "AU": "オーストラリア",
    },
}

WORLDWIDE = "WW"

_EN_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


@dataclass(frozen=True)
class Statement:
    """The text a signer reads aloud, the challenge phrase inside it, and its language."""

    text: str
    challenge: str
    language: str


def consent_statement(
    *,
    actor_name: str,
    signer_name: str,
    signer_kind: SignerKind | str,
    language: str,
    uses: Sequence[str],
    languages: Sequence[str],
    territories: Sequence[str],
    ends_at: dt.date | None,
    challenge: str | None = None,
    voice_build: bool = False,
) -> Statement:
    """The consent statement for one version, in the actor's language (English otherwise).

    `challenge` is drawn fresh when not given; pass the stored one to rebuild
    the same text. `voice_build` adds the signer's yes to a model trained on the
    recordings they upload.
    """
    if not (uses and languages and territories):
        raise InvalidInput(
            "A consent statement needs at least one use, one language and one territory.",
            fields=[
                name
                for name, value in (
                    ("uses", uses),
                    ("languages", languages),
                    ("territories", territories),
                )
                if not value
            ],
        )
    kind = SignerKind(signer_kind)
    lang = "ja" if language.split("-")[0].lower() == "ja" else "en"
    words = _WORDS[lang]
    if challenge is None:
        challenge = ("、" if lang == "ja" else ", ").join(_draw(words, CHALLENGE_WORDS))
    compose = _japanese if lang == "ja" else _english
    text = compose(
        actor_name,
        signer_name,
        kind,
        uses,
        languages,
        territories,
        ends_at,
        challenge,
        voice_build=voice_build,
    )
    return Statement(text=text, challenge=challenge, language=lang)


def _draw(words: Sequence[str], count: int) -> list[str]:
    """`count` distinct words, each drawn with the `secrets` generator."""
    pool = list(words)
    drawn: list[str] = []
    for _ in range(count):
        word = secrets.choice(pool)
        pool.remove(word)
        drawn.append(word)
    return drawn


def _english_list(items: Sequence[str]) -> str:
    if len(items) == 1:
        return items[0]
    return f"{', '.join(items[:-1])} and {items[-1]}"


def _named(table: dict[str, str], codes: Sequence[str]) -> list[str]:
    return [table.get(code, code) for code in codes]


def _english(
    actor_name: str,
    signer_name: str,
    signer_kind: SignerKind,
    uses: Sequence[str],
    languages: Sequence[str],
    territories: Sequence[str],
    ends_at: dt.date | None,
    challenge: str,
    voice_build: bool = False,
) -> str:
    if signer_kind is SignerKind.ACTOR and signer_name in ("", actor_name):
        who, whose = f"I, {actor_name},", "my voice"
    elif signer_kind is SignerKind.ACTOR:
        who, whose = f"I, {signer_name}, credited as {actor_name},", "my voice"
    elif signer_kind is SignerKind.AGENCY:
        who, whose = f"I, {signer_name}, for the agency of {actor_name},", f"{actor_name}'s voice"
    else:
        who, whose = f"I, {signer_name}, for the estate of {actor_name},", f"{actor_name}'s voice"
    use_text = _english_list(_named(_USE_NAMES["en"], uses))
    language_text = _english_list(_named(_LANGUAGE_NAMES["en"], languages))
    if WORLDWIDE in territories:
        where = "anywhere in the world"
    else:
        where = f"in {_english_list(_named(_TERRITORY_NAMES['en'], territories))}"
    if ends_at is None:
        until = "until I withdraw it"
    else:
        until = f"until {ends_at.day} {_EN_MONTHS[ends_at.month - 1]} {ends_at.year}"
    return (
        f"{who} agree that VoiceHub may use recordings of {whose} to create a synthetic voice "
        f"for {use_text}, in {language_text}, {where}, {until}. "
        + (
            f"I also agree that VoiceHub may train a voice model on recordings of {whose} "
            "uploaded to it. "
            if voice_build
            else ""
        )
        + "I can withdraw this consent at any time. "
        f"My challenge words are: {challenge}."
    )


def _japanese(
    actor_name: str,
    signer_name: str,
    signer_kind: SignerKind,
    uses: Sequence[str],
    languages: Sequence[str],
    territories: Sequence[str],
    ends_at: dt.date | None,
    challenge: str,
    voice_build: bool = False,
) -> str:
    if signer_kind is SignerKind.ACTOR and signer_name in ("", actor_name):
        who, whose = f"私、{actor_name}は、", "私の声"
    elif signer_kind is SignerKind.ACTOR:
        who, whose = f"私、{signer_name}(芸名 {actor_name})は、", "私の声"
    elif signer_kind is SignerKind.AGENCY:
        who, whose = f"私、{signer_name}は、{actor_name}の所属事務所として、", f"{actor_name}の声"
    else:
        who, whose = f"私、{signer_name}は、{actor_name}の遺産管理人として、", f"{actor_name}の声"
    use_text = "・".join(_named(_USE_NAMES["ja"], uses))
    language_text = "・".join(_named(_LANGUAGE_NAMES["ja"], languages))
    if WORLDWIDE in territories:
        where = "全世界"
    else:
        where = "・".join(_named(_TERRITORY_NAMES["ja"], territories))
    if ends_at is None:
        until = "私が撤回するまで"
    else:
        until = f"{ends_at.year}年{ends_at.month}月{ends_at.day}日まで"
    return (
        f"{who}VoiceHubが{whose}の録音を使い、{use_text}のための合成音声を作ることに同意します。"
        f"言語は{language_text}、地域は{where}、期間は{until}です。"
        + (
            f"また、VoiceHubにアップロードされた{whose}の録音で音声モデルを学習させることに同意します。"
            if voice_build
            else ""
        )
        + "この同意はいつでも撤回できます。"
        f"確認の言葉は「{challenge}」です。"
    )


# --- Recordings -------------------------------------------------------------

# A recording whose overall level is below this (RMS against a full-scale
# square wave) holds no usable speech: a quiet room with the microphone open
# sits around -60 to -70 dBFS, soft speech well above -40 dBFS.
SILENCE_DBFS = -50.0
# Speech must also be present for a while, not one click in a long silence:
# at least `MIN_ACTIVE_SECONDS` of 30 ms frames at or above `ACTIVE_FRAME_DBFS`.
ACTIVE_FRAME_DBFS = -40.0
MIN_ACTIVE_SECONDS = 1.0
_FRAME_SECONDS = 0.03

_MIN_SAMPLE_RATE = 8_000
_MAX_SAMPLE_RATE = 192_000
_MAX_CHANNELS = 8
_PCM = 0x0001
_IEEE_FLOAT = 0x0003
_EXTENSIBLE = 0xFFFE


class RejectionReason(enum.StrEnum):
    FORMAT = "format"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    SILENT = "silent"
    REPLAYED = "replayed"


class RecordingRejected(InvalidInput):
    """The uploaded recording cannot be used to verify the signer; `reason` says why."""

    code = "recording_rejected"
    title = "The recording cannot be used"

    def __init__(self, detail: str, *, reason: RejectionReason) -> None:
        super().__init__(detail, reason=reason)
        self.reason = reason


@dataclass(frozen=True, eq=False)
class Recording:
    """A decoded upload: mono float32 samples in [-1, 1] and the hash of the bytes received."""

    samples: npt.NDArray[np.float32]
    sample_rate: int
    sha256: str

    @property
    def duration_seconds(self) -> float:
        return int(self.samples.shape[0]) / self.sample_rate


def read_recording(
    data: bytes, *, min_seconds: float = 3.0, max_seconds: float = 120.0
) -> Recording:
    """Decode a WAV upload (PCM 16/24/32-bit or 32-bit float) to mono, or say why not.

    The content decides, not the file name: anything that is not a RIFF/WAVE
    file with one of those encodings is refused with reason "format".
    """
    channels, sample_rate, encoding, width, pcm = _wav_parts(data)
    frames = len(pcm) // (channels * width)
    duration = frames / sample_rate
    if duration > max_seconds:
        raise RecordingRejected(
            f"The recording is {duration:.1f} seconds long; it must be at most "
            f"{max_seconds:g} seconds. Record only the statement.",
            reason=RejectionReason.TOO_LONG,
        )
    if duration < min_seconds:
        raise RecordingRejected(
            f"The recording is {duration:.1f} seconds long; it must be at least "
            f"{min_seconds:g} seconds. Read the whole statement aloud.",
            reason=RejectionReason.TOO_SHORT,
        )
    samples = _decode(pcm[: frames * channels * width], encoding, width)
    mono = samples.reshape(frames, channels).mean(axis=1, dtype=np.float32)
    mono = np.clip(mono, -1.0, 1.0)
    _check_not_silent(mono, sample_rate)
    mono.setflags(write=False)
    return Recording(samples=mono, sample_rate=sample_rate, sha256=hashlib.sha256(data).hexdigest())


def _format_error(detail: str) -> RecordingRejected:
    return RecordingRejected(
        f"{detail} Upload a WAV file (PCM 16-bit, 24-bit, 32-bit or 32-bit float).",
        reason=RejectionReason.FORMAT,
    )


def _wav_parts(data: bytes) -> tuple[int, int, int, int, bytes]:
    """Channels, sample rate, encoding, bytes per sample and the sample bytes of a WAV file."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise _format_error("The recording is not a WAV file.")
    fmt: bytes | None = None
    pcm: bytes | None = None
    offset = 12
    while offset + 8 <= len(data):
        chunk_id = data[offset : offset + 4]
        size = int.from_bytes(data[offset + 4 : offset + 8], "little")
        body = data[offset + 8 : offset + 8 + size]
        if chunk_id == b"fmt ":
            fmt = body
        elif chunk_id == b"data":
            # Some recorders stream and never fix the size up: take what arrived.
            pcm = body
        offset += 8 + size + (size & 1)
    if fmt is None or len(fmt) < 16 or pcm is None:
        raise _format_error("The WAV file has no format or no audio data.")
    tag = int.from_bytes(fmt[0:2], "little")
    channels = int.from_bytes(fmt[2:4], "little")
    sample_rate = int.from_bytes(fmt[4:8], "little")
    bits = int.from_bytes(fmt[14:16], "little")
    if tag == _EXTENSIBLE and len(fmt) >= 26:
        tag = int.from_bytes(fmt[24:26], "little")
    supported = (tag == _PCM and bits in (16, 24, 32)) or (tag == _IEEE_FLOAT and bits == 32)
    if not supported:
        raise _format_error(
            f"The WAV file's encoding (format {tag:#06x}, {bits}-bit) is not supported."
        )
    if not 1 <= channels <= _MAX_CHANNELS:
        raise _format_error(f"The WAV file has {channels} channels.")
    if not _MIN_SAMPLE_RATE <= sample_rate <= _MAX_SAMPLE_RATE:
        raise _format_error(f"The WAV file's sample rate of {sample_rate} Hz is not usable.")
    return channels, sample_rate, tag, bits // 8, pcm


def _decode(pcm: bytes, encoding: int, width: int) -> npt.NDArray[np.float32]:
    if encoding == _IEEE_FLOAT:
        floats = np.frombuffer(pcm, dtype="<f4").astype(np.float32)
        # NaN or infinity is no sound a microphone makes; treat it as corrupt.
        if not np.isfinite(floats).all():
            raise _format_error("The WAV file holds samples that are not numbers.")
        return floats
    if width == 2:
        return (np.frombuffer(pcm, dtype="<i2") / 32768.0).astype(np.float32)
    if width == 4:
        return (np.frombuffer(pcm, dtype="<i4") / 2147483648.0).astype(np.float32)
    # 24-bit: widen each little-endian triple into the top of an int32.
    triples = np.frombuffer(pcm, dtype=np.uint8).reshape(-1, 3)
    widened = np.zeros((triples.shape[0], 4), dtype=np.uint8)
    widened[:, 1:] = triples
    return (widened.view("<i4").reshape(-1) / 2147483648.0).astype(np.float32)


def _dbfs(rms: float) -> float:
    return 20.0 * math.log10(rms) if rms > 0 else -math.inf


def _check_not_silent(samples: npt.NDArray[np.float32], sample_rate: int) -> None:
    level = _dbfs(float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))))
    if level < SILENCE_DBFS:
        raise RecordingRejected(
            f"The recording is almost silent ({level:.0f} dBFS; speech needs at least "
            f"{SILENCE_DBFS:.0f} dBFS). Check the microphone and record again.",
            reason=RejectionReason.SILENT,
        )
    frame = round(_FRAME_SECONDS * sample_rate)
    usable = samples[: len(samples) - len(samples) % frame].reshape(-1, frame)
    frame_rms = np.sqrt(np.mean(np.square(usable, dtype=np.float64), axis=1))
    threshold = 10.0 ** (ACTIVE_FRAME_DBFS / 20.0)
    active_seconds = int(np.count_nonzero(frame_rms >= threshold)) * frame / sample_rate
    if active_seconds < MIN_ACTIVE_SECONDS:
        raise RecordingRejected(
            f"The recording holds only {active_seconds:.1f} seconds of sound; read the whole "
            "statement aloud, close to the microphone.",
            reason=RejectionReason.SILENT,
        )
