"""Royalty and usage statements reconcile to the ledger to the micro-unit, in every format."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.factories import JAPANESE, cast_project, one_line, seed_studio, seed_voice
from voicehub.billing.tables import Invoice
from voicehub.cli import main
from voicehub.db import transaction, utcnow
from voicehub.ledger.periods import ACCRUALS, close_period
from voicehub.ledger.service import next_period, period_start, refund_take
from voicehub.ledger.tables import (
    AccountKind,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    PeriodStatement,
)
from voicehub.metering.currency import format_micros
from voicehub.metering.tables import UsageRecord
from voicehub.runtime import Runtime
from voicehub.settings import get_settings


def _cli(runtime: Runtime, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    """`voicehub …` on the test database, as an operator runs it."""
    monkeypatch.setenv("VOICEHUB_DATABASE_URL", runtime.settings.resolved_database_url)
    get_settings.cache_clear()
    try:
        return main(list(args))
    finally:
        get_settings.cache_clear()


def _ledger_accrual(session: Session, kind: AccountKind, owner: str, period: str) -> int:
    """What the period's usage, refund and correction entries moved on one party's account,
    summed straight from the entries (positive when owed to or by the party)."""
    moved = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount_micros), 0))
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(
            LedgerAccount.kind == kind,
            LedgerAccount.owner_id == owner,
            LedgerTransaction.period == period,
            LedgerTransaction.kind.in_(ACCRUALS),
        )
    )
    sign = -1 if kind is AccountKind.ACTOR_ROYALTY_PAYABLE else 1
    return sign * int(moved or 0)


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _records(rows: list[dict[str, str]], record: str) -> list[dict[str, str]]:
    return [r for r in rows if r["record"] == record]


def _pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF-")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def _after(period: str) -> dt.datetime:
    return period_start(next_period(period)) + dt.timedelta(minutes=1)


def _deliver(client: TestClient, headers: dict[str, str], line_id: str, **body: object) -> str:
    response = client.post(f"/v1/lines/{line_id}/takes", json=body or None, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_royalty_statement_reconciles_to_the_ledger_in_csv_json_pdf_and_the_cli(
    client: TestClient,
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    studio = seed_studio(runtime, name="スタジオ雲")
    # Prices that leave fractions of a yen on every line.
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
    takes = [_deliver(client, studio.headers, line_id) for line_id in project.line_ids]
    retake = _deliver(client, studio.headers, project.line_ids[0], speed=1.1)
    with transaction(runtime.sessions) as session:
        refund_take(session, takes[1], reason="Misread 明ける", by="test")
    period = utcnow().strftime("%Y-%m")
    with runtime.sessions() as session:
        usage = {
            u.take_id: u
            for u in session.scalars(
                select(UsageRecord).where(UsageRecord.actor_id == haru.actor_id)
            )
        }
        accrued = _ledger_accrual(session, AccountKind.ACTOR_ROYALTY_PAYABLE, haru.actor_id, period)
    assert set(usage) == {takes[0], takes[1], retake}
    refunded = usage[takes[1]].actor_royalty_micros

    response = client.get(f"/v1/actor/statements/{period}/csv", headers=haru.actor_headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert (
        f'filename="voicehub-royalties-{period}-{haru.actor_id}.csv"'
        in response.headers["content-disposition"]
    )
    legacy = client.get(f"/v1/actor/royalty-statements/{period}", headers=haru.actor_headers)
    assert legacy.status_code == 200 and legacy.content == response.content
    rows = _rows(response.text)

    lines = _records(rows, "line")
    assert [r["take_id"] for r in lines] == [takes[0], takes[1], retake], "in delivery order"
    assert {r["line_id"] for r in lines} == set(project.line_ids[:2]), "none of KEN's"
    for row in lines:
        record = usage[row["take_id"]]
        assert (row["studio"], row["project"], row["cut"]) == ("スタジオ雲", "Episode 1", "C-001")
        assert (row["price_unit"], row["rate_micros"], row["currency"]) == (
            "1k_chars",
            "3333333333",
            "JPY",
        )
        assert int(row["amount_micros"]) == record.amount_micros
        assert int(row["royalty_micros"]) == record.actor_royalty_micros
        assert row["royalty"] == format_micros(record.actor_royalty_micros)
        assert row["audio_seconds"] == f"{record.audio_ms // 1000}.{record.audio_ms % 1000:03d}"
    assert lines[0]["text"] == "行こう。"
    (refund,) = _records(rows, "refund")
    assert (refund["take_id"], refund["line_id"], refund["note"]) == (
        takes[1],
        project.line_ids[1],
        "Misread 明ける",
    )
    assert int(refund["royalty_micros"]) == -refunded

    # The rows add up to the ledger exactly, and so do the summary rows.
    assert sum(int(r["royalty_micros"]) for r in [*lines, refund]) == accrued
    summary = {r["record"]: r for r in rows if r["record"] in ("period_royalty", "payable")}
    summary |= {r["record"]: r for r in rows if r["record"] in ("carried_out", "payout")}
    assert int(summary["period_royalty"]["royalty_micros"]) == accrued
    assert int(summary["payable"]["amount_minor"]) == accrued // 1_000_000
    assert int(summary["carried_out"]["royalty_micros"]) == accrued % 1_000_000
    assert summary["payout"]["note"].startswith("Provisional: the month is still open")
    ((studio_row,), (project_row,)) = (
        _records(rows, "subtotal_studio"),
        _records(rows, "subtotal_project"),
    )
    assert (studio_row["studio"], int(studio_row["royalty_micros"]), studio_row["lines"]) == (
        "スタジオ雲",
        accrued,
        "3",
    )
    assert (project_row["project"], int(project_row["royalty_micros"])) == ("Episode 1", accrued)

    statement = client.get(f"/v1/actor/statements/{period}", headers=haru.actor_headers).json()
    assert (statement["kind"], statement["status"], statement["provisional"]) == (
        "royalty",
        "open",
        True,
    )
    (jpy,) = statement["currencies"]
    assert jpy["reconciled"] is True
    assert (jpy["accrued_micros"], jpy["lines_micros"], jpy["adjustments_micros"]) == (
        accrued,
        accrued + refunded,
        -refunded,
    )
    assert (jpy["payable_minor"], jpy["statement_id"]) == (accrued // 1_000_000, None)

    assert (
        _cli(runtime, monkeypatch, "statement", "--actor", haru.actor_id, "--period", period) == 0
    )
    assert capsys.readouterr().out == response.text

    pdf = client.get(f"/v1/actor/statements/{period}/pdf", headers=haru.actor_headers)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert f"voicehub-royalties-{period}-{haru.actor_id}.pdf" in pdf.headers["content-disposition"]
    text = _pdf_text(pdf.content)
    assert "行こう。" in text and "スタジオ雲" in text and "Misread 明ける" in text
    assert f"Total payable {accrued // 1_000_000:,} JPY" in text
    assert "Provisional: the month is still open" in text
    assert all(r["line_id"] in text for r in lines)
    assert format_micros(-refunded) in text


def test_closed_months_carry_the_remainder_and_studios_get_their_usage_statement(
    client: TestClient,
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    north = seed_studio(runtime, name="North Studio")
    south = seed_studio(runtime, name="South Studio")
    # Priced per second, at ¥3.333333/s: royalties stay below the default ¥500 threshold.
    ken = seed_voice(runtime, name="Ken", price_per_second_micros=3_333_333, actor_share_bps=6667)
    ami = seed_voice(runtime, name="Ami")
    north_project = cast_project(
        client,
        north,
        {"KEN": ken, "AMI": ami},
        [
            {
                "number": "C-001",
                "lines": [
                    {"character": "KEN", "text": "Hold the rope!"},
                    {"character": "KEN", "text": "The storm is here."},
                    {"character": "AMI", "text": "Then pull."},
                ],
            }
        ],
    )
    south_project = cast_project(client, south, {"KEN": ken}, one_line("Open the gate."))
    for line_id in north_project.line_ids:
        _deliver(client, north.headers, line_id)
    _deliver(client, south.headers, south_project.line_ids[0])
    first = utcnow().strftime("%Y-%m")
    with transaction(runtime.sessions) as session:
        close_period(session, first, by="test", now=_after(first))
    # The month is closed: this take counts in the next one.
    late = _deliver(client, south.headers, south_project.line_ids[0])
    second = next_period(first)
    with transaction(runtime.sessions) as session:
        close_period(session, second, by="test", now=_after(second))

    with runtime.sessions() as session:
        ken_statements = {
            s.period: s
            for s in session.scalars(
                select(PeriodStatement).where(PeriodStatement.party_id == ken.actor_id)
            )
        }
        north_statement = session.scalars(
            select(PeriodStatement).where(
                PeriodStatement.party_id == north.id, PeriodStatement.period == first
            )
        ).one()
        north_invoice = session.scalars(
            select(Invoice).where(Invoice.statement_id == north_statement.id)
        ).one()
        late_usage = session.scalars(select(UsageRecord).where(UsageRecord.take_id == late)).one()
        royalty_by_studio = dict(
            session.execute(
                select(UsageRecord.studio_id, func.sum(UsageRecord.actor_royalty_micros))
                .where(UsageRecord.actor_id == ken.actor_id, UsageRecord.period == first)
                .group_by(UsageRecord.studio_id)
            ).all()
        )
        north_accrued = _ledger_accrual(session, AccountKind.STUDIO_RECEIVABLE, north.id, first)
    one, two = ken_statements[first], ken_statements[second]
    assert one.carried_out_micros > 0, "the prices were chosen to leave a remainder"

    listing = client.get("/v1/actor/statements", headers=ken.actor_headers).json()["data"]
    assert [(p["period"], p["status"]) for p in listing] == [
        (second, "closed"),
        (first, "closed"),
    ]
    assert [p["currencies"][0]["payable_minor"] for p in listing] == [
        two.payable_minor,
        one.payable_minor,
    ]

    (month_one,) = client.get(f"/v1/actor/statements/{first}", headers=ken.actor_headers).json()[
        "currencies"
    ]
    assert month_one["reconciled"] is True
    assert (
        month_one["statement_id"],
        month_one["accrued_micros"],
        month_one["payable_minor"],
        month_one["carried_out_micros"],
    ) == (one.id, one.accrued_micros, one.payable_minor, one.carried_out_micros)
    assert [
        (s["level"], s["studio"], s["project"], s["lines"], s["net_micros"])
        for s in month_one["subtotals"]
    ] == [
        ("studio", "North Studio", None, 2, royalty_by_studio[north.id]),
        ("project", "North Studio", "Episode 1", 2, royalty_by_studio[north.id]),
        ("studio", "South Studio", None, 1, royalty_by_studio[south.id]),
        ("project", "South Studio", "Episode 1", 1, royalty_by_studio[south.id]),
    ]
    assert month_one["settlement"]["status"] == "held"
    assert month_one["settlement"]["note"].startswith("Held: below the payout threshold.")

    (month_two,) = client.get(f"/v1/actor/statements/{second}", headers=ken.actor_headers).json()[
        "currencies"
    ]
    assert (month_two["carried_in_micros"], month_two["carried_in_from"]) == (
        one.carried_out_micros,
        first,
    )
    assert (month_two["payable_minor"], month_two["carried_out_micros"]) == (
        two.payable_minor,
        two.carried_out_micros,
    )
    assert (
        two.payable_minor * 1_000_000 + two.carried_out_micros
        == late_usage.actor_royalty_micros + one.carried_out_micros
    ), "nothing lost between the two months"

    rows = _rows(client.get(f"/v1/actor/statements/{second}/csv", headers=ken.actor_headers).text)
    (line,) = _records(rows, "line")
    assert (line["take_id"], line["price_unit"], line["rate_micros"]) == (
        late,
        "second",
        "3333333",
    )
    assert int(line["amount_micros"]) == (late_usage.audio_ms * 3_333_333 + 500) // 1000
    (carried_in,) = _records(rows, "carried_in")
    assert int(carried_in["royalty_micros"]) == one.carried_out_micros
    assert carried_in["note"] == f"remainder carried from {first}"

    # The same closed month from the API and the CLI: the same PDF, byte for byte.
    pdf = client.get(f"/v1/actor/statements/{second}/pdf", headers=ken.actor_headers).content
    out = tmp_path / "statement.pdf"
    assert (
        _cli(
            runtime,
            monkeypatch,
            *("statement", "--actor", ken.actor_id, "--period", second),
            *("--format", "pdf", "--out", str(out)),
        )
        == 0
    )
    assert out.read_bytes() == pdf
    text = _pdf_text(pdf)
    assert f"Total payable {two.payable_minor:,} JPY" in text
    assert "Held: below the payout threshold." in text
    assert f"carried in from {first}" in text and late_usage.take_id not in text
    assert "3.333333 / s" in text

    # The studio's side: its lines only, its invoice, and no actor's share shown.
    usage = client.get(f"/v1/statements/{first}", headers=north.headers).json()
    assert (usage["kind"], usage["party"]["name"]) == ("usage", "North Studio")
    (yen,) = usage["currencies"]
    assert yen["reconciled"] is True and yen["accrued_micros"] == north_accrued
    assert (yen["payable_minor"], yen["statement_id"]) == (
        north_statement.payable_minor,
        north_statement.id,
    )
    assert (yen["settlement"]["status"], yen["settlement"]["reference"]) == (
        "pending",
        north_invoice.id,
    )
    assert [(s["level"], s["project"], s["lines"]) for s in yen["subtotals"]] == [
        ("project", "Episode 1", 3)
    ]
    studio_csv = client.get(f"/v1/statements/{first}/csv", headers=north.headers)
    assert f"voicehub-usage-{first}-{north.id}.csv" in studio_csv.headers["content-disposition"]
    studio_rows = _rows(studio_csv.text)
    assert "royalty_micros" not in studio_rows[0]
    studio_lines = _records(studio_rows, "line")
    assert {r["line_id"] for r in studio_lines} == set(north_project.line_ids)
    assert {r["actor"] for r in studio_lines} == {"Ken", "Ami"}
    assert sum(int(r["amount_micros"]) for r in studio_lines) == north_accrued
    (invoiced,) = _records(studio_rows, "invoiced")
    assert int(invoiced["amount_minor"]) == north_statement.payable_minor
    studio_text = _pdf_text(
        client.get(f"/v1/statements/{first}/pdf", headers=north.headers).content
    )
    assert "Amount invoiced" in studio_text and "To be invoiced" in studio_text
    assert all(line_id in studio_text for line_id in north_project.line_ids)


def test_bad_periods_empty_months_and_other_parties(
    client: TestClient,
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    studio = seed_studio(runtime)
    rival = seed_studio(runtime, name="Rival")
    voice = seed_voice(runtime)
    other = seed_voice(runtime, name="Other")
    project = cast_project(client, studio, {"KEN": voice}, one_line())
    take = _deliver(client, studio.headers, project.line_ids[0])
    period = utcnow().strftime("%Y-%m")

    for path in (
        "/v1/actor/statements/November",
        "/v1/actor/statements/2026-13/csv",
        "/v1/actor/statements/26-11/pdf",
        "/v1/actor/royalty-statements/2026-1",
    ):
        bad = client.get(path, headers=voice.actor_headers)
        assert bad.status_code == 422, path
        assert [f["field"] for f in bad.json()["fields"]] == ["period"]
    for path in ("/v1/statements/2026-00", "/v1/statements/x/csv", "/v1/statements/x/pdf"):
        bad = client.get(path, headers=studio.headers)
        assert bad.status_code == 422 and bad.json()["code"] == "invalid_input", path

    empty = client.get("/v1/actor/statements/2020-01", headers=voice.actor_headers)
    assert empty.status_code == 200 and empty.json()["currencies"] == []
    empty_rows = _rows(
        client.get("/v1/actor/statements/2020-01/csv", headers=voice.actor_headers).text
    )
    assert [(r["record"], r["royalty_micros"], r["amount_minor"]) for r in empty_rows] == [
        ("period_royalty", "0", ""),
        ("payable", "", "0"),
    ]
    empty_pdf = client.get("/v1/actor/statements/2020-01/pdf", headers=voice.actor_headers)
    assert "No lines used and nothing payable in 2020-01." in _pdf_text(empty_pdf.content)

    # Another actor's, and another studio's, statement of the same month shows none of it.
    theirs = client.get(f"/v1/actor/statements/{period}/csv", headers=other.actor_headers)
    assert take not in theirs.text and not _records(_rows(theirs.text), "line")
    assert (
        client.get(f"/v1/actor/statements/{period}", headers=other.actor_headers).json()[
            "currencies"
        ]
        == []
    )
    assert client.get("/v1/actor/statements", headers=other.actor_headers).json()["data"] == []
    assert client.get(f"/v1/statements/{period}", headers=rival.headers).json()["currencies"] == []
    assert take not in client.get(f"/v1/statements/{period}/csv", headers=rival.headers).text
    mine = client.get(f"/v1/statements/{period}/csv", headers=studio.headers).text
    assert take in mine
    # Keys of the wrong kind.
    assert client.get(f"/v1/actor/statements/{period}", headers=studio.headers).status_code == 403
    assert client.get(f"/v1/statements/{period}", headers=voice.actor_headers).status_code == 403

    # The CLI: a PDF needs a file, an unknown actor is refused.
    pdf_args = ("statement", "--actor", voice.actor_id, "--period", period, "--format", "pdf")
    assert _cli(runtime, monkeypatch, *pdf_args) == 2
    assert "needs --out" in capsys.readouterr().err
    assert _cli(runtime, monkeypatch, "statement", "--actor", "act_nobody", "--period", period) == 2
    assert "not_found" in capsys.readouterr().err
    assert _cli(runtime, monkeypatch, "statement", "--studio", studio.id, "--period", period) == 0
    assert capsys.readouterr().out == mine


def test_a_month_longer_than_a_page_repeats_its_heads_on_every_page(
    client: TestClient, runtime: Runtime
) -> None:
    studio = seed_studio(runtime)
    voice = seed_voice(runtime)
    project = cast_project(client, studio, {"KEN": voice}, one_line("Go."))
    takes = [_deliver(client, studio.headers, project.line_ids[0]) for _ in range(36)]
    period = utcnow().strftime("%Y-%m")

    rows = _rows(client.get(f"/v1/actor/statements/{period}/csv", headers=voice.actor_headers).text)
    assert [r["take_id"] for r in _records(rows, "line")] == takes
    pdf = client.get(f"/v1/actor/statements/{period}/pdf", headers=voice.actor_headers).content
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]
    assert len(pages) == 2, "the summary and the first lines, then the rest"
    assert all("Date (UTC)" in page and "Royalty" in page for page in pages)
    assert "(continued)" in pages[1] and "Page 2 of" in pages[1]
    first, second = (page.count(project.line_ids[0]) for page in pages)
    assert first > 0 and second > 0 and first + second == 36, "every line, on one page or the other"
