"""`voicehub identify FILE` and `voicehub provenance …`: tracing a clip, reading Content Credentials.

`identify` exits 0 when the clip was identified, 1 when no take matches, 2 when
the clip cannot be identified (too short, silent, corrupt, not audio).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import exists, select

import voicehub.schema  # noqa: F401  (every table, whichever command runs)
from voicehub.audio import read_wav
from voicehub.commands import add_command
from voicehub.db import make_engine, make_sessionmaker, transaction
from voicehub.production.tables import Take
from voicehub.provenance.tables import TakeFingerprint
from voicehub.settings import Settings, get_settings
from voicehub.storage import make_storage

if TYPE_CHECKING:
    from voicehub.provenance.identify import Identification

# The signal processing (scipy) and the C2PA library load only when a provenance
# command runs, not with every `voicehub` command.

BACKFILL_BATCH = 50


def _read(path: str) -> bytes:
    return sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()


def _trust_anchors(settings: Settings) -> bytes | None:
    path = settings.c2pa_trust_anchors_path
    return None if path is None else path.read_bytes()


def cmd_identify(args: argparse.Namespace) -> int:
    from voicehub.provenance.identify import identify

    settings = get_settings()
    data = _read(args.file)
    sessions = make_sessionmaker(make_engine(settings.resolved_database_url))
    with sessions() as session:
        found = identify(session, data, trust_anchors_pem=_trust_anchors(settings))
        answer = found.as_json(studio_id=None, actor_ids=())
    if args.json:
        print(json.dumps(answer, default=str, ensure_ascii=False, indent=2))
    else:
        _print_identification(found, answer)
    return 0 if found.identified else 1


def _print_identification(found: Identification, answer: dict[str, object]) -> None:
    print(f"clip: {found.clip_seconds:.1f} s")
    for result in found.methods:
        print(f"  {result.method.value}: {result.outcome.value} ({result.detail})")
    if not found.identified:
        print("no VoiceHub take matches this clip")
    for match in found.attributions:
        print(
            f"take {match.take.id} (line {match.take.line_id}, {match.take.created_at:%Y-%m-%d})"
            f" — voice {match.voice.name} of {match.actor.credited_name},"
            f" studio {match.studio.name}; confidence {match.confidence:.2f}"
            f" by {', '.join(m.value for m in match.methods)};"
            f" the take starts at {match.take_start_seconds:+.2f} s on the clip"
        )
    if found.credentials is not None:
        report = found.credentials
        named = f", names take {report.credit.take_id}" if report.credit else ""
        print(f"content credentials: {report.state}{named}")


def cmd_credentials(args: argparse.Namespace) -> int:
    from voicehub.provenance.credentials import read_credentials
    from voicehub.provenance.identify import credentials_mime_type

    settings = get_settings()
    data = _read(args.file)
    report = read_credentials(
        data,
        mime_type=credentials_mime_type(data) or "audio/wav",
        trust_anchors_pem=_trust_anchors(settings),
    )
    print(json.dumps(report.as_json(), ensure_ascii=False, indent=2))
    return 0 if report.state in ("trusted", "untrusted") else 1


def cmd_backfill(_: argparse.Namespace) -> int:
    """Fingerprint every take made before fingerprints were (or whose fingerprints are missing)."""
    from voicehub.provenance.index import store_fingerprints, take_fingerprints

    settings = get_settings()
    sessions = make_sessionmaker(make_engine(settings.resolved_database_url))
    storage = make_storage(settings)
    done = skipped = 0
    after = ""
    while True:
        with transaction(sessions) as session:
            takes = list(
                session.scalars(
                    select(Take)
                    .where(
                        Take.id > after,
                        ~exists().where(TakeFingerprint.take_id == Take.id),
                    )
                    .order_by(Take.id)
                    .limit(BACKFILL_BATCH)
                )
            )
            if not takes:
                break
            for take in takes:
                audio, rate = read_wav(storage.get(take.audio_key))
                fingerprints = take_fingerprints(audio, rate)
                if fingerprints:
                    store_fingerprints(session, take.id, fingerprints, seconds=len(audio) / rate)
                    done += 1
                else:
                    skipped += 1
            after = takes[-1].id
    print(f"fingerprinted {done} take(s); {skipped} too short for any method")
    return 0


def cmd_signing(_: argparse.Namespace) -> int:
    """Where the signing certificate comes from (making the development CA when none is configured)."""
    from voicehub.provenance.credentials import SigningIdentity

    settings = get_settings()
    identity = SigningIdentity.load(settings)
    source = (
        f"{settings.c2pa_cert_path} and {settings.c2pa_key_path}"
        if settings.c2pa_cert_path is not None
        else f"development CA under {settings.keys_dir / 'c2pa'}"
    )
    print(f"takes are signed with the certificate chain from {source}")
    trusted = (
        "configured" if identity.trust_anchors_pem else "not configured (manifests read untrusted)"
    )
    print(f"trust anchors: {trusted}")
    return 0


def add_provenance_commands(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """Register `identify` and the `provenance` group on the main CLI's subparsers."""

    command = add_command

    found = command(
        subparsers,
        "identify",
        cmd_identify,
        "Which VoiceHub take is this clip? Prints the take, line, voice, actor and studio with a"
        " confidence, or that none matches. Exit 0 identified, 1 no match, 2 unusable clip.",
    )
    found.add_argument("file", help="an audio file (WAV, MP3, FLAC, Ogg, M4A); - reads stdin")
    found.add_argument("--json", action="store_true", help="print the API's JSON answer")
    parser = subparsers.add_parser(
        "provenance", help="Content Credentials and fingerprints: read, backfill, signing."
    )
    commands = parser.add_subparsers(dest="provenance_command", required=True)
    read = command(
        commands,
        "credentials",
        cmd_credentials,
        "Read back and verify a file's C2PA manifest. Exit 0 when valid (trusted or not).",
    )
    read.add_argument("file")
    command(
        commands,
        "backfill",
        cmd_backfill,
        "Fingerprint the takes that have no fingerprint yet (takes made before provenance).",
    )
    command(
        commands,
        "signing",
        cmd_signing,
        "Show where takes' signing certificate comes from; makes the development CA if needed.",
    )
