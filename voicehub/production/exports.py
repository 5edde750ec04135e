"""Exports of a cut or a whole project: approved takes placed on the clock, in studio formats.

Every export uses each line's *approved* take (`LineApproval`). A studio can
ask for a draft from each line's latest take instead (`takes="latest"`); a
draft says so in every file that has room for it. Lines whose take was made
from an earlier text of the line are reported as warnings, never dropped
silently.

Placement: a line with a start time starts at (line start - cut start) in its
cut; a line without one follows the previous take. A cut lasts at least until
its last take ends, and sits on the project timeline at its own start.

Bundles (zip) are written into a temporary file that spills to disk, one take
at a time, so a project of hundreds of lines never sits in memory whole.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import IO, Any, Literal, Protocol

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session

from consent.tables import ConsentVersion
from models.engines import PhonemeTiming, WordTiming
from voicehub.audio import read_wav
from voicehub.db import utcnow
from voicehub.errors import InvalidInput, NoApprovedTake, NoTakes
from voicehub.lipsync import CutInfo, CutTiming, PlacedTake, build_cut_timing, cut_timing_json
from voicehub.lipsync.exports import MAX_MIN_HOLD_FRAMES, rhubarb_json, rhubarb_tsv
from voicehub.lipsync.moho import moho_dat
from voicehub.lipsync.review import review_sheet_png
from voicehub.lipsync.subtitles import SubtitleCue, ass, srt, webvtt
from voicehub.lipsync.timeline import TimelineCut, otio_json, project_timeline, take_media_path
from voicehub.lipsync.xdts import cut_xdts
from voicehub.production.service import (
    FRAME_RATES,
    character_names,
    latest_takes,
    lines_of_cut,
    lines_of_project,
    lookup_frame_rate,
)
from voicehub.production.tables import Cut, Line, Project, Take
from voicehub.production.takes import approved_takes, is_stale
from voicehub.tenancy.scope import get_owned, owned

# Animation is drawn on ones, twos or threes: 24, 12 or 8 drawings a second.
EXPORT_FRAME_RATES: dict[str, Fraction] = {**FRAME_RATES, "12": Fraction(12), "8": Fraction(8)}

TakeChoice = Literal["approved", "latest"]
# Pauses up to a second may be bridged; a longer "pause" is a scene's silence.
MAX_BRIDGE_MS = 1000

DRAFT_NOTE = (
    "DRAFT: made from the latest take of each line, not the approved takes. Not for delivery."
)
# Memory a bundle may use before its temporary file moves to disk.
_SPOOL_BYTES = 8 * 1024 * 1024


class AudioStore(Protocol):
    def get(self, key: str) -> bytes: ...


def export_frame_rate(value: str | None, cut: Cut) -> Fraction:
    if value is None:
        return cut.frame_rate
    return lookup_frame_rate(value, EXPORT_FRAME_RATES, "fps")


@dataclass(frozen=True)
class ExportOptions:
    """What a studio asked of an export: which takes, frame rate, shapes, hold and bridging."""

    takes: TakeChoice = "approved"
    fps: str | None = None
    shape_set: str = "rhubarb"
    min_hold_frames: int = 1
    bridge_ms: int = 120

    def __post_init__(self) -> None:
        if self.fps is not None:
            lookup_frame_rate(self.fps, EXPORT_FRAME_RATES, "fps")
        if not 1 <= self.min_hold_frames <= MAX_MIN_HOLD_FRAMES:
            raise InvalidInput(
                f"min_hold is {self.min_hold_frames} frames; use 1 to {MAX_MIN_HOLD_FRAMES}.",
                fields=["min_hold"],
            )
        if not 0 <= self.bridge_ms <= MAX_BRIDGE_MS:
            raise InvalidInput(
                f"bridge_ms is {self.bridge_ms}; use 0 (no bridging) to {MAX_BRIDGE_MS} ms.",
                fields=["bridge_ms"],
            )

    @property
    def draft(self) -> bool:
        return self.takes == "latest"

    def as_json(self) -> dict[str, Any]:
        return {
            "takes": self.takes,
            "fps": self.fps,
            "shape_set": self.shape_set,
            "min_hold": self.min_hold_frames,
            "bridge_ms": self.bridge_ms,
        }


@dataclass(frozen=True)
class ExportWarning:
    """Something a studio must know about an export that still went ahead."""

    code: Literal["stale_take", "missing_take"]
    line_id: str
    take_id: str | None
    detail: str

    def as_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "line_id": self.line_id,
            "take_id": self.take_id,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class CutExport:
    """A cut's chosen takes placed on its clock; `timing()` computes any shape set's track."""

    info: CutInfo
    start_seconds: Fraction
    fps: Fraction
    placed: tuple[PlacedTake, ...]
    takes: Mapping[str, Take] = field(hash=False)
    options: ExportOptions
    warnings: tuple[ExportWarning, ...]
    # Shape set → timing: a bundle asks for the same track for several files.
    _timings: dict[str, CutTiming] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    @property
    def draft(self) -> bool:
        return self.options.draft

    def timing(self, shape_set: str | None = None) -> CutTiming:
        name = shape_set or self.options.shape_set
        if name not in self._timings:
            self._timings[name] = build_cut_timing(
                self.info,
                self.placed,
                shape_set=name,
                fps=self.fps,
                min_hold_frames=self.options.min_hold_frames,
                bridge_pauses_under=Fraction(self.options.bridge_ms, 1000),
            )
        return self._timings[name]


@dataclass(frozen=True)
class ProjectExport:
    """Every cut of a project that has takes to export, in timeline order."""

    project: Project
    cuts: tuple[CutExport, ...]
    options: ExportOptions
    warnings: tuple[ExportWarning, ...]

    @property
    def draft(self) -> bool:
        return self.options.draft


def cut_export(session: Session, studio_id: str, cut_id: str, options: ExportOptions) -> CutExport:
    """One cut of the calling studio with its chosen takes; another studio's cut is a 404."""
    cut = get_owned(session, Cut, studio_id, cut_id)
    fps = export_frame_rate(options.fps, cut)
    lines = lines_of_cut(session, studio_id, cut.id)
    takes, warnings = _chosen_takes(session, studio_id, lines, options, f"Cut {cut.number}")
    names = character_names(session, studio_id, cut.project_id)
    return _place(cut, lines, takes, names, fps, options, warnings)


def project_export(
    session: Session, studio_id: str, project_id: str, options: ExportOptions
) -> ProjectExport:
    """Every cut of the project with its chosen takes; cuts without takes to export are left out."""
    project = get_owned(session, Project, studio_id, project_id)
    lines = lines_of_project(session, studio_id, project.id)
    takes, warnings = _chosen_takes(session, studio_id, lines, options, f"Project {project.name!r}")
    names = character_names(session, studio_id, project.id)
    by_cut: dict[str, list[Line]] = {}
    for line in lines:
        by_cut.setdefault(line.cut_id, []).append(line)
    cuts = session.scalars(
        owned(Cut, studio_id).where(Cut.project_id == project.id).order_by(Cut.start_ms, Cut.number)
    )
    exports = []
    for cut in cuts:
        cut_lines = by_cut.get(cut.id, [])
        if not any(line.id in takes for line in cut_lines):
            continue
        fps = export_frame_rate(options.fps, cut)
        in_cut = {line.id for line in cut_lines}
        cut_warnings = [w for w in warnings if w.line_id in in_cut]
        exports.append(_place(cut, cut_lines, takes, names, fps, options, cut_warnings))
    return ProjectExport(project, tuple(exports), options, tuple(warnings))


def _chosen_takes(
    session: Session,
    studio_id: str,
    lines: Sequence[Line],
    options: ExportOptions,
    what: str,
) -> tuple[dict[str, Take], list[ExportWarning]]:
    """Line id → the take to export, and the warnings about them.

    Approved takes: every line must have one (409 `no_approved_take` naming the
    lines that lack one). Latest takes: lines without a take are left out with
    a warning. No take at all in either case is 409 `no_takes`.
    """
    line_ids = [line.id for line in lines]
    any_take = bool(line_ids) and session.scalar(
        owned(Take, studio_id).where(Take.line_id.in_(line_ids)).with_only_columns(Take.id).limit(1)
    )
    if not any_take:
        raise NoTakes(f"{what} has no takes yet; synthesize its lines first.")
    warnings: list[ExportWarning] = []
    if options.takes == "approved":
        takes = approved_takes(session, studio_id, line_ids)
        missing = [line_id for line_id in line_ids if line_id not in takes]
        if missing:
            shown = ", ".join(missing[:10]) + (
                f" and {len(missing) - 10} more" if len(missing) > 10 else ""
            )
            raise NoApprovedTake(
                f"{what}: {len(missing)} line(s) have no approved take ({shown}). Approve one"
                " take per line with POST /v1/takes/{take_id}/approve, or export a draft from"
                " the latest takes with takes=latest.",
                line_ids=missing,
            )
    else:
        takes = latest_takes(session, studio_id, line_ids)
        for line in lines:
            if line.id not in takes:
                warnings.append(
                    ExportWarning(
                        "missing_take",
                        line.id,
                        None,
                        f"Line {line.id} has no take yet and is left out of this draft.",
                    )
                )
    for line in lines:
        take = takes.get(line.id)
        if take is not None and is_stale(take, line):
            warnings.append(
                ExportWarning(
                    "stale_take",
                    line.id,
                    take.id,
                    f"Take {take.id} speaks an earlier text of line {line.id}; the line now"
                    f" reads {line.text.strip()!r}. Render and approve a new take.",
                )
            )
    return takes, warnings


def _place(
    cut: Cut,
    lines: Sequence[Line],
    takes: Mapping[str, Take],
    names: Mapping[str, str],
    fps: Fraction,
    options: ExportOptions,
    warnings: Sequence[ExportWarning],
) -> CutExport:
    placed: list[PlacedTake] = []
    used: dict[str, Take] = {}
    cursor = Fraction(0)
    for line in lines:
        take = takes.get(line.id)
        if take is None:
            continue
        offset = (
            cursor
            if line.start_ms is None
            else Fraction(max(0, line.start_ms - cut.start_ms), 1000)
        )
        placed.append(
            PlacedTake(
                line_id=line.id,
                take_id=take.id,
                consent_version_id=take.consent_version_id,
                character=names[line.character_id],
                text=take.text,
                language=take.language,
                offset_seconds=offset,
                sample_rate=take.sample_rate,
                phonemes=[
                    PhonemeTiming(p, s, n, bool(pause))
                    for p, s, n, pause in take.timing["phonemes"]
                ],
                words=[WordTiming(w, s, n) for w, s, n in take.timing["words"]],
                morae=[WordTiming(m, s, n) for m, s, n in take.timing.get("morae", [])],
            )
        )
        used[take.id] = take
        cursor = offset + Fraction(take.num_samples, take.sample_rate)
    end = max([Fraction(cut.end_ms - cut.start_ms, 1000)] + [t.end_seconds for t in placed])
    info = CutInfo(
        cut_id=cut.id, number=cut.number, duration_seconds=end, frame_rate=cut.frame_rate
    )
    return CutExport(
        info=info,
        start_seconds=Fraction(cut.start_ms, 1000),
        fps=fps,
        placed=tuple(placed),
        takes=used,
        options=options,
        warnings=tuple(warnings),
    )


# --- files -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportFile:
    """One exported file: its name, media type and bytes."""

    name: str
    media_type: str
    data: bytes


def export_notes(draft: bool, warnings: Iterable[ExportWarning]) -> list[str]:
    """What a subtitle file's comments say about the export: draft, then each warning."""
    return ([DRAFT_NOTE] if draft else []) + [w.detail for w in warnings]


def cut_json(export: CutExport) -> dict[str, Any]:
    """The cut's timing JSON with which takes it uses, whether it is a draft, and its warnings."""
    return {
        **cut_timing_json(export.timing()),
        "takes": export.options.takes,
        "draft": export.draft,
        "warnings": [w.as_json() for w in export.warnings],
    }


def subtitle_cues(export: CutExport, *, origin: Fraction = Fraction(0)) -> list[SubtitleCue]:
    """A cue per placed take, on the cut's clock shifted by `origin` (the cut's start, for a
    project's subtitles)."""
    return [
        SubtitleCue(
            start=origin + take.offset_seconds,
            end=origin + take.end_seconds,
            speaker=take.character,
            text=take.text,
            identifier=take.line_id,
        )
        for take in export.placed
    ]


def _dumps(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode()


def _text(value: str) -> bytes:
    return value.encode()


CUT_FORMATS: dict[str, tuple[str, str]] = {
    # format → (file name suffix, media type)
    "json": (".json", "application/json"),
    "rhubarb": (".rhubarb.tsv", "text/tab-separated-values; charset=utf-8"),
    "rhubarb-json": (".rhubarb.json", "application/json"),
    "moho": (".moho.dat", "text/plain; charset=utf-8"),
    "xdts": (".xdts", "application/octet-stream"),
    "srt": (".srt", "application/x-subrip; charset=utf-8"),
    "vtt": (".vtt", "text/vtt; charset=utf-8"),
    "ass": (".ass", "text/x-ssa; charset=utf-8"),
    "review.png": (".review.png", "image/png"),
}


TakeAudio = Mapping[str, tuple[npt.NDArray[np.float64], int]]


def cut_file(
    export: CutExport, file_format: str, audio: TakeAudio | None = None, *, scene: str = "1"
) -> ExportFile:
    """One of `CUT_FORMATS` for a cut; the review sheet draws the takes' `audio` (`take_audio`),
    the XDTS sheet is numbered in `scene`."""
    suffix, media_type = CUT_FORMATS[file_format]
    number = export.info.number
    notes = export_notes(export.draft, export.warnings)
    data: bytes
    if file_format == "json":
        data = _dumps(cut_json(export))
    elif file_format == "rhubarb":
        data = _text(rhubarb_tsv(export.timing("rhubarb")))
    elif file_format == "rhubarb-json":
        data = _dumps(rhubarb_json(export.timing("rhubarb")))
    elif file_format == "moho":
        data = _text(moho_dat(export.timing("preston_blair")))
    elif file_format == "xdts":
        data = _text(cut_xdts(export.timing(), scene=scene))
    elif file_format == "srt":
        data = _text(srt(subtitle_cues(export)))
    elif file_format == "vtt":
        data = _text(webvtt(subtitle_cues(export), notes=notes))
    elif file_format == "ass":
        data = _text(ass(subtitle_cues(export), title=number, notes=notes))
    elif file_format == "review.png":
        data = review_sheet_png(export.timing(), audio or {})
    else:
        raise KeyError(file_format)
    return ExportFile(f"{number}{suffix}", media_type, data)


def take_audio(
    export: CutExport, store: AudioStore
) -> dict[str, tuple[npt.NDArray[np.float64], int]]:
    """Each placed take's audio, read from `store` and decoded."""
    return {take_id: read_wav(store.get(take.audio_key)) for take_id, take in export.takes.items()}


# --- bundles ---------------------------------------------------------------------------

BUNDLE_FORMAT = "voicehub-export"
BUNDLE_VERSION = 1
# Files of a cut in a bundle, in the order they are written.
BUNDLE_CUT_FORMATS = (
    "json",
    "rhubarb",
    "rhubarb-json",
    "moho",
    "xdts",
    "srt",
    "vtt",
    "ass",
    "review.png",
)

# Told (files written, files in all) after each file of a bundle, the manifest last.
BundleProgress = Callable[[int, int], None]


def bundle_cut_formats(review_sheets: bool = True) -> tuple[str, ...]:
    """The cut files a bundle holds; without `review_sheets`, no review PNG (the slow part)."""
    return tuple(f for f in BUNDLE_CUT_FORMATS if review_sheets or f != "review.png")


def project_bundle_files(export: ProjectExport, *, review_sheets: bool = True) -> int:
    """How many files `project_bundle` writes: per cut its takes and formats, the project's
    files, and the manifest."""
    per_cut = len(bundle_cut_formats(review_sheets))
    return sum(len(cut.placed) + per_cut for cut in export.cuts) + len(PROJECT_FORMATS) + 1


class _Bundle:
    """A zip being written into a temporary file, keeping a manifest entry per file."""

    def __init__(self, progress: BundleProgress | None = None, total: int = 0) -> None:
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115 (returned open)
        self.zip = zipfile.ZipFile(self.file, "w", zipfile.ZIP_DEFLATED)
        self.files: list[dict[str, Any]] = []
        self.written_at = utcnow()
        self.progress = progress
        self.total = total

    def add(self, path: str, data: bytes, file_format: str) -> None:
        info = zipfile.ZipInfo(path, date_time=self.written_at.timetuple()[:6])
        # Audio and PNG are compressed already; deflating them only costs time.
        info.compress_type = (
            zipfile.ZIP_STORED if path.endswith((".wav", ".png")) else zipfile.ZIP_DEFLATED
        )
        self.zip.writestr(info, data)
        self.files.append(
            {
                "path": path,
                "format": file_format,
                "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        )
        if self.progress is not None:
            self.progress(len(self.files), self.total)

    def close(self, manifest: dict[str, Any]) -> tuple[IO[bytes], int]:
        """Write the manifest (listing every other file) and return the zip, rewound, and its size."""
        manifest["files"] = self.files
        info = zipfile.ZipInfo("manifest.json", date_time=self.written_at.timetuple()[:6])
        info.compress_type = zipfile.ZIP_DEFLATED
        self.zip.writestr(info, _dumps(manifest))
        self.zip.close()
        size = self.file.tell()
        self.file.seek(0)
        if self.progress is not None:
            self.progress(len(self.files) + 1, self.total)
        return self.file, size

    def abort(self) -> None:
        self.zip.close()
        self.file.close()


def _write_cut(
    bundle: _Bundle,
    export: CutExport,
    store: AudioStore,
    folder: str,
    formats: Sequence[str] = BUNDLE_CUT_FORMATS,
) -> list[str]:
    """A cut's `formats` under `folder` (and its takes' WAVs under takes/); the cut's file paths."""
    paths = []
    audio: dict[str, tuple[npt.NDArray[np.float64], int]] = {}
    for take in export.placed:
        data = store.get(export.takes[take.take_id].audio_key)
        bundle.add(take_media_path(take), data, "wav")
        audio[take.take_id] = read_wav(data)
    for file_format in formats:
        exported = cut_file(export, file_format, audio)
        path = f"{folder}{exported.name}"
        bundle.add(path, exported.data, file_format)
        paths.append(path)
    return paths


def _takes_json(
    exports: Sequence[CutExport], consents: Mapping[str, str], *, on_project: bool
) -> list[dict[str, Any]]:
    out = []
    for export in exports:
        stale = {w.take_id for w in export.warnings if w.code == "stale_take"}
        origin = export.start_seconds if on_project else Fraction(0)
        for take in export.placed:
            row = export.takes[take.take_id]
            out.append(
                {
                    "take_id": take.take_id,
                    "line_id": take.line_id,
                    "cut_number": export.info.number,
                    "character": take.character,
                    "text": take.text,
                    "file": take_media_path(take),
                    "start_seconds": float(round(origin + take.offset_seconds, 6)),
                    "end_seconds": float(round(origin + take.end_seconds, 6)),
                    "voice_id": row.voice_id,
                    "consent_version_id": take.consent_version_id,
                    "consent_id": consents.get(take.consent_version_id),
                    "stale": take.take_id in stale,
                }
            )
    return out


def _consent_ids(session: Session, exports: Sequence[CutExport]) -> dict[str, str]:
    """Consent version id → consent id, for every take in the exports."""
    version_ids = sorted({t.consent_version_id for e in exports for t in e.placed})
    if not version_ids:
        return {}
    rows = session.execute(
        select(ConsentVersion.id, ConsentVersion.consent_id).where(
            ConsentVersion.id.in_(version_ids)
        )
    )
    return {version_id: consent_id for version_id, consent_id in rows}


def _manifest_head(
    kind: str, options: ExportOptions, warnings: Sequence[ExportWarning]
) -> dict[str, Any]:
    return {
        "format": BUNDLE_FORMAT,
        "version": BUNDLE_VERSION,
        "kind": kind,
        "generated_at": utcnow().isoformat().replace("+00:00", "Z"),
        "draft": options.draft,
        "options": options.as_json(),
        "warnings": [w.as_json() for w in warnings],
    }


def _cut_json(export: CutExport) -> dict[str, Any]:
    return {
        "id": export.info.cut_id,
        "number": export.info.number,
        "start_seconds": float(round(export.start_seconds, 6)),
        "duration_seconds": float(round(export.info.duration_seconds, 6)),
        "frame_rate": f"{export.fps.numerator}/{export.fps.denominator}",
    }


def _consent_lists(consents: Mapping[str, str]) -> dict[str, list[str]]:
    return {
        "consent_ids": sorted(set(consents.values())),
        "consent_version_ids": sorted(consents),
    }


def cut_bundle(session: Session, export: CutExport, store: AudioStore) -> tuple[IO[bytes], int]:
    """The cut's every file, its takes' WAVs and `manifest.json`, as a zip in a temporary file."""
    bundle = _Bundle()
    try:
        paths = _write_cut(bundle, export, store, "")
        consents = _consent_ids(session, [export])
        manifest = _manifest_head("cut", export.options, export.warnings)
        manifest["cut"] = {**_cut_json(export), "files": paths}
        manifest["takes"] = _takes_json([export], consents, on_project=False)
        manifest.update(_consent_lists(consents))
        return bundle.close(manifest)
    except BaseException:
        bundle.abort()
        raise


def project_cues(export: ProjectExport) -> list[SubtitleCue]:
    """Every exported take as a subtitle on the project timeline (cut start + offset in the cut)."""
    return [cue for cut in export.cuts for cue in subtitle_cues(cut, origin=cut.start_seconds)]


PROJECT_FORMATS: dict[str, tuple[str, str]] = {
    "srt": ("project.srt", "application/x-subrip; charset=utf-8"),
    "vtt": ("project.vtt", "text/vtt; charset=utf-8"),
    "ass": ("project.ass", "text/x-ssa; charset=utf-8"),
    "otio": ("project.otio", "application/vnd.opentimelineio+json"),
}


def project_file(export: ProjectExport, file_format: str) -> ExportFile:
    """One of `PROJECT_FORMATS`: the project's subtitles or its OpenTimelineIO timeline."""
    name, media_type = PROJECT_FORMATS[file_format]
    notes = export_notes(export.draft, export.warnings)
    if file_format == "srt":
        text = srt(project_cues(export))
    elif file_format == "vtt":
        text = webvtt(project_cues(export), notes=notes)
    elif file_format == "ass":
        text = ass(project_cues(export), title=export.project.name, notes=notes)
    elif file_format == "otio":
        text = otio_json(project_otio(export))
    else:
        raise KeyError(file_format)
    return ExportFile(name, media_type, text.encode())


def project_otio(export: ProjectExport) -> Any:
    """The project's OpenTimelineIO timeline (see `voicehub.lipsync.timeline`)."""
    project = export.project
    return project_timeline(
        project.name,
        project.frame_rate,
        [TimelineCut(cut.timing(), cut.start_seconds) for cut in export.cuts],
        metadata={
            "voicehub": {
                "project_id": project.id,
                "draft": export.draft,
                "options": export.options.as_json(),
            }
        },
    )


def project_bundle(
    session: Session,
    export: ProjectExport,
    store: AudioStore,
    *,
    review_sheets: bool = True,
    progress: BundleProgress | None = None,
) -> tuple[IO[bytes], int]:
    """Every cut's files in a folder per cut number, the project's subtitles and timeline, the
    takes' WAVs and `manifest.json`, as a zip in a temporary file.

    Without `review_sheets` the cuts' review PNGs are left out (they take most of the
    time). `progress` is told (files written, `project_bundle_files`) after each file.
    """
    formats = bundle_cut_formats(review_sheets)
    bundle = _Bundle(progress, project_bundle_files(export, review_sheets=review_sheets))
    try:
        cuts = []
        for cut in export.cuts:
            folder = f"{cut.info.number}/"
            paths = _write_cut(bundle, cut, store, folder, formats)
            cuts.append({**_cut_json(cut), "folder": folder, "files": paths})
        for file_format in PROJECT_FORMATS:
            exported = project_file(export, file_format)
            bundle.add(exported.name, exported.data, file_format)
        consents = _consent_ids(session, export.cuts)
        project = export.project
        manifest = _manifest_head("project", export.options, export.warnings)
        manifest["project"] = {
            "id": project.id,
            "name": project.name,
            "language": project.language,
            "frame_rate": f"{project.fps_num}/{project.fps_den}",
        }
        manifest["cuts"] = cuts
        manifest["takes"] = _takes_json(export.cuts, consents, on_project=True)
        manifest.update(_consent_lists(consents))
        return bundle.close(manifest)
    except BaseException:
        bundle.abort()
        raise
