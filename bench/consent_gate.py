"""Cost of the consent gate on the hot path.

Measures the gate alone (both of its checks per line, as the pipeline runs
them inside the line's transaction: the early one, and the locked one just
before the take is written; the transaction is rolled back, since its commit
belongs to the take), then one line end to end through the API, in the same
process.
Prints lines per second through the gate and its share of a line's time
(target: under 2%). Run it on PostgreSQL:

    VOICEHUB_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/vh_bench \\
        .venv/bin/python -m bench.consent_gate [--rounds 300]
"""

from __future__ import annotations

import argparse
import statistics
import time

import httpx
from sqlalchemy import select

from api.app import create_app
from bench.common import LINES, bench_runtime, serving
from consent.gate import GateRequest, consent_gate
from voicehub.production.tables import Line, Project


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--lines", type=int, default=20, help="end-to-end lines")
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
        client.post(f"/v1/projects/{project['id']}/script", json=script, headers=bench.headers)
        client.post(
            f"/v1/projects/{project['id']}/cast",
            json={"character": "KEN", "voice_id": bench.voice_id},
            headers=bench.headers,
        )
        runtime = bench.runtime
        with runtime.sessions() as session:
            row = session.get(Project, project["id"])
            assert row is not None
            line = session.scalars(select(Line).where(Line.project_id == row.id)).first()
            assert line is not None
            request = GateRequest(
                voice_id=bench.voice_id,
                studio_id=row.studio_id,
                project_id=row.id,
                use=row.use,
                language=line.language,
                territories=row.territories,
                text=line.text,
            )

        def gate_once() -> float:
            start = time.perf_counter()
            with runtime.sessions() as session:
                allowed = consent_gate(session, request)
                consent_gate(session, request, lock=True, passed=allowed)
                session.rollback()
            return time.perf_counter() - start

        for _ in range(20):
            gate_once()
        gate = [gate_once() for _ in range(args.rounds)]
        line_ids = [
            line["id"]
            for line in client.get(
                f"/v1/projects/{project['id']}/cuts", headers=bench.headers
            ).json()["data"][0]["lines"]
        ]
        end_to_end = []
        for n in range(args.lines):
            start = time.perf_counter()
            response = client.post(
                f"/v1/lines/{line_ids[n % len(line_ids)]}/takes", headers=bench.headers
            )
            end_to_end.append(time.perf_counter() - start)
            assert response.status_code == 201, response.text

        gate_ms = statistics.median(gate) * 1000
        line_ms = statistics.median(end_to_end) * 1000
        print(f"consent gate, database {runtime.database.dialect.name}, {args.rounds} rounds")
        print(
            f"  gate (both checks of one line)        median {gate_ms:6.2f} ms  → {1000 / gate_ms:6.0f} lines/s"
        )
        print(f"  one line end to end (API, Piper)      median {line_ms:6.1f} ms")
        print(f"  gate share of a line                  {100 * gate_ms / line_ms:5.2f} %")


if __name__ == "__main__":
    main()
