"""The terms an actor (or their agency or estate) signs, checked before they are recorded."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from consent.tables import ConsentVersion, Representation, SignerKind, Use
from voicehub.errors import InvalidInput
from voicehub.metering.currency import check_currency

WORLDWIDE = "WW"
MIN_USE_DESCRIPTION = 30
MAX_NOTICE_DAYS = 3650
# Any single price or minimum above 1,000,000 major units (per 1,000 characters, per
# second or per line) is a mistake, most likely a price given in major or minor units.
MAX_PRICE_MICROS = 1_000_000 * 1_000_000
_TERRITORY = re.compile(r"^[A-Z]{2}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")


@dataclass(frozen=True)
class ConsentTerms:
    """Everything a consent version says. Dubbing is allowed only when listed explicitly."""

    signer_name: str
    use_description: str
    allowed_uses: Sequence[str]
    languages: Sequence[str]
    currency: str
    prices_per_1k_chars_micros: Mapping[str, int]
    actor_share_bps: int
    starts_at: dt.datetime
    ends_at: dt.datetime | None = None
    signer_kind: SignerKind = SignerKind.ACTOR
    representation: Representation = Representation.NONE
    excluded_categories: Sequence[str] = field(default_factory=tuple)
    blocked_terms: Sequence[str] = field(default_factory=tuple)
    territories: Sequence[str] = (WORLDWIDE,)
    allowed_studio_ids: Sequence[str] = field(default_factory=tuple)
    blocked_studio_ids: Sequence[str] = field(default_factory=tuple)
    requires_project_approval: bool = False
    minimum_per_line_micros: int = 0
    # Uses priced per second of delivered audio instead of per 1,000 characters.
    prices_per_second_micros: Mapping[str, int] = field(default_factory=dict)
    notice_period_days: int = 0
    # Whether VoiceHub may train a voice model on the actor's recordings: off unless said.
    allows_voice_build: bool = False

    def validate(self) -> None:
        """Refuse terms that are incomplete, vague or contradictory, naming the field."""
        from consent.content import check_categories, normalize_terms

        valid_uses = {use.value for use in Use}
        unknown = sorted(set(self.allowed_uses) - valid_uses)
        if unknown or not self.allowed_uses:
            raise InvalidInput(
                f"Allowed uses must be some of {', '.join(sorted(valid_uses))}; got {list(self.allowed_uses)}.",
                fields=["allowed_uses"],
            )
        if len(self.use_description.strip()) < MIN_USE_DESCRIPTION:
            raise InvalidInput(
                "Describe the intended uses specifically (at least "
                f"{MIN_USE_DESCRIPTION} characters): what kind of works, for whom, how.",
                fields=["use_description"],
            )
        if not self.signer_name.strip():
            raise InvalidInput("Name the person who signs.", fields=["signer_name"])
        if not self.languages or not all(_LANGUAGE.match(lang) for lang in self.languages):
            raise InvalidInput(
                "Languages are ISO 639 codes such as en or ja; name at least one.",
                fields=["languages"],
            )
        if not self.territories or not all(
            t == WORLDWIDE or _TERRITORY.match(t) for t in self.territories
        ):
            raise InvalidInput(
                "Territories are ISO 3166 codes such as JP or US, or WW for worldwide.",
                fields=["territories"],
            )
        check_currency(self.currency)
        self._validate_prices()
        if not 0 <= self.actor_share_bps <= 10_000:
            raise InvalidInput(
                "The actor's share is in basis points, 0 to 10000.", fields=["actor_share_bps"]
            )
        if self.ends_at is not None and self.ends_at <= self.starts_at:
            raise InvalidInput("Consent must end after it starts.", fields=["ends_at"])
        if not 0 <= self.notice_period_days <= MAX_NOTICE_DAYS:
            raise InvalidInput(
                f"The notice period is 0 to {MAX_NOTICE_DAYS} days.", fields=["notice_period_days"]
            )
        both = set(self.allowed_studio_ids) & set(self.blocked_studio_ids)
        if both:
            raise InvalidInput(
                f"Studios both allowed and blocked: {sorted(both)}.", fields=["blocked_studio_ids"]
            )
        check_categories(self.excluded_categories)
        normalize_terms(self.blocked_terms)

    def _validate_prices(self) -> None:
        by_chars, by_seconds = (
            set(self.prices_per_1k_chars_micros),
            set(self.prices_per_second_micros),
        )
        twice = sorted(by_chars & by_seconds)
        if twice:
            raise InvalidInput(
                f"Price each use once, per 1,000 characters or per second, not both: {twice}.",
                fields=["prices_per_second_micros"],
            )
        priced, allowed = by_chars | by_seconds, set(self.allowed_uses)
        if priced != allowed:
            raise InvalidInput(
                "Give a price for each allowed use, and only for those: "
                f"missing {sorted(allowed - priced)}, extra {sorted(priced - allowed)}.",
                fields=["prices_per_1k_chars_micros"],
            )
        for name, prices in (
            ("prices_per_1k_chars_micros", self.prices_per_1k_chars_micros),
            ("prices_per_second_micros", self.prices_per_second_micros),
            ("minimum_per_line_micros", {"minimum": self.minimum_per_line_micros}),
        ):
            for price in prices.values():
                if not isinstance(price, int) or isinstance(price, bool) or price < 0:
                    raise InvalidInput(
                        "Prices are whole, non-negative numbers of micro-units.", fields=[name]
                    )
                if price > MAX_PRICE_MICROS:
                    raise InvalidInput(
                        f"A price above {MAX_PRICE_MICROS // 1_000_000:,} {self.currency} per unit "
                        "is not one VoiceHub accepts; amounts are in micro-units (1e-6).",
                        fields=[name],
                    )

    def price_for(self, use: str) -> int:
        return self.prices_per_1k_chars_micros[use]


def terms_of(version: ConsentVersion) -> ConsentTerms:
    """The terms a version records, to carry them into the next version unchanged."""
    return ConsentTerms(
        signer_name=version.signer_name,
        use_description=version.use_description,
        allowed_uses=tuple(version.allowed_uses),
        languages=tuple(version.languages),
        currency=version.currency,
        prices_per_1k_chars_micros=dict(version.prices_per_1k_chars_micros),
        actor_share_bps=version.actor_share_bps,
        starts_at=version.starts_at,
        ends_at=version.ends_at,
        signer_kind=version.signer_kind,
        representation=version.representation,
        excluded_categories=tuple(version.excluded_categories),
        blocked_terms=tuple(version.blocked_terms),
        territories=tuple(version.territories),
        allowed_studio_ids=tuple(version.allowed_studio_ids),
        blocked_studio_ids=tuple(version.blocked_studio_ids),
        requires_project_approval=version.requires_project_approval,
        minimum_per_line_micros=version.minimum_per_line_micros,
        prices_per_second_micros=dict(version.prices_per_second_micros or {}),
        notice_period_days=version.notice_period_days,
        allows_voice_build=version.allows_voice_build,
    )
