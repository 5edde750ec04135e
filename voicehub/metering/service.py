"""Pricing a delivered take and recording its usage, in integer micro-units."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from consent.tables import ConsentVersion
from voicehub.ids import new_id
from voicehub.metering.tables import UsageRecord
from voicehub.production.tables import Take


@dataclass(frozen=True)
class LinePrice:
    amount_micros: int
    actor_royalty_micros: int
    platform_micros: int


def billable_characters(text: str) -> int:
    """Characters a line is billed for: every code point except whitespace."""
    return sum(1 for ch in text if not ch.isspace())


def price_line(
    characters: int, price_per_1k_chars_micros: int, actor_share_bps: int, minimum_micros: int = 0
) -> LinePrice:
    """The line's price, rounded half up to a whole micro-unit, at least the minimum, split without loss.

    The actor's royalty is rounded down; the platform's share is the rest, so the
    two always add up to the amount exactly.
    """
    amount = max(minimum_micros, (characters * price_per_1k_chars_micros + 500) // 1000)
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
    """The one usage record of `take`, flushed in the take's own transaction."""
    characters = billable_characters(take.text)
    rate = version.prices_per_1k_chars_micros[use]
    price = price_line(characters, rate, version.actor_share_bps, version.minimum_per_line_micros)
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
        audio_ms=take.num_samples * 1000 // take.sample_rate,
        currency=version.currency,
        price_per_1k_chars_micros=rate,
        amount_micros=price.amount_micros,
        actor_royalty_micros=price.actor_royalty_micros,
        platform_micros=price.platform_micros,
        period=take.created_at.strftime("%Y-%m"),
        created_at=take.created_at,
    )
    session.add(usage)
    session.flush()
    return usage
