"""A batch job through the real queue: before and after the CPU tuning (Kokoro or Piper).

Each setup is a runtime of its own in this process, with its own engine,
studio, project and queue; a round posts one batch job (`POST
/v1/projects/{id}/synthesis-jobs`) to each setup in turn (the order rotates)
and an in-process Huey consumer renders it, through the consent gate, storage
and metering. The batch real-time factor is the job's worker time (its
`started_at` to `finished_at`) over the seconds of audio it delivered.

- before: what the product did until this tuning: one line at a time; for
  Kokoro, one onnxruntime session on all cores with spinning threads.
- after: the product's defaults: `VOICEHUB_SYNTHESIS_THREADS` lines at once;
  for Kokoro, KokoroEngineConfig() (every core for a lone call, one thread for
  each overlapping call). Piper's engine is the same in both.
- after-N (`--threads N,...`): the defaults with N synthesis threads.

Kokoro speaks bench.common.LINES_JA, Piper bench.common.LINES (repeated past 10).

    .venv/bin/python -m bench.batch_queue                         # Kokoro, 8 lines, 1 round
    .venv/bin/python -m bench.batch_queue --lines 20 --rounds 3 --threads 3,4
    .venv/bin/python -m bench.batch_queue --load 1      # with a busy process alongside
    .venv/bin/python -m bench.batch_queue --engine piper --lines 20
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from contextlib import ExitStack
from dataclasses import dataclass, field

import httpx

from api.app import create_app
from bench.common import LINES, LINES_JA, bench_studio, cast_script, interleaved_rounds, serving
from bench.kokoro_batch import busy
from models.engines import SynthesisSettings
from models.engines.base import Engine
from models.engines.kokoro import KokoroEngine, KokoroEngineConfig
from models.engines.piper import PiperEngine
from models.engines.registry import EngineRegistry
from voicehub.runtime import Runtime, activate
from voicehub.settings import Settings


@dataclass
class Setup:
    name: str
    kokoro: KokoroEngineConfig
    synthesis_threads: int
    runtime: Runtime | None = None
    client: httpx.Client | None = None
    headers: dict[str, str] = field(default_factory=dict)
    project_id: str = ""
    jobs: list[tuple[float, float]] = field(default_factory=list)

    def run_job(self) -> None:
        """Post a batch job for the project, render it, record (worker seconds, wall seconds)."""
        assert self.runtime is not None and self.client is not None
        activate(self.runtime)
        consumer = self.runtime.queue.embedded_consumer(periodic=False)
        consumer.start()
        try:
            start = time.perf_counter()
            job = self.client.post(
                f"/v1/projects/{self.project_id}/synthesis-jobs", headers=self.headers
            ).json()
            while job["status"] in ("queued", "running"):
                time.sleep(0.2)
                job = self.client.get(
                    f"/v1/synthesis-jobs/{job['id']}", headers=self.headers
                ).json()
            wall = time.perf_counter() - start
        finally:
            consumer.stop(graceful=True)
        assert job["status"] == "succeeded", job
        worker = dt.datetime.fromisoformat(job["finished_at"]) - dt.datetime.fromisoformat(
            job["started_at"]
        )
        self.jobs.append((worker.total_seconds(), wall))

    def audio_per_job(self) -> float:
        """Mean seconds of audio a job delivered (Kokoro's are all the same)."""
        assert self.client is not None
        total, params = 0.0, {"limit": 100}
        while True:
            page = self.client.get("/v1/usage", params=params, headers=self.headers).json()
            total += sum(float(record["audio_seconds"]) for record in page["data"])
            if not page["has_more"]:
                return total / len(self.jobs)
            params = {"limit": 100, "starting_after": page["data"][-1]["id"]}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=8, help="lines of LINES_JA (1 to 20)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--threads", default="", help="also the defaults with these synthesis threads: 2,3,4"
    )
    parser.add_argument("--load", type=int, default=0, help="busy processes alongside")
    parser.add_argument("--engine", choices=["kokoro", "piper"], default="kokoro")
    args = parser.parse_args()

    default_threads = Settings.model_fields["synthesis_threads"].default
    setups = [
        Setup("before", KokoroEngineConfig(overlap_threads=None, spin=True), 1),
        Setup(f"after ({default_threads} threads)", KokoroEngineConfig(), default_threads),
        *(
            Setup(f"after-{n}", KokoroEngineConfig(), int(n))
            for n in args.threads.split(",")
            if n and int(n) != default_threads
        ),
    ]
    speaker, language, lines = {
        "kokoro": ("jf_alpha", "ja", LINES_JA),
        "piper": ("joe", "en", LINES),
    }[args.engine]
    texts = [lines[i % len(lines)] for i in range(args.lines)]
    with ExitStack() as stack:
        for setup in setups:
            engine: Engine = (
                KokoroEngine(setup.kokoro) if args.engine == "kokoro" else PiperEngine()
            )
            engine.load()
            runtime, key, (voice,) = stack.enter_context(
                bench_studio(
                    EngineRegistry({args.engine: engine}),
                    [(args.engine, speaker, language)],
                    synthesis_threads=setup.synthesis_threads,
                )
            )
            base_url = stack.enter_context(serving(create_app(runtime=runtime, run_worker=False)))
            setup.runtime = runtime
            setup.client = stack.enter_context(httpx.Client(base_url=base_url, timeout=120))
            setup.headers = {"Authorization": f"Bearer {key}"}
            setup.project_id, _ = cast_script(setup.client, setup.headers, voice, texts)
            # Warm: the first calls on a session allocate its memory.
            engine.synthesize(texts[0], speaker=speaker, settings=SynthesisSettings())

        by_name = {setup.name: setup for setup in setups}
        with busy(args.load):
            for order in interleaved_rounds(list(by_name), args.rounds):
                for name in order:
                    by_name[name].run_job()

        before = setups[0]
        database = before.runtime.database.dialect.name if before.runtime else "?"
        queue = "redis" if before.runtime and before.runtime.settings.queue_url else "sqlite"
        print(
            f"{args.engine}, {len(texts)} lines per job, {args.rounds} round(s), queue {queue}, "
            f"database {database}, {args.load} busy process(es) alongside"
        )
        print(f"  {'setup':22s} {'audio s':>8s} {'batch RTF':>10s} {'speed-up':>9s} {'wall s':>7s}")
        for setup in setups:
            audio = setup.audio_per_job()
            rtf = statistics.median(worker / audio for worker, _ in setup.jobs)
            speedup = statistics.median(
                base / worker
                for (base, _), (worker, _) in zip(before.jobs, setup.jobs, strict=True)
            )
            wall = statistics.median(wall for _, wall in setup.jobs)
            print(f"  {setup.name:22s} {audio:8.1f} {rtf:10.3f} {speedup:8.2f}× {wall:7.1f}")


if __name__ == "__main__":
    main()
