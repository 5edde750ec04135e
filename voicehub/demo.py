"""`make demo`: the whole path of a line, on the embedded setup, driven through the API.

Seeds clearly labelled demo data (a studio, two actors with consent, one
English and one Japanese voice), then acts as a studio would over HTTP:
create a project, import a bilingual script, cast, synthesize it through the
queue, download per-cut exports, and fetch each actor's royalty statement.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import subprocess
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import select

from api.app import create_app
from consent.service import create_actor, grant_consent
from consent.terms import ConsentTerms
from models.engines import SynthesisSettings
from models.tables import Voice
from models.voices import register_voice
from voicehub.audio import wav_bytes
from voicehub.db import migrate, transaction, utcnow
from voicehub.ledger.check import check_ledger
from voicehub.metering.currency import format_micros
from voicehub.runtime import Runtime, activate, build_runtime
from voicehub.settings import get_settings
from voicehub.tenancy.service import create_studio, issue_api_key

DEMO_SCRIPT: dict[str, Any] = {
    "cuts": [
        {
            "number": "C-001",
            "start": 0.0,
            "end": 6.0,
            "lines": [
                {
                    "character": "MAYA",
                    "text": "The signal came from the old lighthouse.",
                    "start": 0.5,
                    "end": 2.9,
                    "language": "en",
                },
                {
                    "character": "HARU",
                    "text": "灯台から？もう誰もいないはずだよ。",
                    "start": 3.5,
                    "end": 5.9,
                    "language": "ja",
                },
            ],
        },
        {
            "number": "C-002",
            "start": 6.0,
            "end": 12.0,
            "lines": [
                {
                    "character": "MAYA",
                    "text": "Then someone is waiting for us.",
                    "start": 6.5,
                    "end": 8.5,
                    "language": "en",
                },
                {
                    "character": "HARU",
                    "text": "行こう。夜が明ける前に。",
                    "start": 9.0,
                    "end": 11.0,
                    "language": "ja",
                },
            ],
        },
    ]
}


@dataclass(frozen=True)
class DemoData:
    studio_key: str
    actors: list[tuple[str, str, str, str]]  # (actor id, name, voice id, actor key)


# Stand-ins for what each demo actor would record with their microphone: the
# bundled voice itself reads a sample (the reference) and then the statement.
REFERENCE_TEXT = {
    "en": "This is how my voice sounds when I read a calm passage aloud for the reference.",
    "ja": "これは参照用に、落ち着いた文章を読み上げたときの私の声です。",
}


def verify_actors(runtime: Runtime, http: httpx.Client, data: DemoData, output: Path) -> None:
    """Each demo actor uploads reference audio and records their consent statement."""
    with runtime.sessions() as session:
        voices = {
            v.id: v
            for v in session.scalars(select(Voice).where(Voice.id.in_([a[2] for a in data.actors])))
        }
    for _, name, voice_id, actor_key in data.actors:
        voice = voices[voice_id]
        headers = {"Authorization": f"Bearer {actor_key}"}

        def speak(text: str, voice: Voice = voice) -> bytes:
            engine = runtime.engines.get(voice.engine)
            result = engine.synthesize(text, speaker=voice.speaker, settings=SynthesisSettings())
            return wav_bytes(result.audio, result.sample_rate)

        _check(
            http.post(
                f"/v1/actor/voices/{voice_id}/reference-audio",
                content=speak(REFERENCE_TEXT[voice.language]),
                headers={**headers, "Content-Type": "audio/wav"},
            )
        )
        consent = _check(http.get("/v1/actor/consents", headers=headers))["data"][0]
        statement = _check(
            http.get(f"/v1/actor/consents/{consent['id']}/statement", headers=headers)
        )
        result = _check(
            http.post(
                f"/v1/actor/consents/{consent['id']}/statement-recording",
                content=speak(statement["text"]),
                headers={**headers, "Content-Type": "audio/wav"},
            )
        )
        attempt = result["attempt"]
        print(
            f"  {name}: statement recorded, speaker match {attempt['score']:.2f} → {attempt['decision']}"
        )
        receipt = _check(http.get(f"/v1/actor/consents/{consent['id']}/receipt", headers=headers))
        receipts = output / "receipts"
        receipts.mkdir(parents=True, exist_ok=True)
        path = receipts / f"{consent['id']}.json"
        path.write_text(json.dumps(receipt, ensure_ascii=False, indent=2), "utf-8")
        print(
            f"    signed consent receipt → {path} (check: voicehub consent verify-receipt {path})"
        )


def seed(runtime: Runtime) -> DemoData:
    """The demo studio and actors, every name marked as demo data."""
    actors: list[tuple[str, str, str, str]] = []
    with transaction(runtime.sessions) as session:
        studio = create_studio(session, "Demo Studio (demo data)", is_demo=True)
        studio_key = issue_api_key(session, studio_id=studio.id).secret
        for name, engine, speaker, language, currency, price in (
            ("Alex Carter (demo actor)", "piper", "joe", "en", "USD", 20_000_000),
            (
                "青井さくら / Sakura Aoi (demo actor)",
                "kokoro",
                "jf_alpha",
                "ja",
                "JPY",
                3_000_000_000,
            ),
        ):
            actor = create_actor(session, name, is_demo=True)
            voice = register_voice(
                session,
                runtime.engines,
                actor_id=actor.id,
                name=f"{name} voice",
                engine=engine,
                speaker=speaker,
                language=language,
                is_demo=True,
            )
            grant_consent(
                session,
                voice=voice,
                terms=ConsentTerms(
                    signer_name=name,
                    use_description="Characters in animated series and games produced by the demo studio.",
                    allowed_uses=("animation", "games"),
                    excluded_categories=("politics",),
                    languages=(language,),
                    currency=currency,
                    prices_per_1k_chars_micros={"animation": price, "games": price},
                    actor_share_bps=7000,
                    starts_at=utcnow() - dt.timedelta(days=1),
                    ends_at=utcnow() + dt.timedelta(days=365),
                    notice_period_days=30,
                ),
                changed_by="demo seed",
            )
            actor_key = issue_api_key(session, actor_id=actor.id).secret
            actors.append((actor.id, name, voice.id, actor_key))
    return DemoData(studio_key, actors)


def _check(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        raise RuntimeError(
            f"{response.request.method} {response.request.url} → {response.status_code}: {response.text}"
        )
    content_type = response.headers.get("content-type", "")
    return response.json() if "json" in content_type else response.content


def _trace_a_clip(http: httpx.Client, studio: dict[str, str], output: Path) -> None:
    """A take's file leaves the building as a 64 kbit/s MP3; `POST /v1/identify` traces it back."""
    wavs = sorted(output.glob("*/*.wav"), key=lambda path: path.stat().st_size)
    if not wavs:
        return
    found = subprocess.run(
        [
            *("ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(wavs[-1])),
            *("-codec:a", "libmp3lame", "-b:a", "64k", "-f", "mp3", "pipe:1"),
        ],
        capture_output=True,
        check=True,
    ).stdout
    (output / "found-in-the-wild.mp3").write_bytes(found)
    answer = _check(http.post("/v1/identify", content=found, headers=studio))
    for match in answer["matches"][:1]:
        print(
            f"  found-in-the-wild.mp3 (64 kbit/s, no manifest left) → take {match['take_id']},"
            f" voice of {match['actor']['credited_name']}, studio {match['studio']['name']}"
            f" (confidence {match['confidence']:.2f}, {' + '.join(match['methods'])})"
        )
    if not answer["identified"]:
        print("  found-in-the-wild.mp3: not identified")


def _follow(
    http: httpx.Client,
    url: str,
    headers: dict[str, str],
    counts: Callable[[dict[str, Any]], str],
) -> dict[str, Any]:
    """Poll a queued job until it ends, printing a progress bar whenever it moves."""
    job: dict[str, Any] = _check(http.get(url, headers=headers))
    shown = -1.0
    while True:
        if job["progress"] != shown:
            shown = job["progress"]
            print(f"  [{'#' * int(shown * 20):<20}] {counts(job)}")
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.3)
        job = _check(http.get(url, headers=headers))


def drive(base_url: str, data: DemoData, output: Path) -> None:
    """Act as the studio and the actors over HTTP, writing every output under `output`."""
    studio = {"Authorization": f"Bearer {data.studio_key}"}
    with httpx.Client(base_url=base_url, timeout=120) as http:
        for engine in _check(http.get("/v1/engines", headers=studio))["data"]:
            print(
                f"  engine {engine['name']}: {len(engine['speakers'])} speaker(s),"
                f" {', '.join(engine['languages'][:6])}{' …' if len(engine['languages']) > 6 else ''},"
                f" {engine['sample_rate']} Hz"
            )
        project = _check(
            http.post(
                "/v1/projects",
                json={
                    "name": "Lighthouse, episode 1 (demo)",
                    "language": "en",
                    "use": "animation",
                    "frame_rate": 24,
                },
                headers={**studio, "Idempotency-Key": "demo-project"},
            )
        )
        print(f"  project {project['id']} '{project['name']}' at {project['frame_rate']} fps")
        imported = _check(
            http.post(f"/v1/projects/{project['id']}/script", json=DEMO_SCRIPT, headers=studio)
        )
        print(f"  script: {imported['lines_created']} lines in {len(imported['cut_ids'])} cuts")
        for character, (_, name, voice_id, _) in zip(("MAYA", "HARU"), data.actors, strict=True):
            _check(
                http.post(
                    f"/v1/projects/{project['id']}/cast",
                    json={"character": character, "voice_id": voice_id},
                    headers=studio,
                )
            )
            print(f"  cast {character} → {name}")
        job = _check(
            http.post(
                f"/v1/projects/{project['id']}/synthesis-jobs",
                json={},
                headers={**studio, "Idempotency-Key": "demo-job"},
            )
        )
        print(f"  queued {job['id']} ({job['lines_total']} lines)")
        job = _follow(
            http,
            f"/v1/synthesis-jobs/{job['id']}",
            studio,
            lambda j: f"synthesizing {j['lines_done'] + j['lines_failed']}/{j['lines_total']}",
        )
        print(f"  job {job['status']}: {job['lines_done']} done, {job['lines_failed']} failed")
        for error in job["errors"]:
            print(f"    {error['line_id']}: {error['code']} — {error['detail']}")

        for cut_id in imported["cut_ids"]:
            cut = _check(http.get(f"/v1/cuts/{cut_id}", headers=studio))
            folder = output / cut["number"]
            folder.mkdir(parents=True, exist_ok=True)
            # Exports use each line's approved take: approve the takes just made.
            for line in cut["lines"]:
                if line["latest_take_id"]:
                    _check(http.post(f"/v1/takes/{line['latest_take_id']}/approve", headers=studio))
            timing = _check(http.get(f"/v1/cuts/{cut_id}/exports/json", headers=studio))
            (folder / f"{cut['number']}.json").write_text(
                json.dumps(timing, ensure_ascii=False, indent=2), "utf-8"
            )
            tsv = _check(http.get(f"/v1/cuts/{cut_id}/exports/rhubarb", headers=studio))
            (folder / f"{cut['number']}.rhubarb.tsv").write_bytes(tsv)
            # The Japanese three-cel chart (トジ/中/アキ) animators draw 口パク with.
            anime3 = _check(
                http.get(
                    f"/v1/cuts/{cut_id}/exports/json",
                    params={"shape_set": "anime3"},
                    headers=studio,
                )
            )
            (folder / f"{cut['number']}.anime3.json").write_text(
                json.dumps(anime3, ensure_ascii=False, indent=2), "utf-8"
            )
            for line in cut["lines"]:
                if line["latest_take_id"]:
                    take_url = f"/v1/takes/{line['latest_take_id']}"
                    take = _check(http.get(take_url, headers=studio))
                    wav = _check(http.get(f"{take_url}/audio", headers=studio))
                    (folder / f"{line['id']}.wav").write_bytes(wav)
                    credentials = _check(http.get(f"{take_url}/credentials", headers=studio))
                    print(
                        f"    {line['id']}: {take['engine']}, {take['sample_rate']} Hz"
                        f" {take['bit_depth']}-bit, {take['loudness_lufs']:.1f} LUFS,"
                        f" true peak {take['true_peak_dbtp']:.1f} dBTP;"
                        f" C2PA {credentials['state']}"
                        f" ({credentials['credit']['actor_name']}, {take['id']})"
                    )
                    if take["fit"] is not None:
                        fit = take["fit"]
                        print(
                            f"      fit {fit['status']}: {fit['rendered_seconds']:.2f} s rendered →"
                            f" {fit['fitted_seconds']:.2f} s in a {fit['target_seconds']:.2f} s window"
                            f" (engine speed {fit['engine_speed']:.2f}, stretch {fit['stretch_ratio']:.3f})"
                        )
            print(
                f"  {cut['number']}: timing JSON (Rhubarb and anime3 shapes), Rhubarb TSV and"
                f" {len(cut['lines'])} WAVs → {folder}"
            )
        # Every format for every cut (XDTS, Moho, subtitles, review sheets …), the
        # project's subtitles and OpenTimelineIO timeline, and the takes, in one zip,
        # built through the queue as an export job.
        export = _check(
            http.post(
                f"/v1/projects/{project['id']}/exports",
                json={"shape_set": "anime3"},
                headers={**studio, "Idempotency-Key": "demo-export"},
            )
        )
        print(f"  queued {export['id']} ({export['files_total']} files)")
        export = _follow(
            http,
            f"/v1/export-jobs/{export['id']}",
            studio,
            lambda j: f"exporting {j['files_done']}/{j['files_total']} files",
        )
        if export["status"] != "succeeded":
            raise RuntimeError(f"export {export['id']} {export['status']}: {export['error']}")
        bundle = _check(http.get(export["download_url"], headers=studio))
        path = output / "project.zip"
        path.write_bytes(bundle)
        if hashlib.sha256(bundle).hexdigest() != export["sha256"]:
            raise RuntimeError(f"{path} does not match the export's SHA-256")
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
        print(f"  project bundle: {len(names)} files (XDTS, Moho, subtitles, OTIO, …) → {path}")
        _trace_a_clip(http, studio, output)

        period = dt.datetime.now(dt.UTC).strftime("%Y-%m")
        statements = output / "statements"
        statements.mkdir(parents=True, exist_ok=True)
        for actor_id, name, _, actor_key in data.actors:
            actor_headers = {"Authorization": f"Bearer {actor_key}"}
            path = statements / f"{actor_id}-{period}.csv"
            for kind in ("csv", "pdf"):
                document = _check(
                    http.get(f"/v1/actor/statements/{period}/{kind}", headers=actor_headers)
                )
                path.with_suffix(f".{kind}").write_bytes(document)
            summary = _check(http.get(f"/v1/actor/statements/{period}", headers=actor_headers))
            for figures in summary["currencies"]:
                currency = figures["currency"]
                print(
                    f"  royalty statement for {name} ({summary['status']}, {period}):"
                    f" royalty {format_micros(figures['accrued_micros'])} {currency},"
                    f" payable {figures['payable']} {currency},"
                    f" carried {format_micros(figures['carried_out_micros'])} → {path} (and .pdf)"
                )


def run_demo(*, output: Path, host: str, port: int, serve: bool, fresh: bool) -> int:
    settings = get_settings()
    if fresh and settings.data_dir.exists():
        shutil.rmtree(settings.data_dir)
    if output.exists():
        shutil.rmtree(output)
    output.mkdir(parents=True)
    print(f"VoiceHub demo — data in {settings.data_dir}/, outputs in {output}/")
    print("1. database: running the migrations")
    migrate(settings.resolved_database_url)
    print("2. loading the engines (Piper English, Kokoro Japanese, espeak-ng for the rest)")
    runtime = build_runtime(settings)
    activate(runtime)
    data = seed(runtime)
    print(f"3. seeded demo studio and {len(data.actors)} demo actors with consent")
    runtime.signing_identity  # noqa: B018  (made now, so the demo shows where it lives)
    print(
        "   every take is signed with Content Credentials (C2PA) by a development CA:"
        f" {settings.keys_dir / 'c2pa'} (set VOICEHUB_C2PA_TRUST_ANCHORS_PATH to its ca.pem"
        " to read takes as trusted)"
    )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(runtime=runtime, run_worker=True), host=host, port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, name="voicehub-api", daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            print(f"the API could not start on {host}:{port} (is the port in use?)")
            return 1
        time.sleep(0.05)
    base_url = f"http://{host}:{port}"
    print(f"4. API up at {base_url} (docs at {base_url}/docs); the actors verify their consent:")
    try:
        with httpx.Client(base_url=base_url, timeout=300) as http:
            verify_actors(runtime, http, data, output)
        print("5. acting as the studio:")
        drive(base_url, data, output)
        with transaction(runtime.sessions) as session:
            print(f"  {check_ledger(session).summary()}")
        (output / "demo-keys.txt").write_text(
            f"studio API key: {data.studio_key}\n"
            + "".join(f"actor {a} ({n}) API key: {k}\n" for a, n, _, k in data.actors),
            "utf-8",
        )
        print(f"6. done. Demo API keys are in {output / 'demo-keys.txt'}.")
        if serve:
            print(
                f"Serving {base_url} until Ctrl-C. Try: curl -H 'Authorization: Bearer <studio key>' {base_url}/v1/voices"
            )
            while thread.is_alive():
                thread.join(0.5)
    except KeyboardInterrupt:
        print("\nstopping")
    finally:
        server.should_exit = True
        thread.join(10)
        runtime.close()
    return 0
