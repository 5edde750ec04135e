"""What fitting a take into its window costs, against rendering it (Piper, same process).

For a 3-sentence English line, interleaved in rounds: one plain render
(the baseline), a Rubber Band time-stretch alone at each ratio, and the whole
fit (`fit_take`: a second render at an adjusted engine speed, then the
stretch) into windows shorter and longer than the line. Figures are
milliseconds per second of audio; the ratio is the fit's cost over one render.

    .venv/bin/python -m bench.fitting_cost
    .venv/bin/python -m bench.fitting_cost --rounds 10
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial

from models.engines import SynthesisResult, SynthesisSettings
from models.engines.registry import EngineRegistry
from voicehub.delivery.fitting import (
    FitMode,
    FitOptions,
    engine_speed_range,
    fit_take,
    time_stretch_exact,
)
from voicehub.synthesis.service import MAX_SPEED, MIN_SPEED

TEXT = (
    "Bring the lantern, we leave at dawn. The river is high this year, and the bridge at"
    " the old mill will not hold us all. Tell your brother to pack light."
)
STRETCHES = (0.8, 0.9, 1.1, 1.25)
WINDOWS = (0.75, 1.2)


def _timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def run(rounds: int) -> None:
    engine = EngineRegistry.load(["piper"], cache_dir=None).get("piper")
    settings = SynthesisSettings(seed=7, language="en")

    def render(speed: float) -> SynthesisResult:
        return engine.synthesize(TEXT, speaker="joe", settings=replace(settings, speed=speed))

    first = render(1.0)
    seconds = first.duration_seconds
    speeds = engine_speed_range(1.0, FitMode.WINDOW, MIN_SPEED, MAX_SPEED)
    cases: dict[str, Callable[[], object]] = {"render (baseline)": partial(render, 1.0)}
    for ratio in STRETCHES:
        cases[f"stretch alone ×{ratio}"] = partial(
            time_stretch_exact, first, round(first.num_samples * ratio)
        )
    for window in WINDOWS:
        cases[f"fit into a {window}× window"] = partial(
            fit_take,
            first,
            render,
            speed=1.0,
            target_ms=round(seconds * window * 1000),
            options=FitOptions(),
            speed_range=speeds,
        )
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, work in cases.items():
            times[name].append(_timed(work))
    baseline = statistics.median(times["render (baseline)"])
    print(f"Piper, a {seconds:.2f} s line, medians of {rounds} rounds:")
    for name, samples in times.items():
        median = statistics.median(samples)
        print(
            f"  {name:26} {1000 * median / seconds:6.1f} ms per second of audio"
            f"   ratio to one render {median / baseline:.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    run(parser.parse_args().rounds)


if __name__ == "__main__":
    main()
