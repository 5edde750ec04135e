"""How well our `rhubarb` mouth shapes match what the English voice actually says, frame by frame.

For each frame of a take, the shape we export is compared with the shape of the
phoneme sounding at the frame's centre:

- **as rendered**: the phoneme comes from the engine's own timing (Piper's
  per-phoneme sample counts), the take as the engine made it. This is exact by
  construction, so any miss comes from our own choices: snapping to frames, the
  minimum hold, and bridging short pauses with the shape before them.
- **after fitting and resampling**: the take is fitted into a window (engine
  speed, then Rubber Band time-stretching) and mastered to 48 kHz, and we
  export shapes from the *rescaled* timing. What is actually sounding is no
  longer known from the engine, so it is measured: the delivered audio is
  aligned to the engine's render it came from by dynamic time warping over
  MFCCs (10 ms hop), and each delivered frame centre is mapped back through
  the warping path to the phoneme sounding there in the render. The same
  alignment of a render with itself only resampled gives the aligner's own
  error floor, reported alongside.

    .venv/bin/python -m bench.lipsync_accuracy            # 10 lines × 3 windows, 24 fps
    .venv/bin/python -m bench.lipsync_accuracy --fps 12
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import replace
from fractions import Fraction
from functools import partial
from typing import Any

import librosa
import numpy as np

from bench.common import LINES
from models.engines import SynthesisResult, SynthesisSettings
from models.engines.registry import EngineRegistry
from voicehub.delivery.fitting import FitMode, FitOptions, engine_speed_range, fit_take
from voicehub.delivery.mastering import master
from voicehub.delivery.spec import DeliverySpec
from voicehub.lipsync import RHUBARB, SHORT_PAUSE, MouthCue, mouth_cues, timed_phonemes
from voicehub.lipsync.frames import TimedPhoneme
from voicehub.synthesis.service import MAX_SPEED, MIN_SPEED

HOP_SECONDS = 0.010
# Windows as a multiple of the line's natural length: shorter, a little shorter, longer.
WINDOW_FACTORS = (0.8, 0.9, 1.15)
SEED = 7
# Timing alone (no bridging), and the default: pauses under 120 ms hold the shape before.
BRIDGES = (Fraction(0), SHORT_PAUSE)


def _shape_at(phonemes: Sequence[TimedPhoneme], t: float) -> str:
    """The rhubarb shape of the phoneme sounding at `t` seconds (rest outside speech)."""
    previous: str | None = None
    for p in phonemes:
        shape = RHUBARB.shape_for(p.phoneme, previous, is_pause=p.is_pause)
        previous = shape
        if float(p.start) <= t < float(p.end):
            return shape
    return RHUBARB.rest


def _cue_shape(cues: Sequence[MouthCue], frame: int) -> str:
    for cue in cues:
        if cue.start_frame <= frame < cue.end_frame:
            return cue.shape
    return RHUBARB.rest


def _mfcc(audio: np.ndarray, rate: int) -> np.ndarray:
    hop = round(rate * HOP_SECONDS)
    return librosa.feature.mfcc(
        y=audio.astype(np.float32), sr=rate, n_mfcc=20, hop_length=hop, n_fft=4 * hop
    )


def _warp(reference: SynthesisResult, delivered: SynthesisResult) -> tuple[np.ndarray, np.ndarray]:
    """DTW path as (delivered seconds, reference seconds), monotonic, from MFCC frames."""
    ref = _mfcc(reference.audio, reference.sample_rate)
    out = _mfcc(delivered.audio, delivered.sample_rate)
    _, path = librosa.sequence.dtw(X=out, Y=ref, metric="euclidean")
    path = path[::-1]
    return path[:, 0] * HOP_SECONDS, path[:, 1] * HOP_SECONDS


def _stretch_deviation(truth: SynthesisResult, delivered: SynthesisResult) -> float:
    """Mean distance (s) between the measured warping and a perfectly even stretch."""
    out_t, ref_t = _warp(truth, delivered)
    scale = truth.duration_seconds / delivered.duration_seconds
    return float(np.mean(np.abs(ref_t - out_t * scale)))


def _agreement(
    delivered: SynthesisResult,
    truth: SynthesisResult,
    fps: Fraction,
    *,
    aligned: bool,
    bridge: Fraction,
) -> tuple[int, int]:
    """Frames whose exported shape equals the shape sounding at the frame centre."""
    exported = mouth_cues(
        timed_phonemes(delivered.phonemes, delivered.sample_rate),
        RHUBARB,
        fps,
        bridge_pauses_under=bridge,
    )
    truth_phonemes = timed_phonemes(truth.phonemes, truth.sample_rate)
    frames = exported[-1].end_frame if exported else 0
    if aligned:
        out_t, ref_t = _warp(truth, delivered)
    hits = 0
    for frame in range(frames):
        centre = float((frame + Fraction(1, 2)) / fps)
        t = float(np.interp(centre, out_t, ref_t)) if aligned else centre
        hits += _shape_at(truth_phonemes, t) == _cue_shape(exported, frame)
    return hits, frames


def run(fps: Fraction, lines: int) -> None:
    engines = EngineRegistry.load(["piper"], cache_dir=None)
    engine = engines.get("piper")
    speaker = engine.info.speakers[0]
    spec = DeliverySpec()
    settings = SynthesisSettings(seed=SEED, language="en")

    def render(text: str, speed: float) -> SynthesisResult:
        return engine.synthesize(text, speaker=speaker, settings=replace(settings, speed=speed))

    totals: dict[Any, list[int]] = {
        (key, b): [0, 0] for key in ("rendered", "floor", "fitted") for b in BRIDGES
    }
    by_window: dict[Any, list[int]] = {(f, b): [0, 0] for f in WINDOW_FACTORS for b in BRIDGES}

    def add(
        key: tuple[object, Fraction], table: dict[Any, list[int]], pair: tuple[int, int]
    ) -> None:
        table[key][0] += pair[0]
        table[key][1] += pair[1]

    stretch_deviation: list[float] = []
    for text in LINES[:lines]:
        natural = render(text, 1.0)
        natural_48k = master(natural, spec).result
        for b in BRIDGES:
            add(("rendered", b), totals, _agreement(natural, natural, fps, aligned=False, bridge=b))
            add(("floor", b), totals, _agreement(natural_48k, natural, fps, aligned=True, bridge=b))
        for factor in WINDOW_FACTORS:
            target_ms = round(natural.num_samples * factor * 1000 / natural.sample_rate)
            fitted, report = fit_take(
                natural,
                partial(render, text),
                speed=1.0,
                target_ms=target_ms,
                options=FitOptions(),
                speed_range=engine_speed_range(1.0, FitMode.WINDOW, MIN_SPEED, MAX_SPEED),
            )
            # The render the delivered audio was made from (fit_take re-rendered at this speed).
            source = natural if report.engine_speed == 1.0 else render(text, report.engine_speed)
            delivered = master(fitted, spec).result
            stretch_deviation.append(_stretch_deviation(source, delivered))
            for b in BRIDGES:
                pair = _agreement(delivered, source, fps, aligned=True, bridge=b)
                add(("fitted", b), totals, pair)
                add((factor, b), by_window, pair)

    def pct(pair: Sequence[int]) -> str:
        return f"{100 * pair[0] / max(1, pair[1]):5.1f}%"

    print(f"rhubarb shapes at {float(fps):g} fps, {lines} English lines (Piper), seed {SEED}")
    print("frames whose exported shape is the shape sounding at the frame centre:")
    print(f"{'':48}{'no bridging':>12}{'bridging <120 ms':>18}")
    rows = [
        ("as rendered (engine timing, exact)", "rendered"),
        ("aligner floor (render vs itself at 48 kHz)", "floor"),
        ("after fitting and resampling to 48 kHz", "fitted"),
    ]
    for label, key in rows:
        cells = "".join(
            f"{pct(totals[(key, b)]):>12}" if b == 0 else f"{pct(totals[(key, b)]):>18}"
            for b in BRIDGES
        )
        print(f"  {label:46}{cells}")
    for factor in WINDOW_FACTORS:
        cells = "".join(
            f"{pct(by_window[(factor, b)]):>12}" if b == 0 else f"{pct(by_window[(factor, b)]):>18}"
            for b in BRIDGES
        )
        print(f"    window {factor:.2f} × natural length{'':16}{cells}")
    print(
        "  mean distance between the measured warping and an even stretch:"
        f" {1000 * float(np.mean(stretch_deviation)):.1f} ms"
        f" (one frame: {1000 / float(fps):.1f} ms)"
    )
    print(
        f"  frames: {totals[('rendered', BRIDGES[0])][1]} as rendered, {totals[('fitted', BRIDGES[0])][1]} fitted"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fps", default="24", help="frames per second (24, 12, 8, …)")
    parser.add_argument("--lines", type=int, default=len(LINES))
    args = parser.parse_args()
    run(Fraction(args.fps), args.lines)


if __name__ == "__main__":
    main()
