"""Fitting a take into its line's target window: engine speed first, then time-stretching.

`FitOptions` is what a studio asks for per call or per batch; it is stored on
the batch job as `to_json()`. The ratio is the fitted length over the length
the engine gave: 0.8 plays 20% shorter (faster), 1.25 plays 25% longer.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

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
