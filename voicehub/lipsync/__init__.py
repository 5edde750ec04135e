"""Lip-sync timing: engine phoneme timing → mouth shapes → frames → per-cut exports.

Pure computation on exact fractions of a second; no database, no web. The PNG
review sheet lives in `voicehub.lipsync.review`, imported on its own so that
the rest does not load matplotlib.
"""

from voicehub.lipsync.exports import (
    CutInfo,
    CutTiming,
    PlacedTake,
    build_cut_timing,
    cut_timing_json,
    rhubarb_json,
    rhubarb_tsv,
)
from voicehub.lipsync.frames import (
    SHORT_PAUSE,
    MouthCue,
    ShapeSpan,
    TimedPhoneme,
    frame_at,
    frame_seconds,
    mouth_cues,
    shape_spans,
    snap_to_frames,
    timed_phonemes,
)
from voicehub.lipsync.moho import moho_dat
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
    is_pause_symbol,
    shape_set_from_classes,
)
from voicehub.lipsync.xdts import cut_xdts

__all__ = [
    "ANIME3",
    "PHONEME_CLASSES",
    "PRESTON_BLAIR",
    "RHUBARB",
    "SHAPE_SETS",
    "SHORT_PAUSE",
    "VOWEL5",
    "CutInfo",
    "CutTiming",
    "MouthCue",
    "MouthShape",
    "PhonemeClass",
    "PlacedTake",
    "ShapeSet",
    "ShapeSpan",
    "TimedPhoneme",
    "build_cut_timing",
    "cut_timing_json",
    "cut_xdts",
    "frame_at",
    "frame_seconds",
    "get_shape_set",
    "is_pause_symbol",
    "moho_dat",
    "mouth_cues",
    "rhubarb_json",
    "rhubarb_tsv",
    "shape_set_from_classes",
    "shape_spans",
    "snap_to_frames",
    "timed_phonemes",
]
