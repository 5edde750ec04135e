"""Royalty statements reconcile to the usage records to the last micro-unit."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.factories import JAPANESE, cast_project, seed_studio, seed_voice
from voicehub.cli import main
from voicehub.db import utcnow
from voicehub.metering.tables import UsageRecord
from voicehub.runtime import Runtime
from voicehub.settings import get_settings


def test_statement_csv_reconciles_and_the_cli_agrees(
    client: TestClient, runtime: Runtime, monkeypatch: object, capsys: object
) -> None:
    studio = seed_studio(runtime)
    haru = seed_voice(
        runtime,
        name="Haru",
        voice=JAPANESE,
        currency="JPY",
        price_per_1k_chars_micros=3_333_333_333,
        actor_share_bps=6667,
    )
    other = seed_voice(runtime, name="Other")
    project = cast_project(
        client,
        studio,
        {"HARU": haru, "KEN": other},
        [
            {
                "number": "C-001",
                "lines": [
                    {"character": "HARU", "text": "行こう。", "language": "ja"},
                    {"character": "HARU", "text": "夜が明ける前に。", "language": "ja"},
                    {"character": "KEN", "text": "Not hers."},
                ],
            }
        ],
    )
    for line_id in project.line_ids:
        assert client.post(f"/v1/lines/{line_id}/takes", headers=studio.headers).status_code == 201
    client.post(
        f"/v1/lines/{project.line_ids[0]}/takes", json={"speed": 1.1}, headers=studio.headers
    )
    period = utcnow().strftime("%Y-%m")

    response = client.get(f"/v1/actor/royalty-statements/{period}", headers=haru.actor_headers)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    lines, totals = (
        [r for r in rows if r["date"] != "TOTAL"],
        [r for r in rows if r["date"] == "TOTAL"],
    )
    assert len(lines) == 3, "every take of hers, none of the other actor's"
    assert {r["line_id"] for r in lines} == set(project.line_ids[:2])
    assert all(
        r["studio"] == "Studio" and r["cut"] == "C-001" and r["currency"] == "JPY" for r in lines
    )
    with runtime.sessions() as session:
        amount, royalty = session.execute(
            select(
                func.sum(UsageRecord.amount_micros), func.sum(UsageRecord.actor_royalty_micros)
            ).where(UsageRecord.actor_id == haru.actor_id)
        ).one()
    assert totals == [
        {
            **totals[0],
            "currency": "JPY",
            "amount_micros": str(amount),
            "royalty_micros": str(royalty),
        }
    ]
    assert sum(int(r["royalty_micros"]) for r in lines) == royalty

    monkeypatch.setenv("VOICEHUB_DATABASE_URL", runtime.settings.database_url)  # type: ignore[attr-defined]
    get_settings.cache_clear()
    try:
        assert main(["statement", "--actor", haru.actor_id, "--period", period]) == 0
    finally:
        get_settings.cache_clear()
    assert capsys.readouterr().out == response.text  # type: ignore[attr-defined]


def test_statement_input_errors(client: TestClient, runtime: Runtime) -> None:
    voice = seed_voice(runtime)
    bad = client.get("/v1/actor/royalty-statements/November", headers=voice.actor_headers)
    assert bad.status_code == 422 and [f["field"] for f in bad.json()["fields"]] == ["period"]
    empty = client.get("/v1/actor/royalty-statements/2020-01", headers=voice.actor_headers)
    assert empty.text.splitlines() == [empty.text.splitlines()[0]], (
        "a month without use is a header only"
    )
