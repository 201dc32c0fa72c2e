"""주택용 에너지캐시백: KEPCO pays households per kWh saved against their own history.

Rules (``docs/kepco-tariff-and-dr.md`` §3.3, dated data in ``data/cashback.toml``):
the baseline is the mean usage of the same month in the previous two years (one year
is enough); a reduction of at least 3% that is also above the regional participants'
average reduction earns 30 won/kWh saved; from 2023-07 a differential cashback adds
30 (reduction 5-10%), 50 (10-20%) or 70 (20-30%) won/kWh, 100 won/kWh at most in
all. A reduction of exactly 10% is in the 10-20% bracket (KEPCO's example). Choices
where the notes are silent (UNVERIFIED, each stated in the result's notes):

* no regional average given: it is assumed to be exceeded;
* a reduction above 30% earns the 20-30% rate on all the kWh saved;
* each part is cut to the won (원 미만 절사).
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from bitgoeul.tariff.book import CashbackRule, TariffBook, default_book
from bitgoeul.tariff.inputs import check_date, to_kwh
from bitgoeul.tariff.residential import unverified_warnings

__all__ = ["Cashback", "estimate_cashback"]

_CONTEXT = decimal.Context(prec=80, rounding=decimal.ROUND_HALF_EVEN)


@dataclass(frozen=True, slots=True)
class Cashback:
    """An estimated 에너지캐시백 for one billing month.

    Parameters
    ----------
    energy_kwh : Decimal
        Usage of the month [kWh].
    baseline_kwh : Decimal or None
        Mean usage of the same month in the previous years [kWh]; None without history.
    reduction_kwh : Decimal
        ``baseline - usage`` [kWh], 0 when usage did not fall.
    reduction_pct : Decimal
        Reduction as a share of the baseline [%], to 0.01 (0 without history).
    eligible : bool
        Whether the reduction earns the basic cashback.
    basic_won_per_kwh, extra_won_per_kwh : Decimal
        Rates applied [won/kWh]: basic, and the differential extra.
    basic_won, extra_won, total_won : int
        Cashback [won], each part cut to the won; credited on the next bill.
    notes, warnings : tuple of str
        Assumptions made, and unverified rule values used.
    """

    energy_kwh: Decimal
    baseline_kwh: Decimal | None
    reduction_kwh: Decimal
    reduction_pct: Decimal
    eligible: bool
    basic_won_per_kwh: Decimal
    extra_won_per_kwh: Decimal
    basic_won: int
    extra_won: int
    total_won: int
    notes: tuple[str, ...]
    warnings: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary (ints for won, decimals as strings)."""
        return {
            "energy_kwh": str(self.energy_kwh),
            "baseline_kwh": None if self.baseline_kwh is None else str(self.baseline_kwh),
            "reduction_kwh": str(self.reduction_kwh),
            "reduction_pct": str(self.reduction_pct),
            "eligible": self.eligible,
            "basic_won_per_kwh": str(self.basic_won_per_kwh),
            "extra_won_per_kwh": str(self.extra_won_per_kwh),
            "basic_won": self.basic_won,
            "extra_won": self.extra_won,
            "total_won": self.total_won,
            "notes": list(self.notes),
            "warnings": list(self.warnings),
        }


def estimate_cashback(
    energy_kwh: Decimal | float | int,
    baseline_kwh: Sequence[Decimal | float | int],
    *,
    regional_reduction_pct: float | None = None,
    start: dt.date,
    book: TariffBook | None = None,
) -> Cashback:
    """Estimate the 에너지캐시백 a household earns for one billing month.

    Parameters
    ----------
    energy_kwh : Decimal, float or int
        Usage of the month [kWh].
    baseline_kwh : sequence of Decimal, float or int
        Usage of the same month in each of the previous 1-2 years [kWh]; empty when
        there is no history (then nothing is earned).
    regional_reduction_pct : float, optional
        Average reduction of the region's participants [%]; the household must beat
        it. None: unknown, assumed beaten (stated in the notes).
    start : datetime.date
        First day of the billing period; picks the rule in force.
    book : TariffBook, optional
        Tariff data; default: the packaged data plus ``BITGOEUL_TARIFF_PATH``.

    Returns
    -------
    Cashback

    Raises
    ------
    TariffError
        ``start`` before the cashback data begin.
    ValueError
        Negative usage, or more history values than the rule uses.

    Examples
    --------
    KEPCO's worked example: 332 kWh last year, 298 kWh now (-10%, 34 kWh saved).

    >>> import datetime as dt
    >>> cb = estimate_cashback(298, [332], start=dt.date(2023, 10, 1))
    >>> cb.reduction_kwh, cb.basic_won, cb.extra_won, cb.total_won
    (Decimal('34'), 1020, 1700, 2720)
    """
    kwh = to_kwh(energy_kwh)
    day = check_date(start, "start")
    if isinstance(baseline_kwh, str | bytes) or not isinstance(baseline_kwh, Sequence):
        raise TypeError("baseline_kwh must be a sequence of kWh values (same month, past years)")
    history = [to_kwh(v, "baseline_kwh") for v in baseline_kwh]
    regional: Decimal | None = None
    if regional_reduction_pct is not None:
        if isinstance(regional_reduction_pct, bool) or not isinstance(
            regional_reduction_pct, int | float | Decimal
        ):
            raise TypeError("regional_reduction_pct must be a number of percent or None")
        regional = Decimal(repr(regional_reduction_pct))
        if not regional.is_finite():
            raise ValueError("regional_reduction_pct must be finite")
    entry = (book or default_book()).value_at("cashback", day)
    rule: CashbackRule = entry.value
    if len(history) > rule.max_history_years:
        raise ValueError(
            f"baseline_kwh has {len(history)} values: pass the same month of the previous "
            f"1-{rule.max_history_years} years"
        )
    notes: list[str] = []
    warnings = unverified_warnings([entry])
    if len(history) < rule.min_history_years:
        notes.append(
            f"no cashback: at least {rule.min_history_years} year(s) of same-month history needed"
        )
        return _nothing(kwh, None, notes, warnings)
    with decimal.localcontext(_CONTEXT):
        baseline = sum(history, Decimal(0)) / len(history)
    if baseline <= 0:
        notes.append("no cashback: the baseline is 0 kWh")
        return _nothing(kwh, baseline, notes, warnings)
    saved = baseline - kwh
    share = Fraction(saved) * 100 / Fraction(baseline)
    with decimal.localcontext(_CONTEXT):
        pct = (Decimal(share.numerator) / Decimal(share.denominator)).quantize(Decimal("0.01"))
    if share < Fraction(rule.min_reduction_pct):
        notes.append(f"no cashback: reduction {pct}% is below {rule.min_reduction_pct}%")
        return _nothing(kwh, baseline, notes, warnings, saved, pct)
    if regional is None:
        notes.append(
            "regional average reduction not given: assumed exceeded (the basic cashback needs a "
            "reduction above the region's participants' average)"
        )
    elif share <= Fraction(regional):
        notes.append(f"no cashback: reduction {pct}% does not exceed the regional {regional}%")
        return _nothing(kwh, baseline, notes, warnings, saved, pct)
    extra = Decimal(0)
    for lower, rate in rule.brackets:
        if share >= Fraction(lower):
            extra = rate
    if rule.brackets and share > 30:
        notes.append(
            f"reduction {pct}% is above 30%: the notes give brackets up to 30%; the top bracket's "
            "rate is applied to every kWh saved (unverified)"
        )
    basic_rate = min(rule.basic_won_per_kwh, rule.max_won_per_kwh)
    extra = min(extra, rule.max_won_per_kwh - basic_rate)
    with decimal.localcontext(_CONTEXT):
        basic_won = int((saved * basic_rate).to_integral_value(rounding=decimal.ROUND_DOWN))
        extra_won = int((saved * extra).to_integral_value(rounding=decimal.ROUND_DOWN))
    return Cashback(
        energy_kwh=kwh,
        baseline_kwh=baseline,
        reduction_kwh=saved,
        reduction_pct=pct,
        eligible=True,
        basic_won_per_kwh=basic_rate,
        extra_won_per_kwh=extra,
        basic_won=basic_won,
        extra_won=extra_won,
        total_won=basic_won + extra_won,
        notes=tuple(notes),
        warnings=warnings,
    )


def _nothing(
    kwh: Decimal,
    baseline: Decimal | None,
    notes: list[str],
    warnings: tuple[str, ...],
    saved: Decimal = Decimal(0),
    pct: Decimal = Decimal("0.00"),
) -> Cashback:
    return Cashback(
        energy_kwh=kwh,
        baseline_kwh=baseline,
        reduction_kwh=max(saved, Decimal(0)),
        reduction_pct=pct,
        eligible=False,
        basic_won_per_kwh=Decimal(0),
        extra_won_per_kwh=Decimal(0),
        basic_won=0,
        extra_won=0,
        total_won=0,
        notes=tuple(notes),
        warnings=warnings,
    )
