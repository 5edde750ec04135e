"""Which take of a line counts: the approved one, and whether a take still speaks the line.

Takes never change once made. A studio approves one take per line
(`LineApproval`); every export uses it. A take is *stale* when the line's text
was revised (by a re-imported script) after the take was made from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from voicehub.db import utcnow
from voicehub.errors import Conflict, InvalidInput, TakeLineMismatch, TakeStale
from voicehub.notifications.service import emit_event
from voicehub.production.tables import Cut, Line, LineApproval, Project, Take
from voicehub.queue import JobQueue
from voicehub.tenancy.scope import get_owned, owned


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


@dataclass(frozen=True)
class LineApprovalState:
    """Where one line stands: its approved take (if any), whether it is stale, how many takes."""

    line: Line
    approval: LineApproval | None
    take: Take | None
    takes_count: int

    @property
    def stale(self) -> bool:
        return self.take is not None and is_stale(self.take, self.line)


def approve_take(
    session: Session,
    queue: JobQueue | None,
    studio_id: str,
    take_id: str,
    *,
    line_id: str | None = None,
    allow_stale: bool = False,
    job_id: str | None = None,
) -> tuple[LineApproval, bool]:
    """Make `take_id` the approved take of its line; returns the approval and whether it changed.

    Another studio's take is a 404. With `line_id`, the take must be one of that
    line's. A stale take (the line's text changed since) is refused unless
    `allow_stale`. Approving the approved take again changes nothing. A change is
    recorded as a `take.approved` event when `queue` is given.
    """
    take = get_owned(session, Take, studio_id, take_id)
    if line_id is not None:
        get_owned(session, Line, studio_id, line_id)
        if take.line_id != line_id:
            raise TakeLineMismatch(
                f"Take {take.id} is a take of line {take.line_id}, not of line {line_id}.",
                fields=["take_id"],
            )
    line = get_owned(session, Line, studio_id, take.line_id)
    stale = is_stale(take, line)
    if stale and not allow_stale:
        raise TakeStale(
            f"Take {take.id} speaks an earlier text of line {line.id}; render a new take,"
            " or approve it anyway with allow_stale=true.",
            take_id=take.id,
            line_id=line.id,
        )
    approval = session.get(LineApproval, line.id, with_for_update=True)
    if approval is not None and approval.take_id == take.id:
        return approval, False
    if approval is None:
        approval = LineApproval(line_id=line.id, studio_id=studio_id, take_id=take.id)
        session.add(approval)
    else:
        approval.take_id = take.id
    approval.approved_at = utcnow()
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(
            f"Another approval of line {line.id} was made at the same time; retry."
        ) from exc
    if queue is not None:
        emit_event(
            session,
            queue,
            studio_id=studio_id,
            type="take.approved",
            data={
                "take_id": take.id,
                "line_id": line.id,
                "cut_id": line.cut_id,
                "project_id": line.project_id,
                "stale": stale,
                "job_id": job_id,
            },
        )
    return approval, True


def approve_if_unapproved(
    session: Session, queue: JobQueue | None, studio_id: str, take: Take, *, job_id: str
) -> bool:
    """Approve a batch's new take when its line has no approved take yet; True if it did."""
    if session.get(LineApproval, take.line_id, with_for_update=True) is not None:
        return False
    approve_take(session, queue, studio_id, take.id, job_id=job_id)
    return True


def withdraw_approval(session: Session, studio_id: str, line_id: str) -> bool:
    """The line has no approved take any more; False when it had none."""
    line = get_owned(session, Line, studio_id, line_id)
    approval = session.get(LineApproval, line.id, with_for_update=True)
    if approval is None:
        return False
    session.delete(approval)
    session.flush()
    return True


def line_approval_state(session: Session, studio_id: str, line_id: str) -> LineApprovalState:
    """One line's approval state; another studio's line is a 404."""
    line = get_owned(session, Line, studio_id, line_id)
    return _states(session, studio_id, [line])[0]


def approval_states(
    session: Session,
    studio_id: str,
    project_id: str,
    *,
    cut_ids: list[str] | None = None,
) -> list[LineApprovalState]:
    """Every line of the project (or of some of its cuts) in timeline order, with its approval.

    A cut that is not the project's (or not the studio's) is refused by name.
    """
    project = get_owned(session, Project, studio_id, project_id)
    query = (
        owned(Line, studio_id)
        .join(Cut, Cut.id == Line.cut_id)
        .where(Line.project_id == project.id)
        .order_by(Cut.start_ms, Cut.number, Line.position)
    )
    if cut_ids:
        check_cuts_of_project(session, studio_id, project.id, cut_ids)
        query = query.where(Line.cut_id.in_(cut_ids))
    return _states(session, studio_id, list(session.scalars(query)))


def check_cuts_of_project(
    session: Session, studio_id: str, project_id: str, cut_ids: list[str], field: str = "cut_ids"
) -> None:
    """Refuse cut ids that are not cuts of this studio's project, naming them."""
    found = set(
        session.scalars(
            owned(Cut, studio_id)
            .where(Cut.project_id == project_id, Cut.id.in_(cut_ids))
            .with_only_columns(Cut.id)
        )
    )
    missing = [cut_id for cut_id in dict.fromkeys(cut_ids) if cut_id not in found]
    if missing:
        raise InvalidInput(
            f"Cuts not in project {project_id}: {', '.join(missing[:10])}.", fields=[field]
        )


def _states(session: Session, studio_id: str, lines: list[Line]) -> list[LineApprovalState]:
    line_ids = [line.id for line in lines]
    approvals: dict[str, LineApproval] = {}
    takes: dict[str, Take] = {}
    counts: dict[str, int] = {}
    if line_ids:
        for approval, take in session.execute(
            select(LineApproval, Take)
            .join(Take, Take.id == LineApproval.take_id)
            .where(LineApproval.studio_id == studio_id, LineApproval.line_id.in_(line_ids))
        ):
            approvals[approval.line_id] = approval
            takes[approval.line_id] = take
        counts = {
            line_id: count
            for line_id, count in session.execute(
                select(Take.line_id, func.count())
                .where(Take.studio_id == studio_id, Take.line_id.in_(line_ids))
                .group_by(Take.line_id)
            )
        }
    return [
        LineApprovalState(line, approvals.get(line.id), takes.get(line.id), counts.get(line.id, 0))
        for line in lines
    ]
