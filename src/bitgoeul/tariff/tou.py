"""계시별 (time-of-use) and seasonal bills for demand-charged contracts, from interval data.

일반용 and 산업용 contracts pay a basic charge per kW of billing demand and an energy
charge per kWh that depends on the season (summer Jun-Aug, spring/fall Mar-May and
Sep-Oct, winter Nov-Feb) and, for TOU classes, on the load period of the hour
(light/mid/peak, from a dated hour table). Saturdays bill their peak hours as mid;
Sundays and Korean public holidays bill every hour as light (the ``holidays``
package's KR calendar, substitute, election and temporary holidays included; which
holidays KEPCO counts is unverified). All of it is data: ``data/load_periods.toml``.

Choices (``docs/kepco-tariff-and-dr.md`` §2):

* Each interval is assigned to the load period of the hour it starts in, at the date
  it starts on, in the calendar's time zone (Asia/Seoul). Intervals of one hour or
  less that divide the hour are accepted (hourly, 30, 15, 5 min...).
* Energy, climate and fuel charges use the values in force on each interval's date:
  with interval data no day proration is needed. (KEPCO reads period registers once per
  cycle and prorates by days; near a rate change the two can differ slightly.)
* The basic charge is ``demand_kw x won/kW``, prorated by days if the unit price
  changes inside the period. ``demand_kw`` is the billing demand 요금적용전력 (the
  highest 15-min demand of Dec-Feb, Jul-Sep and the current month over the last 12
  months, at least 30% of the contract): the caller supplies it.
* The power-industry fund, VAT and rounding follow the residential rules
  (:mod:`bitgoeul.tariff.residential`); there is no essential-use deduction.
* Energy per season and load period is the exact floating-point sum of the intervals
  (:func:`math.fsum`), then rounded to the watt-hour.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import itertools
import math
from decimal import Decimal
from typing import Any

import holidays as holidays_lib
import numpy as np
import numpy.typing as npt
import pandas as pd

from bitgoeul.errors import TariffError
from bitgoeul.tariff.bill import Bill, BillLine, display_won, round_won
from bitgoeul.tariff.book import (
    LOAD_PERIODS,
    SEASONS,
    Calendar,
    ContractInfo,
    DayRules,
    Rounding,
    TariffBook,
    TariffValue,
    default_book,
)
from bitgoeul.tariff.inputs import Proration, check_period, check_proration, to_kwh
from bitgoeul.tariff.residential import unverified_warnings

__all__ = ["DAY_TYPES", "compute_tou_bill", "label_load_periods"]

DAY_TYPES: tuple[str, ...] = ("weekday", "saturday", "sunday", "holiday")
"""Day types of :func:`label_load_periods`; a public holiday on a weekend is 'holiday'."""

IntArray = npt.NDArray[np.int64]
_CONTEXT = decimal.Context(prec=80, rounding=decimal.ROUND_HALF_EVEN)


@functools.lru_cache(maxsize=32)
def _holiday_dates(calendar: str, years: tuple[int, ...]) -> frozenset[dt.date]:
    try:
        found = holidays_lib.country_holidays(calendar, years=list(years))
    except NotImplementedError as exc:
        raise TariffError(f"holiday_calendar {calendar!r} is not known to `holidays`") from exc
    return frozenset(found.keys())


def _local_days(local: pd.DatetimeIndex) -> npt.NDArray[np.int64]:
    naive = local.tz_localize(None)
    days: npt.NDArray[np.int64] = naive.to_numpy().astype("datetime64[D]").astype(np.int64)
    return days


def _to_date(days: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=int(days))


def _labels(
    book: TariffBook,
    load_periods: str,
    local: pd.DatetimeIndex,
    used: dict[tuple[str, dt.date], TariffValue],
) -> tuple[
    npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]
]:
    """Season, day type and load period indices of each local timestamp, and its day."""
    days = _local_days(local)
    unique_days, inverse = np.unique(days, return_inverse=True)
    dates = [_to_date(int(d)) for d in unique_days]
    calendars: list[Calendar] = []
    rules: list[DayRules] = []
    for day in dates:
        cal_entry = book.value_at(f"load_periods.{load_periods}.calendar", day)
        rule_entry = book.value_at(f"load_periods.{load_periods}.day_rules", day)
        used[(cal_entry.key, cal_entry.effective_from)] = cal_entry
        used[(rule_entry.key, rule_entry.effective_from)] = rule_entry
        calendars.append(cal_entry.value)
        rules.append(rule_entry.value)
    years = tuple(sorted({d.year for d in dates}))
    day_type = np.zeros(len(dates), dtype=np.int64)
    for i, (day, rule) in enumerate(zip(dates, rules, strict=True)):
        if day in _holiday_dates(rule.holiday_calendar, years):
            day_type[i] = 3
        elif day.weekday() == 5:
            day_type[i] = 1
        elif day.weekday() == 6:
            day_type[i] = 2
    # hour table per distinct calendar: (calendars, months, 24) of load periods
    distinct = list(dict.fromkeys(calendars))
    cal_index = np.array([distinct.index(c) for c in calendars], dtype=np.int64)
    season_table = np.array(
        [[SEASONS.index(s) for s in c.season_by_month] for c in distinct], dtype=np.int64
    )
    hour_table = np.array(
        [[c.hours[s] for s in c.season_by_month] for c in distinct], dtype=np.int64
    )
    month = np.asarray(local.month, dtype=np.int64) - 1
    hour = np.asarray(local.hour, dtype=np.int64)
    cal_of = cal_index[inverse]
    season = season_table[cal_of, month]
    period = hour_table[cal_of, month, hour].copy()
    dtype_ = day_type[inverse]
    for i, rule in enumerate(rules):
        sel = inverse == i
        if day_type[i] == 3 and rule.holidays is not None:
            period[sel] = rule.holidays
        elif day_type[i] == 2 and rule.sunday is not None:
            period[sel] = rule.sunday
        elif day_type[i] == 1 and rule.saturday_peak_as is not None:
            period[sel & (period == 2)] = rule.saturday_peak_as
    return season, dtype_, period, days


def label_load_periods(
    index: pd.DatetimeIndex,
    *,
    load_periods: str = "mainland",
    book: TariffBook | None = None,
) -> pd.DataFrame:
    """Label timestamps with their TOU season, day type and load period.

    Parameters
    ----------
    index : pandas.DatetimeIndex
        Timezone-aware interval starts; converted to the calendar's zone (Asia/Seoul).
    load_periods : str
        Name of the TOU calendar in the tariff data (``'mainland'``).
    book : TariffBook, optional
        Tariff data; default: the packaged data plus ``BITGOEUL_TARIFF_PATH``.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``index``, with string columns ``season`` (summer, spring_fall,
        winter), ``day_type`` (weekday, saturday, sunday, holiday) and ``load_period``
        (light, mid, peak).

    Examples
    --------
    >>> import pandas as pd
    >>> ts = pd.DatetimeIndex(["2025-07-01 11:00", "2025-07-05 11:00", "2025-08-15 11:00"],
    ...                       tz="Asia/Seoul")
    >>> label_load_periods(ts)["load_period"].tolist()   # Tuesday, Saturday, 광복절
    ['peak', 'mid', 'light']
    """
    book = book or default_book()
    local = _local_index(index, book.timezone(load_periods), "index")
    season, day_type, period, _ = _labels(book, load_periods, local, {})
    return pd.DataFrame(
        {
            "season": np.asarray(SEASONS, dtype=object)[season],
            "day_type": np.asarray(DAY_TYPES, dtype=object)[day_type],
            "load_period": np.asarray(LOAD_PERIODS, dtype=object)[period],
        },
        index=index,
    )


def _local_index(index: object, tz: str, name: str) -> pd.DatetimeIndex:
    if not isinstance(index, pd.DatetimeIndex):
        raise TypeError(f"{name} must be a pandas DatetimeIndex of interval starts")
    if index.tz is None:
        raise ValueError(
            f"{name} must be timezone-aware: use .tz_localize('Asia/Seoul') on local wall times"
        )
    return index.tz_convert(tz)


def _to_decimal(value: object, name: str) -> Decimal:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))
    else:
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not result.is_finite() or result < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return result


def _check_series(
    energy_by_hour: object, tz: str
) -> tuple[pd.DatetimeIndex, npt.NDArray[np.float64]]:
    if not isinstance(energy_by_hour, pd.Series):
        raise TypeError(
            "energy_by_hour must be a pandas Series of kWh per interval indexed by timezone-aware "
            "interval starts"
        )
    local = _local_index(energy_by_hour.index, tz, "energy_by_hour.index")
    try:
        values = energy_by_hour.to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError("energy_by_hour must hold numbers of kWh") from exc
    if np.isnan(values).any() or not np.isfinite(values).all():
        raise ValueError(
            "energy_by_hour holds NaN or inf: drop or fill the gaps first (missing intervals are "
            "reported, not billed)"
        )
    if (values < 0).any():
        raise ValueError(
            "energy_by_hour holds negative kWh: a bill covers energy drawn from the grid"
        )
    if local.has_duplicates:
        raise ValueError("energy_by_hour has duplicate timestamps: one value per interval")
    order = np.argsort(local.as_unit("ns").asi8, kind="stable")
    return local[order], values[order]


def _tou_info(book: TariffBook, contract: str) -> tuple[ContractInfo, str]:
    info = book.contract(contract)
    if info.kind == "residential" or info.load_periods is None:
        raise TariffError(
            f"contract {contract!r} is residential (billed per household): use compute_bill"
        )
    return info, info.load_periods


def compute_tou_bill(
    energy_by_hour: pd.Series,
    start: dt.date,
    end: dt.date,
    *,
    contract: str,
    demand_kw: float | int | Decimal,
    book: TariffBook | None = None,
    fund_proration: Proration = "days",
) -> Bill:
    """Compute a bill for a demand-charged (TOU or seasonal) contract from interval data.

    Parameters
    ----------
    energy_by_hour : pandas.Series
        Energy per interval [kWh], indexed by timezone-aware interval starts at hourly
        or finer resolution. Intervals outside ``start..end`` (local days) are ignored
        (counted in a note); missing ones are reported as a warning and not billed.
    start, end : datetime.date
        First and last local day of the billing period (inclusive).
    contract : str
        A TOU or seasonal contract key, e.g. ``'industrial-a2-high-a-1'``.
    demand_kw : float, int or Decimal
        Billing demand 요금적용전력 [kW] the basic charge is computed from.
    book : TariffBook, optional
        Tariff data; default: the packaged data plus ``BITGOEUL_TARIFF_PATH``.
    fund_proration : {'days', 'start'}
        How a fund-rate change inside the period applies (see :func:`compute_bill`).

    Returns
    -------
    Bill
        With ``tier=None``, ``demand_kw`` set and one line per rate segment, season and
        load period (kWh, rate, won).

    Raises
    ------
    TariffError
        Unknown or residential contract, a period the data do not cover, or a value
        the data mark as missing (e.g. 일반용 energy rates).
    ValueError, TypeError
        Bad series (naive timestamps, NaN, negative kWh, coarser than hourly), bad
        dates or demand.

    Examples
    --------
    >>> import datetime as dt
    >>> import pandas as pd
    >>> idx = pd.date_range("2025-10-01", "2025-11-01", freq="h", tz="Asia/Seoul",
    ...                     inclusive="left")
    >>> bill = compute_tou_bill(pd.Series(10.0, index=idx), dt.date(2025, 10, 1),
    ...                         dt.date(2025, 10, 31), contract="industrial-a2-high-a-1",
    ...                         demand_kw=50)
    >>> bill.kwh, bill.basic_won, bill.total_won
    (Decimal('7440.000'), 324500, 1325550)
    >>> [(line.label, str(line.kwh)) for line in bill.lines]  # doctest: +NORMALIZE_WHITESPACE
    [('spring_fall light', '4360.000'), ('spring_fall mid', '2000.000'),
     ('spring_fall peak', '1080.000')]
    """
    start, end = check_period(start, end)
    fund_mode = check_proration(fund_proration, "fund_proration")
    demand = _to_decimal(demand_kw, "demand_kw")
    book = book or default_book()
    info, calendar = _tou_info(book, contract)
    if start < info.data_from:
        raise TariffError(
            f"the tariff data for {contract!r} begin on {info.data_from.isoformat()}; the period "
            f"{start.isoformat()}..{end.isoformat()} starts before (add earlier values in a "
            "tariff file on BITGOEUL_TARIFF_PATH)"
        )
    tz = book.timezone(calendar)
    local, values = _check_series(energy_by_hour, tz)
    lo = pd.Timestamp(start.isoformat()).tz_localize(tz)
    hi = pd.Timestamp((end + dt.timedelta(days=1)).isoformat()).tz_localize(tz)
    inside = np.asarray((local >= lo) & (local < hi))
    notes: list[str] = []
    warnings: list[str] = []
    outside = int((~inside).sum())
    if outside:
        notes.append(
            f"{outside} interval(s) outside {start.isoformat()}..{end.isoformat()} ignored"
        )
    local, values = local[inside], values[inside]
    _check_resolution(local, lo, hi, warnings)

    used: dict[tuple[str, dt.date], TariffValue] = {}
    season, _day_type, period, days = _labels(book, calendar, local, used)
    if info.kind == "seasonal":
        period = np.zeros_like(period)
    regime, regime_entries = _rate_regimes(book, info, days, used)
    codes = (regime * len(SEASONS) + season) * len(LOAD_PERIODS) + period
    energy = climate = fuel = Decimal(0)
    lines: list[BillLine] = []
    total_kwh = Decimal(0)
    with decimal.localcontext(_CONTEXT):
        for code in np.unique(codes):
            sel = codes == code
            r, rest = divmod(int(code), len(SEASONS) * len(LOAD_PERIODS))
            s, p = divmod(rest, len(LOAD_PERIODS))
            rates, climate_rate, fuel_rate = regime_entries[r]
            season_name = SEASONS[s]
            rate = rates[season_name] if info.kind == "seasonal" else rates[season_name][p]
            kwh = to_kwh(math.fsum(values[sel].tolist()), "energy_by_hour")
            total_kwh += kwh
            energy += kwh * rate
            climate += kwh * climate_rate
            fuel += kwh * fuel_rate
            group_days = days[sel]
            label = season_name if info.kind == "seasonal" else f"{season_name} {LOAD_PERIODS[p]}"
            lines.append(
                BillLine(
                    label=label,
                    start=_to_date(int(group_days.min())),
                    end=_to_date(int(group_days.max())),
                    kwh=kwh,
                    rate_won_per_kwh=rate,
                    won=display_won(kwh * rate, 1),
                )
            )
    lines.sort(key=lambda line: (line.start, SEASONS.index(line.label.split(" ")[0]), line.label))
    period_days = (end - start).days + 1
    basic_num = _basic_numerator(book, info, start, end, demand, used)
    fund_num, fund_den = _fund_numerator(book, start, end, fund_mode, used)
    vat_entry = book.value_at("vat_rate", end)
    rounding_entry = book.value_at("rounding", end)
    for entry in (vat_entry, rounding_entry):
        used[(entry.key, entry.effective_from)] = entry
    won = _round_tou(
        rounding_entry.value,
        basic_num,
        period_days,
        energy,
        climate,
        fuel,
        vat_entry.value,
        fund_num,
        fund_den,
    )
    notes.append(
        "energy, climate and fuel charged at the values in force on each interval's date; "
        "basic charge = demand_kw x won/kW"
        + (
            " prorated by days"
            if book.value_changes_in(f"{info.key}.basic_won_per_kw", start, end)
            else ""
        )
    )
    notes.append(
        f"load periods: {calendar} calendar; Saturday peak hours billed as mid, Sundays "
        "and Korean public holidays (holidays package) all light"
    )
    if not 28 <= period_days <= 31:
        notes.append(
            f"the period has {period_days} days: the monthly basic charge is applied unscaled"
        )
    return Bill(
        contract=contract,
        start=start,
        end=end,
        kwh=total_kwh,
        **won,
        tier=None,
        demand_kw=demand,
        lines=tuple(lines),
        notes=tuple(notes),
        warnings=unverified_warnings(list(used.values())) + tuple(warnings),
    )


def _check_resolution(
    local: pd.DatetimeIndex, lo: pd.Timestamp, hi: pd.Timestamp, warnings: list[str]
) -> None:
    if len(local) == 0:
        warnings.append("no intervals inside the billing period: the energy charge is 0")
        return
    stamps = local.as_unit("s").asi8  # seconds since the epoch (UTC)
    offsets = np.asarray(local.minute * 60 + local.second, dtype=np.int64)
    step = int(np.diff(stamps).min()) if len(local) > 1 else 3600
    if step > 3600 or 3600 % step or (offsets % step).any():
        raise ValueError(
            "energy_by_hour must be at hourly or finer resolution, with intervals that divide "
            f"the hour and start on its boundaries (smallest step found: {step} s): coarser "
            "data cannot be split into load periods"
        )
    expected = int((hi - lo).total_seconds()) // step
    if len(local) < expected:
        warnings.append(
            f"{expected - len(local)} of {expected} intervals of {step // 60} min are missing "
            "in the billing period: their energy is not billed"
        )


def _rate_regimes(
    book: TariffBook,
    info: ContractInfo,
    days: npt.NDArray[np.int64],
    used: dict[tuple[str, dt.date], TariffValue],
) -> tuple[npt.NDArray[np.int64], list[tuple[Any, Decimal, Decimal]]]:
    """Regime index of each interval: one per distinct (energy, climate, fuel) entries."""
    unique_days, inverse = np.unique(days, return_inverse=True)
    keys: list[tuple[tuple[str, dt.date], ...]] = []
    entries: list[tuple[Any, Decimal, Decimal]] = []
    day_regime = np.zeros(len(unique_days), dtype=np.int64)
    for i, d in enumerate(unique_days):
        day = _to_date(int(d))
        found = [
            book.value_at(f"{info.key}.energy_won_per_kwh", day),
            book.value_at("climate_won_per_kwh", day),
            book.value_at("fuel_won_per_kwh", day),
        ]
        for e in found:
            used[(e.key, e.effective_from)] = e
        key = tuple((e.key, e.effective_from) for e in found)
        if key not in keys:
            keys.append(key)
            entries.append((found[0].value, found[1].value, found[2].value))
        day_regime[i] = keys.index(key)
    regime: npt.NDArray[np.int64] = day_regime[inverse]
    return regime, entries


def _segments(
    book: TariffBook, key: str, start: dt.date, end: dt.date
) -> list[tuple[dt.date, int]]:
    cuts = book.changes_in([key], start, end)
    edges = [start, *cuts, end + dt.timedelta(days=1)]
    return [(a, (b - a).days) for a, b in itertools.pairwise(edges)]


def _basic_numerator(
    book: TariffBook,
    info: ContractInfo,
    start: dt.date,
    end: dt.date,
    demand: Decimal,
    used: dict[tuple[str, dt.date], TariffValue],
) -> Decimal:
    key = f"{info.key}.basic_won_per_kw"
    total = Decimal(0)
    with decimal.localcontext(_CONTEXT):
        for first, days in _segments(book, key, start, end):
            entry = book.value_at(key, first)
            used[(entry.key, entry.effective_from)] = entry
            total += days * demand * entry.value
    return total


def _fund_numerator(
    book: TariffBook,
    start: dt.date,
    end: dt.date,
    mode: Proration,
    used: dict[tuple[str, dt.date], TariffValue],
) -> tuple[Decimal, int]:
    if mode == "start":
        entry = book.value_at("fund_rate", start)
        used[(entry.key, entry.effective_from)] = entry
        return entry.value, 1
    total = Decimal(0)
    for first, days in _segments(book, "fund_rate", start, end):
        entry = book.value_at("fund_rate", first)
        used[(entry.key, entry.effective_from)] = entry
        total += days * entry.value
    return total, (end - start).days + 1


def _round_tou(
    r: Rounding,
    basic_num: Decimal,
    days: int,
    energy: Decimal,
    climate: Decimal,
    fuel: Decimal,
    vat_rate: Decimal,
    fund_num: Decimal,
    fund_den: int,
) -> dict[str, int]:
    basic = round_won(basic_num, days, r.basic)
    won_energy = round_won(energy, 1, r.energy)
    won_climate = round_won(climate, 1, r.climate)
    won_fuel = round_won(fuel, 1, r.fuel)
    subtotal = basic + won_energy + won_climate + won_fuel
    with decimal.localcontext(_CONTEXT):
        vat = round_won(subtotal * vat_rate, 1, r.vat)
        fund = round_won(subtotal * fund_num, fund_den, r.fund)
    total = round_won(subtotal + vat + fund, 1, r.total)
    return {
        "basic_won": basic,
        "energy_won": won_energy,
        "climate_won": won_climate,
        "fuel_won": won_fuel,
        "deduction_won": 0,
        "subtotal_won": subtotal,
        "vat_won": vat,
        "fund_won": fund,
        "total_won": total,
    }
