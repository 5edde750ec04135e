"""Cut and project exports through the API, read back with the tools studios use.

Subtitles are read with pysubs2 and webvtt-py, the timeline with
opentimelineio, the bundles with zipfile; every time is checked against the
takes' own placement, computed here from the stored takes.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import math
import wave
import zipfile
from dataclasses import dataclass
from fractions import Fraction

import opentimelineio as otio
import pysubs2
import webvtt
from fastapi.testclient import TestClient

from tests.factories import SeededStudio, cast_project, one_line, seed_studio, seed_voice
from voicehub.db import transaction
from voicehub.lipsync.frames import frame_at
from voicehub.production.tables import Line, Take
from voicehub.runtime import Runtime

# Two cuts, two characters; the last line has no start and follows the take before it.
SCRIPT = [
    {
        "number": "C-001",
        "start": 0,
        "end": 4,
        "lines": [
            {"character": "KEN", "text": "Bring me the map.", "start": 0.5},
            {"character": "AMI", "text": "Here it is.", "start": 2.25},
        ],
    },
    {
        "number": "C-002",
        "start": 10,
        "end": 13,
        "lines": [
            {"character": "AMI", "text": "Where now?", "start": 10.2},
            {"character": "KEN", "text": "Up the hill."},
        ],
    },
]


@dataclass(frozen=True)
class Placed:
    """A take where it plays: seconds on the project timeline and on its cut's clock."""

    take_id: str
    line_id: str
    character: str
    text: str
    cut_start: Fraction
    start: Fraction  # on the project timeline
    end: Fraction

    @property
    def in_cut(self) -> tuple[Fraction, Fraction]:
        return self.start - self.cut_start, self.end - self.cut_start


@dataclass(frozen=True)
class Episode:
    studio: SeededStudio
    project_id: str
    cut_ids: list[str]
    line_ids: list[str]
    take_ids: list[str]


def _get(client: TestClient, studio: SeededStudio, path: str, **params: object) -> object:
    response = client.get(path, params=params, headers=studio.headers)
    assert response.status_code == 200, response.text
    return response


def _synthesize(client: TestClient, studio: SeededStudio, line_id: str) -> str:
    response = client.post(f"/v1/lines/{line_id}/takes", headers=studio.headers)
    assert response.status_code == 201, response.text
    take_id: str = response.json()["id"]
    return take_id


def _approve(client: TestClient, studio: SeededStudio, take_id: str) -> None:
    response = client.post(f"/v1/takes/{take_id}/approve", headers=studio.headers)
    assert response.status_code == 200, response.text


def _episode(client: TestClient, runtime: Runtime, *, approve: bool = True) -> Episode:
    studio = seed_studio(runtime)
    ken, ami = seed_voice(runtime, name="Ken"), seed_voice(runtime, name="Ami")
    project = cast_project(client, studio, {"KEN": ken, "AMI": ami}, SCRIPT)
    take_ids = [_synthesize(client, studio, line_id) for line_id in project.line_ids]
    if approve:
        for take_id in take_ids:
            _approve(client, studio, take_id)
    return Episode(studio, project.project_id, project.cut_ids, project.line_ids, take_ids)


def _placements(runtime: Runtime, episode: Episode) -> list[Placed]:
    """Each take from the script's own times: its start, or the previous take's end."""
    out: list[Placed] = []
    with transaction(runtime.sessions) as session:
        line_number = 0
        for cut in SCRIPT:
            cut_start = Fraction(str(cut["start"]))
            cursor = cut_start
            for line in cut["lines"]:  # type: ignore[attr-defined]
                take = session.get(Take, episode.take_ids[line_number])
                assert take is not None
                spoken = max(start + samples for _, start, samples, _ in take.timing["phonemes"])
                start = Fraction(str(line["start"])) if "start" in line else cursor
                out.append(
                    Placed(
                        take.id,
                        take.line_id,
                        line["character"],
                        line["text"],
                        cut_start,
                        start,
                        start + Fraction(spoken, take.sample_rate),
                    )
                )
                cursor = start + Fraction(take.num_samples, take.sample_rate)
                line_number += 1
    return out


def _ms_up(seconds: Fraction) -> int:
    return math.ceil(seconds * 1000)


def test_project_subtitles_read_back_at_the_takes_placements(
    client: TestClient, runtime: Runtime
) -> None:
    episode = _episode(client, runtime)
    placed = _placements(runtime, episode)
    base = f"/v1/projects/{episode.project_id}/exports"
    # Takes end on sample counts, so the rounding to whole milliseconds below is exercised.
    # (The follow-on take's start depends on the drawn seed's length, so it is not always.)
    assert any((p.end * 1000).denominator > 1 for p in placed), (
        "some take ends between milliseconds"
    )

    srt = _get(client, episode.studio, f"{base}/srt")
    assert srt.headers["content-type"].startswith("application/x-subrip")
    assert srt.headers["x-voicehub-draft"] == "false"
    assert "x-voicehub-warnings" not in srt.headers
    events = pysubs2.SSAFile.from_string(srt.text, format_="srt").events
    assert [(e.start, e.end) for e in events] == [(_ms_up(p.start), _ms_up(p.end)) for p in placed]
    assert [e.plaintext for e in events] == [f"{p.character}: {p.text}" for p in placed]

    vtt = webvtt.from_buffer(io.StringIO(_get(client, episode.studio, f"{base}/vtt").text))
    assert [c.identifier for c in vtt.captions] == [p.line_id for p in placed]
    assert [c.voice for c in vtt.captions] == [p.character for p in placed]
    assert [html.unescape(c.text) for c in vtt.captions] == [p.text for p in placed]
    assert [(c.start, c.end) for c in vtt.captions] == [
        (_vtt_time(_ms_up(p.start)), _vtt_time(_ms_up(p.end))) for p in placed
    ]

    subs = pysubs2.SSAFile.from_string(_get(client, episode.studio, f"{base}/ass").text)
    assert set(subs.styles) >= {"KEN", "AMI"}
    assert subs.styles["KEN"].primarycolor != subs.styles["AMI"].primarycolor
    dialogue = [e for e in subs.events if e.type == "Dialogue"]
    assert [(e.name, e.style, e.plaintext) for e in dialogue] == [
        (p.character, p.character, p.text) for p in placed
    ]
    for event, p in zip(dialogue, placed, strict=True):
        assert 0 <= event.start - p.start * 1000 <= 10, "an ASS cue never starts before its take"
        assert abs(event.end - p.end * 1000) <= 10


def _vtt_time(ms: int) -> str:
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def test_our_srt_export_imports_back_as_the_same_lines(
    client: TestClient, runtime: Runtime
) -> None:
    episode = _episode(client, runtime)
    placed = _placements(runtime, episode)
    srt = _get(client, episode.studio, f"/v1/projects/{episode.project_id}/exports/srt").content

    project = client.post(
        "/v1/projects",
        json={"name": "Re-import", "language": "en", "use": "animation"},
        headers=episode.studio.headers,
    ).json()
    imported = client.post(
        f"/v1/projects/{project['id']}/script",
        content=srt,
        headers={**episode.studio.headers, "Content-Type": "application/x-subrip"},
    )
    assert imported.status_code == 201, imported.text
    cuts = [
        _get(client, episode.studio, f"/v1/cuts/{cut_id}").json()
        for cut_id in imported.json()["cut_ids"]
    ]
    lines = [line for cut in cuts for line in cut["lines"]]
    assert [(line["character"], line["text"]) for line in lines] == [
        (p.character, p.text) for p in placed
    ]
    assert [round(line["start_seconds"] * 1000) for line in lines] == [
        _ms_up(p.start) for p in placed
    ]


def test_project_timeline_reads_back_with_opentimelineio(
    client: TestClient, runtime: Runtime
) -> None:
    episode = _episode(client, runtime)
    placed = _placements(runtime, episode)
    response = _get(client, episode.studio, f"/v1/projects/{episode.project_id}/exports/otio")
    timeline = otio.adapters.read_from_string(response.text, "otio_json")

    assert [track.name for track in timeline.tracks] == ["Mouth shapes", "KEN", "AMI"]
    clips = {
        clip.metadata["voicehub"]["take_id"]: clip
        for track in timeline.audio_tracks()
        for clip in track.find_clips()
    }
    assert set(clips) == {p.take_id for p in placed}
    for p in placed:
        clip = clips[p.take_id]
        where = clip.range_in_parent()
        start, end = frame_at(p.start, Fraction(24)), frame_at(p.end, Fraction(24))
        assert (where.start_time.value, where.duration.value, where.start_time.rate) == (
            start,
            end - start,
            24,
        )
        assert clip.parent().name == p.character
        assert clip.media_reference.target_url == f"takes/{p.take_id}.wav"

    (mouths,) = timeline.video_tracks()
    spans = [item for item in mouths if item.name.startswith("C-")]
    assert [span.name for span in spans] == ["C-001", "C-002"]
    for span, cut_id, cut_start in zip(spans, episode.cut_ids, (0, 240), strict=True):
        assert span.range_in_parent().start_time.value == cut_start
        cues = _get(
            client, episode.studio, f"/v1/cuts/{cut_id}/exports/json", shape_set="rhubarb"
        ).json()["mouth_cues"]
        assert [
            (m.marked_range.start_time.value, m.marked_range.duration.value, m.metadata["shape"])
            for m in span.markers
        ] == [(c["start_frame"], c["end_frame"] - c["start_frame"], c["shape"]) for c in cues]
        assert {m.metadata["shape_set"] for m in span.markers} == {"rhubarb"}


def test_cut_zip_holds_every_format_its_takes_and_a_consistent_manifest(
    client: TestClient, runtime: Runtime
) -> None:
    episode = _episode(client, runtime)
    response = _get(client, episode.studio, f"/v1/cuts/{episode.cut_ids[0]}/exports/zip")
    assert response.headers["content-type"] == "application/zip"
    assert 'filename="C-001.zip"' in response.headers["content-disposition"]
    bundle = zipfile.ZipFile(io.BytesIO(response.content))
    manifest = json.loads(bundle.read("manifest.json"))

    listed = {f["path"]: f for f in manifest["files"]}
    assert set(bundle.namelist()) == {*listed, "manifest.json"}
    for path, entry in listed.items():
        data = bundle.read(path)
        assert (len(data), hashlib.sha256(data).hexdigest()) == (entry["bytes"], entry["sha256"])
    assert set(manifest["cut"]["files"]) == {
        f"C-001{suffix}"
        for suffix in (
            ".json",
            ".rhubarb.tsv",
            ".rhubarb.json",
            ".moho.dat",
            ".xdts",
            ".srt",
            ".vtt",
            ".ass",
            ".review.png",
        )
    }
    assert manifest["draft"] is False and manifest["options"]["takes"] == "approved"
    assert [t["take_id"] for t in manifest["takes"]] == episode.take_ids[:2]
    takes = [_get(client, episode.studio, f"/v1/takes/{t}").json() for t in episode.take_ids[:2]]
    assert manifest["consent_version_ids"] == sorted({t["consent_version_id"] for t in takes})
    assert len(manifest["consent_ids"]) == 2 and all(
        c.startswith("cns_") for c in manifest["consent_ids"]
    )
    for take in manifest["takes"]:
        with wave.open(io.BytesIO(bundle.read(take["file"]))) as wav:
            assert wav.getnframes() > 0
        audio = _get(client, episode.studio, f"/v1/takes/{take['take_id']}/audio").content
        assert bundle.read(take["file"]) == audio
    assert bundle.read("C-001.moho.dat").startswith(b"MohoSwitch1\n")
    assert bundle.read("C-001.xdts").startswith(b"exchangeDigitalTimeSheet Save Data\n")
    assert bundle.read("C-001.review.png").startswith(b"\x89PNG\r\n\x1a\n")
    assert json.loads(bundle.read("C-001.json"))["lines"][0]["take_id"] == episode.take_ids[0]


def test_project_zip_has_a_folder_per_cut_subtitles_timeline_and_every_take(
    client: TestClient, runtime: Runtime
) -> None:
    episode = _episode(client, runtime)
    response = _get(client, episode.studio, f"/v1/projects/{episode.project_id}/exports/zip")
    assert int(response.headers["content-length"]) == len(response.content)
    bundle = zipfile.ZipFile(io.BytesIO(response.content))
    names = set(bundle.namelist())
    manifest = json.loads(bundle.read("manifest.json"))

    assert names == {f["path"] for f in manifest["files"]} | {"manifest.json"}
    assert [cut["folder"] for cut in manifest["cuts"]] == ["C-001/", "C-002/"]
    for cut in manifest["cuts"]:
        assert f"{cut['folder']}{cut['number']}.rhubarb.tsv" in cut["files"]
        assert all(path.startswith(cut["folder"]) and path in names for path in cut["files"])
    assert {"project.srt", "project.vtt", "project.ass", "project.otio"} <= names
    assert {f"takes/{t}.wav" for t in episode.take_ids} <= names
    assert [t["take_id"] for t in manifest["takes"]] == episode.take_ids
    assert manifest["takes"][2]["start_seconds"] == 10.2, "project timeline: cut start + offset"
    timeline = otio.adapters.read_from_string(bundle.read("project.otio").decode(), "otio_json")
    for clip in timeline.find_clips():
        assert clip.media_reference.target_url in names
    # The cut folders hold the cut's own clock: C-002's first line starts 0.2 s into it.
    cut_srt = pysubs2.SSAFile.from_string(bundle.read("C-002/C-002.srt").decode(), format_="srt")
    assert cut_srt.events[0].start == 200


def test_exports_refuse_lines_without_an_approved_take(
    client: TestClient, runtime: Runtime
) -> None:
    episode = _episode(client, runtime, approve=False)
    _approve(client, episode.studio, episode.take_ids[0])
    for path in (
        f"/v1/cuts/{episode.cut_ids[0]}/exports/json",
        f"/v1/cuts/{episode.cut_ids[0]}/exports/zip",
        f"/v1/projects/{episode.project_id}/exports/srt",
    ):
        response = client.get(path, headers=episode.studio.headers)
        assert response.status_code == 409, path
        problem = response.json()
        assert problem["code"] == "no_approved_take"
        assert "/approve" in problem["detail"] and "takes=latest" in problem["detail"]
    cut_problem = client.get(
        f"/v1/cuts/{episode.cut_ids[0]}/exports/srt", headers=episode.studio.headers
    ).json()
    assert cut_problem["line_ids"] == [episode.line_ids[1]]
    project_problem = client.get(
        f"/v1/projects/{episode.project_id}/exports/otio", headers=episode.studio.headers
    ).json()
    assert project_problem["line_ids"] == episode.line_ids[1:]


def test_a_cut_without_takes_is_no_takes(client: TestClient, runtime: Runtime) -> None:
    studio = seed_studio(runtime)
    project = cast_project(client, studio, {"KEN": seed_voice(runtime)}, one_line())
    for path in (
        f"/v1/cuts/{project.cut_ids[0]}/exports/json",
        f"/v1/cuts/{project.cut_ids[0]}/exports/moho?takes=latest",
        f"/v1/projects/{project.project_id}/exports/zip",
    ):
        response = client.get(path, headers=studio.headers)
        assert (response.status_code, response.json()["code"]) == (409, "no_takes"), path


def test_a_draft_uses_the_latest_takes_and_says_so_everywhere(
    client: TestClient, runtime: Runtime
) -> None:
    episode = _episode(client, runtime)
    studio, cut_id = episode.studio, episode.cut_ids[0]
    retake = _synthesize(client, studio, episode.line_ids[0])

    approved = _get(client, studio, f"/v1/cuts/{cut_id}/exports/json").json()
    assert approved["draft"] is False and approved["takes"] == "approved"
    assert approved["lines"][0]["take_id"] == episode.take_ids[0]

    draft = _get(client, studio, f"/v1/cuts/{cut_id}/exports/json", takes="latest")
    assert draft.headers["x-voicehub-draft"] == "true"
    assert draft.json()["draft"] is True and draft.json()["takes"] == "latest"
    assert draft.json()["lines"][0]["take_id"] == retake

    vtt = _get(client, studio, f"/v1/cuts/{cut_id}/exports/vtt", takes="latest")
    assert 'filename="C-001.draft.vtt"' in vtt.headers["content-disposition"]
    assert "\nNOTE DRAFT" in vtt.text
    assert len(webvtt.from_buffer(io.StringIO(vtt.text)).captions) == 2
    ass = _get(client, studio, f"/v1/cuts/{cut_id}/exports/ass", takes="latest").text
    assert "; DRAFT" in ass.split("[V4+ Styles]")[0]
    srt = _get(client, studio, f"/v1/projects/{episode.project_id}/exports/srt", takes="latest")
    assert srt.headers["x-voicehub-draft"] == "true"
    assert 'filename="project.draft.srt"' in srt.headers["content-disposition"]

    bundle = _get(client, studio, f"/v1/cuts/{cut_id}/exports/zip", takes="latest")
    assert 'filename="C-001.draft.zip"' in bundle.headers["content-disposition"]
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(bundle.content)).read("manifest.json"))
    assert manifest["draft"] is True
    assert manifest["takes"][0]["take_id"] == retake


def test_a_draft_leaves_out_lines_without_takes_with_a_warning(
    client: TestClient, runtime: Runtime
) -> None:
    studio = seed_studio(runtime)
    project = cast_project(
        client,
        studio,
        {"KEN": seed_voice(runtime), "AMI": seed_voice(runtime, name="Ami")},
        SCRIPT[:1],
    )
    _synthesize(client, studio, project.line_ids[0])
    response = _get(client, studio, f"/v1/cuts/{project.cut_ids[0]}/exports/json", takes="latest")
    assert [line["line_id"] for line in response.json()["lines"]] == project.line_ids[:1]
    assert response.json()["warnings"] == [
        {
            "code": "missing_take",
            "line_id": project.line_ids[1],
            "take_id": None,
            "detail": f"Line {project.line_ids[1]} has no take yet and is left out of this draft.",
        }
    ]
    assert response.headers["x-voicehub-warnings"] == f"missing_take={project.line_ids[1]}"


def test_a_stale_approved_take_is_exported_with_a_warning(
    client: TestClient, runtime: Runtime
) -> None:
    studio = seed_studio(runtime)
    project = cast_project(client, studio, {"KEN": seed_voice(runtime)}, one_line("Open the door."))
    take_id = _synthesize(client, studio, project.line_ids[0])
    _approve(client, studio, take_id)
    with transaction(runtime.sessions) as session:
        line = session.get(Line, project.line_ids[0])
        assert line is not None
        line.text = "Open the gate."

    response = _get(client, studio, f"/v1/cuts/{project.cut_ids[0]}/exports/json")
    (warning,) = response.json()["warnings"]
    assert (warning["code"], warning["line_id"], warning["take_id"]) == (
        "stale_take",
        project.line_ids[0],
        take_id,
    )
    assert "Open the gate." in warning["detail"]
    assert response.headers["x-voicehub-warnings"] == f"stale_take={project.line_ids[0]}"
    assert response.json()["lines"][0]["text"] == "Open the door.", "the take speaks what it says"

    vtt = _get(client, studio, f"/v1/cuts/{project.cut_ids[0]}/exports/vtt")
    assert vtt.headers["x-voicehub-warnings"] == f"stale_take={project.line_ids[0]}"
    assert f"NOTE Take {take_id} speaks an earlier text" in vtt.text
    bundle = _get(client, studio, f"/v1/projects/{project.project_id}/exports/zip")
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(bundle.content)).read("manifest.json"))
    assert [w["code"] for w in manifest["warnings"]] == ["stale_take"]
    assert manifest["takes"][0]["stale"] is True


def test_format_endpoints_write_their_formats_with_the_asked_options(
    client: TestClient, runtime: Runtime
) -> None:
    studio = seed_studio(runtime)
    project = cast_project(client, studio, {"KEN": seed_voice(runtime)}, one_line())
    _approve(client, studio, _synthesize(client, studio, project.line_ids[0]))
    base = f"/v1/cuts/{project.cut_ids[0]}/exports"

    rhubarb = _get(client, studio, f"{base}/rhubarb-json", fps="12").json()
    assert rhubarb["metadata"]["duration"] == 4.0
    assert {cue["value"] for cue in rhubarb["mouthCues"]} <= set("ABCDEFGHX")
    moho = _get(client, studio, f"{base}/moho", fps="8").text.splitlines()
    assert moho[0] == "MohoSwitch1" and moho[1] == "1 rest"
    assert {row.split(" ")[1] for row in moho[1:]} <= {
        "AI",
        "E",
        "O",
        "U",
        "FV",
        "L",
        "MBP",
        "WQ",
        "etc",
        "rest",
    }
    xdts = _get(client, studio, f"{base}/xdts", shape_set="anime3", scene="12").text
    header, body = xdts.split("\n", 1)
    assert header == "exchangeDigitalTimeSheet Save Data"
    sheet = json.loads(body)
    assert sheet["header"] == {"cut": "1", "scene": "12"}
    assert sheet["timeTables"][0]["duration"] == 96
    cells = sheet["timeTables"][0]["fields"][0]["tracks"][0]["frames"]
    assert {cell["data"][0]["values"][0] for cell in cells} <= {"1", "2", "3", "SYMBOL_NULL_CELL"}
    png = _get(client, studio, f"{base}/review.png")
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")

    held = _get(client, studio, f"{base}/json", min_hold=4, bridge_ms=0).json()
    assert (held["min_hold_frames"], held["bridge_pauses_under_seconds"]) == (4, 0.0)
    assert all(c["end_frame"] - c["start_frame"] >= 4 for c in held["mouth_cues"][:-1]), (
        "every cue but the last holds four frames"
    )


BAD_OPTIONS = [
    ({"fps": "7"}, "invalid_input", "fps"),
    ({"fps": "fast"}, "invalid_input", "fps"),
    ({"min_hold": "0"}, "invalid_input", "min_hold"),
    ({"min_hold": "13"}, "invalid_input", "min_hold"),
    ({"min_hold": "two"}, "validation_error", "min_hold"),
    ({"bridge_ms": "-1"}, "invalid_input", "bridge_ms"),
    ({"bridge_ms": "1001"}, "invalid_input", "bridge_ms"),
    ({"shape_set": "moho"}, "validation_error", "shape_set"),
    ({"takes": "best"}, "validation_error", "takes"),
]


def test_bad_export_options_are_refused(client: TestClient, runtime: Runtime) -> None:
    studio = seed_studio(runtime)
    project = cast_project(client, studio, {"KEN": seed_voice(runtime)}, one_line())
    for params, code, field in BAD_OPTIONS:
        for path in (
            f"/v1/cuts/{project.cut_ids[0]}/exports/json",
            f"/v1/cuts/{project.cut_ids[0]}/exports/rhubarb",
            f"/v1/projects/{project.project_id}/exports/zip",
        ):
            if "shape_set" in params and path.endswith("rhubarb"):
                continue
            response = client.get(path, params=params, headers=studio.headers)
            problem = response.json()
            assert (response.status_code, problem["code"]) == (422, code), (path, params)
            assert field in str(problem["fields"]), (path, problem)


def test_another_studios_cut_and_project_are_not_found(
    client: TestClient, runtime: Runtime
) -> None:
    episode = _episode(client, runtime)
    other = seed_studio(runtime, name="Other")
    for path in (
        f"/v1/cuts/{episode.cut_ids[0]}/exports/json",
        f"/v1/cuts/{episode.cut_ids[0]}/exports/zip",
        f"/v1/cuts/{episode.cut_ids[0]}/exports/review.png",
        f"/v1/projects/{episode.project_id}/exports/otio",
        f"/v1/projects/{episode.project_id}/exports/zip",
    ):
        response = client.get(path, headers=other.headers)
        assert (response.status_code, response.json()["code"]) == (404, "not_found"), path
