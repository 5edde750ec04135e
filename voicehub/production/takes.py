"""Which take of a line counts: the approved one, and whether a take still speaks the line.

Takes never change once made. A studio approves one take per line
(`LineApproval`); every export uses it. A take is *stale* when the line's text
was revised (by a re-imported script) after the take was made from it.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from voicehub.production.tables import Line, LineApproval, Take


def approved_takes(session: Session, studio_id: str, line_ids: list[str]) -> dict[str, Take]:
    """Line id → its approved take, for the lines of `line_ids` that have one."""
    if not line_ids:
        return {}
    rows = session.execute(
        select(LineApproval.line_id, Take)
        .join(Take, Take.id == LineApproval.take_id)
        .where(LineApproval.studio_id == studio_id, LineApproval.line_id.in_(line_ids))
    )
    return {line_id: take for line_id, take in rows}


def is_stale(take: Take, line: Line) -> bool:
    """True when the line's text changed since the take was made."""
    return take.text != line.text.strip()
