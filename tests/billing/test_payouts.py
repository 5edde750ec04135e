"""Actors' payouts: Connect onboarding, one transfer per actor and run, thresholds, failures."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from tests.billing.conftest import (
    CONNECT_WEBHOOK_SECRET,
    Delivered,
    close,
    deliver,
    deliver_lines,
    event,
    run_cli,
    this_month,
)
from tests.billing.stripe_connect_double import ConnectDouble
from tests.factories import SeededVoice, seed_studio, seed_voice
from voicehub.billing.payouts import (
    PayoutAccountUnverified,
    PayoutOutcome,
    PeriodNotClosed,
    run_payouts,
    threshold_minor,
)
from voicehub.billing.stripe_gateway import StripeGateway
from voicehub.billing.tables import Payout, PayoutStatus
from voicehub.billing.webhooks import process_stripe_event
from voicehub.ledger.check import check_ledger
from voicehub.ledger.service import PLATFORM, balance_micros, next_period
from voicehub.ledger.tables import (
    AccountKind,
    LedgerKind,
    LedgerTransaction,
    PartyKind,
    PeriodStatement,
)
from voicehub.metering.currency import micros_per_minor
from voicehub.runtime import Runtime
from voicehub.settings import Settings

# ¥31,415.926535 per 1,000 characters, two thirds to the actor: a few lines pay ¥1,000 or so.
PRICE_WELL_PAID = 31_415_926_535
LINES = {"Lighthouse, episode 1": ["The lighthouse is dark tonight.", "Hold the rope!"]}


def _payouts(runtime: Runtime) -> list[Payout]:
    with runtime.sessions() as session:
        return list(session.scalars(select(Payout).order_by(Payout.created_at, Payout.id)))


def _kinds(runtime: Runtime) -> list[LedgerKind]:
    with runtime.sessions() as session:
        return list(
            session.scalars(
                select(LedgerTransaction.kind)
                .where(LedgerTransaction.kind != LedgerKind.USAGE)
                .order_by(LedgerTransaction.created_at, LedgerTransaction.id)
            )
        )


def _statement(runtime: Runtime, actor_id: str, period: str) -> PeriodStatement:
    with runtime.sessions() as session:
        statement = session.scalar(
            select(PeriodStatement).where(
                PeriodStatement.party_kind == PartyKind.ACTOR,
                PeriodStatement.party_id == actor_id,
                PeriodStatement.period == period,
            )
        )
        assert statement is not None
        return statement


def _open_account(client: TestClient, voice: SeededVoice) -> str:
    response = client.post("/v1/actor/payout-account", headers=voice.actor_headers)
    assert response.status_code == 201, response.text
    return str(response.json()["stripe_account_id"])


def _onboard(
    client: TestClient, runtime: Runtime, double: ConnectDouble, voice: SeededVoice
) -> str:
    """The actor opens a payout account, finishes onboarding, and Stripe tells VoiceHub."""
    account_id = _open_account(client, voice)
    response = deliver(
        client, event("account.updated", double.onboard(account_id)), CONNECT_WEBHOOK_SECRET
    )
    assert response.status_code == 202
    process_stripe_event(runtime.sessions, response.json()["id"])
    return account_id


def _run(runtime: Runtime, period: str, actor_id: str | None = None) -> list[PayoutOutcome]:
    return run_payouts(
        runtime.sessions,
        StripeGateway.from_settings(runtime.settings),
        period,
        thresholds=runtime.settings.payout_thresholds,
        actor_id=actor_id,
    )


def test_an_onboarded_actor_is_paid_once_into_their_connect_account(
    client: TestClient,
    runtime: Runtime,
    connect_double: ConnectDouble,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    delivered = deliver_lines(
        client, runtime, LINES, price_per_1k_chars_micros=PRICE_WELL_PAID, actor_share_bps=6667
    )
    actor = delivered.voice
    before = client.get("/v1/actor/payout-account", headers=actor.actor_headers).json()
    assert (before["status"], before["stripe_account_id"]) == ("not_opened", None)
    assert {"currency": "JPY", "minimum_minor": 500} in before["payout_thresholds"]
    (jpy,) = before["balances"]
    assert (jpy["currency"], jpy["payable_minor"], jpy["held_because"]) == (
        "JPY",
        0,
        "below_threshold",
    )
    assert jpy["accruing_micros"] > 0, "this month's royalties, shown before it closes"

    first = client.post("/v1/actor/payout-account", headers=actor.actor_headers)
    second = client.post(
        "/v1/actor/payout-account", json={"country": "JP"}, headers=actor.actor_headers
    )
    assert (first.status_code, second.status_code) == (201, 200)
    opened, again = first.json(), second.json()
    account_id = opened["stripe_account_id"]
    assert (opened["status"], opened["country"], opened["payouts_enabled"]) == (
        "onboarding",
        "JP",
        False,
    )
    assert again["stripe_account_id"] == account_id
    assert opened["onboarding_url"].startswith(f"https://connect.stripe.test/setup/e/{account_id}/")
    assert again["onboarding_url"] != opened["onboarding_url"], "a fresh link each time"
    (created,) = connect_double.requests("POST", "/v1/accounts")
    assert created.idempotency_key == f"account:{actor.actor_id}"
    assert created.params["type"] == "express" and created.params["country"] == "JP"

    period = this_month()
    close(runtime, period)
    statement = _statement(runtime, actor.actor_id, period)
    assert statement.payable_minor >= 500
    (held,) = _run(runtime, period)
    assert (held.result, held.reason) == ("skipped", "payout_account_unverified")
    assert _payouts(runtime) == [] and _kinds(runtime) == []

    response = deliver(
        client, event("account.updated", connect_double.onboard(account_id)), CONNECT_WEBHOOK_SECRET
    )
    process_stripe_event(runtime.sessions, response.json()["id"])

    assert run_cli(runtime, monkeypatch, "payouts", "run", "--period", period) == 0
    assert ": paid pout_" in capsys.readouterr().out

    (payout,) = _payouts(runtime)
    (transfer,) = connect_double.transfers()
    (request,) = connect_double.requests("POST", "/v1/transfers")
    assert payout.status is PayoutStatus.PAID
    assert (payout.amount_minor, payout.statement_ids) == (statement.payable_minor, [statement.id])
    assert request.idempotency_key == payout.id
    assert transfer == {
        **transfer,
        "id": payout.stripe_transfer_id,
        "amount": statement.payable_minor,
        "currency": "jpy",
        "destination": account_id,
        "transfer_group": f"period_{period}",
    }
    assert transfer["metadata"]["voicehub_payout_id"] == payout.id
    assert _kinds(runtime) == [LedgerKind.PAYOUT, LedgerKind.PAYOUT_SENT]
    micros = payout.amount_minor * micros_per_minor("JPY")
    with runtime.sessions() as session:
        payable = balance_micros(session, AccountKind.ACTOR_ROYALTY_PAYABLE, actor.actor_id, "JPY")
        # Only the sub-yen remainder, carried to next month, is still owed.
        assert payable == -statement.carried_out_micros
        assert balance_micros(session, AccountKind.PAYOUTS, actor.actor_id, "JPY") == 0
        assert balance_micros(session, AccountKind.STRIPE_CLEARING, PLATFORM, "JPY") == -micros
        assert check_ledger(session).ok

    assert run_cli(runtime, monkeypatch, "payouts", "run", "--period", period) == 0
    assert len(connect_double.transfers()) == 1 and len(_payouts(runtime)) == 1

    listed = client.get("/v1/actor/payouts", headers=actor.actor_headers).json()["data"]
    assert [(p["id"], p["status"], p["amount_minor"]) for p in listed] == [
        (payout.id, "paid", payout.amount_minor)
    ]
    after = client.get("/v1/actor/payout-account", headers=actor.actor_headers).json()
    assert (after["status"], after["balances"][0]["payable_minor"]) == ("verified", 0)


def test_paying_out_an_unverified_account_is_refused_and_nothing_is_posted(
    client: TestClient,
    runtime: Runtime,
    connect_double: ConnectDouble,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    delivered = deliver_lines(
        client, runtime, LINES, price_per_1k_chars_micros=PRICE_WELL_PAID, actor_share_bps=6667
    )
    never_opened = deliver_lines(
        client,
        runtime,
        {"Other": ["Bring the lantern."]},
        studio=delivered.studio,
        price_per_1k_chars_micros=PRICE_WELL_PAID,
        actor_share_bps=6667,
    )
    _open_account(client, delivered.voice)
    period = this_month()
    close(runtime, period)

    for voice in (delivered.voice, never_opened.voice):
        with pytest.raises(PayoutAccountUnverified) as refused:
            _run(runtime, period, actor_id=voice.actor_id)
        assert (refused.value.status, refused.value.code) == (409, "payout_account_unverified")

    exit_code = run_cli(
        runtime,
        monkeypatch,
        "payouts",
        "run",
        "--period",
        period,
        "--actor",
        delivered.voice.actor_id,
    )
    assert exit_code == 2
    assert "error (payout_account_unverified)" in capsys.readouterr().err
    assert _payouts(runtime) == [] and _kinds(runtime) == []
    assert connect_double.requests("POST", "/v1/transfers") == []

    with pytest.raises(PeriodNotClosed):
        _run(runtime, next_period(period))


def test_below_the_threshold_royalties_carry_until_they_reach_it(
    client: TestClient, runtime: Runtime, connect_double: ConnectDouble
) -> None:
    first = deliver_lines(
        client, runtime, LINES, price_per_1k_chars_micros=PRICE_WELL_PAID, actor_share_bps=6667
    )
    _onboard(client, runtime, connect_double, first.voice)
    period = this_month()
    close(runtime, period)
    statement = _statement(runtime, first.voice.actor_id, period)
    threshold = statement.payable_minor + 1
    runtime.settings = runtime.settings.model_copy(
        update={"payout_threshold_minor": f"JPY={threshold}"}
    )

    (skipped,) = _run(runtime, period)

    assert (skipped.result, skipped.reason) == ("skipped", "below_threshold")
    assert _payouts(runtime) == [] and _kinds(runtime) == []
    shown = client.get("/v1/actor/payout-account", headers=first.voice.actor_headers).json()
    assert shown["balances"][0] == {
        **shown["balances"][0],
        "payable_minor": statement.payable_minor,
        "threshold_minor": threshold,
        "paid_at_next_run": False,
        "held_because": "below_threshold",
    }

    # Next month's lines take the actor over the threshold: both months are paid at once.
    later: Delivered = deliver_lines(
        client,
        runtime,
        {"Harbour": ["Hold the rope!"]},
        studio=first.studio,
        voice=first.voice,
    )
    assert later.take_ids
    following = next_period(period)
    close(runtime, following)
    second = _statement(runtime, first.voice.actor_id, following)

    (paid,) = _run(runtime, following)

    assert paid.result == "paid"
    (payout,) = _payouts(runtime)
    assert payout.statement_ids == [statement.id, second.id]
    assert payout.amount_minor == statement.payable_minor + second.payable_minor
    assert connect_double.transfers()[0]["transfer_group"] == f"period_{following}"


def test_a_lost_answer_is_asked_again_with_the_same_key_and_pays_once(
    client: TestClient, runtime: Runtime, connect_double: ConnectDouble
) -> None:
    delivered = deliver_lines(
        client, runtime, LINES, price_per_1k_chars_micros=PRICE_WELL_PAID, actor_share_bps=6667
    )
    _onboard(client, runtime, connect_double, delivered.voice)
    period = this_month()
    close(runtime, period)

    # Stripe makes the transfer, but its answer never arrives.
    connect_double.lose_next_answer("POST /v1/transfers")
    (pending,) = _run(runtime, period)

    assert (pending.result, pending.reason) == ("pending", "stripe_unavailable")
    (payout,) = _payouts(runtime)
    assert payout.status is PayoutStatus.PENDING
    assert len(connect_double.transfers()) == 1
    assert _kinds(runtime) == [LedgerKind.PAYOUT]

    (settled,) = _run(runtime, period)

    assert settled.result == "paid"
    (transfer,) = connect_double.transfers()
    (payout,) = _payouts(runtime)
    assert (payout.status, payout.stripe_transfer_id) == (PayoutStatus.PAID, transfer["id"])
    assert _kinds(runtime) == [LedgerKind.PAYOUT, LedgerKind.PAYOUT_SENT]

    # Next month Stripe cannot be reached at all: the retry uses the payout's key.
    deliver_lines(
        client,
        runtime,
        {"Harbour": ["Hold the rope!"] * 2},
        studio=delivered.studio,
        voice=delivered.voice,
    )
    following = next_period(period)
    close(runtime, following)
    connect_double.refuse_next("POST /v1/transfers")
    (waiting,) = _run(runtime, following)
    assert waiting.result == "pending"
    assert len(connect_double.transfers()) == 1

    (paid,) = _run(runtime, following)

    assert paid.result == "paid"
    assert len(connect_double.transfers()) == 2
    keys = [r.idempotency_key for r in connect_double.requests("POST", "/v1/transfers")]
    assert keys == [payout.id, paid.payout_id]
    with runtime.sessions() as session:
        assert check_ledger(session).ok


def test_a_refused_transfer_fails_the_payout_and_a_reversal_makes_the_royalty_payable_again(
    client: TestClient, runtime: Runtime, connect_double: ConnectDouble
) -> None:
    delivered = deliver_lines(
        client, runtime, LINES, price_per_1k_chars_micros=PRICE_WELL_PAID, actor_share_bps=6667
    )
    actor = delivered.voice
    _onboard(client, runtime, connect_double, actor)
    period = this_month()
    close(runtime, period)
    statement = _statement(runtime, actor.actor_id, period)
    with runtime.sessions() as session:
        owed = balance_micros(session, AccountKind.ACTOR_ROYALTY_PAYABLE, actor.actor_id, "JPY")

    connect_double.set_balance("jpy", 0)
    (failed,) = _run(runtime, period)

    assert (failed.result, failed.reason) == ("failed", "balance_insufficient")
    (payout,) = _payouts(runtime)
    assert payout.status is PayoutStatus.FAILED
    assert payout.failure_reason and "balance_insufficient" in payout.failure_reason
    assert _kinds(runtime) == [LedgerKind.PAYOUT, LedgerKind.PAYOUT_FAILED]
    with runtime.sessions() as session:
        assert (
            balance_micros(session, AccountKind.ACTOR_ROYALTY_PAYABLE, actor.actor_id, "JPY")
            == owed
        ), "the royalty is payable again"
        sets = {
            t.kind: t
            for t in session.scalars(
                select(LedgerTransaction).where(LedgerTransaction.kind != LedgerKind.USAGE)
            )
        }
        assert sets[LedgerKind.PAYOUT_FAILED].reverses_id == sets[LedgerKind.PAYOUT].id

    connect_double.set_balance("jpy", 1_000_000)
    (paid,) = _run(runtime, period)
    assert paid.result == "paid"
    _, payout = _payouts(runtime)
    assert payout.statement_ids == [statement.id]
    (transfer,) = connect_double.transfers()

    partial = deliver(
        client, event("transfer.reversed", {**transfer, "amount_reversed": 1, "reversed": False})
    )
    ignored = process_stripe_event(runtime.sessions, partial.json()["id"])
    assert ignored is not None and ignored.startswith("ignored:")
    full = deliver(
        client,
        event(
            "transfer.reversed",
            {**transfer, "amount_reversed": transfer["amount"], "reversed": True},
        ),
    )
    outcome = process_stripe_event(runtime.sessions, full.json()["id"])

    assert outcome is not None and outcome.startswith("posted:")
    assert _payouts(runtime)[1].status is PayoutStatus.REVERSED
    assert _kinds(runtime)[-1] is LedgerKind.PAYOUT_REVERSED
    shown = client.get("/v1/actor/payout-account", headers=actor.actor_headers).json()
    assert shown["balances"][0]["payable_minor"] == statement.payable_minor
    with runtime.sessions() as session:
        assert (
            balance_micros(session, AccountKind.ACTOR_ROYALTY_PAYABLE, actor.actor_id, "JPY")
            == owed
        )
        assert balance_micros(session, AccountKind.STRIPE_CLEARING, PLATFORM, "JPY") == 0
        assert check_ledger(session).ok


def test_opening_a_payout_account_refuses_bad_input_clearly(
    client: TestClient, runtime: Runtime, connect_double: ConnectDouble
) -> None:
    actor = seed_voice(runtime)

    def open_in(country: str) -> tuple[int, str]:
        response = client.post(
            "/v1/actor/payout-account", json={"country": country}, headers=actor.actor_headers
        )
        return response.status_code, response.json().get("code", "")

    assert open_in("Japan") == (422, "invalid_input")
    assert open_in("ZZ") == (502, "stripe_refused"), "Stripe opens no account there"
    assert open_in("jp")[0] == 201
    assert open_in("US") == (409, "conflict")
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Payout)) == 0
    assert len(connect_double.requests("POST", "/v1/accounts")) == 2

    studio_key = seed_studio(runtime).headers
    assert client.get("/v1/actor/payout-account", headers=studio_key).status_code == 403

    runtime.settings = runtime.settings.model_copy(update={"stripe_api_key": ""})
    other = seed_voice(runtime, name="Other")
    response = client.post("/v1/actor/payout-account", headers=other.actor_headers)
    assert (response.status_code, response.json()["code"]) == (503, "stripe_not_configured")


def test_thresholds_and_production_settings_are_checked_at_start_up(tmp_path: Path) -> None:
    settings = Settings(payout_threshold_minor=" JPY=1000, USD=250 ", data_dir=tmp_path)
    assert settings.payout_thresholds == {"JPY": 1000, "USD": 250}
    assert threshold_minor(settings.payout_thresholds, "EUR") == 1, "unnamed: anything owed"
    for bad in ("JPY", "JPY=ten", "jpy=100", "JPY=-5", "JPY=1,JPY=2"):
        with pytest.raises(ValidationError, match="VOICEHUB_PAYOUT_THRESHOLD_MINOR"):
            Settings(payout_threshold_minor=bad, data_dir=tmp_path)

    production = {
        "environment": "production",
        "database_url": "postgresql+psycopg://db/voicehub",
        "queue_url": "redis://queue:6379/0",
        "master_key": "a" * 44,
        "receipt_key_path": tmp_path / "receipt.pem",
        "c2pa_cert_path": tmp_path / "c2pa-chain.pem",
        "c2pa_key_path": tmp_path / "c2pa-key.pem",
    }
    with pytest.raises(
        ValidationError, match="requires VOICEHUB_STRIPE_API_KEY, VOICEHUB_STRIPE_WEBHOOK_SECRET"
    ):
        Settings(**production)  # type: ignore[arg-type]
    assert Settings(
        **production,  # type: ignore[arg-type]
        stripe_api_key="sk_live_x",
        stripe_webhook_secret="whsec_a, whsec_b",
    ).stripe_webhook_secrets == ["whsec_a", "whsec_b"]


def test_two_runs_at_once_make_one_payout(
    client: TestClient, runtime: Runtime, connect_double: ConnectDouble
) -> None:
    delivered = deliver_lines(
        client, runtime, LINES, price_per_1k_chars_micros=PRICE_WELL_PAID, actor_share_bps=6667
    )
    _onboard(client, runtime, connect_double, delivered.voice)
    period = this_month()
    close(runtime, period)
    start = threading.Barrier(2)
    results: list[object] = []

    def run() -> None:
        start.wait()
        try:
            results.extend(_run(runtime, period))
        except OperationalError as error:  # a database refusing the second writer is safe too
            results.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    (payout,) = _payouts(runtime)
    assert payout.status is PayoutStatus.PAID
    assert len(connect_double.transfers()) == 1
    # The second run may have found the first run's payout pending and settled it too.
    paid = {r.payout_id for r in results if isinstance(r, PayoutOutcome) and r.result == "paid"}
    assert paid == {payout.id}
    assert _kinds(runtime) == [LedgerKind.PAYOUT, LedgerKind.PAYOUT_SENT]
    with runtime.sessions() as session:
        assert check_ledger(session).ok
