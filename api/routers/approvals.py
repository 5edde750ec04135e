"""Approval: the one take of each line that every export uses."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from api.deps import RuntimeDep, SessionDep, StudioRead, StudioSynthesize
from api.schemas import LineApprovalIn, LineApprovalOut, ProjectApprovalsOut
from voicehub.production.tables import Cut
from voicehub.production.takes import (
    LineApprovalState,
    approval_states,
    approve_take,
    line_approval_state,
    withdraw_approval,
)
from voicehub.tenancy.scope import get_owned

router = APIRouter(tags=["take-approvals"])

AllowStale = Annotated[
    bool,
    Query(description="Approve a take even though its line's text has changed since it was made."),
]


def line_approval_out(state: LineApprovalState) -> LineApprovalOut:
    return LineApprovalOut(
        line_id=state.line.id,
        cut_id=state.line.cut_id,
        take_id=state.take.id if state.take is not None else None,
        approved_at=state.approval.approved_at if state.approval is not None else None,
        stale=state.stale,
        takes_count=state.takes_count,
    )


@router.post("/v1/takes/{take_id}/approve", summary="Approve a take for its line")
def approve(
    take_id: str,
    session: SessionDep,
    caller: StudioSynthesize,
    runtime: RuntimeDep,
    allow_stale: AllowStale = False,
) -> LineApprovalOut:
    """The take becomes the one its line's exports use, replacing any approved before.

    Approving the approved take again changes nothing. A take whose line's text
    has changed since is refused with `take_stale` unless `allow_stale=true`.
    """
    approval, _ = approve_take(
        session, runtime.queue, caller.studio_id, take_id, allow_stale=allow_stale
    )
    return line_approval_out(line_approval_state(session, caller.studio_id, approval.line_id))


@router.put("/v1/lines/{line_id}/approval", summary="Approve one of a line's takes")
def put_approval(
    line_id: str,
    body: LineApprovalIn,
    session: SessionDep,
    caller: StudioSynthesize,
    runtime: RuntimeDep,
    allow_stale: AllowStale = False,
) -> LineApprovalOut:
    """As `POST /v1/takes/{take_id}/approve`, naming the line: a take of another line is refused."""
    approve_take(
        session,
        runtime.queue,
        caller.studio_id,
        body.take_id,
        line_id=line_id,
        allow_stale=allow_stale,
    )
    return line_approval_out(line_approval_state(session, caller.studio_id, line_id))


@router.get("/v1/lines/{line_id}/approval", summary="Get a line's approved take")
def get_approval(line_id: str, session: SessionDep, caller: StudioRead) -> LineApprovalOut:
    return line_approval_out(line_approval_state(session, caller.studio_id, line_id))


@router.delete(
    "/v1/lines/{line_id}/approval",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Withdraw a line's approval",
)
def delete_approval(line_id: str, session: SessionDep, caller: StudioSynthesize) -> Response:
    """The line has no approved take afterwards (also when it had none)."""
    withdraw_approval(session, caller.studio_id, line_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/v1/projects/{project_id}/approvals", summary="List a project's lines and approvals")
def list_project_approvals(
    project_id: str,
    session: SessionDep,
    caller: StudioRead,
    cut_id: Annotated[list[str] | None, Query(description="Only the lines of these cuts.")] = None,
    approved: Annotated[
        bool | None,
        Query(description="true: only approved lines; false: only lines without an approved take."),
    ] = None,
) -> ProjectApprovalsOut:
    """Every line in timeline order with its approved take (or null), stale flag and takes count.

    The counts are of all the lines asked for; `approved` filters only `data`.
    """
    return _approvals_out(
        project_id, approval_states(session, caller.studio_id, project_id, cut_ids=cut_id), approved
    )


@router.get("/v1/cuts/{cut_id}/approvals", summary="List a cut's lines and approvals")
def list_cut_approvals(
    cut_id: str,
    session: SessionDep,
    caller: StudioRead,
    approved: Annotated[bool | None, Query()] = None,
) -> ProjectApprovalsOut:
    cut = get_owned(session, Cut, caller.studio_id, cut_id)
    states = approval_states(session, caller.studio_id, cut.project_id, cut_ids=[cut.id])
    return _approvals_out(cut.project_id, states, approved)


def _approvals_out(
    project_id: str, states: list[LineApprovalState], approved: bool | None
) -> ProjectApprovalsOut:
    shown = [s for s in states if approved is None or (s.take is not None) == approved]
    lines_approved = sum(1 for s in states if s.take is not None)
    return ProjectApprovalsOut(
        project_id=project_id,
        lines_total=len(states),
        lines_approved=lines_approved,
        lines_unapproved=len(states) - lines_approved,
        lines_stale=sum(1 for s in states if s.stale),
        data=[line_approval_out(s) for s in shown],
    )
