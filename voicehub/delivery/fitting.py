"""Fitting a take into its line's target window: engine speed first, then time-stretching.

`FitOptions` is what a studio asks for per call or per batch; it is stored on
the batch job as `to_json()`. The ratio is the fitted length over the length
the engine gave: 0.8 plays 20% shorter (faster), 1.25 plays 25% longer.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import pedalboard

from models.engines.base import SynthesisResult
from voicehub.delivery.mastering import scale_position, scale_timing
from voicehub.errors import InvalidInput

DEFAULT_MIN_RATIO = 0.8
DEFAULT_MAX_RATIO = 1.25
# Beyond these, time-stretched speech stops sounding like the actor.
HARD_MIN_RATIO = 0.5
HARD_MAX_RATIO = 2.0


class FitMode(StrEnum):
    WINDOW = "window"  # the take's length matches the window (shortened or lengthened)
    MAX = "max"  # the take is shortened to the window when too long, never lengthened
    OFF = "off"  # the take keeps the engine's length


@dataclass(frozen=True)
class FitOptions:
    mode: FitMode = FitMode.WINDOW
    min_ratio: float = DEFAULT_MIN_RATIO
    max_ratio: float = DEFAULT_MAX_RATIO

    def __post_init__(self) -> None:
        if not HARD_MIN_RATIO <= self.min_ratio <= 1.0:
            raise InvalidInput(
                f"fit.min_ratio must be between {HARD_MIN_RATIO} and 1.0, not {self.min_ratio}.",
                fields=["fit.min_ratio"],
            )
        if not 1.0 <= self.max_ratio <= HARD_MAX_RATIO:
            raise InvalidInput(
                f"fit.max_ratio must be between 1.0 and {HARD_MAX_RATIO}, not {self.max_ratio}.",
                fields=["fit.max_ratio"],
            )

    def to_json(self) -> dict[str, Any]:
        return {"mode": self.mode.value, "min_ratio": self.min_ratio, "max_ratio": self.max_ratio}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> FitOptions:
        if data is None:
            return cls(mode=FitMode.OFF)
        return cls(
            mode=FitMode(data["mode"]),
            min_ratio=float(data["min_ratio"]),
            max_ratio=float(data["max_ratio"]),
        )


# A take whose length is this close to its window is left as the engine made it:
# under half a frame at every frame rate a project may use (30 fps: 16.7 ms), and
# far under the ~45 ms at which sound before picture is noticed.
FIT_TOLERANCE_MS = 10
# How far the engine's own speed may move from the speed asked for, before the
# rest is left to time-stretching: beyond this the delivery stops sounding like
# the direction the studio gave.
ENGINE_SPEED_MIN_FACTOR = 0.8
ENGINE_SPEED_MAX_FACTOR = 1.25


class FitStatus(StrEnum):
    FITS = "fits"  # the take as rendered at the asked speed is within the tolerance
    FITTED = "fitted"  # re-rendered and/or time-stretched into the window
    CANNOT_FIT = "cannot_fit"  # stretched as far as allowed and still outside the window


@dataclass(frozen=True)
class FitReport:
    """How a take was fitted, as stored on `Take.fit` and shown to the studio."""

    mode: FitMode
    target_seconds: float
    rendered_seconds: float
    engine_speed: float
    stretch_ratio: float
    fitted_seconds: float
    status: FitStatus
    detail: str
    min_ratio: float
    max_ratio: float

    @property
    def off_seconds(self) -> float:
        """How much longer (positive) or shorter (negative) than the window the take is."""
        return round(self.fitted_seconds - self.target_seconds, 6)

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode.value,
            "target_seconds": self.target_seconds,
            "rendered_seconds": self.rendered_seconds,
            "engine_speed": self.engine_speed,
            "stretch_ratio": self.stretch_ratio,
            "fitted_seconds": self.fitted_seconds,
            "off_seconds": self.off_seconds,
            "status": self.status.value,
            "detail": self.detail,
            "min_ratio": self.min_ratio,
            "max_ratio": self.max_ratio,
        }


def target_length_ms(
    *, target_ms: int | None, start_ms: int | None, end_ms: int | None
) -> int | None:
    """The length a line's take should have: its explicit target, else its window, else None."""
    if target_ms is not None:
        return target_ms
    if start_ms is not None and end_ms is not None:
        return end_ms - start_ms
    return None


def engine_speed_range(
    speed: float, mode: FitMode, lowest: float, highest: float
) -> tuple[float, float]:
    """The engine speeds fitting may use for a take asked at `speed`, within [lowest, highest].

    In max mode a take is never slowed down.
    """
    low = speed if mode is FitMode.MAX else max(lowest, speed * ENGINE_SPEED_MIN_FACTOR)
    return low, max(low, min(highest, speed * ENGINE_SPEED_MAX_FACTOR))


def fit_take(
    first: SynthesisResult,
    rerender: Callable[[float], SynthesisResult],
    *,
    speed: float,
    target_ms: int,
    options: FitOptions,
    speed_range: tuple[float, float],
) -> tuple[SynthesisResult, FitReport]:
    """Fit `first` (rendered at `speed`) into `target_ms`: engine speed first, then a time-stretch.

    1. `first` within `FIT_TOLERANCE_MS` of the target (in max mode: not longer
       than that) is kept as it is: `fits`.
    2. Otherwise the line is rendered again by `rerender(engine_speed)`, the speed
       moved toward the target by the length it missed by, within
       `engine_speed_range`. Engines are not linear in speed (pauses do not
       scale), so the new length is measured; the render nearer the target is kept.
    3. If that one is still outside the tolerance, it is time-stretched (Rubber
       Band, pitch kept) to exactly the target's length, or, when that needs a
       ratio beyond `options.min_ratio`/`max_ratio` (max mode: beyond 1.0), to the
       bound: `cannot_fit`, with how far off it is.

    Timing is rescaled with the audio, so it stays exact. Runs at the engine's rate.
    """
    if options.mode is FitMode.OFF:
        raise ValueError("fit_take with fitting off")
    rate = first.sample_rate
    target = max(1, scale_position(target_ms, 1000, rate))
    tolerance = scale_position(FIT_TOLERANCE_MS, 1000, rate)

    def within(length: int) -> bool:
        if options.mode is FitMode.MAX:
            return length <= target + tolerance
        return abs(length - target) <= tolerance

    def report(
        used: SynthesisResult, engine_speed: float, fitted: SynthesisResult, status: FitStatus
    ) -> FitReport:
        return _report(first, used, fitted, engine_speed, target_ms, options, status)

    if within(first.num_samples):
        return first, report(first, speed, first, FitStatus.FITS)

    chosen, engine_speed = first, speed
    low, high = speed_range
    wanted = min(high, max(low, speed * first.num_samples / target))
    if wanted != speed:
        again = rerender(wanted)
        if _miss(again.num_samples, target) < _miss(first.num_samples, target):
            chosen, engine_speed = again, wanted
    if within(chosen.num_samples):
        return chosen, report(chosen, engine_speed, chosen, FitStatus.FITTED)

    length = max(1, chosen.num_samples)
    ratio = target / length
    shortest = options.min_ratio
    longest = 1.0 if options.mode is FitMode.MAX else options.max_ratio
    fitted_length = target
    if not shortest <= ratio <= longest:
        fitted_length = max(1, round(length * min(longest, max(shortest, ratio))))
    fitted = time_stretch_exact(chosen, fitted_length)
    status = FitStatus.FITTED if within(fitted_length) else FitStatus.CANNOT_FIT
    return fitted, report(chosen, engine_speed, fitted, status)


def _miss(length: int, target: int) -> float:
    """How far a length is from the target, as a ratio either way (1.1× over equals 1.1× under)."""
    return abs(math.log(max(1, length) / target))


def time_stretch_exact(result: SynthesisResult, length: int) -> SynthesisResult:
    """`result` time-stretched to exactly `length` samples, pitch kept, its timing rescaled.

    Rubber Band through pedalboard, in its high-quality mode. Its `stretch_factor`
    is a speed (2.0 halves the length) and its output is the nearest whole
    number of samples to the input over that factor; the last sample or so is
    trimmed (or padded with silence) so that the audio ends where the timing does.
    """
    old = result.num_samples
    stretched = pedalboard.time_stretch(
        result.audio.reshape(1, -1),
        float(result.sample_rate),
        stretch_factor=old / length,
        high_quality=True,
    )[0]
    audio = np.zeros(length, dtype=np.float32)
    audio[: min(length, stretched.shape[0])] = stretched[:length]
    phonemes, words, morae = scale_timing(result, old, length)
    return SynthesisResult(
        audio=audio,
        sample_rate=result.sample_rate,
        phonemes=phonemes,
        words=words,
        morae=morae,
        seed=result.seed,
    )


def _report(
    first: SynthesisResult,
    used: SynthesisResult,
    fitted: SynthesisResult,
    engine_speed: float,
    target_ms: int,
    options: FitOptions,
    status: FitStatus,
) -> FitReport:
    target_seconds = target_ms / 1000
    fitted_seconds = fitted.duration_seconds
    ratio = fitted.num_samples / max(1, used.num_samples)
    return FitReport(
        mode=options.mode,
        target_seconds=round(target_seconds, 6),
        rendered_seconds=round(first.duration_seconds, 6),
        engine_speed=round(engine_speed, 6),
        stretch_ratio=round(ratio, 6),
        fitted_seconds=round(fitted_seconds, 6),
        status=status,
        detail=_detail(
            status, options, target_seconds, first.duration_seconds, fitted_seconds, ratio
        ),
        min_ratio=options.min_ratio,
        max_ratio=options.max_ratio,
    )


def _detail(
    status: FitStatus,
    options: FitOptions,
    target: float,
    rendered: float,
    fitted: float,
    ratio: float,
) -> str:
    window = f"its {target:.3f} s window"
    if status is FitStatus.FITS:
        if options.mode is FitMode.MAX and rendered < target:
            return f"The take ({rendered:.3f} s) fits {window} as rendered; max mode never lengthens it."
        return f"The take ({rendered:.3f} s) fits {window} as rendered."
    if status is FitStatus.FITTED:
        how = "by the engine's speed alone" if ratio == 1.0 else f"stretched by {ratio:.3f}×"
        return f"The take ({rendered:.3f} s as rendered) was fitted to {window} ({fitted:.3f} s), {how}."
    off = fitted - target
    if off > 0:
        return (
            f"The take cannot fit {window}: even shortened to the {options.min_ratio:g}×"
            f" stretch limit it runs {fitted:.3f} s, {off:.3f} s too long. Shorten the line,"
            " widen the window or allow a lower min_ratio."
        )
    return (
        f"The take cannot fit {window}: even lengthened to the {options.max_ratio:g}×"
        f" stretch limit it runs {fitted:.3f} s, {-off:.3f} s too short. Lengthen the line,"
        " allow a higher max_ratio, or use max mode to keep short takes as they are."
    )
