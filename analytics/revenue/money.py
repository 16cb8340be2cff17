"""Money without floats: amounts are integers in a currency's minor unit (cents, yen), arithmetic is Decimal.

Stripe sends every amount as an integer in the currency's smallest unit, and so do we: 49.00 USD is 4900, 4900
JPY is 4900 (the yen has no minor unit). Converting between currencies therefore goes through major units,
which needs each currency's exponent (ISO 4217; the list of zero- and three-decimal currencies is Stripe's).
"""

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

ZERO_DECIMAL = frozenset(
    ["BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"]
)  # fmt: skip
THREE_DECIMAL = frozenset(["BHD", "JOD", "KWD", "OMR", "TND"])
CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")


class MoneyError(ValueError):
    pass


def normalize_currency(code: str) -> str:
    """'usd' -> 'USD' (Stripe sends lower case); anything that is not three letters is refused."""
    text = (code or "").strip().upper()
    if not CURRENCY_CODE.match(text):
        raise MoneyError(f"{code!r} is not a three-letter ISO 4217 currency code.")
    return text


def exponent(currency: str) -> int:
    if currency in ZERO_DECIMAL:
        return 0
    if currency in THREE_DECIMAL:
        return 3
    return 2


def to_minor(amount: str | Decimal, currency: str) -> int:
    """'49.90' USD -> 4990. Refuses more decimals than the currency has ('49.905' USD, '10.5' JPY)."""
    try:
        value = Decimal(str(amount).strip())
    except InvalidOperation:
        raise MoneyError(f"{amount!r} is not a number.") from None
    if not value.is_finite():
        raise MoneyError(f"{amount!r} is not a number.")
    scaled = value.scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        raise MoneyError(f"{amount} has more decimals than {currency} allows ({exponent(currency)}).")
    return int(scaled)


def to_major(minor: int | Decimal, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-exponent(currency))


def convert(minor: int | Decimal, *, currency: str, to: str, rate: Decimal) -> Decimal:
    """An amount in `currency` minor units as `to` minor units (unrounded), with `rate` units of `to` per unit."""
    if currency == to:
        return Decimal(minor)
    return (to_major(minor, currency) * rate).scaleb(exponent(to))


def round_minor(value: Decimal | int) -> int:
    """Round a Decimal of minor units to a whole one, halves away from zero (the accountant's rounding)."""
    return int(Decimal(value).quantize(Decimal(1), rounding=ROUND_HALF_UP))


# Monthly normalisation of a recurring price: a year is 12 months, a week 52/12 of a month, a day 365/12.
_MONTHS_PER = {"month": Decimal(1), "year": Decimal(12), "week": Decimal(12) / Decimal(52), "day": Decimal(12) / 365}


def monthly(amount_minor: int | Decimal, *, interval: str, interval_count: int = 1) -> Decimal:
    """The monthly value of `amount_minor` charged every `interval_count` `interval`s (unrounded)."""
    if interval not in _MONTHS_PER:
        raise MoneyError(f"{interval!r} is not a billing interval (day, week, month or year).")
    if interval_count < 1:
        raise MoneyError("The interval count must be at least 1.")
    return Decimal(amount_minor) / (_MONTHS_PER[interval] * interval_count)
