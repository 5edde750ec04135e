"""One line through the API (gate + synthesis + timing + metering) against the raw engine.

Both run in this process on the same text, interleaved so machine noise hits
both alike: the API as a real uvicorn server on 127.0.0.1 (in a thread), called
over HTTP with keep-alive, as a studio's client would. Prints the median of
each and their ratio (target: at most 1.15).

    .venv/bin/python -m bench.service_overhead [--rounds 30]
"""

from __future__ import annotations

import argparse
import time

import httpx

from api.app import create_app
from bench.common import LINES, bench_runtime, median_ms, serving
from models.engines import SynthesisSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    with (
        bench_runtime() as bench,
        serving(create_app(runtime=bench.runtime, run_worker=False)) as base_url,
        httpx.Client(base_url=base_url, timeout=60) as client,
    ):
        project = client.post(
            "/v1/projects",
            json={"name": "Bench", "language": "en", "use": "animation"},
            headers=bench.headers,
        ).json()
        script = {"cuts": [{"lines": [{"character": "KEN", "text": text} for text in LINES]}]}
        cut_id = client.post(
            f"/v1/projects/{project['id']}/script", json=script, headers=bench.headers
        ).json()["cut_ids"][0]
        client.post(
            f"/v1/projects/{project['id']}/cast",
            json={"character": "KEN", "voice_id": bench.voice_id},
            headers=bench.headers,
        )
        line_ids = [
            line["id"]
            for line in client.get(f"/v1/cuts/{cut_id}", headers=bench.headers).json()["lines"]
        ]
        engine = bench.runtime.engines.get("piper")
        settings = SynthesisSettings()
        for text, line_id in zip(LINES[:2], line_ids, strict=False):  # warm both paths
            engine.synthesize(text, speaker="joe", settings=settings)
            client.post(f"/v1/lines/{line_id}/takes", headers=bench.headers)

        raw: list[float] = []
        api: list[float] = []
        for round_no in range(args.rounds):
            index = round_no % len(LINES)
            start = time.perf_counter()
            engine.synthesize(LINES[index], speaker="joe", settings=settings)
            raw.append(time.perf_counter() - start)
            start = time.perf_counter()
            response = client.post(f"/v1/lines/{line_ids[index]}/takes", headers=bench.headers)
            api.append(time.perf_counter() - start)
            assert response.status_code == 201, response.text

        database = bench.runtime.database.dialect.name
        print(f"one 8-word line, {args.rounds} rounds, Piper on CPU, database {database}")
        print(f"  raw engine call      median {median_ms(raw):7.1f} ms")
        print(f"  POST /v1/lines/…/takes median {median_ms(api):7.1f} ms")
        print(f"  ratio (API / raw)    {median_ms(api) / median_ms(raw):.3f}")


if __name__ == "__main__":
    main()
