"""The consent log: an append-only hash chain of consent events, so tampering shows.

Each entry's hash covers the hash of the entry before it and a canonical JSON of
its own fields:

    entry_hash = sha256(prev_hash + canonical_json({seq, event, actor_id,
                        consent_id, payload, created_at}))

with `prev_hash` the 64 hex characters of the previous entry's hash ("0" * 64
before the first entry), the two concatenated as UTF-8, and `created_at` in
RFC 3339 with microseconds and a "Z". The head row (id 1) holds the last
entry's sequence number and hash, so a truncated tail shows too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, Select, select, update
from sqlalchemy.orm import Session

from consent.tables import ConsentLogEntry, ConsentLogHead
from voicehub.db import utcnow

GENESIS_HASH = "0" * 64
_HEAD_ID = 1


def canonical_json(value: Any) -> str:
    """The one JSON text of `value` that hashes and signatures are computed over."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def rfc3339(moment: dt.datetime) -> str:
    """`moment` in UTC as RFC 3339 with microseconds, e.g. 2025-01-01T09:30:00.000000Z."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(
    *,
    prev_hash: str,
    seq: int,
    event: str,
    actor_id: str | None,
    consent_id: str | None,
    payload: dict[str, Any],
    created_at: dt.datetime,
) -> str:
    """The hash of one entry, chained to the hash of the entry before it."""
    record = {
        "seq": seq,
        "event": event,
        "actor_id": actor_id,
        "consent_id": consent_id,
        "payload": payload,
        "created_at": rfc3339(created_at),
    }
    digest = hashlib.sha256(prev_hash.encode("ascii") + canonical_json(record).encode("utf-8"))
    return digest.hexdigest()


def append_event(
    session: Session,
    *,
    event: str,
    actor_id: str | None,
    consent_id: str | None,
    payload: dict[str, Any],
) -> ConsentLogEntry:
    """Append one event to the consent log, chained to the entry before it (flushes only).

    The head row stays locked until the transaction ends, so concurrent appends
    queue up behind each other and the chain has no gaps or forks.
    """
    try:
        # Store exactly what is hashed: tuples become lists, keys become strings.
        stored_payload: dict[str, Any] = json.loads(canonical_json(payload))
    except (TypeError, ValueError) as error:
        raise TypeError(f"a consent log payload must be JSON-serialisable: {error}") from error
    # A no-op UPDATE rather than SELECT … FOR UPDATE, because it locks on every
    # database: a row lock on PostgreSQL, the single writer lock on SQLite.
    session.execute(
        update(ConsentLogHead)
        .where(ConsentLogHead.id == _HEAD_ID)
        .values(seq=ConsentLogHead.seq)
        .execution_options(synchronize_session=False)
    )
    # populate_existing: a head loaded earlier in this transaction may be stale.
    head = session.scalars(
        select(ConsentLogHead)
        .where(ConsentLogHead.id == _HEAD_ID)
        .execution_options(populate_existing=True)
    ).one_or_none()
    if head is None:
        raise RuntimeError("The consent log has no head row; run the migrations.")
    seq = head.seq + 1
    created_at = utcnow()
    entry = ConsentLogEntry(
        seq=seq,
        event=event,
        actor_id=actor_id,
        consent_id=consent_id,
        payload=stored_payload,
        prev_hash=head.entry_hash,
        entry_hash=entry_hash(
            prev_hash=head.entry_hash,
            seq=seq,
            event=event,
            actor_id=actor_id,
            consent_id=consent_id,
            payload=stored_payload,
            created_at=created_at,
        ),
        created_at=created_at,
    )
    session.add(entry)
    head.seq = seq
    head.entry_hash = entry.entry_hash
    session.flush()
    return entry


@dataclass(frozen=True)
class ChainReport:
    """What verifying the consent log found: intact, or the first broken entry and why."""

    ok: bool
    entries_checked: int
    first_broken_seq: int | None
    reason: str


_ENTRY_COLUMNS = (
    ConsentLogEntry.seq,
    ConsentLogEntry.event,
    ConsentLogEntry.actor_id,
    ConsentLogEntry.consent_id,
    ConsentLogEntry.payload,
    ConsentLogEntry.prev_hash,
    ConsentLogEntry.entry_hash,
    ConsentLogEntry.created_at,
)


class _Walk:
    """Checks entries in order, remembering where the chain stands and where it first broke."""

    def __init__(self) -> None:
        self.last_seq = 0
        self.last_hash = GENESIS_HASH
        self.checked = 0
        self.broken_seq: int | None = None
        self.reason = ""

    def feed(self, rows: Iterable[Row[Any]]) -> None:
        for row in rows:
            if not self._check(row):
                return

    def _check(self, row: Row[Any]) -> bool:
        expected = self.last_seq + 1
        if row.seq != expected:
            return self._break(expected, f"entry {expected} is missing; the next is {row.seq}")
        self.checked += 1
        if row.prev_hash != self.last_hash:
            return self._break(
                row.seq, f"its prev_hash does not match the hash of entry {self.last_seq}"
            )
        recomputed = entry_hash(
            prev_hash=row.prev_hash,
            seq=row.seq,
            event=row.event,
            actor_id=row.actor_id,
            consent_id=row.consent_id,
            payload=row.payload,
            created_at=row.created_at,
        )
        if recomputed != row.entry_hash:
            return self._break(
                row.seq,
                "its entry_hash does not match its contents (the entry or its hash changed)",
            )
        self.last_seq = row.seq
        self.last_hash = row.entry_hash
        return True

    def _break(self, seq: int, reason: str) -> bool:
        self.broken_seq = seq
        self.reason = reason
        return False


def verify_chain(session: Session) -> ChainReport:
    """Walk the whole consent log recomputing every hash and link; name the first broken entry.

    Safe beside concurrent appends: an entry and the head that covers it commit
    together, so entries read before the head are never past it, and entries the
    head covers but the first pass missed are read in a second pass.
    """
    walk = _Walk()
    with session.execute(_entries(after=0)) as rows:
        walk.feed(rows)
    head_seq, head_hash = _head(session)
    if walk.broken_seq is None and head_seq > walk.last_seq:
        with session.execute(_entries(after=walk.last_seq, through=head_seq)) as rows:
            walk.feed(rows)
    head_break = _head_break(session, walk, head_seq, head_hash)
    if head_break is not None and (walk.broken_seq is None or head_break[0] < walk.broken_seq):
        walk.broken_seq, walk.reason = head_break
    if walk.broken_seq is not None:
        return ChainReport(
            ok=False,
            entries_checked=walk.checked,
            first_broken_seq=walk.broken_seq,
            reason=walk.reason,
        )
    return ChainReport(
        ok=True,
        entries_checked=walk.checked,
        first_broken_seq=None,
        reason=f"{walk.checked} entries, every hash and link intact",
    )


def _entries(*, after: int, through: int | None = None) -> Select[Any]:
    # Plain rows, not ORM objects: nothing stale from the identity map, nothing kept
    # in it; streamed, so a long log is never all in memory.
    query = (
        select(*_ENTRY_COLUMNS)
        .where(ConsentLogEntry.seq > after)
        .order_by(ConsentLogEntry.seq)
        .execution_options(yield_per=1000)
    )
    if through is not None:
        query = query.where(ConsentLogEntry.seq <= through)
    return query


def _head(session: Session) -> tuple[int, str]:
    row = session.execute(
        select(ConsentLogHead.seq, ConsentLogHead.entry_hash).where(ConsentLogHead.id == _HEAD_ID)
    ).one_or_none()
    if row is None:
        raise RuntimeError("The consent log has no head row; run the migrations.")
    return row.seq, row.entry_hash


def _head_break(
    session: Session, walk: _Walk, head_seq: int, head_hash: str
) -> tuple[int, str] | None:
    """Where the head disagrees with the entries, if it does: (first broken seq, reason)."""
    if head_seq > walk.last_seq:
        if walk.broken_seq is not None:
            return None  # the walk stopped early; it already names an earlier break
        return (
            walk.last_seq + 1,
            f"entry {walk.last_seq + 1} is missing; the head is at entry {head_seq}",
        )
    expected: str | None
    if head_seq == walk.last_seq:
        expected = walk.last_hash
    elif head_seq == 0:
        expected = GENESIS_HASH
    else:
        expected = session.scalar(
            select(ConsentLogEntry.entry_hash).where(ConsentLogEntry.seq == head_seq)
        )
    if head_hash != expected:
        if head_seq == 0:
            return 1, "the head's hash is not the genesis hash"
        return head_seq, f"the head's hash does not match entry {head_seq}"
    if head_seq < walk.last_seq:
        return head_seq + 1, f"entry {head_seq + 1} is past the head (entry {head_seq})"
    return None
