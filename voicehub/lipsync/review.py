"""A PNG review sheet for one cut: what the animator checks before drawing to it.

From top to bottom: the cut number, frame rate and shape set; each take's
waveform on the cut's clock with its character and line; the phonemes where
they are spoken; and the mouth shape frame by frame as a coloured strip
with frame ticks, one colour per shape (`shape_colours`). Every panel shares
one x axis counted in frames, so a shape change sits right under the sound
that causes it.

Rendered with matplotlib's Agg canvas, no display and no global pyplot
state. Japanese lines need a font with kana and kanji: the first such font
matplotlib finds is used (Noto Sans CJK from Debian's `fonts-noto-cjk`, IPA,
Takao, ...); without one the sheet is still drawn, its Japanese text as
empty boxes, and a warning is logged once.
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Mapping
from fractions import Fraction
from functools import cache

import numpy as np
from matplotlib import colors as mcolors
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.ticker import MultipleLocator

from voicehub.lipsync.exports import CutTiming, PlacedTake
from voicehub.lipsync.shapes import ShapeSet

log = logging.getLogger(__name__)

WIDTH_PX = 1600
HEIGHT_PX = 800
DPI = 100
# Axes rectangles in figure fractions (left, bottom, width, height): fixed, so a
# frame's pixel column is known without reading the image back.
LEFT, AXES_WIDTH = 0.06, 0.92
WAVEFORM_RECT = (LEFT, 0.50, AXES_WIDTH, 0.36)
PHONEME_RECT = (LEFT, 0.34, AXES_WIDTH, 0.12)
STRIP_RECT = (LEFT, 0.10, AXES_WIDTH, 0.20)
# Where shape names are written in the strip; below it the colour is plain.
STRIP_LABEL_Y = 0.75
_WAVEFORM_BINS = 3000
# Labels narrower than this many frames would only overlap their neighbours.
_MIN_LABEL_FRAMES = 2 / 3
_JAPANESE_PROBE = "あア口"
_BASE_FONT = "DejaVu Sans"
_REST_COLOUR = (0.85, 0.85, 0.85)
_PALETTE = [mcolors.to_rgb(c) for c in (*mcolors.TABLEAU_COLORS.values(), "#1a1a1a")]


def shape_colours(shape_set: ShapeSet) -> dict[str, tuple[float, float, float]]:
    """The strip's colour for each shape of the set: rest is light grey, the others distinct."""
    out: dict[str, tuple[float, float, float]] = {}
    others = iter(_PALETTE)
    for shape in shape_set.shapes:
        out[shape.id] = _REST_COLOUR if shape.id == shape_set.rest else next(others)
    return out


def frame_column(frame: float, duration_frames: int) -> float:
    """The x pixel where `frame` lies in every panel of a sheet for a cut that long."""
    return (LEFT + AXES_WIDTH * frame / duration_frames) * WIDTH_PX


def strip_row() -> int:
    """A y pixel (from the top) inside the shape strip, below the shape names."""
    _, bottom, _, height = STRIP_RECT
    return round((1 - (bottom + height * 0.25)) * HEIGHT_PX)


@cache
def japanese_font() -> str | None:
    """The name of an installed font with kana and kanji, or None (warned once)."""
    for entry in sorted(font_manager.fontManager.ttflist, key=lambda f: (f.name, f.fname)):
        try:
            charmap = font_manager.get_font(entry.fname).get_charmap()
        except (OSError, RuntimeError):
            continue
        if "Last Resort" in entry.name:
            continue  # it draws a placeholder box for every character
        if all(ord(char) in charmap for char in _JAPANESE_PROBE):
            return str(entry.name)
    log.warning(
        "no font with Japanese glyphs found; review sheets show Japanese text as boxes"
        " (install fonts-ipafont-gothic or fonts-noto-cjk: make system-packages)"
    )
    return None


def review_sheet_png(timing: CutTiming, audio: Mapping[str, tuple[np.ndarray, int]]) -> bytes:
    """The cut's review sheet as PNG bytes; `audio` maps take id → (mono samples, sample rate).

    A take without audio is drawn without its waveform.
    """
    duration = max(timing.duration_frames, 1)
    fps = timing.frame_rate
    cjk = japanese_font()
    families = [_BASE_FONT, cjk] if cjk else [_BASE_FONT]
    # One font object per size, shared by every label: resolving a family list per
    # text object was a fifth of a sheet's time.
    small = FontProperties(family=families, size=9)
    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    FigureCanvasAgg(figure)  # Agg, whatever matplotlib's default backend is
    seconds = Fraction(timing.duration_frames) / fps
    figure.text(
        LEFT,
        0.95,
        f"Cut {timing.cut.number}   {_rate(fps)} fps   shape set {timing.shape_set.name}"
        f"   min hold {timing.min_hold_frames} fr   {float(seconds):.2f} s"
        f" ({timing.duration_frames} frames)",
        fontsize=14,
        fontweight="bold",
        fontfamily=families,
    )
    waveform = figure.add_axes(WAVEFORM_RECT)
    phonemes = figure.add_axes(PHONEME_RECT, sharex=waveform)
    strip = figure.add_axes(STRIP_RECT, sharex=waveform)
    for number, take in enumerate(timing.takes):
        colour = _PALETTE[number % (len(_PALETTE) - 1)]
        if take.take_id in audio:
            samples, sample_rate = audio[take.take_id]
            _draw_waveform(waveform, take, samples, sample_rate, fps, colour)
        start = float(take.offset_seconds * fps)
        waveform.axvline(start, color=colour, linewidth=1, linestyle="--")
        waveform.text(
            start,
            0.97 - 0.12 * (number % 4),
            f" {take.character}: {take.text}",
            transform=waveform.get_xaxis_transform(),
            va="top",
            fontproperties=FontProperties(family=families, size=10),
            color=colour,
            clip_on=True,
        )
        _draw_phonemes(phonemes, take, fps, colour, small)
    _draw_strip(strip, timing, duration, small)
    waveform.set_xlim(0, duration)
    waveform.set_ylim(-1.05, 1.05)
    waveform.set_ylabel("waveform")
    waveform.tick_params(labelbottom=False)
    phonemes.set_ylim(0, 1)
    phonemes.set_yticks([])
    phonemes.set_ylabel("phonemes")
    phonemes.tick_params(labelbottom=False)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from")
        # Fast zlib level: a sheet is mostly flat colour, level 1 is nearly as small.
        figure.savefig(
            buffer,
            format="png",
            dpi=DPI,
            metadata={"Software": None},
            pil_kwargs={"compress_level": 1},
        )
    return buffer.getvalue()


def _rate(fps: Fraction) -> str:
    return str(fps.numerator) if fps.denominator == 1 else f"{float(fps):.3f}"


def _draw_waveform(
    axes: Axes,
    take: PlacedTake,
    samples: np.ndarray,
    sample_rate: int,
    fps: Fraction,
    colour: tuple[float, float, float],
) -> None:
    """Min/max envelope in at most a few thousand bins: fast for any length."""
    mono = np.asarray(samples, dtype=np.float32).reshape(-1)
    if mono.size == 0 or sample_rate <= 0:
        return
    bins = min(mono.size, _WAVEFORM_BINS)
    per_bin = mono.size // bins
    shaped = mono[: per_bin * bins].reshape(bins, per_bin)
    starts = np.arange(bins) * per_bin
    frames = float(take.offset_seconds * fps) + starts / sample_rate * float(fps)
    axes.fill_between(
        frames, shaped.min(axis=1), shaped.max(axis=1), color=colour, linewidth=0, alpha=0.8
    )


def _draw_phonemes(
    axes: Axes,
    take: PlacedTake,
    fps: Fraction,
    colour: tuple[float, float, float],
    font: FontProperties,
) -> None:
    spoken = [p for p in take.phonemes if not p.is_pause and p.phoneme.strip()]
    starts: list[float] = []
    for index, p in enumerate(spoken):
        start = float((take.offset_seconds + Fraction(p.start, take.sample_rate)) * fps)
        end = float((take.offset_seconds + Fraction(p.end, take.sample_rate)) * fps)
        starts.append(start)
        if end - start < _MIN_LABEL_FRAMES:
            continue  # too narrow to read; the boundary line still shows
        axes.text(
            (start + end) / 2,
            0.7 if index % 2 == 0 else 0.3,
            p.phoneme,
            ha="center",
            va="center",
            fontproperties=font,
            clip_on=True,
        )
    axes.vlines(starts, 0, 1, colors=[colour], linewidth=0.4, alpha=0.5)


def _draw_strip(axes: Axes, timing: CutTiming, duration: int, font: FontProperties) -> None:
    colours = shape_colours(timing.shape_set)
    by_frame = np.ones((1, duration, 3))
    for cue in timing.mouth_cues:
        by_frame[0, cue.start_frame : cue.end_frame] = colours[cue.shape]
        label = timing.shape_set.shape(cue.shape).label
        if cue.frames < _MIN_LABEL_FRAMES:
            continue
        axes.text(
            (cue.start_frame + cue.end_frame) / 2,
            STRIP_LABEL_Y,
            label,
            ha="center",
            va="center",
            fontproperties=font,
            clip_on=True,
        )
    axes.imshow(
        by_frame,
        extent=(0, duration, 0, 1),
        aspect="auto",
        interpolation="nearest",
        origin="lower",
    )
    axes.set_ylim(0, 1)
    axes.set_yticks([])
    axes.set_ylabel("mouth")
    rate = max(1, round(timing.frame_rate))
    axes.xaxis.set_major_locator(MultipleLocator(rate))
    # One tick per frame as a single collection: matplotlib's own minor ticks
    # cost milliseconds each, and a long cut has thousands of frames.
    axes.vlines(np.arange(duration + 1), 0, 0.06, colors="black", linewidth=0.5)
    axes.set_xlabel(f"frame (at {_rate(timing.frame_rate)} fps; major ticks every {rate})")
