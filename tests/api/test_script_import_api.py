"""Importing scripts of every format over the API, re-importing revisions, and refusing bad ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.factories import SeededStudio, seed_studio, seed_voice
from voicehub.db import transaction
from voicehub.production.tables import Character, Cut, Line, Take
from voicehub.production.takes import approve_take
from voicehub.runtime import Runtime

SCRIPTS = Path(__file__).parent.parent / "data" / "scripts"
TYPES = {
    "srt": "application/x-subrip",
    "vtt": "text/vtt",
    "ass": "text/x-ass",
    "csv": "text/csv",
    "json": "application/json",
}


def _project(
    client: TestClient, studio: SeededStudio, frame_rate: object = 24, language: str = "ja"
) -> str:
    response = client.post(
        "/v1/projects",
        json={
            "name": "Lighthouse",
            "language": language,
            "use": "dubbing",
            "frame_rate": frame_rate,
        },
        headers=studio.headers,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _import(
    client: TestClient,
    studio: SeededStudio,
    project_id: str,
    name: str,
    content_type: str | None = None,
    **params: str,
) -> Any:
    fmt = name.rsplit(".", 1)[1]
    return client.post(
        f"/v1/projects/{project_id}/script",
        params=params,
        content=(SCRIPTS / name).read_bytes(),
        headers={**studio.headers, "Content-Type": content_type or TYPES[fmt]},
    )


def _cuts(client: TestClient, studio: SeededStudio, project_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1/projects/{project_id}/cuts", headers=studio.headers)
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def _counts(runtime: Runtime) -> tuple[int, int, int]:
    with runtime.sessions() as session:
        return tuple(  # type: ignore[return-value]
            session.scalar(select(func.count()).select_from(table)) or 0
            for table in (Cut, Line, Character)
        )


@pytest.mark.parametrize(
    ("name", "frame_rate", "expected"),
    [
        (
            "lighthouse.csv",
            23.976,
            # cut, character, start, end, target, source key; cut start frame
            [
                ("C-001", "MAYA", 1.001, 3.504, None, "m1", 24),
                ("C-001", "KEN", 3.545, 5.005, None, "k1", 24),
                ("C-002", "HARU", 10.969, 60.06, 2.5, "h1", 263),
                ("C-003", "NARRATOR", None, None, 3.004, "n1", 1440),
            ],
        ),
        (
            "lighthouse.csv",
            25,
            [
                ("C-001", "MAYA", 1.0, 3.48, None, "m1", 25),
                ("C-001", "KEN", 3.52, 5.0, None, "k1", 25),
                ("C-002", "HARU", 10.92, 60.0, 2.5, "h1", 273),
                ("C-003", "NARRATOR", None, None, 3.004, "n1", 1500),
            ],
        ),
        (
            "lighthouse.csv",
            "30",
            [
                ("C-001", "MAYA", 1.0, 3.4, None, "m1", 30),
                ("C-001", "KEN", 3.433, 5.0, None, "k1", 30),
                ("C-002", "HARU", 10.767, 60.0, 2.5, "h1", 323),
                ("C-003", "NARRATOR", None, None, 3.004, "n1", 1800),
            ],
        ),
        (
            "lighthouse.ass",
            23.976,
            [
                ("C-001", "MAYA", 1.0, 3.2, None, "C-001/MAYA/1", 24),
                ("C-012", "KEN", 3.5, 5.04, None, "C-012/KEN/1", 84),
                ("C-013", "NARRATOR", 3723.07, 3724.93, None, "C-013/NARRATOR/1", 89264),
            ],
        ),
        (
            "lighthouse.vtt",
            24,
            [
                ("C-012", "MAYA", 1.0, 3.2, None, "maya-1", 24),
                ("C-013", "KEN", 3.5, 5.04, None, "ken-1", 84),
                ("C-014", "NARRATOR", 14.0, 15.5, None, "C-014/NARRATOR/1", 336),
                ("C-015", "HARU", 3607.001, 3609.12, None, "haru-1", 86568),
            ],
        ),
        (
            "lighthouse.json",
            25,
            [
                ("C-001", "KEN", 1.001, 2.999, None, "C-001/KEN/1", 25),
                ("C-003", "MAYA", 10.5, 13.0, None, "maya-3", 250),
                ("C-003", "HARU", 13.2, 16.05, 2.75, "haru-3", 250),
            ],
        ),
        (
            "lighthouse.srt",
            30,
            [
                ("C-012", "MAYA", 1.0, 3.2, None, "1", 30),
                ("C-012", "KEN", 3.5, 5.04, None, "2", 30),
                ("C-013", "HARU", 7.0, 9.12, None, "4", 210),
                ("C-014", "NARRATOR", 12.345, 14.999, None, "3", 370),
            ],
        ),
    ],
)
def test_each_format_imports_to_exact_times(
    client: TestClient,
    runtime: Runtime,
    name: str,
    frame_rate: object,
    expected: list[tuple[Any, ...]],
) -> None:
    studio = seed_studio(runtime)
    project_id = _project(client, studio, frame_rate)
    response = _import(client, studio, project_id, name)
    assert response.status_code == 201, response.text
    result = response.json()
    assert result["mode"] == "update" and result["lines_created"] == len(expected)
    assert result["lines_updated"] == result["lines_unchanged"] == result["lines_missing"] == 0
    cuts = _cuts(client, studio, project_id)
    assert [c["id"] for c in sorted(cuts, key=lambda c: c["start_seconds"])] == result["cut_ids"]
    got = [
        (
            cut["number"],
            line["character"],
            line["start_seconds"],
            line["end_seconds"],
            line["target_seconds"],
            line["source_key"],
            cut["start_frame"],
        )
        for cut in cuts
        for line in cut["lines"]
    ]
    assert got == expected
    assert {c["frame_rate"] for c in cuts} == {float(frame_rate)}  # type: ignore[arg-type]
    first_line = cuts[0]["lines"][0]
    assert first_line["latest_take_id"] is None and first_line["approved_take_id"] is None
    assert first_line["approved_take_stale"] is None


def test_warnings_come_back_with_where(client: TestClient, runtime: Runtime) -> None:
    studio = seed_studio(runtime)
    project_id = _project(client, studio)
    result = _import(client, studio, project_id, "lighthouse.vtt").json()
    assert sorted(result["characters_created"]) == ["HARU", "KEN", "MAYA", "NARRATOR"]
    assert sorted((w["code"], w["cue"], w["line"]) for w in result["warnings"]) == [
        ("cue_without_text", 3, 23),
        ("no_speaker", 5, 30),
    ]
    csv = _import(client, studio, _project(client, studio), "lighthouse.csv").json()
    assert csv["warnings"] == [
        {
            "code": "columns_ignored",
            "message": "CSV columns VoiceHub does not read: notes.",
            "cue": None,
            "row": None,
            "line": None,
            "fields": None,
        }
    ]


def test_reimport_updates_lines_and_keeps_their_takes(client: TestClient, runtime: Runtime) -> None:
    studio = seed_studio(runtime)
    voice = seed_voice(runtime, uses=("dubbing",))
    project_id = _project(client, studio, 23.976, language="en")
    first = _import(client, studio, project_id, "revised_v1.srt").json()
    assert first["lines_created"] == 3
    for character in ("KEN", "AMI"):
        cast = client.post(
            f"/v1/projects/{project_id}/cast",
            json={"character": character, "voice_id": voice.voice_id},
            headers=studio.headers,
        )
        assert cast.status_code == 200, cast.text
    lines = {ln["source_key"]: ln for c in _cuts(client, studio, project_id) for ln in c["lines"]}
    where_line = lines["1"]["id"]
    take = client.post(f"/v1/lines/{where_line}/takes", json={}, headers=studio.headers)
    assert take.status_code == 201, take.text
    take_id = take.json()["id"]
    with transaction(runtime.sessions) as session:
        approve_take(session, None, studio.id, take_id)
    listed = {ln["id"]: ln for c in _cuts(client, studio, project_id) for ln in c["lines"]}
    assert listed[where_line]["approved_take_id"] == take_id
    assert listed[where_line]["approved_take_stale"] is False

    revised = _import(client, studio, project_id, "revised_v2.srt")
    assert revised.status_code == 201, revised.text
    result = revised.json()
    assert result["lines_created"] == 1 and result["lines_unchanged"] == 0
    assert {(u["id"], tuple(u["changes"])) for u in result["updated"]} == {
        (where_line, ("text",)),
        (lines["2"]["id"], ("timing",)),
    }
    assert [(m["id"], m["source_key"], m["text"]) for m in result["missing"]] == [
        (lines["3"]["id"], "3", "Alone?")
    ]
    assert result["characters_created"] == []

    after = {ln["id"]: ln for c in _cuts(client, studio, project_id) for ln in c["lines"]}
    assert len(after) == 4, "the missing line is kept"
    line = after[where_line]
    assert line["text"] == "Where were you all night?"
    assert line["latest_take_id"] == take_id and line["approved_take_id"] == take_id
    assert line["latest_take_stale"] is True and line["approved_take_stale"] is True
    assert line["updated_at"] is not None
    assert (after[lines["2"]["id"]]["start_seconds"], after[lines["2"]["id"]]["end_seconds"]) == (
        3.4,
        5.2,
    )
    assert after[lines["2"]["id"]]["updated_at"] is not None
    assert after[lines["3"]["id"]]["text"] == "Alone?"
    assert client.get(f"/v1/takes/{take_id}", headers=studio.headers).status_code == 200
    with runtime.sessions() as session:
        kept = session.get(Take, take_id)
        assert kept is not None and kept.text == "Where were you last night?"

    again = _import(client, studio, project_id, "revised_v2.srt").json()
    assert (again["lines_created"], again["lines_updated"], again["lines_unchanged"]) == (0, 0, 3)
    assert [m["id"] for m in again["missing"]] == [lines["3"]["id"]]


def test_lines_imported_without_keys_are_matched_by_cut_speaker_and_order(
    client: TestClient, runtime: Runtime
) -> None:
    studio = seed_studio(runtime)
    project_id = _project(client, studio, language="en")
    script: dict[str, Any] = {
        "cuts": [
            {
                "number": "C-001",
                "lines": [
                    {"character": "KEN", "text": "One.", "start": 0.5, "end": 1.5},
                    {"character": "AMI", "text": "Two.", "start": 1.0, "end": 2.0},
                    {"character": "KEN", "text": "Three.", "start": 2.0, "end": 3.0},
                ],
            }
        ]
    }
    assert (
        client.post(
            f"/v1/projects/{project_id}/script", json=script, headers=studio.headers
        ).json()["lines_created"]
        == 3
    )
    script["cuts"][0]["lines"][2]["text"] = "Three, again."
    script["cuts"][0]["lines"][0]["duration"] = 0.8
    result = client.post(
        f"/v1/projects/{project_id}/script", json=script, headers=studio.headers
    ).json()
    assert [(u["source_key"], u["changes"]) for u in result["updated"]] == [
        ("C-001/KEN/1", ["target"]),
        ("C-001/KEN/2", ["text"]),
    ]
    assert result["lines_unchanged"] == 1 and result["lines_created"] == 0
    (cut,) = _cuts(client, studio, project_id)
    assert [ln["text"] for ln in cut["lines"]] == ["One.", "Two.", "Three, again."]
    assert cut["lines"][0]["target_seconds"] == 0.8


def test_append_mode_adds_new_cuts(client: TestClient, runtime: Runtime) -> None:
    studio = seed_studio(runtime)
    project_id = _project(client, studio)
    _import(client, studio, project_id, "revised_v1.srt")
    appended = _import(client, studio, project_id, "revised_v1.srt", mode="append").json()
    assert appended["mode"] == "append" and appended["lines_created"] == 3
    assert appended["missing"] == [] and appended["updated"] == []
    assert [c["number"] for c in _cuts(client, studio, project_id)] == [
        f"C-00{n}" for n in range(1, 7)
    ]


def test_known_characters_only(client: TestClient, runtime: Runtime) -> None:
    studio = seed_studio(runtime)
    project_id = _project(client, studio)
    _import(client, studio, project_id, "revised_v1.srt")
    before = _counts(runtime)
    refused = _import(client, studio, project_id, "lighthouse.srt", characters="existing")
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "unknown_characters"
    assert refused.json()["characters"] == ["HARU", "MAYA", "NARRATOR"]
    assert _counts(runtime) == before
    fine = _import(client, studio, project_id, "revised_v2.srt", characters="existing")
    assert fine.status_code == 201 and fine.json()["characters_created"] == []


def test_encodings(client: TestClient, runtime: Runtime) -> None:
    studio = seed_studio(runtime)
    project_id = _project(client, studio)
    by_charset = _import(
        client, studio, project_id, "lighthouse_sjis.csv", "text/csv; charset=Shift_JIS"
    )
    assert by_charset.status_code == 201, by_charset.text
    (cut,) = _cuts(client, studio, project_id)
    assert [ln["character"] for ln in cut["lines"]] == ["ハル", "マヤ"]
    by_query = _import(
        client, studio, _project(client, studio), "lighthouse_sjis.csv", encoding="cp932"
    )
    assert by_query.status_code == 201, by_query.text
    unknown = _import(client, studio, project_id, "lighthouse_sjis.csv", encoding="sjis-9000")
    assert unknown.status_code == 422 and unknown.json()["code"] == "script_encoding_unsupported"
    assert unknown.json()["fields"][0]["field"] == "encoding"
    undeclared = _import(client, studio, project_id, "lighthouse_sjis.csv")
    assert undeclared.status_code == 422 and undeclared.json()["code"] == "script_invalid"
    assert undeclared.json()["line"] == 2


def _post(
    client: TestClient, studio: SeededStudio, project_id: str, raw: str, fmt: str, **params: str
) -> Any:
    return client.post(
        f"/v1/projects/{project_id}/script",
        params={"format": fmt, **params},
        content=raw.encode(),
        headers={**studio.headers, "Content-Type": "text/plain"},
    )


def test_bad_scripts_are_refused_whole_with_where(client: TestClient, runtime: Runtime) -> None:
    studio = seed_studio(runtime)
    project_id = _project(client, studio)
    assert _import(client, studio, project_id, "revised_v1.srt").status_code == 201
    before = _counts(runtime)
    overlap = (
        "WEBVTT\n\n00:00:01.000 --> 00:00:03.000\n<v KEN>New first line.\n\n"
        "00:00:02.500 --> 00:00:04.000\n<v KEN>Too soon.\n"
    )
    cases: list[tuple[str, str, dict[str, str], int, str, dict[str, Any]]] = [
        ("vtt", overlap, {}, 422, "script_overlap", {"cue": 2, "line": 6, "character": "KEN"}),
        (
            "ass",
            "[Events]\nDialogue: 0,0:00:01.00,0:00:02.00,,KEN,0,0,0,,Hi\n",
            {},
            422,
            "script_invalid",
            {"line": 2},
        ),
        ("csv", "speaker;start\nKEN;1\n", {}, 422, "script_invalid", {"row": 1}),
        (
            "srt",
            "1\n00:00:01,000 --> 00:00:01,000\nKEN: Hi\n",
            {},
            422,
            "script_invalid",
            {"cue": 1},
        ),
        ("csv", "character,text,start\nKEN,Hi,-0.5\n", {}, 422, "script_invalid", {"row": 2}),
        ("csv", "character,text,start\nKEN,,1\n", {}, 422, "text_empty", {"row": 2}),
        ("srt", "", {}, 422, "script_invalid", {}),
        ("ssa", "[Events]\nFormat: Start, End, Text\n", {}, 422, "script_invalid", {}),
        ("doc", "text", {}, 422, "invalid_input", {}),
        (
            "srt",
            "1\n00:00:01,000 --> 00:00:02,000\nKEN: Hi\n",
            {"mode": "replace"},
            422,
            "validation_error",
            {},
        ),
    ]
    for fmt, raw, params, status, code, where in cases:
        response = _post(client, studio, project_id, raw, fmt, **params)
        assert response.status_code == status, (fmt, raw, response.text)
        assert response.json()["code"] == code, (fmt, raw, response.text)
        for key, value in where.items():
            assert response.json()[key] == value, (key, response.json())
    assert _counts(runtime) == before, "a refused script changes nothing"
    (line,) = [
        ln
        for c in _cuts(client, studio, project_id)
        for ln in c["lines"]
        if ln["source_key"] == "1"
    ]
    assert line["text"] == "Where were you last night?"


@pytest.mark.parametrize("frame_rate", [0, 60, "abc", -24, 23.98, "24fps"])
def test_frame_rates_out_of_range_are_refused(
    client: TestClient, runtime: Runtime, frame_rate: object
) -> None:
    studio = seed_studio(runtime)
    response = client.post(
        "/v1/projects",
        json={"name": "P", "language": "en", "use": "dubbing", "frame_rate": frame_rate},
        headers=studio.headers,
    )
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_input"
    assert [f["field"] for f in response.json()["fields"]] == ["frame_rate"]
    assert "23.976, 24, 25, 29.97, 30" in response.json()["detail"]


def test_frame_rates_studios_write(client: TestClient, runtime: Runtime) -> None:
    studio = seed_studio(runtime)
    for given, stored in [("23.976", 23.976), (29.97, 29.97), ("25", 25.0), (24.0, 24.0)]:
        project = client.post(
            "/v1/projects",
            json={"name": "P", "language": "en", "use": "dubbing", "frame_rate": given},
            headers=studio.headers,
        )
        assert project.status_code == 201 and project.json()["frame_rate"] == stored
