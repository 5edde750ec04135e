"""The ledger: one balanced usage posting per delivered take, append-only, checked end to end."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from consent.service import amend_terms, verify_in_person
from consent.tables import ConsentVersion
from consent.terms import terms_of
from tests.factories import SeededStudio, SeededVoice, cast_project, seed_studio, seed_voice
from voicehub.cli import main
from voicehub.db import transaction, utcnow
from voicehub.ledger.check import check_ledger
from voicehub.ledger.service import (
    AlreadyPosted,
    Posting,
    Unbalanced,
    balance_micros,
    post,
    refund_take,
)
from voicehub.ledger.tables import (
    AccountKind,
    LedgerAccount,
    LedgerEntry,
    LedgerKind,
    LedgerTransaction,
)
from voicehub.metering.currency import CurrencyUnsupported
from voicehub.metering.tables import UsageRecord
from voicehub.runtime import Runtime
from voicehub.settings import get_settings

LINES = ["The lighthouse is dark tonight.", "Then we sail by the stars.", "Hold the rope!"]


def _deliver(
    client: TestClient, runtime: Runtime, **voice_terms: object
) -> tuple[SeededStudio, SeededVoice, list[dict[str, object]]]:
    studio = seed_studio(runtime)
    voice = seed_voice(runtime, **voice_terms)  # type: ignore[arg-type]
    project = cast_project(
        client,
        studio,
        {"KEN": voice},
        [{"number": "C-001", "lines": [{"character": "KEN", "text": t} for t in LINES]}],
    )
    takes = []
    for line_id in project.line_ids:
        response = client.post(f"/v1/lines/{line_id}/takes", headers=studio.headers)
        assert response.status_code == 201, response.text
        takes.append(response.json())
    return studio, voice, takes


def _cli(runtime: Runtime, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setenv("VOICEHUB_DATABASE_URL", runtime.settings.resolved_database_url)
    get_settings.cache_clear()
    try:
        return main(list(args))
    finally:
        get_settings.cache_clear()


def test_each_take_posts_one_balanced_entry_set_and_the_check_proves_it(
    client: TestClient,
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    studio, voice, takes = _deliver(
        client, runtime, price_per_1k_chars_micros=3_333_333_333, actor_share_bps=6667
    )
    with runtime.sessions() as session:
        usage = list(session.scalars(select(UsageRecord)))
        sets = list(session.scalars(select(LedgerTransaction)))
        assert sorted(s.take_id or "" for s in sets) == sorted(str(t["id"]) for t in takes)
        assert {s.kind for s in sets} == {LedgerKind.USAGE}
        for entry_set in sets:
            amounts = session.scalars(
                select(LedgerEntry.amount_micros).where(LedgerEntry.transaction_id == entry_set.id)
            ).all()
            assert len(amounts) == 3 and sum(amounts) == 0
            assert entry_set.period == utcnow().strftime("%Y-%m")
        amount = sum(u.amount_micros for u in usage)
        royalty = sum(u.actor_royalty_micros for u in usage)
        assert amount > 0 and royalty > 0
        assert balance_micros(session, AccountKind.STUDIO_RECEIVABLE, studio.id, "JPY") == amount
        assert (
            balance_micros(session, AccountKind.ACTOR_ROYALTY_PAYABLE, voice.actor_id, "JPY")
            == -royalty
        )
        assert balance_micros(session, AccountKind.PLATFORM_REVENUE, "", "JPY") == royalty - amount
        report = check_ledger(session)
    assert report.ok, report.summary()
    assert (report.entry_sets, report.entries, report.takes) == (3, 9, 3)

    assert _cli(runtime, monkeypatch, "ledger", "check") == 0
    assert "every invariant holds" in capsys.readouterr().out


def test_ledger_rows_are_never_edited_or_deleted(client: TestClient, runtime: Runtime) -> None:
    _deliver(client, runtime)
    for statement in (
        "UPDATE ledger_entries SET amount_micros = amount_micros + 1",
        "DELETE FROM ledger_entries",
        "UPDATE ledger_transactions SET memo = 'edited'",
        "DELETE FROM ledger_transactions",
    ):
        with (
            pytest.raises(DBAPIError, match="append-only"),
            runtime.database.begin() as connection,
        ):
            connection.execute(text(statement))
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(LedgerEntry)) == 9


def test_the_check_names_every_broken_invariant(
    client: TestClient,
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    studio, _, takes = _deliver(client, runtime)
    with runtime.database.begin() as connection:
        # A balance that drifted from its entries.
        connection.execute(
            text(
                "UPDATE ledger_accounts SET balance_micros = balance_micros + 7 WHERE owner_id = :s"
            ),
            {"s": studio.id},
        )
        # A take delivered without its usage posting (a copy of a real take under a new id).
        columns = [
            row[0]
            for row in connection.execute(text("SELECT * FROM takes LIMIT 0")).cursor.description
        ]
        copied = ", ".join(
            "'take_orphan'" if c == "id" else ("'takes/orphan.wav'" if c == "audio_key" else c)
            for c in columns
        )
        connection.execute(
            text(
                f"INSERT INTO takes ({', '.join(columns)}) SELECT {copied} FROM takes WHERE id = :t"
            ),
            {"t": takes[0]["id"]},
        )
        # An entry set that does not balance.
        account = connection.execute(text("SELECT id FROM ledger_accounts LIMIT 1")).scalar_one()
        connection.execute(
            text(
                "INSERT INTO ledger_transactions (id, kind, currency, period, reference, memo,"
                " created_by, created_at) VALUES ('ltx_bad', 'CORRECTION', 'JPY', '2026-01',"
                " 'bad', '', 'test', :at)"
            ),
            {"at": utcnow()},
        )
        connection.execute(
            text(
                "INSERT INTO ledger_entries (transaction_id, account_id, amount_micros)"
                " VALUES ('ltx_bad', :a, 5)"
            ),
            {"a": account},
        )
    with runtime.sessions() as session:
        report = check_ledger(session)
    broken = {p.invariant for p in report.problems}
    assert broken == {
        "balanced",
        "balance equals entries",
        "one usage posting per take",
    }, report.summary()
    assert any("take_orphan has 0 usage postings" in p.detail for p in report.problems)
    assert any("ltx_bad" in p.detail for p in report.problems)

    assert _cli(runtime, monkeypatch, "ledger", "check") == 1
    assert "problem(s)" in capsys.readouterr().out


def test_post_refuses_unbalanced_sets_unknown_currencies_and_a_second_posting(
    runtime: Runtime,
) -> None:
    with pytest.raises(Unbalanced), transaction(runtime.sessions) as session:
        post(
            session,
            kind=LedgerKind.CORRECTION,
            currency="JPY",
            reference="off-by-one",
            postings=[Posting(AccountKind.PAYOUTS, "", 1)],
        )
    with pytest.raises(CurrencyUnsupported), transaction(runtime.sessions) as session:
        post(
            session,
            kind=LedgerKind.CORRECTION,
            currency="XTS",
            reference="test-currency",
            postings=[
                Posting(AccountKind.PAYOUTS, "", 1),
                Posting(AccountKind.STRIPE_CLEARING, "", -1),
            ],
        )
    moves = [Posting(AccountKind.PAYOUTS, "", 5), Posting(AccountKind.STRIPE_CLEARING, "", -5)]
    with transaction(runtime.sessions) as session:
        post(session, kind=LedgerKind.CORRECTION, currency="EUR", reference="once", postings=moves)
    with pytest.raises(AlreadyPosted), transaction(runtime.sessions) as session:
        post(
            session,
            kind=LedgerKind.CORRECTION,
            currency="EUR",
            reference="once",
            postings=moves,
        )
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(LedgerTransaction)) == 1
        assert session.scalar(select(func.count()).select_from(LedgerAccount)) == 2
        assert check_ledger(session).ok


def test_a_refund_is_a_new_entry_set_that_negates_the_usage_posting(
    client: TestClient,
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    studio, voice, takes = _deliver(client, runtime)
    take_id = str(takes[0]["id"])
    with runtime.sessions() as session:
        before = {
            kind: balance_micros(session, kind, owner, "JPY")
            for kind, owner in (
                (AccountKind.STUDIO_RECEIVABLE, studio.id),
                (AccountKind.ACTOR_ROYALTY_PAYABLE, voice.actor_id),
            )
        }
        usage = session.scalars(select(UsageRecord).where(UsageRecord.take_id == take_id)).one()

    assert (
        _cli(
            runtime, monkeypatch, "ledger", "refund", "--take", take_id, "--reason", "mispronounced"
        )
        == 0
    )
    assert "refunded take" in capsys.readouterr().out
    with runtime.sessions() as session:
        refund = session.scalars(
            select(LedgerTransaction).where(LedgerTransaction.kind == LedgerKind.REFUND)
        ).one()
        original = session.scalars(
            select(LedgerTransaction).where(LedgerTransaction.reference == f"usage:{take_id}")
        ).one()
        assert refund.reverses_id == original.id and refund.memo == "mispronounced"
        assert (
            balance_micros(session, AccountKind.STUDIO_RECEIVABLE, studio.id, "JPY")
            == before[AccountKind.STUDIO_RECEIVABLE] - usage.amount_micros
        )
        assert (
            balance_micros(session, AccountKind.ACTOR_ROYALTY_PAYABLE, voice.actor_id, "JPY")
            == before[AccountKind.ACTOR_ROYALTY_PAYABLE] + usage.actor_royalty_micros
        )
        assert check_ledger(session).ok, "the take still has exactly one usage posting"

    with pytest.raises(AlreadyPosted), transaction(runtime.sessions) as session:
        refund_take(session, take_id, reason="again", by="test")
    assert (
        _cli(runtime, monkeypatch, "ledger", "refund", "--take", "take_nope", "--reason", "x") == 2
    )
    assert "not_found" in capsys.readouterr().err


def test_priced_per_second_of_audio_when_the_consent_says_so(
    client: TestClient, runtime: Runtime
) -> None:
    studio, _, takes = _deliver(client, runtime, currency="USD", price_per_second_micros=20_000)
    with runtime.sessions() as session:
        for usage in session.scalars(select(UsageRecord)):
            assert usage.price_unit == "second" and usage.rate_micros == 20_000
            assert usage.amount_micros == (usage.audio_ms * 20_000 + 500) // 1000
            assert usage.amount_micros > 0
    assert {t["currency"] for t in takes} == {"USD"}
    listed = client.get("/v1/usage", headers=studio.headers).json()["data"]
    assert {(u["price_unit"], u["rate_micros"]) for u in listed} == {("second", 20_000)}


def test_a_take_is_priced_at_the_version_in_force_when_it_committed(
    client: TestClient, runtime: Runtime
) -> None:
    studio, voice, takes = _deliver(client, runtime, price_per_1k_chars_micros=1_000_000_000)
    with transaction(runtime.sessions) as session:
        version = session.scalars(
            select(ConsentVersion).where(ConsentVersion.id == takes[0]["consent_version_id"])
        ).one()
        terms = dataclasses.replace(
            terms_of(version),
            prices_per_1k_chars_micros={"animation": 4_000_000_000},
            starts_at=utcnow() - dt.timedelta(hours=1),
        )
        amend_terms(
            session,
            runtime.consent_effects,
            actor_id=voice.actor_id,
            consent_id=voice.consent_id,
            terms=terms,
            changed_by="test",
        )
        verify_in_person(session, consent_id=voice.consent_id, operator="test", note="ID checked")
    line_id = takes[0]["line_id"]
    retake = client.post(f"/v1/lines/{line_id}/takes", headers=studio.headers).json()
    assert retake["consent_version_id"] != takes[0]["consent_version_id"]
    with runtime.sessions() as session:
        rates = dict(session.execute(select(UsageRecord.take_id, UsageRecord.rate_micros)).all())
        assert rates[takes[0]["id"]] == 1_000_000_000, "the first take keeps its price"
        assert rates[retake["id"]] == 4_000_000_000
        assert check_ledger(session).ok


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"currency": "XYZ"}, "currency_unsupported", "currency"),
        ({"currency": "yen"}, "currency_unsupported", "currency"),
        (
            {"prices_per_1k_chars_micros": {"animation": -1}},
            "invalid_input",
            "prices_per_1k_chars_micros",
        ),
        (
            {"prices_per_1k_chars_micros": {"animation": 10**13}},
            "invalid_input",
            "prices_per_1k_chars_micros",
        ),
        ({"minimum_per_line_micros": 10**13}, "invalid_input", "minimum_per_line_micros"),
        (
            {"prices_per_second_micros": {"animation": 5}},
            "invalid_input",
            "prices_per_second_micros",
        ),
        (
            {"prices_per_1k_chars_micros": {}, "prices_per_second_micros": {"animation": -3}},
            "invalid_input",
            "prices_per_second_micros",
        ),
    ],
)
def test_bad_prices_and_currencies_are_refused_with_the_field(
    client: TestClient, runtime: Runtime, change: dict[str, object], code: str, field: str
) -> None:
    voice = seed_voice(runtime)
    with runtime.sessions() as session:
        versions = session.scalar(select(func.count()).select_from(ConsentVersion))
    body = {
        "signer_name": "A",
        "use_description": "Voices for the studio's animated series and trailers.",
        "allowed_uses": ["animation"],
        "languages": ["en"],
        "currency": "JPY",
        "prices_per_1k_chars_micros": {"animation": 1_000_000},
        "actor_share_bps": 7000,
    }
    response = client.post(
        f"/v1/actor/consents/{voice.consent_id}/versions",
        json={**body, **change},
        headers=voice.actor_headers,
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert (problem["code"], problem["fields"][0]["field"]) == (code, field)
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ConsentVersion)) == versions


def test_upgrading_posts_the_usage_recorded_before_the_ledger(
    client: TestClient, runtime: Runtime
) -> None:
    """Migration 0006 gives every earlier usage record its usage posting."""
    from alembic import command

    from voicehub.db import alembic_config

    _, _, takes = _deliver(client, runtime)
    config = alembic_config(runtime.settings.resolved_database_url)
    command.downgrade(config, "0005")
    try:
        with runtime.database.connect() as connection:
            versions = set(
                connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
            )
        assert versions == {"0005"}
    finally:
        command.upgrade(config, "head")
    with runtime.sessions() as session:
        report = check_ledger(session)
        postings = session.scalars(
            select(LedgerTransaction.take_id).where(LedgerTransaction.created_by == "migration")
        ).all()
    assert report.ok, report.summary()
    assert sorted(postings) == sorted(str(t["id"]) for t in takes)
