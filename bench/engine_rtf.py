"""Real-time factor of every installed engine, called raw and through the API, on fixed lines.

For each engine (and language) the same lines are rendered by calling the
engine directly and by `POST /v1/lines/{id}/takes` on a uvicorn server in this
process (gate, synthesis, timing, storage, metering), alternating line by line
so machine noise hits both alike. The real-time factor (RTF) is processing
seconds over seconds of audio (lower is faster); the ratio says what the
service adds.

Engines: piper (English), kokoro (Japanese), espeak (English and Japanese) and
a coqui-tts VITS when those are installed. The coqui model is NOT a trained
voice: it is a VITS of the standard size (coqui's default VitsArgs, as its
LJSpeech model) with random weights, built from tests/coqui_models.py's config,
reading letters; its duration predictor is untrained, so its audio length per
line is arbitrary and its RTF says only what that architecture costs here.

    .venv/bin/python -m bench.engine_rtf                # 4 lines per engine, 1 round
    .venv/bin/python -m bench.engine_rtf --lines 10 --rounds 3
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from api.app import create_app
from bench.common import LINES, LINES_JA, bench_studio, cast_script, serving
from models.engines import SynthesisSettings
from models.engines.base import Engine
from models.engines.registry import EngineRegistry


@dataclass
class Subject:
    """One engine speaking one language, with what was measured for it."""

    engine: str
    speaker: str
    language: str
    texts: list[str]
    note: str = ""
    raw: list[tuple[float, float]] = field(default_factory=list)
    api: list[tuple[float, float]] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.engine} ({self.language})"


def realistic_vits(directory: Path) -> Path:
    """A coqui VITS of the standard size with random weights, saved as coqui saves it."""
    import torch
    from TTS.tts.models.vits import Vits, VitsArgs

    from tests.coqui_models import tiny_vits_config

    config = tiny_vits_config()
    config.model_args = VitsArgs(init_discriminator=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = Vits(config)
    torch.save({"config": config.to_dict(), "model": model.state_dict()}, directory / "model.pth")
    return directory / "model.pth"


@contextmanager
def installed_engines(lines: int) -> Iterator[tuple[EngineRegistry, list[Subject]]]:
    """Every engine that loads here, and the lines each speaks; the others are named and skipped."""
    engines: dict[str, Engine] = {}
    subjects: list[Subject] = []
    wanted = [
        ("piper", "joe", "en", LINES),
        ("kokoro", "jf_alpha", "ja", LINES_JA),
        ("espeak", "en-us", "en", LINES),
        ("espeak", "ja", "ja", LINES_JA),
    ]
    for name, speaker, language, texts in wanted:
        try:
            if name not in engines:
                engines[name] = EngineRegistry.load([name], cache_dir=None).get(name)
        except Exception as error:  # any engine that fails to load is named
            print(f"  skipped {name}: {type(error).__name__}: {error}")
            continue
        subjects.append(Subject(name, speaker, language, texts[:lines]))
    with tempfile.TemporaryDirectory(prefix="bench-coqui-") as tmp:
        try:
            checkpoint = realistic_vits(Path(tmp))
            loaded = EngineRegistry.load([], cache_dir=None, coqui_models={"bench": checkpoint})
            coqui = loaded.get("coqui:bench")
        except Exception as error:
            print(f"  skipped coqui: {type(error).__name__}: {error}")
        else:
            engines["coqui:bench"] = coqui
            subjects.append(
                Subject(
                    "coqui:bench",
                    coqui.info.speakers[0],
                    "en",
                    LINES[:lines],
                    note="random-weight VITS, standard size",
                )
            )
        yield EngineRegistry(engines), subjects


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=4, help="lines per engine (1 to 10)")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    settings = SynthesisSettings()
    with (
        installed_engines(args.lines) as (engines, subjects),
        bench_studio(engines, [(s.engine, s.speaker, s.language) for s in subjects]) as (
            runtime,
            key,
            voices,
        ),
        serving(create_app(runtime=runtime, run_worker=False)) as base_url,
        httpx.Client(base_url=base_url, timeout=300) as client,
    ):
        headers = {"Authorization": f"Bearer {key}"}
        line_ids = {
            subject.label: cast_script(client, headers, voice, subject.texts)[1]
            for subject, voice in zip(subjects, voices, strict=True)
        }

        def measure(
            subject: Subject, index: int
        ) -> tuple[tuple[float, float], tuple[float, float]]:
            engine = engines.get(subject.engine)
            start = time.perf_counter()
            result = engine.synthesize(
                subject.texts[index], speaker=subject.speaker, settings=settings
            )
            raw = (time.perf_counter() - start, result.duration_seconds)
            start = time.perf_counter()
            response = client.post(
                f"/v1/lines/{line_ids[subject.label][index]}/takes", headers=headers
            )
            took = time.perf_counter() - start
            assert response.status_code == 201, response.text
            return raw, (took, float(response.json()["duration_seconds"]))

        for subject in subjects:  # warm both paths
            measure(subject, 0)
        for round_no in range(args.rounds):
            shift = round_no % len(subjects)
            for subject in subjects[shift:] + subjects[:shift]:
                for index in range(len(subject.texts)):
                    raw, api = measure(subject, index)
                    subject.raw.append(raw)
                    subject.api.append(api)

        print(
            f"{args.lines} lines per engine, {args.rounds} round(s), CPU, "
            f"database {runtime.database.dialect.name}"
        )
        print(f"  {'engine':22s} {'audio s':>8s} {'raw RTF':>8s} {'API RTF':>8s} {'API/raw':>8s}")
        for subject in subjects:
            raw_rtf = sum(t for t, _ in subject.raw) / sum(a for _, a in subject.raw)
            api_rtf = sum(t for t, _ in subject.api) / sum(a for _, a in subject.api)
            audio = sum(a for _, a in subject.raw) / args.rounds
            note = f"  {subject.note}" if subject.note else ""
            print(
                f"  {subject.label:22s} {audio:8.1f} {raw_rtf:8.3f} {api_rtf:8.3f}"
                f" {api_rtf / raw_rtf:8.3f}{note}"
            )


if __name__ == "__main__":
    main()
