"""Typical-day load profiles and peak demand of one meter.

:func:`load_profile` answers "what does a normal weekday (weekend, holiday)
look like": statistics of the energy in each local time-of-day slot over the
days of each type. :func:`peak_demand` answers "what was the highest 15-minute
demand and when", the quantity KEPCO bills demand charges on (최대수요전력).

Day types
    ``holiday`` (public holidays from the ``holidays`` package, for Korea
    including Seollal and Chuseok, substitute holidays and election days),
    else ``weekend`` (Saturday and Sunday), else ``weekday``. A holiday that
    falls on a weekend counts as ``holiday``.
Slots
    The local wall-clock time of the interval start, ``'HH:MM'``. On a day
    when DST ends the repeated hour adds two readings to its slots; on the
    day it starts the skipped hour has none. Korea has no DST.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import holidays
import numpy as np
import pandas as pd

from bitgoeul.analytics.quality import check_interval_s, check_readings, infer_interval_s
from bitgoeul.model import check_timezone

__all__ = [
    "DAY_TYPES",
    "DemandPeak",
    "PeakDemand",
    "classify_days",
    "holiday_dates",
    "load_profile",
    "peak_demand",
]

DayType = Literal["weekday", "weekend", "holiday"]
DAY_TYPES: tuple[DayType, ...] = ("weekday", "weekend", "holiday")
"""Day types in the order :func:`load_profile` reports them."""

DEMAND_INTERVAL_S = 900
"""KEPCO measures billing demand as the average power over 15 minutes [s]."""

_PROFILE_COLUMNS = [
    "day_type",
    "slot",
    "mean_kwh",
    "median_kwh",
    "p10_kwh",
    "p90_kwh",
    "mean_kw",
    "days",
]


def holiday_dates(country: str | None, years: range) -> set[dt.date]:
    """Return the public holidays of ``country`` in ``years`` (empty set for None).

    ``country`` is an ISO 3166-1 alpha-2 code (``'KR'``: the national
    calendar) or an ISO 3166-2 subdivision code (``'AU-NSW'``, ``'GB-ENG'``:
    the national days and the region's own), as the ``holidays`` package
    knows them.

    Examples
    --------
    >>> dt.date(2022, 2, 1) in holiday_dates("KR", range(2022, 2023))  # Seollal
    True
    >>> dt.date(2013, 10, 7) in holiday_dates("AU-NSW", range(2013, 2014))  # Labour Day, NSW
    True
    >>> dt.date(2013, 10, 7) in holiday_dates("AU", range(2013, 2014))
    False
    """
    if country is None:
        return set()
    code, _, subdivision = country.partition("-")
    try:
        calendar = holidays.country_holidays(code, subdiv=subdivision or None, years=list(years))
    except NotImplementedError as exc:
        raise ValueError(
            f"the holidays package has no calendar for country or region {country!r}: use an "
            "ISO 3166-1 alpha-2 code such as 'KR', an ISO 3166-2 subdivision code such as "
            "'AU-NSW', or None for no holidays"
        ) from exc
    return set(calendar.keys())


def classify_days(days: Iterable[dt.date], *, country: str = "KR") -> list[DayType]:
    """Return the day type of each local date: 'holiday', 'weekend' or 'weekday'.

    Parameters
    ----------
    days : iterable of datetime.date
        Local calendar dates.
    country : str, default 'KR'
        Code of the public holidays: ISO 3166-1 alpha-2, or ISO 3166-2 for a
        region's calendar (:func:`holiday_dates`).

    Returns
    -------
    list of str
        One of ``DAY_TYPES`` per date, in input order.

    Examples
    --------
    >>> import datetime as dt
    >>> classify_days([dt.date(2025, 10, 6), dt.date(2025, 10, 11), dt.date(2025, 10, 13)])
    ['holiday', 'weekend', 'weekday']
    """
    dates = list(days)
    calendar = (
        holiday_dates(country, range(min(d.year for d in dates), max(d.year for d in dates) + 1))
        if dates
        else set()
    )
    out: list[DayType] = []
    for d in dates:
        if d in calendar:
            out.append("holiday")
        elif d.weekday() >= 5:
            out.append("weekend")
        else:
            out.append("weekday")
    return out


def load_profile(
    frame: pd.DataFrame,
    *,
    timezone: str,
    country: str = "KR",
    interval_s: int | None = None,
) -> pd.DataFrame:
    """Return the typical day of a meter per day type and local time-of-day slot.

    Parameters
    ----------
    frame : pandas.DataFrame
        Readings of one meter: ``ts`` (timezone-aware, interval start) and
        ``energy_kwh`` [kWh per interval]; NaN readings are ignored.
    timezone : str
        Meter's IANA zone; slots and day types are local.
    country : str, default 'KR'
        Calendar whose public holidays make the 'holiday' day type (a country
        or region code, as in :func:`holiday_dates`).
    interval_s : int, optional
        Nominal interval [s]; inferred from the timestamps when omitted.

    Returns
    -------
    pandas.DataFrame
        One row per (day_type, slot) present, ordered weekday, weekend,
        holiday, then slot, with columns ``day_type``; ``slot`` (local
        'HH:MM' interval start); ``mean_kwh``, ``median_kwh``, ``p10_kwh``,
        ``p90_kwh`` [kWh per interval] (percentiles linearly interpolated);
        ``mean_kw`` (``mean_kwh`` over the interval length [kW]); ``days``
        (distinct local dates contributing).

    Examples
    --------
    >>> import pandas as pd
    >>> ts = pd.date_range("2025-10-06", periods=48, freq="h", tz="Asia/Seoul")
    >>> frame = pd.DataFrame({"ts": ts.tz_convert("UTC"), "energy_kwh": 1.5})
    >>> p = load_profile(frame, timezone="Asia/Seoul")
    >>> p.groupby("day_type")["days"].max().to_dict()
    {'holiday': 2}
    >>> float(p["mean_kw"].iloc[0])
    1.5
    """
    zone = check_timezone(timezone)
    readings = check_readings(frame)
    readings = readings[readings["energy_kwh"].notna()]
    if readings.empty:
        return pd.DataFrame({c: pd.Series(dtype=_dtype(c)) for c in _PROFILE_COLUMNS})
    step = infer_interval_s(readings) if interval_s is None else check_interval_s(interval_s)
    local = readings["ts"].dt.tz_convert(zone)
    dates = local.dt.date
    unique_dates = sorted(set(dates))
    kinds = dict(zip(unique_dates, classify_days(unique_dates, country=country), strict=True))
    work = pd.DataFrame(
        {
            "day_type": dates.map(kinds),
            "slot": local.dt.strftime("%H:%M"),
            "date": dates,
            "energy_kwh": readings["energy_kwh"],
        }
    )
    grouped = work.groupby(["day_type", "slot"], sort=False)["energy_kwh"]
    out = pd.DataFrame(
        {
            "mean_kwh": grouped.mean(),
            "median_kwh": grouped.median(),
            "p10_kwh": grouped.quantile(0.1),
            "p90_kwh": grouped.quantile(0.9),
        }
    )
    out["mean_kw"] = out["mean_kwh"] / (step / 3600.0)
    out["days"] = work.groupby(["day_type", "slot"], sort=False)["date"].nunique()
    out = out.reset_index()
    order = {name: i for i, name in enumerate(DAY_TYPES)}
    out["_order"] = out["day_type"].map(order)
    out = out.sort_values(["_order", "slot"], kind="stable").drop(columns="_order")
    out["days"] = out["days"].astype("int64")
    return out[_PROFILE_COLUMNS].reset_index(drop=True)


def _dtype(column: str) -> str:
    if column in ("day_type", "slot"):
        return "object"
    return "int64" if column == "days" else "float64"


@dataclass(frozen=True, slots=True)
class DemandPeak:
    """One demand interval.

    Parameters
    ----------
    start, end : datetime.datetime
        Interval bounds in the meter's local zone (aware; ``end`` exclusive).
    demand_kw : float
        Average power over the interval [kW].
    """

    start: dt.datetime
    end: dt.datetime
    demand_kw: float


@dataclass(frozen=True, slots=True)
class PeakDemand:
    """The maximum demand of a meter over its readings.

    Parameters
    ----------
    demand_kw : float
        Maximum average power over one demand interval [kW].
    start, end : datetime.datetime
        Bounds of that interval, local time (aware; ``end`` exclusive).
    resolution_s : int
        Length of the demand interval the maximum is based on [s]: 900 for
        15-minute or finer data, the reading interval for coarser data (an
        hourly maximum understates the 15-minute maximum).
    peaks : tuple of DemandPeak
        The ``top_n`` highest intervals, highest first (ties: earliest first).
    """

    demand_kw: float
    start: dt.datetime
    end: dt.datetime
    resolution_s: int
    peaks: tuple[DemandPeak, ...]


def peak_demand(
    frame: pd.DataFrame, *, timezone: str, interval_s: int, top_n: int = 1
) -> PeakDemand | None:
    """Return the maximum 15-minute demand of a meter and when it occurred.

    Parameters
    ----------
    frame : pandas.DataFrame
        Readings of one meter: ``ts`` (timezone-aware, interval start) and
        ``energy_kwh`` [kWh per interval]; NaN readings are ignored.
    timezone : str
        Meter's IANA zone; the returned times are local.
    interval_s : int
        Nominal interval of the readings [s]. Finer than 900 it must divide
        900 (e.g. 60, 300): readings are summed into 15-minute buckets aligned
        on the quarter hour; a bucket with missing readings counts with the
        energy it has, a lower bound. 900 is used as is. Coarser data give
        the maximum average power over their own interval and say so in
        ``resolution_s``.
    top_n : int, default 1
        How many of the highest intervals to list in ``peaks``.

    Returns
    -------
    PeakDemand or None
        None when there is no reading.

    Examples
    --------
    >>> import pandas as pd
    >>> ts = pd.date_range("2025-08-01 05:00", periods=4, freq="5min", tz="UTC")
    >>> frame = pd.DataFrame({"ts": ts, "energy_kwh": [1.0, 2.0, 3.0, 0.5]})
    >>> p = peak_demand(frame, timezone="Asia/Seoul", interval_s=300)
    >>> p.demand_kw, p.start.isoformat(), p.resolution_s
    (24.0, '2025-08-01T14:00:00+09:00', 900)
    """
    zone = check_timezone(timezone)
    interval_s = check_interval_s(interval_s)
    if interval_s < DEMAND_INTERVAL_S and DEMAND_INTERVAL_S % interval_s != 0:
        raise ValueError(
            f"interval_s={interval_s} does not divide 15 minutes, so readings cannot be summed "
            "into 15-minute demand intervals; resample the readings to a divisor of 900 s first"
        )
    if isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1:
        raise ValueError(f"top_n must be a whole number >= 1, got {top_n!r}")
    readings = check_readings(frame)
    readings = readings[readings["energy_kwh"].notna()]
    if readings.empty:
        return None
    if interval_s < DEMAND_INTERVAL_S:
        buckets = readings.assign(bucket=readings["ts"].dt.floor(f"{DEMAND_INTERVAL_S}s"))
        energy = buckets.groupby("bucket")["energy_kwh"].sum().rename_axis("ts")
        resolution = DEMAND_INTERVAL_S
    else:
        energy = readings.groupby("ts")["energy_kwh"].sum()
        resolution = interval_s
    demand = energy / (resolution / 3600.0)
    demand = demand.sort_index()
    starts = demand.index
    values = demand.to_numpy(dtype="float64")
    order = np.lexsort((np.arange(values.size), -values))[:top_n]
    step = pd.Timedelta(seconds=resolution)
    peaks = tuple(
        DemandPeak(
            start=pd.Timestamp(starts[k]).tz_convert(zone).to_pydatetime(),
            end=(pd.Timestamp(starts[k]) + step).tz_convert(zone).to_pydatetime(),
            demand_kw=float(values[k]),
        )
        for k in order
    )
    top = peaks[0]
    return PeakDemand(top.demand_kw, top.start, top.end, resolution, peaks)
