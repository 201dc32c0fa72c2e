"""Use cases: usage rollups, comparisons, load profile, peaks, standby and data quality."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo

import pandas as pd
import pyarrow as pa

from bitgoeul.analytics.compare import (
    PeriodComparison,
    compare_periods,
    period_bounds_utc,
    previous_period,
    same_period_last_year,
)
from bitgoeul.analytics.cycles import BillingCycle, billing_cycle_for, billing_cycles
from bitgoeul.analytics.profile import PeakDemand, load_profile, peak_demand
from bitgoeul.analytics.quality import find_data_issues, infer_interval_s
from bitgoeul.analytics.standby import StandbyEstimate, standby_enertalk, standby_power
from bitgoeul.errors import BitgoeulError
from bitgoeul.model import DataIssue, Meter
from bitgoeul.store import MeterStore, MeterSummary

__all__ = [
    "Freq",
    "LatestUsage",
    "UsagePeriod",
    "compare_usage",
    "latest_usage",
    "list_meters",
    "meter_peak",
    "meter_profile",
    "meter_quality",
    "meter_standby",
    "read_frame",
    "usage",
]

Freq = Literal["15min", "30min", "hour", "day", "month", "cycle"]


@dataclass(frozen=True, slots=True)
class UsagePeriod:
    """Energy of one local period.

    Parameters
    ----------
    start : datetime.datetime
        Local start of the period (aware, meter's zone).
    label : str
        Period name: ISO time for sub-daily, 'YYYY-MM-DD', 'YYYY-MM' or the bill month of a cycle.
    energy_kwh : float
        Energy in the period [kWh].
    readings : int
        Readings summed [count].
    end : datetime.datetime or None
        Local end (exclusive). :func:`usage` gives it for every period; a billing
        cycle cut by ``start`` or ``end`` ends where it was cut.
    """

    start: dt.datetime
    label: str
    energy_kwh: float
    readings: int
    end: dt.datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary."""
        out: dict[str, Any] = {
            "start": self.start.isoformat(),
            "label": self.label,
            "energy_kwh": self.energy_kwh,
            "readings": self.readings,
        }
        if self.end is not None:
            out["end"] = self.end.isoformat()
        return out


def list_meters(store: MeterStore) -> list[MeterSummary]:
    """Return every meter with its reading count, time span and total energy."""
    return store.list_meters()


def read_frame(
    store: MeterStore,
    meter_id: str,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> pd.DataFrame:
    """Return a meter's readings as a pandas DataFrame (``ts`` UTC, ``energy_kwh``)."""
    table = store.read_readings(meter_id, start, end)
    frame: pd.DataFrame = table.to_pandas()
    return frame


def _local_date(value: dt.datetime, meter: Meter) -> dt.date:
    return value.astimezone(ZoneInfo(meter.timezone)).date()


def usage(
    store: MeterStore,
    meter_id: str,
    freq: Freq = "day",
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> list[UsagePeriod]:
    """Return a meter's energy per local period, exactly (sums of stored readings).

    Parameters
    ----------
    store : MeterStore
        Where the readings are.
    meter_id : str
        Meter.
    freq : {'15min', '30min', 'hour', 'day', 'month', 'cycle'}
        Period; 'cycle' uses KEPCO billing cycles from the meter's reading day. It
        may not be shorter than the meter's interval: a reading is not split.
    start, end : datetime.date, optional
        First and last local date to include (inclusive); default all data.

    Returns
    -------
    list of UsagePeriod
        Periods with at least one reading, in time order.
    """
    meter = store.get_meter(meter_id)
    _check_not_finer(meter, freq)
    zone = ZoneInfo(meter.timezone)
    lo = hi = None
    if start is not None or end is not None:
        first = start or dt.date(1970, 1, 1)
        last = end or dt.date(9999, 12, 30)
        lo, hi = period_bounds_utc(first, last, timezone=meter.timezone)
    if freq == "cycle":
        return _cycle_usage(store, meter, lo, hi)
    table = store.rollup(meter_id, freq, timezone=meter.timezone, start=lo, end=hi)
    step = dt.timedelta(seconds=_LONGEST_READING_S[freq])  # exact for sub-daily periods
    periods = []
    for row in table.to_pylist():
        wall = row["period_start"]
        if row["utc_offset_s"] is None:
            local = wall.replace(tzinfo=zone)
        else:  # the offset picks the right one of a repeated wall-clock hour
            fixed = dt.timezone(dt.timedelta(seconds=row["utc_offset_s"]))
            local = wall.replace(tzinfo=fixed).astimezone(zone)
        day = local.date()
        if freq == "day":
            label = day.isoformat()
            after = local + _ONE_DAY  # aware arithmetic is on the wall clock: next midnight
        elif freq == "month":
            label = local.strftime("%Y-%m")
            first = dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
            after = dt.datetime.combine(first, dt.time(), zone)
        else:
            label = local.isoformat()
            if row["utc_offset_s"] is None:  # one offset all along: wall time adds up
                after = local + step
            else:
                after = (local.astimezone(dt.UTC) + step).astimezone(zone)
        periods.append(
            UsagePeriod(local, label, float(row["energy_kwh"]), int(row["readings"]), end=after)
        )
    return periods


_ONE_DAY = dt.timedelta(days=1)
_LONGEST_READING_S: dict[Freq, int] = {
    "15min": 900,
    "30min": 1800,
    "hour": 3600,
    "day": 86_400,
    "month": 31 * 86_400,
    "cycle": 31 * 86_400,
}
"""The longest interval a meter may read at for each kind of period [s]: the period's
length, and for months and billing cycles the longest month, so that monthly bins
(28-31 days apart) still fit."""


def _check_not_finer(meter: Meter, freq: Freq) -> None:
    """Refuse periods shorter than the meter's interval: a reading is not split."""
    if not meter.interval_s or meter.interval_s <= _LONGEST_READING_S[freq]:
        return
    coarser = [k for k, s in _LONGEST_READING_S.items() if s >= meter.interval_s]
    raise ValueError(
        f"meter {meter.meter_id!r} reads every {_duration(meter.interval_s)}: {freq} periods "
        "are finer than its readings, and a reading is not split; "
        + (f"use {', '.join(coarser)}" if coarser else "read its readings instead")
    )


def _duration(seconds: int) -> str:
    if seconds % 86_400 == 0:
        return f"{seconds // 86_400} day(s)"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def _cycle_usage(
    store: MeterStore, meter: Meter, lo: dt.datetime | None, hi: dt.datetime | None
) -> list[UsagePeriod]:
    summary = next(iter(store.list_meters([meter.meter_id])), None)
    if summary is None or summary.first_ts is None or summary.last_ts is None:
        return []
    first = _local_date(max(summary.first_ts, lo) if lo else summary.first_ts, meter)
    last = _local_date(min(summary.last_ts, hi) if hi else summary.last_ts, meter)
    cycles = billing_cycles(first, last, meter.reading_day)
    bounds = [period_bounds_utc(c.start, c.end, timezone=meter.timezone) for c in cycles]
    if lo or hi:
        bounds = [(max(a, lo) if lo else a, min(b, hi) if hi else b) for a, b in bounds]
    sums = store.sum_energy(meter.meter_id, bounds)
    zone = ZoneInfo(meter.timezone)
    return [
        UsagePeriod(a.astimezone(zone), c.label, total, n, end=b.astimezone(zone))
        for c, (a, b), (total, n) in zip(cycles, bounds, sums, strict=True)
        if n
    ]


def compare_usage(
    store: MeterStore,
    meter_id: str,
    freq: Literal["day", "month", "cycle"] = "month",
    *,
    on: dt.date | None = None,
) -> dict[str, Any]:
    """Compare a period's energy with the previous period and the same period last year.

    Parameters
    ----------
    store : MeterStore
        Where the readings are.
    meter_id : str
        Meter.
    freq : {'day', 'month', 'cycle'}
        Period kind; 'cycle' is the KEPCO billing cycle.
    on : datetime.date, optional
        A local date inside the period; default the date of the last reading.

    Returns
    -------
    dict
        ``period``, ``previous`` and ``last_year`` (each: start, end, energy_kwh,
        readings) and ``vs_previous`` / ``vs_last_year`` comparisons. A period
        still in progress is compared to date: the earlier periods are cut to
        the same number of days.
    """
    meter = store.get_meter(meter_id)
    if on is None:
        summary = store.list_meters([meter_id])[0]
        if summary.last_ts is None:
            raise BitgoeulError(f"meter {meter_id!r} has no readings to compare")
        on = _local_date(summary.last_ts, meter)
    start, end = _period_of(on, freq, meter)
    cut = min(end, on)
    kind = "billing_cycle" if freq == "cycle" else freq
    reading_day = meter.reading_day if freq == "cycle" else None
    prev = previous_period(start, end, kind, reading_day=reading_day)
    last = same_period_last_year(start, end, reading_day=reading_day)
    to_date = (cut - start).days

    def window(a: dt.date, b: dt.date) -> tuple[dt.date, dt.date]:
        return a, min(b, a + dt.timedelta(days=to_date))

    ranges = {
        "period": (start, cut),
        "previous": window(*prev) if cut < end else prev,
        "last_year": window(*last) if cut < end else last,
    }
    bounds = [period_bounds_utc(a, b, timezone=meter.timezone) for a, b in ranges.values()]
    sums = store.sum_energy(meter_id, bounds)
    out: dict[str, Any] = {"meter_id": meter_id, "freq": freq, "complete": cut >= end}
    for (name, (a, b)), (total, n) in zip(ranges.items(), sums, strict=True):
        out[name] = {
            "start": a.isoformat(),
            "end": b.isoformat(),
            "energy_kwh": total,
            "readings": n,
        }
    current = out["period"]["energy_kwh"]
    vs_prev: PeriodComparison = compare_periods(
        current, out["previous"]["energy_kwh"] if out["previous"]["readings"] else None
    )
    vs_year: PeriodComparison = compare_periods(
        current, out["last_year"]["energy_kwh"] if out["last_year"]["readings"] else None
    )
    out["vs_previous"] = _comparison_dict(vs_prev)
    out["vs_last_year"] = _comparison_dict(vs_year)
    return out


def _comparison_dict(c: PeriodComparison) -> dict[str, Any]:
    return {k: getattr(c, k) for k in c.__dataclass_fields__}


def _period_of(on: dt.date, freq: str, meter: Meter) -> tuple[dt.date, dt.date]:
    if freq == "day":
        return on, on
    if freq == "month":
        first = on.replace(day=1)
        nxt = (first + dt.timedelta(days=32)).replace(day=1)
        return first, nxt - dt.timedelta(days=1)
    cycle: BillingCycle = billing_cycle_for(on, meter.reading_day)
    return cycle.start, cycle.end


def meter_quality(store: MeterStore, meter_id: str) -> list[DataIssue]:
    """Return a meter's data-quality findings: those found at ingest and a fresh scan."""
    return _quality_of(store, store.get_meter(meter_id), read_frame(store, meter_id))


def _quality_of(store: MeterStore, meter: Meter, frame: pd.DataFrame) -> list[DataIssue]:
    """Return stored findings overlapping ``frame``'s span and a fresh scan of ``frame``."""
    stored = store.list_data_issues(meter.meter_id)
    found: list[DataIssue] = []
    if len(frame) >= 2:
        found = find_data_issues(
            frame,
            meter_id=meter.meter_id,
            interval_s=meter.interval_s or infer_interval_s(frame),
            kind=meter.kind,
            timezone=meter.timezone,
        )
        first, last = frame["ts"].iloc[0], frame["ts"].iloc[-1]
        stored = [i for i in stored if i.end > first and i.start <= last]
    return sorted(stored + found, key=lambda i: (i.start, i.code))


def meter_profile(store: MeterStore, meter_id: str, *, days: int | None = None) -> pd.DataFrame:
    """Return a meter's typical day by weekday/weekend/holiday (see :func:`load_profile`)."""
    meter = store.get_meter(meter_id)
    frame = _recent(store, meter_id, days)
    return load_profile(frame, timezone=meter.timezone, interval_s=meter.interval_s)


def meter_peak(store: MeterStore, meter_id: str, *, top_n: int = 5) -> PeakDemand | None:
    """Return a meter's maximum 15-minute demand [kW] and when (see :func:`peak_demand`)."""
    meter = store.get_meter(meter_id)
    frame = read_frame(store, meter_id)
    if meter.interval_s is None:
        raise BitgoeulError(
            f"meter {meter_id!r} has no known interval; set it with `bitgoeul meter`"
        )
    return peak_demand(frame, timezone=meter.timezone, interval_s=meter.interval_s, top_n=top_n)


def meter_standby(
    store: MeterStore, meter_id: str, *, method: Literal["robust", "enertalk"] = "robust"
) -> StandbyEstimate | None:
    """Return a meter's always-on (standby) power [W] over its last month of data.

    ``method='enertalk'`` is ENERTALK's published method (needs 15-minute data);
    ``'robust'`` is Bitgoeul's default (see :mod:`bitgoeul.analytics.standby`),
    which also leaves out intervals flagged by the data-quality scan. None when
    there is too little data.
    """
    meter = store.get_meter(meter_id)
    frame = _recent(store, meter_id, 31)
    if method == "enertalk":
        return standby_enertalk(frame, timezone=meter.timezone)
    # Only the month used is scanned: a full-history scan cost most of the dashboard's time.
    issues = _quality_of(store, meter, frame) if len(frame) >= 2 else []
    return standby_power(
        frame, timezone=meter.timezone, interval_s=meter.interval_s, exclude=issues
    )


@dataclass(frozen=True, slots=True)
class LatestUsage:
    """A meter's newest reading and what it adds up to (ENERTALK's real-time usage).

    Parameters
    ----------
    meter_id : str
        Meter.
    ts : datetime.datetime
        Start of the newest interval (aware, meter's zone).
    energy_kwh : float
        Energy of that interval [kWh].
    power_kw : float or None
        Its mean power [kW]; None when the meter's interval is unknown.
    age_s : float
        Seconds from the end of that interval to now [s]: how live the data is.
    today_kwh : float
        Energy of the local day of the newest reading, up to it [kWh].
    cycle_kwh : float
        Energy of the billing cycle holding it, up to it [kWh].
    cycle_start : datetime.date
        First local day of that cycle (the meter-reading day 검침일).
    """

    meter_id: str
    ts: dt.datetime
    energy_kwh: float
    power_kw: float | None
    age_s: float
    today_kwh: float
    cycle_kwh: float
    cycle_start: dt.date

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary."""
        return {
            "meter_id": self.meter_id,
            "ts": self.ts.isoformat(),
            "energy_kwh": self.energy_kwh,
            "power_kw": self.power_kw,
            "age_s": round(self.age_s, 1),
            "today_kwh": self.today_kwh,
            "cycle_kwh": self.cycle_kwh,
            "cycle_start": self.cycle_start.isoformat(),
        }


def latest_usage(
    store: MeterStore, meter_id: str, *, now: dt.datetime | None = None
) -> LatestUsage | None:
    """Return a meter's newest reading, its power, and today's and the cycle's energy so far.

    None when the meter has no readings.

    Examples
    --------
    >>> import pandas as pd
    >>> from bitgoeul.services import ingest_frame
    >>> from bitgoeul.store import open_store
    >>> store = open_store(":memory:")
    >>> ts = pd.date_range("2026-11-20", periods=8, freq="15min", tz="Asia/Seoul")
    >>> _ = ingest_frame(pd.DataFrame({"meter_id": "m1", "ts": ts, "energy_kwh": 0.25}), store)
    >>> latest = latest_usage(store, "m1")
    >>> latest.ts.isoformat(), latest.power_kw, latest.today_kwh
    ('2026-11-20T01:45:00+09:00', 1.0, 2.0)
    """
    meter = store.get_meter(meter_id)
    summary = store.list_meters([meter_id])[0]
    if summary.last_ts is None:
        return None
    last = summary.last_ts
    newest = store.read_readings(meter_id, last, last + dt.timedelta(microseconds=1))
    energy = float(newest.column("energy_kwh")[0].as_py())
    local = last.astimezone(meter.zone)
    cycle = billing_cycle_for(local.date(), meter.reading_day)
    day_start, _ = period_bounds_utc(local.date(), local.date(), timezone=meter.timezone)
    cycle_start, _ = period_bounds_utc(cycle.start, cycle.start, timezone=meter.timezone)
    upto = last + dt.timedelta(microseconds=1)
    (today, _), (so_far, _) = store.sum_energy(meter_id, [(day_start, upto), (cycle_start, upto)])
    step = meter.interval_s
    end = last + dt.timedelta(seconds=step or 0)
    return LatestUsage(
        meter_id=meter_id,
        ts=local,
        energy_kwh=energy,
        power_kw=energy / (step / 3600) if step else None,
        age_s=((now or dt.datetime.now(dt.UTC)) - end).total_seconds(),
        today_kwh=today,
        cycle_kwh=so_far,
        cycle_start=cycle.start,
    )


def _recent(store: MeterStore, meter_id: str, days: int | None) -> pd.DataFrame:
    if days is None:
        return read_frame(store, meter_id)
    summary = store.list_meters([meter_id])[0]
    if summary.last_ts is None:
        return read_frame(store, meter_id)
    end = summary.last_ts + dt.timedelta(microseconds=1)
    return read_frame(store, meter_id, end - dt.timedelta(days=days), end)


def arrow_to_records(table: pa.Table) -> list[dict[str, Any]]:
    """Return table rows as JSON-ready dictionaries (times in ISO 8601)."""
    rows = table.to_pylist()
    return [
        {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()} for r in rows
    ]
