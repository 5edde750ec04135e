"""Identification rates of the provenance fingerprints on a corpus of delivered takes.

A corpus of takes is rendered with the real engines (Piper's "joe" in English for
most, Kokoro's "jf_alpha" in Japanese for about a sixth), from texts made up
deterministically from word lists so that every text differs and the takes spread
over 1-2 s, 2-4 s and 4-8 s. Each take is mastered to the default delivery spec
(48 kHz, -23 LUFS) and fingerprinted exactly as `voicehub.synthesis.service` does,
then indexed in a `MemoryIndex` that is looked up with the SQL lookup's semantics
(`voicehub.provenance.index.lookup`: only the most-hit candidates get Chromaprint's
bit-level verification).

Every take then comes back as clips, as bytes through `decode_clip` like an upload:
the delivered WAV, MP3 at 64 kbit/s, MP3 excerpts of 1.5 s, 3 s and 5 s (where the
take is that long), resampled to 22.05 and 16 kHz, -12 dB and +6 dB, and mixed as an
MP3 into a scene between a line VoiceHub never made and another corpus take, both
overlapping it, over room noise. A clip is identified when the right take is the top
match (a take with byte-identical audio counts as right; in a scene, the target among
the matches, since the other corpus take is there too); a WRONG attribution is a top
match (in a scene: any match) that is a take the clip does not hold, unless that take's
text shares a phrase (three words, or five Japanese characters) with a line the clip
holds: the same voice saying the same words makes nearly the same sound, so those are
counted apart as "shared phrase".

Clips VoiceHub never made measure false matches: the same Piper voice saying other
texts, espeak-ng in English and Japanese, Kokoro's "jm_kumo" saying the corpus's own
Japanese texts, noise, music-like tones, and near-silence (refused by the decoder,
counted as not attributed).

    .venv/bin/python -m bench.identify_corpus --takes 200
    .venv/bin/python -m bench.identify_corpus --quick          # smoke run, a few minutes less
"""

from __future__ import annotations

import argparse
import hashlib
import re
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from models.engines.base import SynthesisResult, SynthesisSettings
from models.engines.registry import EngineRegistry
from tests.provenance import clips
from voicehub.audio import wav_bytes
from voicehub.delivery.mastering import master
from voicehub.delivery.spec import DeliverySpec
from voicehub.errors import ClipUnusable
from voicehub.provenance.fingerprints import (
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
from voicehub.provenance.index import VERIFY_CANDIDATES

BUCKETS = ("1-2 s", "2-4 s", ">4 s")
EITHER = "either"
"""What /v1/identify answers: both methods' matches merged, the most confident first."""
LABELS = (Method.CHROMAPRINT.value, Method.LANDMARKS.value, EITHER)
EXCERPT_SECONDS = (1.5, 3.0, 5.0)
JAPANESE_SHARE = 0.18

# Word lists for the English lines; every text is checked distinct.
_NAMES = ("Ken", "Maya", "Tom", "Lena", "Oscar", "Ruth", "Felix", "Nina", "Hugo", "Clara")
_VERBS = ("grab", "open", "close", "hide", "find", "watch", "check", "bring", "leave", "hold")
_NOUNS = (
    "the lantern",
    "the map",
    "the door",
    "the rope",
    "the letter",
    "the key",
    "the radio",
    "the boat",
    "the window",
    "the ladder",
    "the camera",
    "the basket",
)
_PLACES = (
    "the old bridge",
    "the station",
    "the lighthouse",
    "the river",
    "the market",
    "the church",
    "the harbour",
    "the school",
)
_TIMES = ("last night", "this morning", "on Sunday", "before dawn", "after lunch", "at midnight")
_EVENTS = (
    "the storm arrives",
    "the guards come back",
    "the sun goes down",
    "the train leaves",
    "the bell rings",
)
# And for the Japanese ones.
_NAMES_JA = ("ケン", "ユキ", "ハル", "ミカ", "ソラ", "リン", "タロウ", "アヤ", "ジロウ", "マリ")
_IMPERATIVES_JA = ("待って", "走って", "止まって", "急いで", "見て", "聞いて", "逃げて", "隠れて")
_PLACES_JA = ("駅の前", "橋の下", "森の奥", "学校の裏", "港の近く", "山の上", "川のそば", "店の中")
_TIMES_JA = ("明日の朝", "今夜", "昨日の夜", "来週", "三時ごろ", "日曜日", "夕方", "夜明け前")
_OBJECTS_JA = ("手紙", "鍵", "地図", "カメラ", "傘", "古い本", "時計", "ランプ")


def bucket(seconds: float) -> str:
    """The clip-length bucket a clip (or take) of `seconds` falls in."""
    if seconds < 2.0:
        return BUCKETS[0]
    return BUCKETS[1] if seconds < 4.0 else BUCKETS[2]


def _pick(rng: np.random.Generator, words: Sequence[str]) -> str:
    return words[int(rng.integers(0, len(words)))]


def english_text(rng: np.random.Generator, length: int) -> str:
    """A line of about 1-2 s (length 0), 2-4 s (1) or 4-8 s (2) for Piper."""
    name, verb, noun = _pick(rng, _NAMES), _pick(rng, _VERBS), _pick(rng, _NOUNS)
    variant = int(rng.integers(0, 3))
    if length == 0:
        return (
            f"{name}, {verb} {noun}!",
            f"{name}, {verb} {noun} now!",
            f"Quick, {verb} {noun}, {name}!",
        )[variant]
    place, when = _pick(rng, _PLACES), _pick(rng, _TIMES)
    if length == 1:
        return (
            f"{name} left {noun} near {place}.",
            f"{name} left {noun} near {place} {when}.",
            f"{name} left {noun} near {place} {when}, I think.",
        )[variant]
    other, event = _pick(rng, _NOUNS), _pick(rng, _EVENTS)
    said = f"{name} said {other} was hidden near {place} {when}"
    return (
        f"{said}, so {verb} {noun}.",
        f"{said}, so we should {verb} {noun} and run before {event}.",
        f"{said}, so we should {verb} {noun} and run before {event}. Do not wait for me.",
    )[variant]


def japanese_text(rng: np.random.Generator, length: int) -> str:
    """A line of about 1-2 s (length 0), 2-4 s (1) or 4-8 s (2) for Kokoro."""
    name, imperative = _pick(rng, _NAMES_JA), _pick(rng, _IMPERATIVES_JA)
    if length == 0:
        return f"{name}、{imperative}！"
    place, when = _pick(rng, _PLACES_JA), _pick(rng, _TIMES_JA)
    if length == 1:
        return f"{when}、{place}で{name}に会いましょう。"
    thing = _pick(rng, _OBJECTS_JA)
    return f"{when}、{place}で{thing}を見つけたんだ。{name}にはまだ言わないで、{imperative}ね。"


def distinct_texts(
    make: Callable[[np.random.Generator, int], str], count: int, rng: np.random.Generator
) -> list[str]:
    """`count` distinct texts, lengths in turn short, middling, long."""
    texts: list[str] = []
    seen: set[str] = set()
    while len(texts) < count:
        text = make(rng, len(texts) % 3)
        if text not in seen:
            seen.add(text)
            texts.append(text)
    return texts


@dataclass(frozen=True)
class Voice:
    engine: str
    speaker: str
    language: str


PIPER = Voice("piper", "joe", "en")
KOKORO = Voice("kokoro", "jf_alpha", "ja")


@dataclass(frozen=True)
class CorpusTake:
    """A take as delivered: its WAV and its audio at the delivered rate, and as the index saw it."""

    take_id: str
    voice: Voice
    text: str
    audio: npt.NDArray[np.float32]
    sample_rate: int
    wav: bytes
    clip: Clip
    digest: str

    @property
    def seconds(self) -> float:
        return float(self.audio.shape[0]) / self.sample_rate


@dataclass
class Timings:
    """Fingerprinting (seconds of work, seconds of audio) and lookups (seconds each), per method."""

    fingerprint: dict[Method, list[tuple[float, float]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    lookup: dict[Method, list[float]] = field(default_factory=lambda: defaultdict(list))

    def fingerprint_of(self, clip: Clip, method: Method) -> Fingerprint | None:
        start = time.perf_counter()
        fp = fingerprint(clip, method)
        if fp is not None:
            self.fingerprint[method].append((time.perf_counter() - start, clip.seconds))
        return fp


def synthesize(engines: EngineRegistry, voice: Voice, text: str, seed: int) -> SynthesisResult:
    return engines.get(voice.engine).synthesize(
        text, speaker=voice.speaker, settings=SynthesisSettings(seed=seed, language=voice.language)
    )


def render_corpus(
    engines: EngineRegistry, takes: int, seed: int, index: MemoryIndex, timings: Timings
) -> list[CorpusTake]:
    """Render, master and index `takes` takes, as the take path does."""
    rng = np.random.default_rng(seed)
    japanese = round(takes * JAPANESE_SHARE)
    texts = [(PIPER, text) for text in distinct_texts(english_text, takes - japanese, rng)]
    texts += [(KOKORO, text) for text in distinct_texts(japanese_text, japanese, rng)]
    corpus: list[CorpusTake] = []
    for number, (voice, text) in enumerate(texts):
        mastered = master(synthesize(engines, voice, text, seed + number), DeliverySpec())
        audio, rate = mastered.result.audio, mastered.result.sample_rate
        take_id = f"{voice.language}-{number:04d}"
        # take_fingerprints, with each method timed.
        clip = clip_from_audio(audio, rate)
        for method in Method:
            fp = timings.fingerprint_of(clip, method)
            if fp is not None:
                index.add(take_id, _unique_rows(fp))
        digest = hashlib.sha256(np.ascontiguousarray(audio).tobytes()).hexdigest()
        corpus.append(CorpusTake(take_id, voice, text, audio, rate, mastered.wav, clip, digest))
    return corpus


def _unique_rows(fp: Fingerprint) -> Fingerprint:
    """The fingerprint with its (hash, offset) rows deduplicated, as `store_fingerprints` stores them."""
    pairs = np.unique(np.stack([fp.hashes, fp.offsets.astype(np.int64)], axis=1), axis=0)
    return Fingerprint(
        fp.method, pairs[:, 0], pairs[:, 1].astype(np.int32), fp.frame_seconds, fp.codes
    )


def lookup(index: MemoryIndex, fp: Fingerprint, *, limit: int = 5) -> list[Match]:
    """`voicehub.provenance.index.lookup` on the in-memory index: the same candidates verified."""
    hits = index.lookup(fp)
    if not hits:
        return []
    codes: dict[str, bytes] | None = None
    if fp.method is Method.CHROMAPRINT:
        most = Counter(take for take, _, _ in hits).most_common(VERIFY_CANDIDATES)
        codes = {take: index.codes[take] for take, _ in most if take in index.codes}
    return rank(fp, hits, take_codes=codes, limit=limit)


@dataclass(frozen=True)
class Answer:
    """What each method named for a clip, best first (None: too short for it), or why it was refused."""

    refused: str | None
    named: dict[str, list[str] | None]


def identify(index: MemoryIndex, data: bytes, timings: Timings) -> Answer:
    """A clip's bytes through decoding, both methods and the merged answer, as /v1/identify does."""
    try:
        clip = decode_clip(data)
    except ClipUnusable as refused:
        return Answer(refused.reason, {})
    named: dict[str, list[str] | None] = {}
    best: dict[str, float] = {}
    for method in Method:
        fp = timings.fingerprint_of(clip, method)
        if fp is None:
            named[method.value] = None
            continue
        start = time.perf_counter()
        matches = lookup(index, fp)
        timings.lookup[method].append(time.perf_counter() - start)
        named[method.value] = [match.take_id for match in matches]
        for match in matches:
            best[match.take_id] = max(best.get(match.take_id, 0.0), match.confidence)
    named[EITHER] = sorted(best, key=lambda take: (-best[take], take))
    return Answer(None, named)


def _phrases(line: str) -> set[tuple[str, ...]]:
    """Runs of three words (English) or five characters (Japanese) in a line."""
    if line.isascii():
        words = re.findall(r"[a-z']+", line.lower())
        return {tuple(words[at : at + 3]) for at in range(len(words) - 2)}
    chars = [char for char in line if char.isalnum()]
    return {tuple(chars[at : at + 5]) for at in range(len(chars) - 4)}


def shares_phrase(line: str, spoken: Sequence[str]) -> bool:
    """Whether `line` has a phrase in common with any of the lines a clip holds."""
    mine = _phrases(line)
    return any(mine & _phrases(other) for other in spoken)


@dataclass
class Tally:
    """Clips per (label, transformation, bucket): how many identified, and what else was named.

    A take named that the clip does not hold is "wrong", unless its text shares a phrase
    with a line the clip holds: the template texts repeat phrases ("left the map near the
    station"), and the same voice saying the same words makes nearly the same audio, so
    such a match points at a real copy of the clip's sound. Those are counted apart.
    """

    texts: dict[str, str]
    clips: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    identified: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    wrong: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    shared: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    unfingerprinted: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    refused: Counter[tuple[str, str]] = field(default_factory=Counter)
    wrong_examples: list[str] = field(default_factory=list)

    def count(
        self,
        transformation: str,
        seconds: float,
        answer: Answer,
        right: set[str],
        spoken: Sequence[str],
        *,
        held: set[str] | None = None,
    ) -> None:
        """`right`: take ids that count as the clip; `spoken`: its lines; `held`: a scene's takes."""
        where = bucket(seconds)
        if answer.refused is not None:
            self.refused[transformation, where] += 1
        for label in LABELS:
            key = (label, transformation, where)
            self.clips[key] += 1
            named = answer.named.get(label)
            if named is None:
                self.unfingerprinted[key] += answer.refused is None
                continue
            if held is None:
                self.identified[key] += bool(named) and named[0] in right
                others = set(named[:1]) - right
            else:
                self.identified[key] += bool(right & set(named))
                others = set(named) - held
            if not others:
                continue
            if all(shares_phrase(self.texts[take], spoken) for take in others):
                self.shared[key] += 1
            else:
                self.wrong[key] += 1
                self.wrong_examples.append(
                    f"{label} {transformation}: {list(spoken)} -> "
                    f"{[self.texts[take] for take in others]}"
                )


def take_clips(
    take: CorpusTake,
    rng: np.random.Generator,
) -> list[tuple[str, float, bytes]]:
    """(transformation, clip seconds, bytes) for every way the take comes back, but the scene."""
    wav = take.wav
    out = [
        ("original WAV", take.seconds, wav),
        ("MP3 64k", take.seconds, clips.mp3_64k(wav)),
    ]
    for seconds in EXCERPT_SECONDS:
        if take.seconds >= seconds:
            start = round(rng.uniform(0.0, take.seconds - seconds) * take.sample_rate)
            part = take.audio[start : start + round(seconds * take.sample_rate)]
            out.append(
                ("excerpt, MP3 64k", seconds, clips.mp3_64k(wav_bytes(part, take.sample_rate)))
            )
    out += [
        ("resampled 22.05 kHz", take.seconds, clips.resample(wav, 22050)),
        ("resampled 16 kHz", take.seconds, clips.resample(wav, 16000)),
        ("gain -12 dB", take.seconds, clips.gain(wav, -12.0)),
        ("gain +6 dB", take.seconds, clips.gain(wav, 6.0)),
    ]
    return out


SCENE = "scene, MP3 64k"
TRANSFORMATIONS = (
    "original WAV",
    "MP3 64k",
    "excerpt, MP3 64k",
    "resampled 22.05 kHz",
    "resampled 16 kHz",
    "gain -12 dB",
    "gain +6 dB",
    SCENE,
)


def run_corpus(
    corpus: list[CorpusTake],
    strangers: list[tuple[str, Clip]],
    index: MemoryIndex,
    timings: Timings,
    seed: int,
) -> Tally:
    """Every take's clips identified and tallied; `strangers` is speech VoiceHub never made."""
    rng = np.random.default_rng(seed + 1)
    same_audio: dict[str, set[str]] = defaultdict(set)
    for take in corpus:
        same_audio[take.digest].add(take.take_id)
    tally = Tally({take.take_id: take.text for take in corpus})
    for number, take in enumerate(corpus):
        right = same_audio[take.digest]
        for transformation, seconds, data in take_clips(take, rng):
            answer = identify(index, data, timings)
            tally.count(transformation, seconds, answer, right, [take.text])
        # A scene: a stranger's line ends inside the take, another take starts inside its end.
        neighbour = corpus[(number + 1 + int(rng.integers(0, len(corpus) - 1))) % len(corpus)]
        line, stranger = strangers[int(rng.integers(0, len(strangers)))]
        scene = clips.mix_into_scene(
            take.clip,
            [stranger, neighbour.clip],
            at_s=float(rng.uniform(1.0, 3.0)),
            overlap_s=float(rng.uniform(0.2, 0.6)),
            seed=number,
        )
        answer = identify(index, clips.mp3_64k(clips.to_wav(scene)), timings)
        spoken = [take.text, line, neighbour.text]
        held = right | same_audio[neighbour.digest]
        tally.count(SCENE, take.seconds, answer, right, spoken, held=held)
    return tally


@dataclass(frozen=True)
class Stranger:
    """A clip VoiceHub never made, of one kind."""

    kind: str
    data: bytes


def render_strangers(
    engines: EngineRegistry, corpus: list[CorpusTake], seed: int, scale: float
) -> tuple[list[Stranger], list[tuple[str, Clip]]]:
    """The false-match set (as upload bytes) and its speech as clips (for scenes)."""
    rng = np.random.default_rng(seed + 2)

    def many(count: int) -> int:
        return max(2, round(count * scale))

    corpus_texts = {take.text for take in corpus}
    english = [
        text
        for text in distinct_texts(english_text, many(60) + many(40) + len(corpus_texts), rng)
        if text not in corpus_texts
    ]
    japanese_new = [
        text
        for text in distinct_texts(japanese_text, many(25) + len(corpus_texts), rng)
        if text not in corpus_texts
    ]
    japanese_corpus = [take.text for take in corpus if take.voice == KOKORO]
    speech: list[tuple[str, Voice, str]] = []
    speech += [("piper joe, other texts", PIPER, t) for t in english[: many(60)]]
    speech += [
        ("espeak-ng en-us", Voice("espeak", "en-us", "en"), t)
        for t in english[many(60) : many(60) + many(40)]
    ]
    speech += [("espeak-ng ja", Voice("espeak", "ja", "ja"), t) for t in japanese_new[: many(25)]]
    speech += [
        ("kokoro jm_kumo, corpus texts", Voice("kokoro", "jm_kumo", "ja"), t)
        for t in japanese_corpus[: many(20)]
    ]
    strangers: list[Stranger] = []
    spoken: list[tuple[str, Clip]] = []
    for number, (kind, voice, text) in enumerate(speech):
        result = synthesize(engines, voice, text, seed + 10_000 + number)
        spoken.append((text, clip_from_audio(result.audio, result.sample_rate)))
        wav = wav_bytes(result.audio, result.sample_rate)
        strangers.append(Stranger(kind, clips.mp3_64k(wav) if number % 2 else wav))
    made: list[tuple[str, Clip]] = []
    for number in range(many(15)):
        seconds = float(rng.uniform(1.5, 8.0))
        made.append(("white noise", clips.noise(seconds, seed=number)))
        made.append(("pink noise", clips.noise(seconds, pink=True, seed=number)))
    made += [("tones", clips.tones(float(rng.uniform(1.5, 8.0)), seed=n)) for n in range(many(20))]
    for number in range(many(10)):
        quiet = clips.noise(4.0, level_db=-70.0, pink=bool(number % 2), seed=number)
        made.append(("near-silence", quiet if number % 3 else clips.silence(4.0)))
    strangers += [Stranger(kind, clips.to_wav(clip)) for kind, clip in made]
    return strangers, [(text, clip) for text, clip in spoken if clip.seconds >= 1.0]


def false_matches(
    strangers: list[Stranger], index: MemoryIndex, timings: Timings
) -> dict[str, Counter[str]]:
    """Per kind: clips, refused, and clips any match was named for, per label."""
    out: dict[str, Counter[str]] = defaultdict(Counter)
    for stranger in strangers:
        answer = identify(index, stranger.data, timings)
        counts = out[stranger.kind]
        counts["clips"] += 1
        counts["refused"] += answer.refused is not None
        for label in LABELS:
            counts[label] += bool(answer.named.get(label))
    return out


def _rate(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f} % ({part}/{whole})" if whole else "-"


def print_identification(tally: Tally) -> None:
    for label in LABELS:
        print(f"\n#### Identified by {label} (correct take on top; wrong attributions apart)\n")
        print("| transformation | " + " | ".join(BUCKETS) + " | shared phrase | wrong |")
        print("|---" * (len(BUCKETS) + 3) + "|")
        for transformation in TRANSFORMATIONS:
            cells = []
            for where in BUCKETS:
                key = (label, transformation, where)
                cell = _rate(tally.identified[key], tally.clips[key])
                if tally.unfingerprinted[key]:
                    cell += f", {tally.unfingerprinted[key]} too short"
                cells.append(cell)
            wrong = sum(tally.wrong[(label, transformation, where)] for where in BUCKETS)
            shared = sum(tally.shared[(label, transformation, where)] for where in BUCKETS)
            print(f"| {transformation} | " + " | ".join(cells) + f" | {shared} | {wrong} |")
    refused = sum(tally.refused.values())
    if refused:
        where = ", ".join(f"{t} {b}: {n}" for (t, b), n in sorted(tally.refused.items()))
        print(f"\nRefused by the decoder (counted as not identified): {refused} ({where})")
    for example in tally.wrong_examples[:10]:
        print(f"  wrong: {example}")


def print_false_matches(found: dict[str, Counter[str]]) -> None:
    print("\n#### False matches on clips VoiceHub never made (clips with any match)\n")
    print("| kind | clips | refused | " + " | ".join(LABELS) + " |")
    print("|---" * (len(LABELS) + 3) + "|")
    total: Counter[str] = Counter()
    for kind, counts in found.items():
        total.update(counts)
        cells = " | ".join(_rate(counts[label], counts["clips"]) for label in LABELS)
        print(f"| {kind} | {counts['clips']} | {counts['refused']} | {cells} |")
    cells = " | ".join(_rate(total[label], total["clips"]) for label in LABELS)
    print(f"| **all** | {total['clips']} | {total['refused']} | {cells} |")


def print_timings(timings: Timings) -> None:
    print("\n#### Cost per method\n")
    print("| method | fingerprints | ms per s of audio | lookups | lookup median ms | p95 ms |")
    print("|---|---|---|---|---|---|")
    for method in Method:
        work = timings.fingerprint[method]
        per_second = 1000.0 * sum(t for t, _ in work) / max(sum(s for _, s in work), 1e-9)
        took = sorted(timings.lookup[method])
        p95 = took[min(len(took) - 1, int(0.95 * len(took)))] if took else 0.0
        median = statistics.median(took) if took else 0.0
        print(
            f"| {method.value} | {len(work)} | {per_second:.2f} | {len(took)} |"
            f" {1000 * median:.2f} | {1000 * p95:.2f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--takes", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="24 takes, a tenth of the strangers")
    args = parser.parse_args()
    takes = 24 if args.quick else args.takes
    began = time.perf_counter()
    engines = EngineRegistry.load(["piper", "kokoro", "espeak"], cache_dir=None)
    index = MemoryIndex()
    timings = Timings()
    corpus = render_corpus(engines, takes, args.seed, index, timings)
    rendered = time.perf_counter()
    strangers, spoken = render_strangers(engines, corpus, args.seed, 0.1 if args.quick else 1.0)
    lengths = Counter(bucket(take.seconds) for take in corpus)
    print(
        f"Corpus: {len(corpus)} takes ({sum(t.voice == KOKORO for t in corpus)} Japanese),"
        f" {sum(t.seconds for t in corpus):.0f} s delivered;"
        f" {', '.join(f'{b}: {lengths[b]}' for b in BUCKETS)};"
        f" rendered and indexed in {rendered - began:.0f} s"
    )
    tally = run_corpus(corpus, spoken, index, timings, args.seed)
    found = false_matches(strangers, index, timings)
    print_identification(tally)
    print_false_matches(found)
    print_timings(timings)
    print(f"\nTotal run time {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
