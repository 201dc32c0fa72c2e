"""The bill breakdown (:class:`Bill`) and KEPCO's exact rounding of won amounts.

Money is never a float here. Charges are built as exact ``numerator / denominator``
pairs (Decimal numerator, integer denominator: the days of the billing period when a
charge is prorated) and rounded once, with :func:`round_won`, by the rule the tariff
data give for that component (절사 = cut towards zero, 4사5입 = half up).
"""

from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bitgoeul.tariff.book import RoundingRule

__all__ = ["WON_FIELDS", "Bill", "BillLine", "round_won"]

WON_FIELDS: tuple[str, ...] = (
    "basic_won",
    "energy_won",
    "climate_won",
    "fuel_won",
    "deduction_won",
    "subtotal_won",
    "vat_won",
    "fund_won",
    "total_won",
)
"""Names of the integer won fields of :class:`Bill`, in bill order."""

_CONTEXT = decimal.Context(prec=80, rounding=decimal.ROUND_HALF_EVEN)
_CENT = Decimal("0.01")
_MILLI = Decimal("0.001")


def round_won(numerator: Decimal | int, denominator: int, rule: RoundingRule) -> int:
    """Round the exact amount ``numerator / denominator`` [won] to an integer won.

    Parameters
    ----------
    numerator : Decimal or int
        Exact numerator [won x denominator].
    denominator : int
        Positive integer, e.g. the days of the billing period.
    rule : RoundingRule
        ``down`` cuts towards zero to a multiple of ``unit``; ``half_up`` rounds to the
        nearest multiple, halves away from zero.

    Returns
    -------
    int
        The rounded amount [won].

    Examples
    --------
    >>> from bitgoeul.tariff.book import RoundingRule
    >>> round_won(Decimal("557260"), 31, RoundingRule("down", 1))   # 17,976.13 won
    17976
    >>> round_won(Decimal("23000.5"), 1, RoundingRule("half_up", 1))
    23001
    >>> round_won(Decimal("8510.185"), 1, RoundingRule("down", 10))
    8510
    """
    step = denominator * rule.unit
    with decimal.localcontext(_CONTEXT):
        quotient, remainder = divmod(Decimal(numerator), step)
    q = int(quotient)
    if rule.mode == "half_up" and 2 * abs(remainder) >= step:
        q += 1 if numerator > 0 else -1
    return q * rule.unit


def display_won(numerator: Decimal, denominator: int) -> Decimal:
    """Return ``numerator / denominator`` rounded to 0.01 won, for display only."""
    with decimal.localcontext(_CONTEXT):
        return (numerator / denominator).quantize(_CENT)


def display_kwh(numerator: Decimal, denominator: int) -> Decimal:
    """Return ``numerator / denominator`` rounded to 0.001 kWh, for display only."""
    with decimal.localcontext(_CONTEXT):
        return (numerator / denominator).quantize(_MILLI)


@dataclass(frozen=True, slots=True)
class BillLine:
    """One energy-charge line: a block (residential) or a season and load period (TOU).

    Parameters
    ----------
    label : str
        ``'tier 1'`` .. ``'tier 3'``, ``'tier 4 (super-user)'``; ``'summer peak'``,
        ``'winter light'``...; ``'summer'`` for a flat seasonal rate.
    start, end : datetime.date
        First and last day of the part of the period the line covers (inclusive).
    kwh : Decimal
        Energy charged on the line [kWh]. Where it is a day share of a block
        (``block x days / period days``) it is shown rounded to 0.001 kWh.
    rate_won_per_kwh : Decimal
        Energy rate [won/kWh].
    won : Decimal
        Line amount [won], rounded to 0.01 won for display; the bill's ``energy_won`` is
        the exact sum of the lines, rounded once.
    """

    label: str
    start: dt.date
    end: dt.date
    kwh: Decimal
    rate_won_per_kwh: Decimal
    won: Decimal

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary (dates ISO, decimals as strings)."""
        return {
            "label": self.label,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "kwh": str(self.kwh),
            "rate_won_per_kwh": str(self.rate_won_per_kwh),
            "won": str(self.won),
        }


@dataclass(frozen=True, slots=True)
class Bill:
    """A KEPCO electricity bill for one billing period, component by component.

    Parameters
    ----------
    contract : str
        Contract key, e.g. ``'residential-low'``.
    start, end : datetime.date
        First and last local day of the billing period (inclusive): from one
        meter-reading day to the day before the next.
    kwh : Decimal
        Energy billed [kWh] (to the watt-hour).
    basic_won : int
        기본요금, basic charge [won].
    energy_won : int
        전력량요금, energy charge [won].
    climate_won : int
        기후환경요금, climate and environment charge [won].
    fuel_won : int
        연료비조정액, fuel cost adjustment [won] (negative in 2021).
    deduction_won : int
        필수사용량 보장공제, essential-use deduction [won] (residential, before 2022-07).
    subtotal_won : int
        전기요금계 = basic + energy + climate + fuel - deduction [won].
    vat_won : int
        부가가치세 [won].
    fund_won : int
        전력산업기반기금 [won].
    total_won : int
        청구금액 = subtotal + VAT + fund, cut to 10 won [won].
    tier : int or None
        Residential: highest block the usage reaches in any part of the period
        (1-3, 4 = super-user). None for demand-charged contracts.
    demand_kw : Decimal or None
        Billing demand the basic charge was computed from [kW] (TOU and seasonal).
    lines : tuple of BillLine
        Energy-charge lines.
    notes : tuple of str
        How the bill was computed where a choice was made (proration, options).
    warnings : tuple of str
        Unverified tariff values used, and data problems (e.g. missing intervals).

    Attributes
    ----------
    days : int
        Days in the billing period [d].
    """

    contract: str
    start: dt.date
    end: dt.date
    kwh: Decimal
    basic_won: int
    energy_won: int
    climate_won: int
    fuel_won: int
    deduction_won: int
    subtotal_won: int
    vat_won: int
    fund_won: int
    total_won: int
    tier: int | None
    demand_kw: Decimal | None
    lines: tuple[BillLine, ...]
    notes: tuple[str, ...]
    warnings: tuple[str, ...]

    @property
    def days(self) -> int:
        """Days in the billing period [d]."""
        return (self.end - self.start).days + 1

    def won(self) -> dict[str, int]:
        """Return the integer won fields as a dictionary (keys :data:`WON_FIELDS`)."""
        return {name: getattr(self, name) for name in WON_FIELDS}

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary: ints for won, ISO strings for dates, decimals as str."""
        return {
            "contract": self.contract,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "days": self.days,
            "kwh": str(self.kwh),
            **self.won(),
            "tier": self.tier,
            "demand_kw": None if self.demand_kw is None else str(self.demand_kw),
            "lines": [line.to_dict() for line in self.lines],
            "notes": list(self.notes),
            "warnings": list(self.warnings),
        }
