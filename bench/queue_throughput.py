"""A 50-line script through the queue: lines per minute and real-time factor.

The baseline is the raw engine rendering the same 50 lines in this process.
The real-time factor is processing seconds per second of audio (lower is
faster); the ratio says what the queue, the gate, storage and metering add.

    .venv/bin/python -m bench.queue_throughput [--lines 50]

Set VOICEHUB_QUEUE_URL=redis://127.0.0.1:6379/14 to measure the Redis queue
instead of the embedded SQLite one.
"""

from __future__ import annotations

import argparse
import time

import httpx

from api.app import create_app
from bench.common import LINES, bench_runtime, serving
from models.engines import SynthesisSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=50)
    args = parser.parse_args()
    texts = [LINES[i % len(LINES)] for i in range(args.lines)]
    with (
        bench_runtime() as bench,
        serving(create_app(runtime=bench.runtime, run_worker=False)) as base_url,
        httpx.Client(base_url=base_url, timeout=60) as client,
    ):
        engine = bench.runtime.engines.get("piper")
        engine.synthesize(texts[0], speaker="joe", settings=SynthesisSettings())

        def render_raw() -> tuple[float, float]:
            start = time.perf_counter()
            audio = sum(
                engine.synthesize(
                    text, speaker="joe", settings=SynthesisSettings()
                ).duration_seconds
                for text in texts
            )
            return time.perf_counter() - start, audio

        # The baseline runs before and after the queued job; their mean is the reference.
        before = render_raw()

        project = client.post(
            "/v1/projects",
            json={"name": "Bench", "language": "en", "use": "animation"},
            headers=bench.headers,
        ).json()
        script = {"cuts": [{"lines": [{"character": "KEN", "text": text}]} for text in texts]}
        client.post(f"/v1/projects/{project['id']}/script", json=script, headers=bench.headers)
        client.post(
            f"/v1/projects/{project['id']}/cast",
            json={"character": "KEN", "voice_id": bench.voice_id},
            headers=bench.headers,
        )
        consumer = bench.runtime.queue.embedded_consumer(periodic=False)
        consumer.start()
        try:
            start = time.perf_counter()
            job = client.post(
                f"/v1/projects/{project['id']}/synthesis-jobs", headers=bench.headers
            ).json()
            while job["status"] in ("queued", "running"):
                time.sleep(0.05)
                job = client.get(f"/v1/synthesis-jobs/{job['id']}", headers=bench.headers).json()
            queue_seconds = time.perf_counter() - start
        finally:
            consumer.stop(graceful=True)
        assert job["status"] == "succeeded", job
        after = render_raw()
        raw_seconds, raw_audio = (before[0] + after[0]) / 2, (before[1] + after[1]) / 2
        usage = client.get("/v1/usage", params={"limit": 100}, headers=bench.headers).json()["data"]
        queue_audio = sum(u["audio_seconds"] for u in usage)

        queue_kind = "redis" if bench.runtime.settings.queue_url else "sqlite"
        raw_rtf, queue_rtf = raw_seconds / raw_audio, queue_seconds / queue_audio
        print(
            f"{args.lines} lines, Piper on CPU, one consumer thread rendering "
            f"{bench.runtime.settings.synthesis_threads} lines at once, queue {queue_kind}, "
            f"database {bench.runtime.database.dialect.name}"
        )
        print(
            f"  raw engine   {raw_seconds:6.1f} s for {raw_audio:6.1f} s of audio: "
            f"{60 * args.lines / raw_seconds:6.0f} lines/min, RTF {raw_rtf:.3f}"
        )
        print(
            f"  via queue    {queue_seconds:6.1f} s for {queue_audio:6.1f} s of audio: "
            f"{60 * args.lines / queue_seconds:6.0f} lines/min, RTF {queue_rtf:.3f}"
        )
        print(f"  ratio (queue RTF / raw RTF)  {queue_rtf / raw_rtf:.3f}")


if __name__ == "__main__":
    main()
