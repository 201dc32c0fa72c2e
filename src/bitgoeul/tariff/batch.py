"""Residential bills for many billing periods at once, vectorised with numpy.

:func:`compute_bills` gives, to the won, what :func:`~bitgoeul.tariff.compute_bill`
gives for each element: the same segments, the same exact sums and the same rounding,
done in scaled 64-bit integers instead of Decimal. Energy is held in watt-hours,
money in units of ``10**-s`` won where ``s`` is the largest number of decimals of any
tariff value involved (1 for the packaged data: tenths of a won per kWh), and the fund
and VAT rates in units of ``10**-f``. Each charge is an exact integer numerator over
an integer denominator (the days of the period times the scales), rounded once by the
same rule, so a floor or a half-up never differs from the Decimal path.

How it works: the dates between the earliest start and the latest end are cut into
*regimes* at every month start and every change of a value a residential bill uses.
Each regime is priced once (with the scalar code's own lookup), and each billing
period walks the few regimes it overlaps (at most two or three for a monthly period).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from bitgoeul.errors import TariffError
from bitgoeul.tariff.bill import WON_FIELDS
from bitgoeul.tariff.book import Rounding, RoundingRule, TariffBook, TariffValue, default_book
from bitgoeul.tariff.inputs import (
    MAX_PERIOD_DAYS,
    Proration,
    check_proration,
    period_too_long,
    to_kwh,
)
from bitgoeul.tariff.residential import Params, params_at, residential_contract

__all__ = ["compute_bills"]

IntArray = npt.NDArray[np.int64]
_EPOCH = dt.date(1970, 1, 1)
_BIG = np.int64(1) << np.int64(50)  # an "infinite" block bound [Wh]
_LIMIT = 1 << 62  # largest intermediate value allowed [scaled units]
_SERIES = ("tier_bounds_kwh", "basic_won", "energy_won_per_kwh", "deduction")


def compute_bills(
    energy_kwh: npt.ArrayLike,
    start: npt.ArrayLike,
    end: npt.ArrayLike,
    *,
    contract: str | Sequence[str] | npt.NDArray[Any] = "residential-low",
    book: TariffBook | None = None,
    fuel_proration: Proration = "days",
    fund_proration: Proration = "days",
) -> dict[str, IntArray]:
    """Compute many residential bills at once; each equals :func:`compute_bill` to the won.

    Parameters
    ----------
    energy_kwh : array_like of float or int
        Energy used in each period [kWh], >= 0; billed to the watt-hour
        (``rint(x * 1000)`` Wh, the rounding :func:`compute_bill` applies to a float).
    start, end : array_like of datetime64[D]
        First and last local day of each billing period (inclusive); anything
        ``numpy.asarray(x, dtype='datetime64[D]')`` accepts (dates, ISO strings).
    contract : str or array_like of str
        One residential contract key for all periods, or one per period.
    book : TariffBook, optional
        Tariff data; default: the packaged data plus ``BITGOEUL_TARIFF_PATH``.
    fuel_proration, fund_proration : {'days', 'start'}
        As for :func:`compute_bill`.

    Returns
    -------
    dict of str to numpy.ndarray of int64
        ``basic_won``, ``energy_won``, ``climate_won``, ``fuel_won``, ``deduction_won``,
        ``subtotal_won``, ``vat_won``, ``fund_won``, ``total_won`` [won], one element per
        period. Notes and warnings are not returned: bill one period with
        :func:`compute_bill` to see them.

    Raises
    ------
    TariffError
        Unknown or non-residential contract, or a period the data do not cover.
    ValueError
        Negative or non-finite energy, ``end`` before ``start``, arrays of different
        lengths, or values too large for exact 64-bit arithmetic.

    Examples
    --------
    >>> import numpy as np
    >>> won = compute_bills(
    ...     np.array([350.0, 1100.0]),
    ...     np.array(["2025-10-01", "2026-01-01"], dtype="datetime64[D]"),
    ...     np.array(["2025-10-31", "2026-01-31"], dtype="datetime64[D]"),
    ... )
    >>> won["total_won"].tolist()
    [70640, 391760]
    """
    milli = _milli_kwh(energy_kwh)
    starts = _days(start, "start")
    ends = _days(end, "end")
    if not milli.shape == starts.shape == ends.shape:
        raise ValueError(
            f"energy_kwh, start and end must have the same length, got {milli.shape[0]}, "
            f"{starts.shape[0]} and {ends.shape[0]}"
        )
    bad = np.flatnonzero(ends < starts)
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"end is before start for {bad.size} period(s), first at index {i} "
            f"({_date(int(starts[i]))} .. {_date(int(ends[i]))})"
        )
    long = np.flatnonzero(ends - starts + 1 > MAX_PERIOD_DAYS)
    if long.size:
        i = int(long[0])
        days = int(ends[i] - starts[i] + 1)
        raise ValueError(
            f"{long.size} period(s) too long, first at index {i}: "
            + period_too_long(
                _date(int(starts[i])).isoformat(), _date(int(ends[i])).isoformat(), days
            )
        )
    fuel = check_proration(fuel_proration, "fuel_proration")
    fund = check_proration(fund_proration, "fund_proration")
    book = book or default_book()
    out = {name: np.zeros(milli.shape[0], dtype=np.int64) for name in WON_FIELDS}
    groups: list[tuple[str, IntArray | None]]
    if isinstance(contract, str):
        groups = [(contract, None)]
    else:
        keys = np.asarray(contract)
        if keys.shape != milli.shape or keys.dtype.kind not in "UO":
            raise ValueError("contract must be one key or one key (str) per period")
        names, which = np.unique(keys, return_inverse=True)
        groups = [(str(name), np.flatnonzero(which == i)) for i, name in enumerate(names)]
    for key, idx in groups:
        sel = slice(None) if idx is None else idx
        result = _bills_for_contract(book, key, milli[sel], starts[sel], ends[sel], fuel, fund)
        for name in WON_FIELDS:
            out[name][sel] = result[name]
    return out


# -- input conversion ----------------------------------------------------------------------
def _milli_kwh(energy_kwh: npt.ArrayLike) -> IntArray:
    a = np.asarray(energy_kwh)
    if a.ndim != 1:
        a = a.reshape(-1) if a.ndim == 0 else a
        if a.ndim != 1:
            raise ValueError(f"energy_kwh must be one-dimensional, got shape {a.shape}")
    kind = a.dtype.kind
    if kind == "b":
        raise TypeError("energy_kwh must hold numbers of kWh, not booleans")
    if kind in "iu":
        if (a < 0).any():
            raise ValueError("energy_kwh must be >= 0 kWh for every period")
        if a.size and int(a.max()) > _LIMIT // 10**9:
            raise ValueError("energy_kwh is too large for exact 64-bit billing")
        return a.astype(np.int64) * 1000
    if kind == "f":
        f = a.astype(np.float64)
        if not np.isfinite(f).all():
            raise ValueError("energy_kwh must be finite for every period (found NaN or inf)")
        if (f < 0).any():
            raise ValueError("energy_kwh must be >= 0 kWh for every period")
        if f.size and float(f.max()) > _LIMIT / 10**12:
            raise ValueError("energy_kwh is too large for exact 64-bit billing")
        return np.rint(f * 1000).astype(np.int64)
    if kind == "O":
        return np.array([int(to_kwh(x) * 1000) for x in a], dtype=np.int64)
    raise TypeError(f"energy_kwh must be numeric, got dtype {a.dtype}")


def _days(values: npt.ArrayLike, name: str) -> IntArray:
    try:
        a = np.asarray(values, dtype="datetime64[D]")
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be dates (datetime64[D]): {exc}") from exc
    a = a.reshape(-1) if a.ndim == 0 else a
    if np.isnat(a).any():
        raise ValueError(f"{name} holds NaT: every period needs a date")
    return a.astype(np.int64)


def _date(days: int) -> dt.date:
    return _EPOCH + dt.timedelta(days=days)


def _ordinal(day: dt.date) -> int:
    return (day - _EPOCH).days


def _decimals(values: Sequence[Decimal]) -> int:
    return max((max(0, -int(v.normalize().as_tuple().exponent)) for v in values), default=0)


def _scaled(value: Decimal, scale: int) -> int:
    scaled = value * scale
    if scaled != scaled.to_integral_value():
        raise TariffError(f"tariff value {value} has more decimals than the scale {scale}")
    return int(scaled)


# -- the vectorised engine -----------------------------------------------------------------
def _regimes(
    book: TariffBook, key: str, first: dt.date, last: dt.date
) -> tuple[list[dt.date], list[Params], list[tuple[Decimal, Rounding]]]:
    info = residential_contract(book, key)
    if first < info.data_from:
        raise TariffError(
            f"the tariff data for {key!r} begin on {info.data_from.isoformat()}; a period starts "
            f"on {first.isoformat()} (add earlier values in a tariff file on BITGOEUL_TARIFF_PATH)"
        )
    names = [f"{key}.{s}" for s in _SERIES]
    names += ["climate_won_per_kwh", "fuel_won_per_kwh", "fund_rate", "vat_rate", "rounding"]
    cuts = set(book.changes_in(names, first, last))
    month = dt.date(first.year, first.month, 1)
    while True:
        month = dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)
        if month > last:
            break
        cuts.add(month)
    edges = [first, *sorted(cuts), last + dt.timedelta(days=1)]
    used: dict[tuple[str, dt.date], TariffValue] = {}
    params = [
        params_at(book, info, day, fuel_day=day, fund_day=day, used=used) for day in edges[:-1]
    ]
    extra = []
    for day in edges[:-1]:
        vat = book.value_at("vat_rate", day).value
        rounding = book.value_at("rounding", day).value
        extra.append((vat, rounding))
    return edges, params, extra


def _bills_for_contract(
    book: TariffBook,
    key: str,
    milli: IntArray,
    starts: IntArray,
    ends: IntArray,
    fuel_proration: Proration,
    fund_proration: Proration,
) -> dict[str, IntArray]:
    n = milli.shape[0]
    if n == 0:
        return {name: np.zeros(0, dtype=np.int64) for name in WON_FIELDS}
    first, last = _date(int(starts.min())), _date(int(ends.max()))
    edges, params, extra = _regimes(book, key, first, last)
    regimes = len(params)
    blocks = max(len(p.bounds) for p in params) + 1

    money: list[Decimal] = []
    for p in params:
        money += [*p.energy, *p.basic, p.climate, p.fuel]
        money += [p.deduction.limit_won, p.deduction.offset_won]
    scale = 10 ** _decimals(money)
    fund_scale = 10 ** _decimals([p.fund for p in params])
    vat_scale = 10 ** _decimals([e[0] for e in extra])
    for p in params:
        for bound in [*p.bounds, p.deduction.max_kwh]:
            _scaled(bound, 1000)

    # per regime and block: lower bound [Wh], cost of the full blocks below [Wh x scale],
    # rate and basic charge [scale]; blocks past a regime's last are never reached
    bounds = np.full((regimes, blocks - 1), _BIG, dtype=np.int64)
    lower = np.zeros((regimes, blocks), dtype=np.int64)
    below = np.zeros((regimes, blocks), dtype=np.int64)
    rates = np.zeros((regimes, blocks), dtype=np.int64)
    basic = np.zeros((regimes, blocks), dtype=np.int64)
    climate = np.zeros(regimes, dtype=np.int64)
    fuel = np.zeros(regimes, dtype=np.int64)
    fund = np.zeros(regimes, dtype=np.int64)
    limit = np.zeros(regimes, dtype=np.int64)
    max_kwh = np.zeros(regimes, dtype=np.int64)
    offset = np.zeros(regimes, dtype=np.int64)
    vat = np.zeros(regimes, dtype=np.int64)
    for r, p in enumerate(params):
        k = len(p.bounds)
        wh = [_scaled(bound, 1000) for bound in p.bounds]
        bounds[r, :k] = wh
        lower[r, 1 : k + 1] = wh
        rates[r, : k + 1] = [_scaled(v, scale) for v in p.energy]
        basic[r, : k + 1] = [_scaled(v, scale) for v in p.basic]
        for i in range(1, k + 1):
            below[r, i] = below[r, i - 1] + (lower[r, i] - lower[r, i - 1]) * rates[r, i - 1]
        climate[r] = _scaled(p.climate, scale)
        fuel[r] = _scaled(p.fuel, scale)
        fund[r] = _scaled(p.fund, fund_scale)
        limit[r] = _scaled(p.deduction.limit_won, scale)
        max_kwh[r] = _scaled(p.deduction.max_kwh, 1000)
        offset[r] = _scaled(p.deduction.offset_won, scale)
        vat[r] = _scaled(extra[r][0], vat_scale)

    days = ends - starts + 1
    peak_rate = max(
        1,
        int(np.abs(rates).max()),
        int(np.abs(basic).max()),
        int(np.abs(climate).max()),
        int(np.abs(fuel).max()),
        int(limit.max()),
    )
    if int(milli.max()) * peak_rate * int(days.max()) * blocks * 4 > _LIMIT:
        raise ValueError(
            "energy_kwh is too large for exact 64-bit billing: bill these periods with compute_bill"
        )

    edge_days = np.array([_ordinal(d) for d in edges], dtype=np.int64)
    regime_of_day = np.repeat(np.arange(regimes, dtype=np.int64), np.diff(edge_days))
    first_regime = regime_of_day[starts - edge_days[0]]
    last_regime = regime_of_day[ends - edge_days[0]]
    flat_lower, flat_below = lower.ravel(), below.ravel()
    flat_rates, flat_basic = rates.ravel(), basic.ravel()
    n_basic = np.zeros(n, dtype=np.int64)
    n_energy = np.zeros(n, dtype=np.int64)
    d_climate = np.zeros(n, dtype=np.int64)  # sum of days x climate rate; x energy at the end
    d_fuel = np.zeros(n, dtype=np.int64)
    n_limit = np.zeros(n, dtype=np.int64)
    n_fund = np.zeros(n, dtype=np.int64)
    for j in range(int((last_regime - first_regime).max()) + 1):
        reg = np.minimum(first_regime + j, last_regime)
        lo = np.maximum(starts, edge_days[reg])
        hi = np.minimum(ends + 1, edge_days[reg + 1])
        d = np.where(first_regime + j <= last_regime, hi - lo, 0)
        block = np.zeros(n, dtype=np.int64)
        for k in range(blocks - 1):
            block += milli > bounds[reg, k]
        at = reg * blocks + block
        n_energy += d * (flat_below[at] + (milli - flat_lower[at]) * flat_rates[at])
        n_basic += d * flat_basic[at]
        d_climate += d * climate[reg]
        d_fuel += d * fuel[reg]
        n_limit += d * limit[reg] * (milli <= max_kwh[reg])
        n_fund += d * fund[reg]
    n_climate = d_climate * milli
    n_fuel = d_fuel * milli

    out = {name: np.zeros(n, dtype=np.int64) for name in WON_FIELDS}
    rule_ids = np.array([id(e[1]) for e in extra], dtype=np.int64)[last_regime]
    for rule_id in np.unique(rule_ids):
        sel = np.flatnonzero(rule_ids == rule_id)
        rounding = next(e[1] for e in extra if id(e[1]) == rule_id)
        d = days[sel]
        m = milli[sel]
        won_basic = _round(n_basic[sel], scale * d, rounding.basic)
        won_energy = _round(n_energy[sel], 1000 * scale * d, rounding.energy)
        won_climate = _round(n_climate[sel], 1000 * scale * d, rounding.climate)
        if fuel_proration == "days":
            won_fuel = _round(n_fuel[sel], 1000 * scale * d, rounding.fuel)
        else:
            won_fuel = _round(m * fuel[first_regime[sel]], 1000 * scale, rounding.fuel)
        pre = won_basic + won_energy + won_climate + won_fuel
        numerator = np.minimum(n_limit[sel], (pre * scale - offset[last_regime[sel]]) * d)
        deduction = np.where(
            n_limit[sel] > 0, np.maximum(0, _round(numerator, scale * d, rounding.deduction)), 0
        )
        subtotal = pre - deduction
        won_vat = _round(subtotal * vat[last_regime[sel]], vat_scale, rounding.vat)
        if fund_proration == "days":
            won_fund = _round(subtotal * n_fund[sel], fund_scale * d, rounding.fund)
        else:
            won_fund = _round(subtotal * fund[first_regime[sel]], fund_scale, rounding.fund)
        total = _round(subtotal + won_vat + won_fund, 1, rounding.total)
        values = (
            won_basic,
            won_energy,
            won_climate,
            won_fuel,
            deduction,
            subtotal,
            won_vat,
            won_fund,
            total,
        )
        for name, value in zip(WON_FIELDS, values, strict=True):
            out[name][sel] = value
    return out


def _round(numerator: IntArray, denominator: IntArray | int, rule: RoundingRule) -> IntArray:
    """Integer twin of :func:`bitgoeul.tariff.bill.round_won` (numerator / denominator)."""
    step = np.asarray(denominator, dtype=np.int64) * rule.unit
    magnitude = np.abs(numerator)
    q = magnitude // step if rule.mode == "down" else (2 * magnitude + step) // (2 * step)
    result: IntArray = (np.sign(numerator) * q * rule.unit).astype(np.int64)
    return result
