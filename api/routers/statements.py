"""Monthly statements: an actor's royalties and a studio's usage, as JSON, CSV and PDF.

The JSON is the summary (figures and subtotals); CSV and PDF list every line
and are streamed from a read-only snapshot held for the length of the
download, so a month of a million lines never sits in memory.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from api.deps import ActorRead, RuntimeDep, SessionDep, StudioBilling
from api.schemas import Page
from voicehub.ledger.service import check_period
from voicehub.ledger.tables import PartyKind, PeriodStatus
from voicehub.metering.statement_pdf import statement_pdf
from voicehub.metering.statements import (
    build_statement,
    figures_json,
    statement_csv,
    statement_json,
    statement_periods,
    statement_session,
)
from voicehub.runtime import Runtime

router = APIRouter(tags=["statements"])

PeriodPath = Annotated[
    str, Path(description="A calendar month (UTC), written YYYY-MM.", examples=["2026-11"])
]


class SettlementOut(BaseModel):
    """What became of the payable amount: a payout (actors) or an invoice (studios)."""

    status: str
    note: str
    reference: str | None
    amount_minor: int | None


class SubtotalOut(BaseModel):
    level: Literal["studio", "project", "unattributed"]
    studio_id: str | None
    studio: str | None
    project_id: str | None
    project: str | None
    lines: int
    characters: int
    audio_seconds: float
    amount_micros: int
    lines_micros: int
    adjustments_micros: int
    net_micros: int


class FiguresOut(BaseModel):
    currency: str
    statement_id: str | None
    lines: int
    characters: int
    audio_seconds: float
    gross_micros: int
    accrued_micros: int
    carried_in_micros: int
    carried_in_from: str | None
    total_micros: int
    payable_minor: int
    payable: str
    carried_out_micros: int
    settlement: SettlementOut


class CurrencyStatementOut(FiguresOut):
    lines_micros: int
    adjustments_micros: int
    reconciled: bool
    subtotals: list[SubtotalOut]


class PartyOut(BaseModel):
    kind: Literal["actor", "studio"]
    id: str
    name: str


class PeriodStatementOut(BaseModel):
    object: Literal["statement"] = "statement"
    kind: Literal["royalty", "usage"]
    party: PartyOut
    period: str
    status: Literal["open", "closed"]
    provisional: bool
    closed_at: dt.datetime | None
    currencies: list[CurrencyStatementOut]


class StatementPeriodOut(BaseModel):
    object: Literal["statement_period"] = "statement_period"
    period: str
    status: Literal["open", "closed"]
    provisional: bool
    currencies: list[FiguresOut]


def statement_list(
    session: SessionDep, runtime: Runtime, kind: PartyKind, party_id: str
) -> Page[StatementPeriodOut]:
    rows = statement_periods(session, kind, party_id, thresholds=runtime.settings.payout_thresholds)
    return Page[StatementPeriodOut](
        data=[
            StatementPeriodOut(
                period=period,
                status="open" if status is PeriodStatus.OPEN else "closed",
                provisional=status is PeriodStatus.OPEN,
                currencies=[FiguresOut.model_validate(figures_json(f)) for f in figures],
            )
            for period, status, figures in rows
        ],
        has_more=False,
    )


def statement_summary(
    runtime: Runtime, kind: PartyKind, party_id: str, period: str
) -> PeriodStatementOut:
    """Read in a snapshot of its own, so the figures and the subtotals beside them (and so
    `reconciled`) are of the same moment while lines are being delivered."""
    check_period(period)
    with statement_session(runtime.sessions) as session:
        statement = build_statement(
            session, kind, party_id, period, thresholds=runtime.settings.payout_thresholds
        )
    return PeriodStatementOut.model_validate(statement_json(statement))


def statement_download(
    runtime: Runtime, kind: PartyKind, party_id: str, period: str, file_format: str
) -> StreamingResponse:
    """The statement streamed from a snapshot opened here, so a bad request fails before
    the first byte and the figures and the lines come from the same moment."""
    check_period(period)
    stack = ExitStack()
    try:
        session = stack.enter_context(statement_session(runtime.sessions))
        statement = build_statement(
            session, kind, party_id, period, thresholds=runtime.settings.payout_thresholds
        )
    except BaseException:
        stack.close()
        raise

    def body() -> Iterator[bytes]:
        with stack:
            if file_format == "pdf":
                yield from statement_pdf(session, statement)
            else:
                for chunk in statement_csv(session, statement):
                    yield chunk.encode("utf-8")

    media = "application/pdf" if file_format == "pdf" else "text/csv; charset=utf-8"
    return StreamingResponse(
        body(),
        media_type=media,
        headers={
            "Content-Disposition": (
                f'attachment; filename="{statement.filename_stem}.{file_format}"'
            ),
            "Cache-Control": "private, no-store",
        },
    )


_CSV: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "The statement as CSV."}
}
_PDF: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/pdf": {}}, "description": "The statement as PDF."}
}


@router.get("/v1/actor/statements", summary="My royalty statements: every month, with its figures")
def list_actor_statements(
    session: SessionDep, caller: ActorRead, runtime: RuntimeDep
) -> Page[StatementPeriodOut]:
    """Newest first: open months (running, provisional figures) and every closed month, per
    currency, with the payout status of each."""
    return statement_list(session, runtime, PartyKind.ACTOR, caller.actor_id)


@router.get("/v1/actor/statements/{period}", summary="My royalty statement for a month")
def get_actor_statement(
    period: PeriodPath, caller: ActorRead, runtime: RuntimeDep
) -> PeriodStatementOut:
    """Figures, subtotals per studio and project, carried remainders and payout status; the
    lines themselves are in the CSV and PDF."""
    return statement_summary(runtime, PartyKind.ACTOR, caller.actor_id, period)


@router.get(
    "/v1/actor/statements/{period}/csv",
    summary="My royalty statement for a month, as CSV (every line)",
    response_class=StreamingResponse,
    responses=_CSV,
)
def get_actor_statement_csv(
    period: PeriodPath, caller: ActorRead, runtime: RuntimeDep
) -> StreamingResponse:
    return statement_download(runtime, PartyKind.ACTOR, caller.actor_id, period, "csv")


@router.get(
    "/v1/actor/royalty-statements/{period}",
    summary="My royalty statement for a month, as CSV (the same as .../statements/{period}/csv)",
    response_class=StreamingResponse,
    responses=_CSV,
)
def get_royalty_statement(
    period: PeriodPath, caller: ActorRead, runtime: RuntimeDep
) -> StreamingResponse:
    return statement_download(runtime, PartyKind.ACTOR, caller.actor_id, period, "csv")


@router.get(
    "/v1/actor/statements/{period}/pdf",
    summary="My royalty statement for a month, as PDF (every line)",
    response_class=StreamingResponse,
    responses=_PDF,
)
def get_actor_statement_pdf(
    period: PeriodPath, caller: ActorRead, runtime: RuntimeDep
) -> StreamingResponse:
    return statement_download(runtime, PartyKind.ACTOR, caller.actor_id, period, "pdf")


@router.get("/v1/statements", summary="The studio's usage statements: every month, with figures")
def list_studio_statements(
    session: SessionDep, caller: StudioBilling, runtime: RuntimeDep
) -> Page[StatementPeriodOut]:
    """Newest first: open months (running, provisional figures) and every closed month, per
    currency, with the invoice status of each."""
    return statement_list(session, runtime, PartyKind.STUDIO, caller.studio_id)


@router.get("/v1/statements/{period}", summary="The studio's usage statement for a month")
def get_studio_statement(
    period: PeriodPath, caller: StudioBilling, runtime: RuntimeDep
) -> PeriodStatementOut:
    """The invoice basis: figures, subtotals per project, carried remainders and invoice
    status; the lines themselves are in the CSV and PDF."""
    return statement_summary(runtime, PartyKind.STUDIO, caller.studio_id, period)


@router.get(
    "/v1/statements/{period}/csv",
    summary="The studio's usage statement for a month, as CSV (every line)",
    response_class=StreamingResponse,
    responses=_CSV,
)
def get_studio_statement_csv(
    period: PeriodPath, caller: StudioBilling, runtime: RuntimeDep
) -> StreamingResponse:
    return statement_download(runtime, PartyKind.STUDIO, caller.studio_id, period, "csv")


@router.get(
    "/v1/statements/{period}/pdf",
    summary="The studio's usage statement for a month, as PDF (every line)",
    response_class=StreamingResponse,
    responses=_PDF,
)
def get_studio_statement_pdf(
    period: PeriodPath, caller: StudioBilling, runtime: RuntimeDep
) -> StreamingResponse:
    return statement_download(runtime, PartyKind.STUDIO, caller.studio_id, period, "pdf")
