"""Callbacks tied to a transaction run when the whole transaction ends, not at a savepoint."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from voicehub.db import after_commit, after_rollback, transaction
from voicehub.runtime import Runtime


def test_a_savepoint_neither_commits_nor_rolls_back_the_callbacks(runtime: Runtime) -> None:
    ran: list[str] = []
    with transaction(runtime.sessions) as session:
        session.execute(text("SELECT 1"))
        after_commit(session, lambda: ran.append("enqueued"))
        after_rollback(session, lambda: ran.append("file removed"))
        with session.begin_nested():
            session.execute(text("SELECT 2"))
        assert ran == [], "a released savepoint is not the commit"
        with pytest.raises(ValueError), session.begin_nested():
            raise ValueError("the savepoint rolls back")
        assert ran == [], "a savepoint rolled back leaves the transaction going"
    assert ran == ["enqueued"]

    ran.clear()
    with pytest.raises(RuntimeError), transaction(runtime.sessions) as session:
        session.execute(text("SELECT 1"))
        after_commit(session, lambda: ran.append("enqueued"))
        after_rollback(session, lambda: ran.append("file removed"))
        with session.begin_nested():
            session.execute(text("SELECT 2"))
        raise RuntimeError("the unit of work fails after the savepoint")
    assert ran == ["file removed"]
