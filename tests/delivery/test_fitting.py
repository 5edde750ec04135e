"""Fitting a take into its window: engine speed, then a Rubber Band time-stretch, timing kept exact."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from models.engines.base import Engine, PhonemeTiming, SynthesisResult, SynthesisSettings
from models.engines.registry import EngineRegistry
from voicehub.delivery.fitting import (
    FitMode,
    FitOptions,
    FitReport,
    FitStatus,
    engine_speed_range,
    fit_take,
    target_length_ms,
    time_stretch_exact,
)
from voicehub.delivery.mastering import scale_position
from voicehub.errors import InvalidInput
from voicehub.synthesis.service import MAX_SPEED, MIN_SPEED

TEXT = "Hello there, how are you today? We leave at dawn."
SEED = 7


@pytest.fixture(scope="module")
def piper(engines: EngineRegistry) -> Engine:
    return engines.get("piper")


@pytest.fixture(scope="module")
def first(piper: Engine) -> SynthesisResult:
    return _render(piper, 1.0)


def _render(piper: Engine, speed: float) -> SynthesisResult:
    settings = SynthesisSettings(speed=speed, seed=SEED, language="en")
    return piper.synthesize(TEXT, speaker="joe", settings=settings)


def _fit(
    piper: Engine,
    first: SynthesisResult,
    target_ms: int,
    options: FitOptions | None = None,
) -> tuple[SynthesisResult, FitReport, list[SynthesisResult]]:
    """Fit `first` (rendered at speed 1.0); also returns the renders fitting asked for."""
    options = options or FitOptions()
    renders: list[SynthesisResult] = []

    def rerender(speed: float) -> SynthesisResult:
        renders.append(_render(piper, speed))
        return renders[-1]

    fitted, report = fit_take(
        first,
        rerender,
        speed=1.0,
        target_ms=target_ms,
        options=options,
        speed_range=engine_speed_range(1.0, options.mode, MIN_SPEED, MAX_SPEED),
    )
    return fitted, report, renders


def _ms(result: SynthesisResult, fraction: float) -> int:
    return round(result.duration_seconds * fraction * 1000)


def assert_exact_timing(result: SynthesisResult) -> None:
    """Phonemes tile the audio from sample 0 to its last sample; words and morae lie within."""
    position = 0
    for phoneme in result.phonemes:
        assert phoneme.start == position and phoneme.samples >= 0
        position = phoneme.end
    assert sum(p.samples for p in result.phonemes) == result.num_samples
    assert result.phonemes[-1].end == result.num_samples
    assert result.words and all(0 <= w.start <= w.end <= result.num_samples for w in result.words)


def test_a_take_too_long_for_its_window_is_shortened_into_it_with_exact_timing(
    piper: Engine, first: SynthesisResult
) -> None:
    target_ms = _ms(first, 0.75)

    fitted, report, renders = _fit(piper, first, target_ms)

    assert report.status is FitStatus.FITTED
    assert fitted.num_samples == scale_position(target_ms, 1000, first.sample_rate)
    assert len(renders) == 1 and 1.0 < report.engine_speed <= 1.25
    used = renders[0]
    assert fitted.num_samples < used.num_samples < first.num_samples
    assert report.stretch_ratio == pytest.approx(fitted.num_samples / used.num_samples, abs=1e-6)
    assert report.rendered_seconds == pytest.approx(first.duration_seconds, abs=1e-6)
    assert_exact_timing(fitted)
    # Every word boundary of the render moved by the same ratio, rounded to the sample.
    for before, after in zip(used.words, fitted.words, strict=True):
        assert after.text == before.text
        assert after.start == scale_position(before.start, used.num_samples, fitted.num_samples)
        assert after.end == scale_position(before.end, used.num_samples, fitted.num_samples)
    assert fitted.seed == first.seed == SEED


def test_a_short_take_is_lengthened_in_window_mode_and_left_alone_in_max_mode(
    piper: Engine, first: SynthesisResult
) -> None:
    target_ms = _ms(first, 1.2)

    lengthened, report, renders = _fit(piper, first, target_ms)
    assert report.status is FitStatus.FITTED
    assert lengthened.num_samples == scale_position(target_ms, 1000, first.sample_rate)
    assert len(renders) == 1 and 0.8 <= report.engine_speed < 1.0
    assert_exact_timing(lengthened)

    kept, report, renders = _fit(piper, first, target_ms, FitOptions(mode=FitMode.MAX))
    assert report.status is FitStatus.FITS and renders == []
    assert kept is first and report.stretch_ratio == 1.0 and report.engine_speed == 1.0
    assert report.off_seconds < 0 and "never lengthens" in report.detail


def test_a_take_within_the_tolerance_is_not_touched(piper: Engine, first: SynthesisResult) -> None:
    kept, report, renders = _fit(piper, first, _ms(first, 1.0) + 6)

    assert kept is first and renders == []
    assert report.status is FitStatus.FITS and report.stretch_ratio == 1.0


def test_a_window_too_short_even_for_the_fastest_stretch_is_reported_cannot_fit(
    piper: Engine, first: SynthesisResult
) -> None:
    target_ms = _ms(first, 0.4)

    fitted, report, renders = _fit(piper, first, target_ms)

    assert report.status is FitStatus.CANNOT_FIT
    used = renders[0]
    assert report.engine_speed == 1.25
    assert fitted.num_samples == round(used.num_samples * 0.8)
    assert report.off_seconds == pytest.approx(fitted.duration_seconds - target_ms / 1000, abs=1e-5)
    assert report.off_seconds > 0.5 and "too long" in report.detail
    assert_exact_timing(fitted)

    # Far too long a window: lengthened as far as allowed, and said so.
    fitted, report, _ = _fit(piper, first, _ms(first, 2.0))
    assert report.status is FitStatus.CANNOT_FIT and report.off_seconds < 0
    assert "too short" in report.detail
    assert_exact_timing(fitted)

    # A window of a millisecond: no crash, the bound, the report.
    fitted, report, _ = _fit(piper, first, 1)
    assert report.status is FitStatus.CANNOT_FIT and fitted.num_samples > 0


def test_wider_ratios_let_a_tight_window_fit(piper: Engine, first: SynthesisResult) -> None:
    target_ms = _ms(first, 0.55)
    assert _fit(piper, first, target_ms)[1].status is FitStatus.CANNOT_FIT

    fitted, report, _ = _fit(piper, first, target_ms, FitOptions(min_ratio=0.6))

    assert report.status is FitStatus.FITTED and report.min_ratio == 0.6
    assert fitted.num_samples == scale_position(target_ms, 1000, first.sample_rate)


def test_the_same_seed_fits_to_the_same_audio(piper: Engine, first: SynthesisResult) -> None:
    target_ms = _ms(first, 0.8)
    one, report_one, _ = _fit(piper, first, target_ms)
    two, report_two, _ = _fit(piper, _render(piper, 1.0), target_ms)

    assert report_one == report_two
    assert np.array_equal(one.audio, two.audio)
    assert one.phonemes == two.phonemes and one.words == two.words


def _tone(frequency: float, seconds: float, rate: int) -> SynthesisResult:
    audio = (0.5 * np.sin(2 * np.pi * frequency * np.arange(round(seconds * rate)) / rate)).astype(
        np.float32
    )
    return SynthesisResult(
        audio=audio, sample_rate=rate, phonemes=[PhonemeTiming("a", 0, audio.shape[0])]
    )


def _dominant_frequency(audio: npt.NDArray[np.float32], rate: int) -> float:
    middle = audio[audio.shape[0] // 4 : 3 * audio.shape[0] // 4]
    spectrum = np.abs(np.fft.rfft(middle * np.hanning(middle.shape[0]), n=1 << 18))
    return float(np.argmax(spectrum) * rate / (1 << 18))


def _spectral_centroid(audio: npt.NDArray[np.float32], rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio))
    return float((spectrum * np.fft.rfftfreq(audio.shape[0], 1 / rate)).sum() / spectrum.sum())


@pytest.mark.parametrize("ratio", [0.8, 1.25])
def test_stretching_keeps_the_pitch(first: SynthesisResult, ratio: float) -> None:
    rate = 22050
    tone = _tone(220.0, 1.0, rate)
    stretched = time_stretch_exact(tone, round(tone.num_samples * ratio))
    assert stretched.num_samples == round(tone.num_samples * ratio)
    assert _dominant_frequency(stretched.audio, rate) == pytest.approx(220.0, rel=0.01)

    speech = time_stretch_exact(first, round(first.num_samples * ratio))
    before = _spectral_centroid(first.audio, rate)
    assert _spectral_centroid(speech.audio, rate) == pytest.approx(before, rel=0.05)
    # Playing the same audio faster or slower would move it by the whole ratio.
    assert abs(before / ratio - before) > 0.15 * before


def test_stretching_moves_every_boundary_by_the_same_ratio(first: SynthesisResult) -> None:
    length = first.num_samples * 9 // 10 + 3

    stretched = time_stretch_exact(first, length)

    assert stretched.num_samples == length
    assert_exact_timing(stretched)
    for before, after in zip(first.phonemes, stretched.phonemes, strict=True):
        assert (after.phoneme, after.is_pause) == (before.phoneme, before.is_pause)
        assert after.start == scale_position(before.start, first.num_samples, length)
    for before_word, after_word in zip(first.words, stretched.words, strict=True):
        assert after_word.end == scale_position(before_word.end, first.num_samples, length)


def test_the_target_length_is_the_explicit_target_else_the_window() -> None:
    assert target_length_ms(target_ms=1500, start_ms=0, end_ms=4000) == 1500
    assert target_length_ms(target_ms=None, start_ms=500, end_ms=2750) == 2250
    assert target_length_ms(target_ms=None, start_ms=500, end_ms=None) is None
    assert target_length_ms(target_ms=None, start_ms=None, end_ms=None) is None


def test_engine_speed_stays_in_its_band_and_max_mode_never_slows_down() -> None:
    assert engine_speed_range(1.0, FitMode.WINDOW, MIN_SPEED, MAX_SPEED) == (0.8, 1.25)
    assert engine_speed_range(1.0, FitMode.MAX, MIN_SPEED, MAX_SPEED) == (1.0, 1.25)
    assert engine_speed_range(1.8, FitMode.WINDOW, MIN_SPEED, MAX_SPEED) == pytest.approx(
        (1.44, 2.0)
    )
    assert engine_speed_range(0.5, FitMode.WINDOW, MIN_SPEED, MAX_SPEED) == (0.5, 0.625)


@pytest.mark.parametrize(
    ("min_ratio", "max_ratio", "field"),
    [
        (0.4, 1.25, "fit.min_ratio"),
        (1.1, 1.25, "fit.min_ratio"),
        (0.8, 0.9, "fit.max_ratio"),
        (0.8, 2.5, "fit.max_ratio"),
    ],
)
def test_fit_options_refuse_ratios_out_of_range(
    min_ratio: float, max_ratio: float, field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        FitOptions(min_ratio=min_ratio, max_ratio=max_ratio)
    assert refused.value.extra["fields"] == [field]


def test_the_report_is_stored_as_json_with_every_field(
    piper: Engine, first: SynthesisResult
) -> None:
    _, report, _ = _fit(piper, first, _ms(first, 0.9))

    stored = report.to_json()

    assert set(stored) == {
        "mode", "target_seconds", "rendered_seconds", "engine_speed", "stretch_ratio",
        "fitted_seconds", "off_seconds", "status", "detail", "min_ratio", "max_ratio",
    }  # fmt: skip
    assert stored["status"] == "fitted" and stored["mode"] == "window"
    assert stored["off_seconds"] == report.off_seconds
