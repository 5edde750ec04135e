"""Closing periods: statements from the ledger, remainders carried, closed periods final."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.factories import cast_project, seed_studio, seed_voice
from tests.ledger.test_ledger import _cli
from voicehub.billing.tables import Invoice, InvoiceStatus
from voicehub.db import transaction, utcnow
from voicehub.ledger.check import check_ledger
from voicehub.ledger.periods import (
    PeriodClosed,
    PeriodNotEnded,
    PeriodOutOfOrder,
    close_period,
    party_figures,
)
from voicehub.ledger.service import next_period, period_start
from voicehub.ledger.tables import PartyKind, PeriodStatement
from voicehub.metering.tables import UsageRecord
from voicehub.runtime import Runtime


def _after(period: str) -> dt.datetime:
    return period_start(next_period(period)) + dt.timedelta(minutes=1)


def test_closing_writes_statements_carries_remainders_and_is_final(
    client: TestClient,
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    studio = seed_studio(runtime)
    # Prices that leave fractions of a yen on every line.
    voice = seed_voice(runtime, price_per_1k_chars_micros=3_333_333_333, actor_share_bps=6667)
    project = cast_project(
        client,
        studio,
        {"KEN": voice},
        [
            {
                "number": "C-001",
                "lines": [
                    {"character": "KEN", "text": text}
                    for text in ("Hold the rope!", "Now, pull.", "The storm is here.")
                ],
            }
        ],
    )

    def deliver(line_id: str) -> str:
        response = client.post(f"/v1/lines/{line_id}/takes", headers=studio.headers)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    for line_id in project.line_ids[:2]:
        deliver(line_id)
    first = utcnow().strftime("%Y-%m")

    assert _cli(runtime, monkeypatch, "periods", "close", first) == 2
    assert "period_not_ended" in capsys.readouterr().err
    with pytest.raises(PeriodNotEnded), transaction(runtime.sessions) as session:
        close_period(session, first, by="test")

    with transaction(runtime.sessions) as session:
        result = close_period(session, first, by="test", now=_after(first))
    with runtime.sessions() as session:
        usage = list(session.scalars(select(UsageRecord)))
        actor = session.scalars(
            select(PeriodStatement).where(PeriodStatement.party_kind == PartyKind.ACTOR)
        ).one()
        studio_statement = session.scalars(
            select(PeriodStatement).where(PeriodStatement.party_kind == PartyKind.STUDIO)
        ).one()
        invoice = session.scalars(select(Invoice)).one()
    royalty = sum(u.actor_royalty_micros for u in usage)
    amount = sum(u.amount_micros for u in usage)
    assert len(result.statements) == 2 and actor.lines == 2
    assert (actor.accrued_micros, actor.carried_in_micros) == (royalty, 0)
    assert (
        actor.payable_minor == royalty // 1_000_000
        and actor.carried_out_micros == royalty % 1_000_000
    )
    assert actor.carried_out_micros > 0, "the prices were chosen to leave a remainder"
    assert (studio_statement.accrued_micros, studio_statement.payable_minor) == (
        amount,
        amount // 1_000_000,
    )
    assert (invoice.amount_minor, invoice.status, invoice.statement_id) == (
        studio_statement.payable_minor,
        InvoiceStatus.PENDING,
        studio_statement.id,
    )

    with pytest.raises(PeriodClosed), transaction(runtime.sessions) as session:
        close_period(session, first, by="test", now=_after(first))

    # The month is closed: a line delivered now counts in the next one.
    late_take = deliver(project.line_ids[2])
    second = next_period(first)
    with runtime.sessions() as session:
        late = session.scalars(select(UsageRecord).where(UsageRecord.take_id == late_take)).one()
        assert late.period == second
        running = party_figures(session, second, PartyKind.ACTOR, voice.actor_id)
        assert [(f.accrued_micros, f.carried_in_micros) for f in running] == [
            (late.actor_royalty_micros, actor.carried_out_micros)
        ], "the open month's running total already includes the carried remainder"
        assert check_ledger(session).ok

    third = next_period(second)
    with pytest.raises(PeriodOutOfOrder, match=second), transaction(runtime.sessions) as session:
        close_period(session, third, by="test", now=_after(third))

    with transaction(runtime.sessions) as session:
        close_period(session, second, by="test", now=_after(second))
    with runtime.sessions() as session:
        actor_second = session.scalars(
            select(PeriodStatement).where(
                PeriodStatement.party_kind == PartyKind.ACTOR, PeriodStatement.period == second
            )
        ).one()
        assert actor_second.carried_in_micros == actor.carried_out_micros
        # Not one micro-unit lost: what was paid plus what is still carried is what was earned.
        paid = (actor.payable_minor + actor_second.payable_minor) * 1_000_000
        assert paid + actor_second.carried_out_micros == royalty + late.actor_royalty_micros
        assert check_ledger(session).ok


def test_a_period_without_use_still_carries_a_remainder(
    client: TestClient, runtime: Runtime
) -> None:
    studio = seed_studio(runtime)
    voice = seed_voice(runtime, price_per_1k_chars_micros=1_234_567, actor_share_bps=5000)
    project = cast_project(
        client,
        studio,
        {"KEN": voice},
        [{"number": "C-001", "lines": [{"character": "KEN", "text": "Go."}]}],
    )
    assert (
        client.post(f"/v1/lines/{project.line_ids[0]}/takes", headers=studio.headers).status_code
        == 201
    )
    first = utcnow().strftime("%Y-%m")
    with transaction(runtime.sessions) as session:
        close_period(session, first, by="test", now=_after(first))
        second = next_period(first)
        result = close_period(session, second, by="test", now=_after(second))
    carried = {
        (s.party_kind, s.carried_in_micros, s.carried_out_micros, s.lines)
        for s in result.statements
    }
    with runtime.sessions() as session:
        royalty = session.scalars(select(UsageRecord.actor_royalty_micros)).one()
    assert (PartyKind.ACTOR, royalty, royalty, 0) in carried, "below one yen: carried, not lost"


def test_a_posting_committing_while_its_month_closes_is_in_the_statement(
    runtime: Runtime,
) -> None:
    """Posting share-locks its period; closing waits for it, then counts it (PostgreSQL)."""
    import threading

    from sqlalchemy import text

    from voicehub.ledger.service import Posting, post
    from voicehub.ledger.tables import AccountKind, LedgerKind

    if runtime.database.dialect.name != "postgresql":
        pytest.skip("row locks: SQLite has one writer at a time, so there is no overlap to test")
    from voicehub.ledger.service import open_period

    with transaction(runtime.sessions) as session:
        period = open_period(session)  # the month's row exists, as it does after its first line
    posting = runtime.sessions()
    post(
        posting,
        kind=LedgerKind.CORRECTION,
        currency="JPY",
        reference="late-correction",
        postings=[
            Posting(AccountKind.ACTOR_ROYALTY_PAYABLE, "act_late", -2_500_000),
            Posting(AccountKind.PLATFORM_REVENUE, "", 2_500_000),
        ],
        memo="committing while the month closes",
    )
    closed: list[object] = []

    def close() -> None:
        try:
            with transaction(runtime.sessions) as session:
                closed.append(close_period(session, period, by="test", now=_after(period)))
        except Exception as error:
            closed.append(error)

    closer = threading.Thread(target=close)
    closer.start()
    try:
        with runtime.database.connect() as watcher:
            for _ in range(200):
                waiting = watcher.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                        " AND datname = current_database()"
                    )
                ).scalar_one()
                # pg_stat_activity is a snapshot per transaction: take a fresh one each time.
                watcher.commit()
                if waiting:
                    break
                threading.Event().wait(0.05)
        assert waiting, f"the close waits for the posting's share lock, {closed}"
        assert not closed
    finally:
        posting.commit()
        posting.close()
        closer.join(timeout=30)
    with runtime.sessions() as session:
        statement = session.scalars(
            select(PeriodStatement).where(PeriodStatement.party_id == "act_late")
        ).one()
        assert (statement.accrued_micros, statement.payable_minor) == (2_500_000, 2)
        assert check_ledger(session).ok
