"""Load on a live API: studios making single takes (and some exports) at once.

A real uvicorn server on 127.0.0.1, on PostgreSQL and Redis of this machine (a
fresh database, dropped afterwards, as the tests do), with the English Piper
voice. Each client is a studio of its own (its own API key) on a thread of its
own with a keep-alive connection; it makes one take after another
(`POST /v1/lines/{id}/takes`) and, every `--export-every`th request, reads its
cut's SRT and JSON timing exports (a draft from the latest takes) instead. A take is made inside the API
process (the request waits for the engine), so the work scales with API
processes: "workers" here are uvicorn worker processes (`uvicorn --workers`),
each with its own engine, database pool and thread pool.

Prints a markdown table: lines per minute, p50/p95/p99 of one take's latency,
exports per minute and refused requests, per workers × clients; and for each
worker count, the client count past which throughput stops growing (less than
10% more for the added clients).

    .venv/bin/python -m bench.load --clients 1,4,16 --workers 1,2,4 --seconds 30
"""

from __future__ import annotations

import argparse
import itertools
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.common import LINES, bench_runtime, scratch_postgresql
from voicehub.db import transaction
from voicehub.tenancy.service import create_studio, issue_api_key

REDIS_URL = "redis://127.0.0.1:6379/15"
# Growth below this fraction when clients are added counts as saturated.
SATURATION_GAIN = 0.10


@dataclass
class Sample:
    """What one client saw in one run."""

    take_seconds: list[float] = field(default_factory=list)
    exports: int = 0
    refused: int = 0


@dataclass(frozen=True)
class Row:
    workers: int
    clients: int
    lines_per_minute: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    exports_per_minute: float
    refused: int


@dataclass(frozen=True)
class StudioSetup:
    key: str
    line_ids: list[str]
    cut_id: str


def percentile(samples: list[float], fraction: float) -> float:
    """The nearest-rank percentile (no interpolation), in milliseconds."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank] * 1000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def api_server(workers: int, env: dict[str, str]) -> Iterator[str]:
    """`uvicorn --workers N` on the app factory, as a child process; yields its base URL."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "api.app:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
    ]
    server = subprocess.Popen(command, env={**os.environ, **env})
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise RuntimeError(f"uvicorn exited with {server.returncode}")
            try:
                if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            raise RuntimeError("the API did not answer /healthz within 180 s")
        yield base_url
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def prepare_studio(base_url: str, key: str, voice_id: str) -> StudioSetup:
    """A project with one cut of the bench's lines, cast with the Piper voice."""
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=120) as client:
        project = client.post(
            "/v1/projects", json={"name": "Load", "language": "en", "use": "animation"}
        ).json()["id"]
        script = {
            "cuts": [
                {
                    "start": 0,
                    "end": 60,
                    "lines": [
                        {"character": "KEN", "text": text, "start": 5.0 * n}
                        for n, text in enumerate(LINES)
                    ],
                }
            ]
        }
        cut_id = client.post(f"/v1/projects/{project}/script", json=script).json()["cut_ids"][0]
        cast = client.post(
            f"/v1/projects/{project}/cast", json={"character": "KEN", "voice_id": voice_id}
        )
        cast.raise_for_status()
        lines = [line["id"] for line in client.get(f"/v1/cuts/{cut_id}").json()["lines"]]
    return StudioSetup(key, lines, cut_id)


def run_client(
    base_url: str, studio: StudioSetup, stop_at: float, export_every: int, sample: Sample
) -> None:
    """Takes one after another until `stop_at`; every `export_every`th request reads exports."""
    headers = {"Authorization": f"Bearer {studio.key}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=300) as client:
        request_no = 0
        while time.monotonic() < stop_at:
            request_no += 1
            if export_every and request_no % export_every == 0:
                for fmt in ("srt", "json"):
                    # A draft from the latest takes: the clients make takes, nobody approves.
                    response = client.get(
                        f"/v1/cuts/{studio.cut_id}/exports/{fmt}", params={"takes": "latest"}
                    )
                    if response.status_code == 200:
                        sample.exports += 1
                    else:
                        sample.refused += 1
                continue
            line_id = studio.line_ids[request_no % len(studio.line_ids)]
            started = time.perf_counter()
            response = client.post(f"/v1/lines/{line_id}/takes")
            elapsed = time.perf_counter() - started
            if response.status_code == 201:
                sample.take_seconds.append(elapsed)
            else:
                sample.refused += 1


def measure(
    base_url: str, studios: list[StudioSetup], seconds: float, export_every: int, workers: int
) -> Row:
    """All `studios` at once for `seconds`, after a short warm-up on every client."""
    warm = [Sample() for _ in studios]
    warm_threads = [
        threading.Thread(
            target=run_client,
            args=(base_url, studio, time.monotonic() + 3, export_every, sample),
        )
        for studio, sample in zip(studios, warm, strict=True)
    ]
    for thread in warm_threads:
        thread.start()
    for thread in warm_threads:
        thread.join()
    samples = [Sample() for _ in studios]
    started = time.monotonic()
    stop_at = started + seconds
    threads = [
        threading.Thread(target=run_client, args=(base_url, studio, stop_at, export_every, sample))
        for studio, sample in zip(studios, samples, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Requests under way at the deadline finish and count: divide by the time really spent.
    spent = time.monotonic() - started
    takes = [t for sample in samples for t in sample.take_seconds]
    return Row(
        workers=workers,
        clients=len(studios),
        lines_per_minute=len(takes) / spent * 60,
        p50_ms=percentile(takes, 0.50),
        p95_ms=percentile(takes, 0.95),
        p99_ms=percentile(takes, 0.99),
        exports_per_minute=sum(sample.exports for sample in samples) / spent * 60,
        refused=sum(sample.refused for sample in samples),
    )


def saturation(rows: list[Row]) -> dict[int, str]:
    """For each worker count: the client count after which more clients add under 10%."""
    found: dict[int, str] = {}
    for workers in sorted({row.workers for row in rows}):
        series = sorted((r for r in rows if r.workers == workers), key=lambda r: r.clients)
        found[workers] = f"not reached by {series[-1].clients} clients"
        for before, after in itertools.pairwise(series):
            if after.lines_per_minute < before.lines_per_minute * (1 + SATURATION_GAIN):
                found[workers] = (
                    f"{before.clients} clients ({before.lines_per_minute:.0f} lines/min)"
                )
                break
    return found


def table(rows: list[Row]) -> str:
    out = [
        "| workers | clients | lines/min | p50 ms | p95 ms | p99 ms | exports/min | refused |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    out += [
        f"| {r.workers} | {r.clients} | {r.lines_per_minute:.0f} | {r.p50_ms:.0f} | "
        f"{r.p95_ms:.0f} | {r.p99_ms:.0f} | {r.exports_per_minute:.0f} | {r.refused} |"
        for r in rows
    ]
    return "\n".join(out)


def _counts(value: str) -> list[int]:
    return sorted({int(part) for part in value.split(",") if part.strip()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=_counts, default=[1, 4, 16])
    parser.add_argument("--workers", type=_counts, default=[1, 2, 4])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--export-every", type=int, default=10, help="0: takes only")
    args = parser.parse_args()
    with scratch_postgresql("voicehub_load") as database_url:
        os.environ["VOICEHUB_DATABASE_URL"] = database_url
        os.environ["VOICEHUB_QUEUE_URL"] = REDIS_URL
        with bench_runtime() as bench:
            keys = [bench.studio_key]
            with transaction(bench.runtime.sessions) as session:
                for n in range(1, max(args.clients)):
                    studio = create_studio(session, f"Load studio {n}")
                    keys.append(issue_api_key(session, studio_id=studio.id).secret)
            data_dir: Path = bench.runtime.settings.data_dir
            env = {
                "VOICEHUB_ENVIRONMENT": "development",
                "VOICEHUB_DATA_DIR": str(data_dir),
                "VOICEHUB_DATABASE_URL": database_url,
                "VOICEHUB_QUEUE_URL": REDIS_URL,
                "VOICEHUB_QUEUE_NAME": f"voicehub-load-{uuid.uuid4().hex[:8]}",
                "VOICEHUB_EMBEDDED_WORKER": "false",
                "VOICEHUB_ENGINES": "piper",
                # The per-key rate limits would measure the limiter, not the service.
                "VOICEHUB_RATE_LIMIT_REQUESTS_PER_MINUTE": "0",
                "VOICEHUB_RATE_LIMIT_SYNTHESIS_PER_MINUTE": "0",
            }
            rows: list[Row] = []
            studios: list[StudioSetup] = []
            for workers in args.workers:
                with api_server(workers, env) as base_url:
                    if not studios:
                        studios = [prepare_studio(base_url, key, bench.voice_id) for key in keys]
                    for clients in args.clients:
                        row = measure(
                            base_url, studios[:clients], args.seconds, args.export_every, workers
                        )
                        rows.append(row)
                        print(
                            f"workers={workers} clients={clients}: "
                            f"{row.lines_per_minute:.0f} lines/min, p95 {row.p95_ms:.0f} ms",
                            flush=True,
                        )
    print()
    print(
        f"{os.cpu_count()} CPUs; {args.seconds:g} s per cell; Piper `joe` (en); PostgreSQL + Redis"
    )
    print()
    print(table(rows))
    print()
    for workers, where in saturation(rows).items():
        print(f"- {workers} worker(s): throughput stops growing after {where}")


if __name__ == "__main__":
    main()
