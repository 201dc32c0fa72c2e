"""Checks and conversions of the arguments the tariff functions take."""

from __future__ import annotations

import datetime as dt
import math
import numbers
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Literal

__all__ = [
    "MAX_PERIOD_DAYS",
    "Proration",
    "check_date",
    "check_period",
    "check_proration",
    "period_too_long",
    "to_kwh",
]

Proration = Literal["days", "start"]
"""How a dated value that changes inside a billing period is applied: ``'days'``
prorates it by days (KEPCO's rule for energy rates); ``'start'`` applies the value in
force on the first day to the whole period."""

_MILLI = Decimal("0.001")


def to_kwh(energy_kwh: object, what: str = "energy_kwh") -> Decimal:
    """Return an energy as a Decimal to the watt-hour [kWh]; reject negative or non-finite.

    Decimals are rounded to 0.001 kWh (half even); floats as ``round(x * 1000) / 1000``,
    the same double-precision operation :func:`numpy.rint` does on an array, so scalar
    and vectorised bills see the same kWh.

    Examples
    --------
    >>> to_kwh(350), to_kwh(0.1), to_kwh(Decimal("1.23456"))
    (Decimal('350'), Decimal('0.100'), Decimal('1.235'))
    """
    if isinstance(energy_kwh, bool):
        raise TypeError(f"{what} must be a number of kWh, got {energy_kwh!r}")
    if isinstance(energy_kwh, Decimal) and not energy_kwh.is_finite():
        raise ValueError(f"{what} must be a finite number of kWh, got {energy_kwh}")
    if isinstance(energy_kwh, Decimal | numbers.Real) and energy_kwh < 0:
        raise ValueError(
            f"{what} must be >= 0 kWh, got {energy_kwh}: a bill covers energy drawn from the "
            "grid (net export is not billed by these tariffs)"
        )
    if isinstance(energy_kwh, Decimal):
        _check_size(energy_kwh, what)
        value = energy_kwh.quantize(_MILLI, rounding=ROUND_HALF_EVEN)
    elif isinstance(energy_kwh, numbers.Integral):
        value = Decimal(int(energy_kwh))
        _check_size(value, what)
    elif isinstance(energy_kwh, numbers.Real):
        as_float = float(energy_kwh)
        if not math.isfinite(as_float):
            raise ValueError(f"{what} must be a finite number of kWh, got {energy_kwh}")
        _check_size(Decimal(as_float), what)
        value = Decimal(round(as_float * 1000)).scaleb(-3)
    else:
        raise TypeError(
            f"{what} must be a Decimal, int or float number of kWh, got {type(energy_kwh).__name__}"
        )
    return value


_MAX_DIGITS = 24
"""An energy must be below 10^_MAX_DIGITS kWh (:func:`_check_size`)."""


def _check_size(energy_kwh: Decimal, what: str) -> None:
    """Refuse an energy of 10^24 kWh or more.

    Below it, a bill's Decimal arithmetic (28 significant digits) holds the energy to
    the watt-hour and every charge to the won; far above it, it cannot.
    """
    if energy_kwh.adjusted() >= _MAX_DIGITS:
        raise ValueError(
            f"{what} must be below 1e{_MAX_DIGITS} kWh, where a bill is computed exactly, "
            f"got {energy_kwh:.3E}"
        )


def check_date(value: object, name: str) -> dt.date:
    """Return ``value`` if it is a ``datetime.date`` (not a datetime); raise TypeError otherwise."""
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise TypeError(
            f"{name} must be a datetime.date (a local calendar day), got {value!r}; "
            "use .date() on a datetime"
        )
    return value


MAX_PERIOD_DAYS = 62
"""Longest billing period billed as one [d]: two meter-reading cycles.

A KEPCO bill covers one cycle, 28-31 days (``bitgoeul.analytics.cycles``); the
basic charge is charged once per bill and the block bounds are set per bill, so a
year billed as one period would be a wrong bill, not a long one. Two cycles leave
room for a late reading or a bimonthly read."""


def check_period(start: object, end: object) -> tuple[dt.date, dt.date]:
    """Return ``(start, end)`` if they are dates of a billing period; raise otherwise.

    ``start <= end`` and at most :data:`MAX_PERIOD_DAYS` days, both inclusive.
    """
    first = check_date(start, "start")
    last = check_date(end, "end")
    if last < first:
        raise ValueError(
            f"end {last.isoformat()} is before start {first.isoformat()}: a billing period runs "
            "from the reading day to the day before the next reading (both inclusive)"
        )
    days = (last - first).days + 1
    if days > MAX_PERIOD_DAYS:
        raise ValueError(period_too_long(first.isoformat(), last.isoformat(), days))
    return first, last


def period_too_long(start: str, end: str, days: int) -> str:
    """Return the message for a billing period longer than :data:`MAX_PERIOD_DAYS`."""
    return (
        f"the period {start} .. {end} is {days} days: a bill covers one meter-reading cycle "
        f"(28-31 days; at most {MAX_PERIOD_DAYS} are billed as one); bill a longer span "
        "cycle by cycle"
    )


def check_proration(value: object, name: str) -> Proration:
    """Return ``value`` if it is ``'days'`` or ``'start'``; raise ValueError otherwise."""
    if value == "days":
        return "days"
    if value == "start":
        return "start"
    raise ValueError(f"{name} must be 'days' or 'start', got {value!r}")
