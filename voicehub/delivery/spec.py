"""A studio's delivery spec: what every take it receives must be."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from voicehub.audio import BIT_DEPTHS
from voicehub.errors import InvalidInput

SAMPLE_RATES = (22050, 24000, 44100, 48000, 96000)
MIN_CEILING_DBTP, MAX_CEILING_DBTP = -20.0, 0.0
CHANNELS = "mono"


class LoudnessStandard(enum.StrEnum):
    """The integrated-loudness target a take is normalized to."""

    EBU_R128 = "ebu_r128"
    ATSC_A85 = "atsc_a85"
    NONE = "none"

    @property
    def target_lufs(self) -> float | None:
        """EBU R 128: −23 LUFS; ATSC A/85: −24 LKFS (the same unit); none: left as rendered."""
        return _TARGETS.get(self)

    @property
    def usual_ceiling_dbtp(self) -> float:
        """The true-peak ceiling the standard's users commonly deliver to."""
        return -2.0 if self is LoudnessStandard.ATSC_A85 else -1.0


_TARGETS = {LoudnessStandard.EBU_R128: -23.0, LoudnessStandard.ATSC_A85: -24.0}


@dataclass(frozen=True)
class DeliverySpec:
    """Sample rate, PCM bit depth, loudness target and true-peak ceiling; always mono.

    The default suits dubbing: 48 kHz, 24-bit, EBU R 128 at −23 LUFS, −1 dBTP.
    """

    sample_rate: int = 48000
    bit_depth: int = 24
    loudness: LoudnessStandard = LoudnessStandard.EBU_R128
    true_peak_ceiling_dbtp: float = -1.0

    def __post_init__(self) -> None:
        if self.sample_rate not in SAMPLE_RATES:
            raise InvalidInput(
                f"sample_rate must be one of {', '.join(map(str, SAMPLE_RATES))} Hz,"
                f" not {self.sample_rate}.",
                fields=["sample_rate"],
            )
        if self.bit_depth not in BIT_DEPTHS:
            raise InvalidInput(
                f"bit_depth must be 16 or 24, not {self.bit_depth}.", fields=["bit_depth"]
            )
        if not (
            math.isfinite(self.true_peak_ceiling_dbtp)
            and MIN_CEILING_DBTP <= self.true_peak_ceiling_dbtp <= MAX_CEILING_DBTP
        ):
            raise InvalidInput(
                f"true_peak_ceiling_dbtp must be from {MIN_CEILING_DBTP:g} to"
                f" {MAX_CEILING_DBTP:g} dBTP, not {self.true_peak_ceiling_dbtp}.",
                fields=["true_peak_ceiling_dbtp"],
            )

    @classmethod
    def parse(
        cls,
        *,
        sample_rate: int = 48000,
        bit_depth: int = 24,
        loudness: str = LoudnessStandard.EBU_R128.value,
        true_peak_ceiling_dbtp: float | None = None,
        channels: str = CHANNELS,
    ) -> DeliverySpec:
        """A spec from a studio's words; no ceiling given means the standard's usual one."""
        try:
            standard = LoudnessStandard(loudness)
        except ValueError:
            raise InvalidInput(
                f"loudness must be one of {', '.join(s.value for s in LoudnessStandard)},"
                f" not {loudness!r}.",
                fields=["loudness"],
            ) from None
        if channels != CHANNELS:
            raise InvalidInput(
                f"Takes are delivered mono; channels must be 'mono', not {channels!r}.",
                fields=["channels"],
            )
        if true_peak_ceiling_dbtp is None:
            true_peak_ceiling_dbtp = standard.usual_ceiling_dbtp
        return cls(sample_rate, bit_depth, standard, true_peak_ceiling_dbtp)
