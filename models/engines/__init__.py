"""Synthesis engines. Each returns audio together with per-phoneme timing from the model."""

from models.engines.base import (
    Engine,
    EngineInfo,
    PhonemeTiming,
    SynthesisResult,
    SynthesisSettings,
    WordTiming,
)

__all__ = [
    "Engine",
    "EngineInfo",
    "PhonemeTiming",
    "SynthesisResult",
    "SynthesisSettings",
    "WordTiming",
]
