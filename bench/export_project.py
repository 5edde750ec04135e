"""Exporting a 300-line project (every format, one zip), and mouth shapes per second of audio.

A project of `--lines` English lines (Piper), three lines to a cut, each line
placed in its own window, is synthesized through the service once (seeded),
every take approved; then, in rounds:

- **baseline**: the take WAVs read from storage and written into a zip, nothing
  else: what any export of the project costs at least;
- **project zip**: `GET /v1/projects/{id}/exports/zip` through the API over
  loopback HTTP: every cut's JSON, Rhubarb TSV/JSON, Moho .dat, XDTS, subtitles
  and review sheet, the project's subtitles and OpenTimelineIO, the take WAVs
  and the manifest; and the same with `review_sheets=false`.

The ratio says what the lip-sync formats and the review sheets add to moving
the audio. Peak memory is the process's resident-set growth while the zip is
made (`ru_maxrss`, which only rises; the zip is streamed to a temporary file
by the client in this same process) and Python's own peak allocation
(tracemalloc) for one zip.

Mouth-shape generation: `build_cut_timing` (phonemes → shapes → frames with
the minimum hold) over every cut of the project, per second of audio, for each
shape set at 24 fps and for rhubarb at 12 and 8 fps.

    .venv/bin/python -m bench.export_project                # 300 lines, 3 rounds
    .venv/bin/python -m bench.export_project --lines 60 --rounds 2
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
import tracemalloc
import zipfile
from fractions import Fraction

import httpx

from api.app import create_app
from bench.common import LINES, bench_studio, serving
from models.engines.registry import EngineRegistry
from voicehub.db import transaction
from voicehub.lipsync import SHAPE_SETS, build_cut_timing
from voicehub.production.exports import ExportOptions, cut_export
from voicehub.production.tables import Cut, Project, Take
from voicehub.runtime import Runtime
from voicehub.synthesis.jobs import run_synthesis_job
from voicehub.tenancy.scope import owned

LINES_PER_CUT = 3
SEED = 11


def _script(lines: int) -> dict[str, object]:
    """Cuts of three lines, each line in a 3-second window; two speakers alternate."""
    cuts = []
    for first in range(0, lines, LINES_PER_CUT):
        count = min(LINES_PER_CUT, lines - first)
        start = first * 3.0
        cuts.append(
            {
                "start": start,
                "end": start + count * 3.0,
                "lines": [
                    {
                        "character": "KEN" if (first + i) % 2 == 0 else "MIO",
                        "text": LINES[(first + i) % len(LINES)],
                        "start": start + i * 3.0,
                        "end": start + i * 3.0 + 2.9,
                    }
                    for i in range(count)
                ],
            }
        )
    return {"cuts": cuts}


def _prepare(
    runtime: Runtime, client: httpx.Client, headers: dict[str, str], voice_id: str, lines: int
) -> str:
    project = client.post(
        "/v1/projects",
        json={"name": "Bench export", "language": "en", "use": "animation"},
        headers=headers,
    ).json()["id"]
    client.post(
        f"/v1/projects/{project}/script", json=_script(lines), headers=headers
    ).raise_for_status()
    for character in ("KEN", "MIO"):
        client.post(
            f"/v1/projects/{project}/cast",
            json={"character": character, "voice_id": voice_id},
            headers=headers,
        ).raise_for_status()
    job = client.post(
        f"/v1/projects/{project}/synthesis-jobs",
        json={"seed": SEED, "approve": True},
        headers=headers,
    ).json()
    started = time.perf_counter()
    # Rendered here, as the worker would (no queue consumer runs in this process).
    run_synthesis_job(runtime, job["id"])
    state = client.get(f"/v1/synthesis-jobs/{job['id']}", headers=headers).json()
    if state["lines_done"] != lines:
        raise SystemExit(f"synthesis did not complete: {state}")
    print(f"synthesized {lines} lines in {time.perf_counter() - started:.0f} s")
    return str(project)


def _studio_of(runtime: Runtime, project_id: str) -> str:
    with transaction(runtime.sessions) as session:
        project = session.get(Project, project_id)
        assert project is not None
        return project.studio_id


def _baseline_zip(runtime: Runtime, studio_id: str, project_id: str) -> int:
    """Every take WAV of the project into a zip, as fast as the storage gives them."""
    with transaction(runtime.sessions) as session:
        keys = list(
            session.scalars(
                owned(Take, studio_id)
                .where(Take.project_id == project_id)
                .with_only_columns(Take.audio_key)
            )
        )
    with tempfile.TemporaryFile() as spool:
        with zipfile.ZipFile(spool, "w", zipfile.ZIP_DEFLATED) as bundle:
            for key in keys:
                bundle.writestr(key.rsplit("/", 1)[-1], runtime.storage.get(key))
        return spool.tell()


def _fetch_zip(client: httpx.Client, url: str, headers: dict[str, str]) -> tuple[int, int]:
    """Stream the zip to a temporary file: (bytes, files in it)."""
    with tempfile.TemporaryFile() as spool:
        with client.stream("GET", url, headers=headers) as response:
            response.raise_for_status()
            for chunk in response.iter_bytes():
                spool.write(chunk)
        size = spool.tell()
        spool.seek(0)
        with zipfile.ZipFile(spool) as bundle:
            return size, len(bundle.namelist())


def _shape_rate(runtime: Runtime, studio_id: str, project_id: str) -> None:
    with transaction(runtime.sessions) as session:
        cuts = list(session.scalars(owned(Cut, studio_id).where(Cut.project_id == project_id)))
        exports = [cut_export(session, studio_id, cut.id, ExportOptions()) for cut in cuts]
    timings = [export.timing("rhubarb") for export in exports]
    audio_seconds = sum(
        float(sum(p.samples for p in take.phonemes) / take.sample_rate)
        for timing in timings
        for take in timing.takes
    )
    cases = [(name, Fraction(24)) for name in SHAPE_SETS] + [
        ("rhubarb", Fraction(12)),
        ("rhubarb", Fraction(8)),
    ]
    print(f"mouth shapes over {len(timings)} cuts, {audio_seconds:.1f} s of audio:")
    for name, fps in cases:
        started = time.perf_counter()
        for timing in timings:
            build_cut_timing(timing.cut, timing.takes, shape_set=name, fps=fps)
        elapsed = time.perf_counter() - started
        print(
            f"  {name:14} {float(fps):>3g} fps: {1000 * elapsed / audio_seconds:6.2f} ms"
            f" per second of audio ({audio_seconds / elapsed:,.0f}× real time)"
        )


def run(lines: int, rounds: int) -> None:
    engines = EngineRegistry.load(["piper"], cache_dir=None)
    with bench_studio(engines, [("piper", "joe", "en")]) as (
        runtime,
        key,
        voices,
    ):
        headers = {"Authorization": f"Bearer {key}"}
        with (
            serving(create_app(runtime.settings, runtime=runtime)) as base,
            httpx.Client(base_url=base, timeout=600) as client,
        ):
            project = _prepare(runtime, client, headers, voices[0].voice_id, lines)
            studio_id = _studio_of(runtime, project)
            _shape_rate(runtime, studio_id, project)
            url = f"/v1/projects/{project}/exports/zip"
            baseline: list[float] = []
            full: list[float] = []
            lean: list[float] = []
            sizes = (0, 0)
            for _ in range(rounds):
                started = time.perf_counter()
                base_size = _baseline_zip(runtime, studio_id, project)
                baseline.append(time.perf_counter() - started)
                started = time.perf_counter()
                size, files = _fetch_zip(client, url, headers)
                full.append(time.perf_counter() - started)
                sizes = (base_size, size)
                started = time.perf_counter()
                _fetch_zip(client, f"{url}?review_sheets=false", headers)
                lean.append(time.perf_counter() - started)
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            tracemalloc.start()
            _fetch_zip(client, url, headers)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    b, f = statistics.median(baseline), statistics.median(full)
    print(f"{lines}-line project, {files} files in the zip, medians of {rounds} rounds:")
    print(f"  baseline (take WAVs into a zip):  {b:7.2f} s  {sizes[0] / 1e6:7.1f} MB")
    print(f"  project zip through the API:      {f:7.2f} s  {sizes[1] / 1e6:7.1f} MB")
    print(f"  ratio: {f / b:.2f}")
    n = statistics.median(lean)
    print(f"  project zip without review sheets: {n:7.2f} s   ratio: {n / b:.2f}")
    print(
        f"  memory for one project zip: Python peak {peak / 1e6:.1f} MB (tracemalloc),"
        f" resident set grew {(rss_after - rss_before) / 1024:.1f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    run(args.lines, args.rounds)


if __name__ == "__main__":
    main()
