"""Pricing a delivered take and recording its usage, in integer micro-units."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from consent.tables import ConsentVersion
from voicehub.ids import new_id
from voicehub.ledger.service import open_period, post_usage
from voicehub.metering.tables import UsageRecord
from voicehub.production.tables import Take

PER_1K_CHARS = "1k_chars"
PER_SECOND = "second"


@dataclass(frozen=True)
class LinePrice:
    amount_micros: int
    actor_royalty_micros: int
    platform_micros: int


def billable_characters(text: str) -> int:
    """Characters a line is billed for: every code point except whitespace."""
    return sum(1 for ch in text if not ch.isspace())


def price_line(
    quantity: int, rate_micros: int, actor_share_bps: int, minimum_micros: int = 0
) -> LinePrice:
    """The line's price, rounded half up to a whole micro-unit, at least the minimum, split without loss.

    `quantity` is in thousandths of the rate's unit: billable characters for a
    price per 1,000 characters, milliseconds of audio for a price per second.
    The actor's royalty is rounded down; the platform's share is the rest, so the
    two always add up to the amount exactly.
    """
    amount = max(minimum_micros, (quantity * rate_micros + 500) // 1000)
    royalty = amount * actor_share_bps // 10_000
    return LinePrice(amount, royalty, amount - royalty)


def record_usage(
    session: Session,
    *,
    take: Take,
    version: ConsentVersion,
    actor_id: str,
    use: str,
    idempotency_key: str,
) -> UsageRecord:
    """The one usage record of `take` and its ledger posting, in the take's own transaction.

    Priced at `version`, the consent version in force when the take commits, by
    the unit that version prices the use in. The record counts in the open
    billing period of the commit (`voicehub.ledger.service.open_period`).
    """
    characters = billable_characters(take.text)
    audio_ms = take.num_samples * 1000 // take.sample_rate
    unit, rate = rate_for(version, use)
    quantity = audio_ms if unit == PER_SECOND else characters
    price = price_line(quantity, rate, version.actor_share_bps, version.minimum_per_line_micros)
    usage = UsageRecord(
        id=new_id("use"),
        take_id=take.id,
        idempotency_key=idempotency_key,
        studio_id=take.studio_id,
        project_id=take.project_id,
        actor_id=actor_id,
        voice_id=take.voice_id,
        consent_version_id=version.id,
        use=use,
        language=take.language,
        characters=characters,
        audio_ms=audio_ms,
        currency=version.currency,
        price_unit=unit,
        rate_micros=rate,
        amount_micros=price.amount_micros,
        actor_royalty_micros=price.actor_royalty_micros,
        platform_micros=price.platform_micros,
        period=open_period(session, take.created_at),
        created_at=take.created_at,
    )
    session.add(usage)
    session.flush()
    post_usage(session, usage)
    return usage


def rate_for(version: ConsentVersion, use: str) -> tuple[str, int]:
    """(unit, rate in micro-units) at which `version` prices `use`."""
    per_second = version.prices_per_second_micros or {}
    if use in per_second:
        return PER_SECOND, per_second[use]
    return PER_1K_CHARS, version.prices_per_1k_chars_micros[use]
