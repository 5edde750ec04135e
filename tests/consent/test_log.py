"""The consent log is a hash chain: appends keep it intact, and any tampering names its entry."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import JSON, bindparam, select, text
from sqlalchemy.engine import Connection

from consent.log import GENESIS_HASH, ChainReport, append_event, entry_hash, verify_chain
from consent.tables import ConsentLogEntry, ConsentLogHead
from voicehub.db import transaction
from voicehub.runtime import Runtime


def _append(runtime: Runtime, count: int, *, event: str = "consent.granted") -> None:
    with transaction(runtime.sessions) as session:
        for number in range(count):
            append_event(
                session,
                event=event,
                actor_id="act_haru",
                consent_id="con_haru",
                payload={"n": number, "uses": ["animation", "games"], "note": "春の声"},
            )


def _verify(runtime: Runtime) -> ChainReport:
    with runtime.sessions() as session:
        return verify_chain(session)


def _entries(runtime: Runtime) -> list[ConsentLogEntry]:
    with runtime.sessions() as session:
        return list(session.scalars(select(ConsentLogEntry).order_by(ConsentLogEntry.seq)))


def test_an_empty_log_is_intact(runtime: Runtime) -> None:
    report = _verify(runtime)
    assert (report.ok, report.entries_checked, report.first_broken_seq) == (True, 0, None)


def test_appending_keeps_the_chain_intact(runtime: Runtime) -> None:
    _append(runtime, 3)
    _append(runtime, 2, event="consent.paused")

    entries = _entries(runtime)
    assert [entry.seq for entry in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == GENESIS_HASH
    assert [entry.prev_hash for entry in entries[1:]] == [
        entry.entry_hash for entry in entries[:-1]
    ]
    with runtime.sessions() as session:
        head = session.get_one(ConsentLogHead, 1)
        assert (head.seq, head.entry_hash) == (5, entries[-1].entry_hash)
    report = _verify(runtime)
    assert (report.ok, report.entries_checked, report.first_broken_seq) == (True, 5, None)


def test_the_hash_is_sha256_of_the_previous_hash_and_the_canonical_entry(
    runtime: Runtime,
) -> None:
    _append(runtime, 2)
    first, second = _entries(runtime)
    canonical = json.dumps(
        {
            "seq": 2,
            "event": "consent.granted",
            "actor_id": "act_haru",
            "consent_id": "con_haru",
            "payload": {"n": 1, "uses": ["animation", "games"], "note": "春の声"},
            "created_at": second.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    expected = hashlib.sha256((first.entry_hash + canonical).encode("utf-8")).hexdigest()
    assert second.entry_hash == expected


def test_the_payload_is_stored_as_it_was_hashed(runtime: Runtime) -> None:
    with transaction(runtime.sessions) as session:
        append_event(
            session,
            event="consent.granted",
            actor_id=None,
            consent_id=None,
            payload={"uses": ("a",)},
        )
    assert _entries(runtime)[0].payload == {"uses": ["a"]}
    assert _verify(runtime).ok


def test_a_payload_that_is_not_json_is_refused_and_nothing_is_written(runtime: Runtime) -> None:
    with pytest.raises(TypeError, match="JSON-serialisable"), transaction(runtime.sessions) as s:
        append_event(
            s,
            event="consent.granted",
            actor_id=None,
            consent_id=None,
            payload={"at": dt.datetime(2025, 1, 1, tzinfo=dt.UTC)},
        )
    assert _entries(runtime) == []


def _forge_entry_3(connection: Connection) -> None:
    """Change entry 3's payload and recompute its hash, as a careful forger would."""
    row = connection.execute(text("SELECT * FROM consent_log WHERE seq = 3")).mappings().one()
    payload = {**_payload(row["payload"]), "n": 99}
    forged = entry_hash(
        prev_hash=row["prev_hash"],
        seq=3,
        event=row["event"],
        actor_id=row["actor_id"],
        consent_id=row["consent_id"],
        payload=payload,
        created_at=_as_utc(row["created_at"]),
    )
    _set_payload(connection, 3, payload)
    connection.execute(
        text("UPDATE consent_log SET entry_hash = :hash WHERE seq = 3"), {"hash": forged}
    )


def _payload(value: Any) -> dict[str, Any]:
    # Raw SQL returns the JSON text on SQLite and the parsed value on PostgreSQL.
    return json.loads(value) if isinstance(value, str) else dict(value)


def _as_utc(value: Any) -> dt.datetime:
    # SQLite gives back text without a zone; the column always holds UTC.
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment


def _set_payload(connection: Connection, seq: int, payload: dict[str, Any]) -> None:
    connection.execute(
        text("UPDATE consent_log SET payload = :payload WHERE seq = :seq").bindparams(
            bindparam("payload", type_=JSON)
        ),
        {"payload": payload, "seq": seq},
    )


def _head_to_entry_3(connection: Connection) -> None:
    connection.execute(
        text(
            "UPDATE consent_log_head SET seq = 3, "
            "entry_hash = (SELECT entry_hash FROM consent_log WHERE seq = 3)"
        )
    )


Tamper = Callable[[Connection], object]

TAMPERING: dict[str, tuple[Tamper, int]] = {
    "a payload edited": (lambda c: _set_payload(c, 3, {"n": 99}), 3),
    "a payload edited and its hash recomputed": (_forge_entry_3, 4),
    "an entry deleted": (lambda c: c.execute(text("DELETE FROM consent_log WHERE seq = 3")), 3),
    "the last entry deleted": (
        lambda c: c.execute(text("DELETE FROM consent_log WHERE seq = 5")),
        5,
    ),
    "a hash edited": (
        lambda c: c.execute(
            text("UPDATE consent_log SET entry_hash = :hash WHERE seq = 3"), {"hash": "f" * 64}
        ),
        3,
    ),
    "a prev_hash edited": (
        lambda c: c.execute(
            text("UPDATE consent_log SET prev_hash = :hash WHERE seq = 2"), {"hash": "e" * 64}
        ),
        2,
    ),
    "an event renamed": (
        lambda c: c.execute(text("UPDATE consent_log SET event = 'consent.revoked' WHERE seq = 1")),
        1,
    ),
    "the head moved back": (_head_to_entry_3, 4),
    "the head moved forward": (
        lambda c: c.execute(text("UPDATE consent_log_head SET seq = 7")),
        6,
    ),
    "the head's hash edited": (
        lambda c: c.execute(text("UPDATE consent_log_head SET entry_hash = :h"), {"h": "d" * 64}),
        5,
    ),
}


@pytest.mark.parametrize("tamper", TAMPERING.values(), ids=TAMPERING.keys())
def test_tampering_names_the_first_broken_entry(
    runtime: Runtime, tamper: tuple[Tamper, int]
) -> None:
    change, first_broken_seq = tamper
    _append(runtime, 5)
    assert _verify(runtime).ok

    with runtime.database.begin() as connection:
        change(connection)

    report = _verify(runtime)
    assert not report.ok
    assert report.first_broken_seq == first_broken_seq, report.reason
    assert report.reason


def test_concurrent_appends_make_one_gapless_chain(runtime: Runtime) -> None:
    per_thread = 15
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def append_many(actor_id: str) -> None:
        try:
            start.wait(timeout=30)
            for number in range(per_thread):
                # One session per thread, one transaction per event, as requests would.
                with transaction(runtime.sessions) as session:
                    append_event(
                        session,
                        event="consent.granted",
                        actor_id=actor_id,
                        consent_id=None,
                        payload={"n": number},
                    )
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=append_many, args=(name,)) for name in ("act_a", "act_b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert failures == []
    entries = _entries(runtime)
    assert [entry.seq for entry in entries] == list(range(1, 2 * per_thread + 1))
    for actor_id in ("act_a", "act_b"):
        mine = [entry.payload["n"] for entry in entries if entry.actor_id == actor_id]
        assert mine == list(range(per_thread))
    report = _verify(runtime)
    assert (report.ok, report.entries_checked) == (True, 2 * per_thread), report.reason


def test_verifying_beside_concurrent_appends_never_reports_a_false_break(
    runtime: Runtime,
) -> None:
    appending = threading.Event()
    appending.set()
    failures: list[BaseException] = []

    def append_many() -> None:
        try:
            for _ in range(40):
                _append(runtime, 1)
        except BaseException as error:
            failures.append(error)
        finally:
            appending.clear()

    appender = threading.Thread(target=append_many)
    appender.start()
    reports = []
    while appending.is_set():
        reports.append(_verify(runtime))
    appender.join(timeout=120)

    assert failures == []
    assert [report.reason for report in reports if not report.ok] == []
    assert _verify(runtime).entries_checked == 40
