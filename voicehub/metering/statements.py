"""Royalty statements: per actor per period, every line, totals equal to the usage records."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent.tables import Actor
from voicehub.errors import InvalidInput, NotFound
from voicehub.metering.tables import UsageRecord
from voicehub.production.tables import Cut, Line, Project, Take
from voicehub.tenancy.tables import Studio

_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class StatementRow:
    date: str
    studio: str
    project: str
    cut: str
    line_id: str
    take_id: str
    characters: int
    audio_seconds: str
    use: str
    currency: str
    price_per_1k_chars_micros: int
    amount_micros: int
    royalty_micros: int


@dataclass
class RoyaltyStatement:
    actor_id: str
    actor_name: str
    period: str
    rows: list[StatementRow] = field(default_factory=list)

    def totals(self) -> dict[str, tuple[int, int]]:
        """Per currency: (amount, royalty) in micro-units."""
        out: dict[str, tuple[int, int]] = {}
        for row in self.rows:
            amount, royalty = out.get(row.currency, (0, 0))
            out[row.currency] = (amount + row.amount_micros, royalty + row.royalty_micros)
        return out


def check_period(period: str) -> str:
    if not _PERIOD.match(period):
        raise InvalidInput("A period is a calendar month written YYYY-MM.", fields=["period"])
    return period


def royalty_statement(session: Session, actor_id: str, period: str) -> RoyaltyStatement:
    actor = session.get(Actor, actor_id)
    if actor is None:
        raise NotFound(f"No actor {actor_id}.")
    result = session.execute(
        select(UsageRecord, Studio.name, Project.name, Cut.number, Take.line_id)
        .join(Take, Take.id == UsageRecord.take_id)
        .join(Line, Line.id == Take.line_id)
        .join(Cut, Cut.id == Line.cut_id)
        .join(Studio, Studio.id == UsageRecord.studio_id)
        .join(Project, Project.id == UsageRecord.project_id)
        .where(UsageRecord.actor_id == actor_id, UsageRecord.period == check_period(period))
        .order_by(UsageRecord.created_at, UsageRecord.id)
    )
    statement = RoyaltyStatement(actor.id, actor.credited_name, period)
    for usage, studio_name, project_name, cut_number, line_id in result:
        statement.rows.append(
            StatementRow(
                date=usage.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                studio=studio_name,
                project=project_name,
                cut=cut_number,
                line_id=line_id,
                take_id=usage.take_id,
                characters=usage.characters,
                audio_seconds=f"{usage.audio_ms / 1000:.3f}",
                use=usage.use,
                currency=usage.currency,
                price_per_1k_chars_micros=usage.rate_micros,
                amount_micros=usage.amount_micros,
                royalty_micros=usage.actor_royalty_micros,
            )
        )
    return statement


CSV_COLUMNS = [
    "date",
    "studio",
    "project",
    "cut",
    "line_id",
    "take_id",
    "characters",
    "audio_seconds",
    "use",
    "currency",
    "price_per_1k_chars_micros",
    "amount_micros",
    "royalty_micros",
]


def statement_csv(statement: RoyaltyStatement) -> str:
    """The statement as CSV: one row per line used, then one TOTAL row per currency."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in statement.rows:
        writer.writerow([getattr(row, column) for column in CSV_COLUMNS])
    for currency, (amount, royalty) in sorted(statement.totals().items()):
        writer.writerow(["TOTAL", "", "", "", "", "", "", "", "", currency, "", amount, royalty])
    return buffer.getvalue()
