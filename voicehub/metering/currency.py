"""Currencies VoiceHub prices in, and how many decimal places each one's minor unit has.

Per-line amounts are integer micro-units (1e-6 of the major unit) whatever the
currency; balances, statements, invoices and payouts are in the minor unit
(JPY and KRW have none, so their minor unit is the yen or won itself).
"""

from __future__ import annotations

from voicehub.errors import InvalidInput

MICROS = 1_000_000

# ISO 4217 exponent of each currency that Stripe settles and VoiceHub accepts.
MINOR_DIGITS: dict[str, int] = {
    "JPY": 0,
    "KRW": 0,
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "CAD": 2,
    "AUD": 2,
    "NZD": 2,
    "CHF": 2,
    "SEK": 2,
    "NOK": 2,
    "DKK": 2,
    "CNY": 2,
    "HKD": 2,
    "SGD": 2,
    "TWD": 2,
}


class CurrencyUnsupported(InvalidInput):
    code = "currency_unsupported"
    title = "The currency is not supported"


def check_currency(currency: str, field: str = "currency") -> str:
    """`currency` if VoiceHub prices in it, else a refusal that lists the ones it does."""
    if currency not in MINOR_DIGITS:
        raise CurrencyUnsupported(
            f"'{currency}' is not a currency VoiceHub prices in; use one of "
            f"{', '.join(sorted(MINOR_DIGITS))} (ISO 4217, upper case).",
            fields=[field],
        )
    return currency


def micros_per_minor(currency: str) -> int:
    """How many micro-units make one minor unit: 1,000,000 for JPY, 10,000 for USD."""
    return MICROS // int(10 ** MINOR_DIGITS[check_currency(currency)])


def split_minor(total_micros: int, currency: str) -> tuple[int, int]:
    """(whole minor units, remainder in micro-units) of an amount; the remainder carries.

    A negative total (refunds outweighing use) pays nothing and carries in full.
    """
    if total_micros <= 0:
        return 0, total_micros
    unit = micros_per_minor(currency)
    return total_micros // unit, total_micros % unit


def format_minor(amount_minor: int, currency: str) -> str:
    """An amount in minor units written in the major unit: 1234 USD → "12.34", 1234 JPY → "1234"."""
    digits = MINOR_DIGITS[check_currency(currency)]
    if digits == 0:
        return str(amount_minor)
    sign = "-" if amount_minor < 0 else ""
    whole, cents = divmod(abs(amount_minor), 10**digits)
    return f"{sign}{whole}.{cents:0{digits}d}"


def format_micros(amount_micros: int) -> str:
    """Micro-units written in the major unit with all six decimals: 1500000 → "1.500000"."""
    sign = "-" if amount_micros < 0 else ""
    whole, frac = divmod(abs(amount_micros), MICROS)
    return f"{sign}{whole}.{frac:06d}"
