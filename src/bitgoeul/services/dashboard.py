"""Use cases: what the web dashboard shows of one meter, and of an organisation's fleet.

:func:`meter_dashboard` assembles, in one compact JSON-ready dictionary, what a
household or building manager looks at each morning: today's power curve
beside yesterday's, the last 30 days and the last 12 months each beside the
same period a year before, the billing cycle so far with its P10/P50/P90
month-end forecast, tier boundaries and the next crossing date, standby power,
a day-ahead forecast against what was measured, and the data-quality status.
:func:`fleet_row` is one line of the organisation's fleet table.

Everything is aggregated here, server-side: a year of 15-minute readings
(35,040 values) becomes a few hundred numbers. "Today" is the local date of the
meter's last reading, not the calendar date, so historic data still shows a
full day; the dictionary says so (``today.date`` and ``today.last_reading``).

The day-ahead forecast uses the persistence ensemble (the mean of the same time
of day over the last 7 days, with a band calibrated by replaying the last 90
origins): about 50 ms on a year of 15-minute data, where the LightGBM model
takes seconds to fit, too slow for a page that must load in under a second.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from bitgoeul.errors import BitgoeulError
from bitgoeul.model import Meter
from bitgoeul.services.billing import MeterBill, bill_meter
from bitgoeul.services.forecast import forecast_meter
from bitgoeul.services.usage import Freq, compare_usage, meter_quality, meter_standby, usage
from bitgoeul.store import MeterStore, MeterSummary

__all__ = [
    "DAILY_DAYS",
    "FORECAST_MODEL",
    "FORECAST_TRAIN_DAYS",
    "MONTHLY_MONTHS",
    "curve_resolution_s",
    "fleet_row",
    "meter_dashboard",
]

DAILY_DAYS = 30
"""Days of daily bars [d]."""

MONTHLY_MONTHS = 12
"""Months of monthly bars [count]."""

FORECAST_MODEL = "persistence"
"""Load-forecasting model of the forecast-against-actual chart (fast, with a band)."""

FORECAST_TRAIN_DAYS = 100
"""History read for that forecast [d]: 7 days of persistence plus 90 replayed origins."""

LAST_YEAR_DAYS = 364
"""Days back to the same weekday of last year for the daily bars [d] (52 weeks)."""

QUALITY_SHOWN = 5
"""Most recent data-quality findings listed in the dashboard [count]."""


def _r(value: float | None, digits: int = 3) -> float | None:
    """Round for compact JSON; NaN and None become None."""
    if value is None or math.isnan(value):
        return None
    return round(float(value), digits)


def _summary(store: MeterStore, meter_id: str) -> MeterSummary:
    return next(s for s in store.list_meters([meter_id]) if s.meter.meter_id == meter_id)


def curve_resolution_s(interval_s: int | None) -> int:
    """Return the step of the power curves for a meter's interval [s].

    Intervals of 15 minutes or less are summed to 15 minutes; those that
    divide 30 minutes, to 30; anything else is shown hourly (a meter that
    reads less often than hourly has no curve, :func:`meter_dashboard`).

    Examples
    --------
    >>> curve_resolution_s(60), curve_resolution_s(900), curve_resolution_s(1800)
    (900, 900, 1800)
    >>> curve_resolution_s(1200), curve_resolution_s(3600), curve_resolution_s(None)
    (3600, 3600, 3600)
    """
    if interval_s is None:
        return 3600
    if interval_s <= 900:
        return 900
    if interval_s <= 1800 and 1800 % interval_s == 0:
        return 1800
    return 3600


_CURVE_FREQ: dict[int, Freq] = {900: "15min", 1800: "30min", 3600: "hour"}


def _power_curve_kw(
    store: MeterStore, meter: Meter, day: dt.date, resolution_s: int
) -> list[float | None]:
    """Return one local day's mean power per step [kW], None where nothing was measured.

    A meter that reads less often than hourly has no such curve: all None.
    """
    steps = 86_400 // resolution_s
    energy = [0.0] * steps
    seen = [0] * steps
    try:
        periods = usage(store, meter.meter_id, _CURVE_FREQ[resolution_s], start=day, end=day)
    except ValueError:  # the readings are coarser than the step
        return [None] * steps
    for period in periods:
        start = period.start
        index = (start.hour * 3600 + start.minute * 60) // resolution_s
        energy[index] += period.energy_kwh
        seen[index] += 1  # twice in the hour repeated when clocks go back
    hours = resolution_s / 3600
    return [_r(e / (hours * n)) if n else None for e, n in zip(energy, seen, strict=True)]


def _days_kwh(
    store: MeterStore, meter_id: str, first: dt.date, last: dt.date
) -> dict[dt.date, float | None]:
    """Return each local day's energy [kWh]; None for a meter that reads less often than daily."""
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    try:
        periods = usage(store, meter_id, "day", start=first, end=last)
    except ValueError:
        return dict.fromkeys(days)
    found = {p.start.date(): p.energy_kwh for p in periods}
    return {d: _r(found.get(d, 0.0)) for d in days}


def _step_labels(resolution_s: int) -> list[str]:
    return [f"{s // 3600:02d}:{s % 3600 // 60:02d}" for s in range(0, 86_400, resolution_s)]


def _daily(store: MeterStore, meter_id: str, last: dt.date, days: int) -> dict[str, Any]:
    first = last - dt.timedelta(days=days - 1)
    shift = dt.timedelta(days=LAST_YEAR_DAYS)
    now = {p.label: p.energy_kwh for p in usage(store, meter_id, "day", start=first, end=last)}
    before = {
        p.label: p.energy_kwh
        for p in usage(store, meter_id, "day", start=first - shift, end=last - shift)
    }
    dates = [first + dt.timedelta(days=i) for i in range(days)]
    return {
        "dates": [d.isoformat() for d in dates],
        "energy_kwh": [_r(now.get(d.isoformat())) for d in dates],
        "last_year_dates": [(d - shift).isoformat() for d in dates],
        "last_year_kwh": [_r(before.get((d - shift).isoformat())) for d in dates],
    }


def _add_months(first: dt.date, months: int) -> dt.date:
    index = first.year * 12 + first.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def _monthly(store: MeterStore, meter_id: str, last: dt.date, months: int) -> dict[str, Any]:
    first = _add_months(last.replace(day=1), -(months - 1))
    year_ago = _add_months(first, -12)
    year_ago_end = _add_months(last.replace(day=1), -11) - dt.timedelta(days=1)
    now = {p.label: p.energy_kwh for p in usage(store, meter_id, "month", start=first, end=last)}
    before = {
        p.label: p.energy_kwh
        for p in usage(store, meter_id, "month", start=year_ago, end=year_ago_end)
    }
    labels = [_add_months(first, i).strftime("%Y-%m") for i in range(months)]
    ago = [_add_months(year_ago, i).strftime("%Y-%m") for i in range(months)]
    return {
        "months": labels,
        "energy_kwh": [_r(now.get(m), 2) for m in labels],
        "last_year_months": ago,
        "last_year_kwh": [_r(before.get(m), 2) for m in ago],
        "partial_last": True,
    }


def _bill(store: MeterStore, result: MeterBill) -> dict[str, Any]:
    out: dict[str, Any] = {
        "cycle": {
            "label": result.cycle.label,
            "start": result.cycle.start.isoformat(),
            "end": result.cycle.end.isoformat(),
            "days": result.cycle.days,
        },
        "contract": result.contract,
        "complete": result.complete,
        "as_of": result.as_of.isoformat(),
        "energy_kwh": _r(result.energy_kwh, 2),
        "total_won": result.bill.total_won,
        "tier": None,
        "boundaries_kwh": [],
        "next_boundary_kwh": None,
        "marginal_won_per_kwh": None,
        "forecast": None,
        "crossings": [c.to_dict() for c in result.crossings],
        "next_crossing": None,
        "path": None,
        "notes": list(result.notes),
    }
    if result.tier is not None:
        out["tier"] = result.tier.tier
        out["boundaries_kwh"] = [float(b) for b in result.tier.boundaries_kwh]
        nxt = result.tier.next_boundary_kwh
        out["next_boundary_kwh"] = None if nxt is None else float(nxt)
        out["marginal_won_per_kwh"] = float(result.tier.marginal_won_per_kwh)
    if result.crossings:
        first = result.crossings[0]
        out["next_crossing"] = {
            "boundary_kwh": float(first.boundary_kwh),
            "date_p50": None if first.date_p50 is None else first.date_p50.isoformat(),
            "date_p90": None if first.date_p90 is None else first.date_p90.isoformat(),
        }
    if result.forecast is not None:
        energy = result.forecast.energy
        out["forecast"] = {
            "p10_kwh": _r(energy.p10_kwh, 2),
            "p50_kwh": _r(energy.p50_kwh, 2),
            "p90_kwh": _r(energy.p90_kwh, 2),
            "total_won": {k: b.total_won for k, b in result.forecast.bills.items()},
            "days_remaining": energy.days_remaining,
            "method": energy.method,
        }
        daily = energy.daily
        measured = daily["energy_kwh"].where(daily["status"] == "observed")
        cumulative = daily[["p10_kwh", "p50_kwh", "p90_kwh"]].cumsum()
        actual = measured.fillna(0.0).cumsum().where(daily["status"] == "observed")
        out["path"] = {
            "dates": [d.isoformat() for d in daily.index],
            "actual_kwh": [_r(v, 2) for v in actual],
            **{
                f"{q}_kwh": [_r(v, 2) for v in cumulative[f"{q}_kwh"]]
                for q in ("p10", "p50", "p90")
            },
        }
    else:
        cycle = result.cycle
        end = min(cycle.end, result.as_of - dt.timedelta(days=1))
        measured_kwh = {
            p.label: p.energy_kwh
            for p in usage(store, result.meter_id, "day", start=cycle.start, end=end)
        }
        dates = [cycle.start + dt.timedelta(days=i) for i in range(cycle.days)]
        total, running = 0.0, []
        for day in dates:
            total += measured_kwh.get(day.isoformat(), 0.0)
            running.append(_r(total, 2) if day <= end else None)
        out["path"] = {"dates": [d.isoformat() for d in dates], "actual_kwh": running}
    return out


def _forecast_vs_actual(
    store: MeterStore,
    meter: Meter,
    today: dt.date,
    resolution_s: int,
    actual_kw: Sequence[float | None],
) -> dict[str, Any]:
    zone = ZoneInfo(meter.timezone)
    origin = dt.datetime.combine(today, dt.time(), zone)
    result = forecast_meter(
        store,
        meter.meter_id,
        as_of=origin,
        horizon="48h",
        model=FORECAST_MODEL,
        train_days=FORECAST_TRAIN_DAYS,
    )
    frame = result.forecast
    seconds = (frame["ts"] - pd.Timestamp(origin)).dt.total_seconds()
    step = (seconds // resolution_s).astype("int64")
    sums = frame.groupby(step.to_numpy())[["p10_kwh", "p50_kwh", "p90_kwh"]].sum()
    steps = 2 * 86_400 // resolution_s
    sums = sums.reindex(range(steps))
    hours = resolution_s / 3600
    actual = list(actual_kw) + [None] * (steps - len(actual_kw))
    errors = [
        (a, p / hours, lo / hours, hi / hours)
        for a, p, lo, hi in zip(
            actual, sums["p50_kwh"], sums["p10_kwh"], sums["p90_kwh"], strict=True
        )
        if a is not None and not math.isnan(p)
    ]
    mae = sum(abs(a - p) for a, p, _, _ in errors) / len(errors) if errors else None
    mean = sum(a for a, _, _, _ in errors) / len(errors) if errors else None
    # Compared at the precision shown (actual power is rounded to 3 decimals).
    inside = sum(round(lo, 3) <= a <= round(hi, 3) for a, _, lo, hi in errors)
    times = [origin + dt.timedelta(seconds=i * resolution_s) for i in range(steps)]
    return {
        "model": result.model,
        "as_of": result.as_of.isoformat(),
        "resolution_s": resolution_s,
        "ts": [t.strftime("%Y-%m-%dT%H:%M") for t in times],
        "actual_kw": actual,
        **{f"{q}_kw": [_r(v / hours) for v in sums[f"{q}_kwh"]] for q in ("p10", "p50", "p90")},
        "mae_kw": _r(mae),
        "nmae_pct": _r(100 * mae / mean, 1) if mae is not None and mean else None,
        "coverage_pct": _r(100 * inside / len(errors), 1) if errors else None,
        "compared": len(errors),
    }


def _quality(store: MeterStore, meter_id: str, *, shown: int = 0) -> dict[str, Any]:
    issues = meter_quality(store, meter_id)
    counts = Counter(i.code for i in issues)
    out: dict[str, Any] = {
        "status": "warning" if issues else "ok",
        "total": len(issues),
        "counts": dict(sorted(counts.items())),
    }
    if shown:
        recent = sorted(issues, key=lambda i: i.start, reverse=True)[:shown]
        out["recent"] = [
            {"code": i.code, "start": i.start.isoformat(), "message": i.message} for i in recent
        ]
    return out


def meter_dashboard(store: MeterStore, meter_id: str) -> dict[str, Any]:
    """Return everything the dashboard shows of one meter, aggregated and JSON-ready.

    Parameters
    ----------
    store : MeterStore
        Where the meter and its readings are.
    meter_id : str
        Meter.

    Returns
    -------
    dict
        ``meter`` (id, name, site, zone, interval [s], contract), ``today``
        (``date``: local date of the last reading; ``last_reading``; power
        per step of today and yesterday [kW]; energy [kWh]), ``daily`` (last
        30 days and the same weekdays 52 weeks before [kWh]), ``monthly``
        (last 12 months and the 12 before [kWh]), ``compare`` (month to date
        against the previous month and last year, see
        :func:`~bitgoeul.services.usage.compare_usage`), ``bill`` (cycle so far
        [won, kWh], P10/P50/P90, tier boundaries [kWh], next crossing,
        cumulative path), ``standby`` (power [W]), ``forecast`` (day-ahead
        P10/P50/P90 against actual [kW], MAE), ``quality`` (status, counts by
        code, latest findings) and ``unavailable`` (section -> reason, for
        sections that could not be computed, e.g. a contract without tariff
        data or too little history to forecast). Without readings only
        ``meter``, ``quality`` and ``unavailable`` are filled.

    Examples
    --------
    >>> import pandas as pd
    >>> from bitgoeul.services import MeterDefaults, ingest_frame
    >>> from bitgoeul.store import open_store
    >>> store = open_store(":memory:")
    >>> ts = pd.date_range("2026-10-01", periods=24 * 40, freq="h", tz="Asia/Seoul")
    >>> frame = pd.DataFrame({"meter_id": "m1", "ts": ts, "energy_kwh": 0.5})
    >>> _ = ingest_frame(frame, store, defaults=MeterDefaults(contract_class="residential-low"))
    >>> board = meter_dashboard(store, "m1")
    >>> board["today"]["date"], board["today"]["energy_kwh"], board["bill"]["cycle"]["label"]
    ('2026-11-09', 12.0, '2026-12')
    """
    summary = _summary(store, meter_id)
    meter = summary.meter
    resolution_s = curve_resolution_s(meter.interval_s)
    board: dict[str, Any] = {
        "meter": {
            "meter_id": meter.meter_id,
            "name": meter.name,
            "site_id": meter.site_id,
            "timezone": meter.timezone,
            "interval_s": meter.interval_s,
            "contract_class": meter.contract_class,
            "reading_day": meter.reading_day,
            "readings": summary.reading_count,
        },
        "today": None,
        "daily": None,
        "monthly": None,
        "compare": None,
        "bill": None,
        "standby": None,
        "forecast": None,
        "quality": _quality(store, meter_id, shown=QUALITY_SHOWN),
        "unavailable": {},
    }
    unavailable: dict[str, str] = board["unavailable"]
    if summary.last_ts is None or summary.first_ts is None:
        unavailable["today"] = "the meter holds no readings yet"
        return board
    zone = ZoneInfo(meter.timezone)
    last_local = summary.last_ts.astimezone(zone)
    today = last_local.date()
    yesterday = today - dt.timedelta(days=1)
    today_kw = _power_curve_kw(store, meter, today, resolution_s)
    yesterday_kw = _power_curve_kw(store, meter, yesterday, resolution_s)
    day_kwh = _days_kwh(store, meter_id, yesterday, today)
    board["today"] = {
        "date": today.isoformat(),
        "last_reading": last_local.isoformat(),
        "first_reading": summary.first_ts.astimezone(zone).isoformat(),
        "resolution_s": resolution_s,
        "steps": _step_labels(resolution_s),
        "today_kw": today_kw,
        "yesterday_kw": yesterday_kw,
        "energy_kwh": day_kwh[today],
        "yesterday_kwh": day_kwh[yesterday],
        "peak_kw": max((v for v in today_kw if v is not None), default=None),
    }
    # a meter that reads less often than daily (monthly bins) has no daily chart
    sections: dict[str, Callable[[], dict[str, Any]]] = {
        "daily": partial(_daily, store, meter_id, today, DAILY_DAYS),
        "monthly": partial(_monthly, store, meter_id, today, MONTHLY_MONTHS),
        "compare": partial(compare_usage, store, meter_id, "month", on=today),
    }
    for section, build in sections.items():
        try:
            board[section] = build()
        except ValueError as exc:
            unavailable[section] = str(exc)
    if meter.contract_class is None:
        # Billing a grid-scale or unknown meter as a household gives absurd bills.
        unavailable["bill"] = (
            "no KEPCO contract is set for this meter: register it with a contract_class"
        )
    else:
        try:
            board["bill"] = _bill(store, bill_meter(store, meter_id))
        except (BitgoeulError, ValueError) as exc:
            unavailable["bill"] = str(exc)
    estimate = meter_standby(store, meter_id)
    if estimate is None:
        unavailable["standby"] = "too few usable days in the last month (needs 7)"
    else:
        board["standby"] = {
            "power_w": _r(estimate.power_w, 1),
            "method": estimate.method,
            "days_used": estimate.days_used,
        }
    try:
        board["forecast"] = _forecast_vs_actual(store, meter, today, resolution_s, today_kw)
    except (BitgoeulError, ValueError) as exc:
        unavailable["forecast"] = str(exc)
    return board


def fleet_row(
    store: MeterStore, meter_id: str, *, summary: MeterSummary | None = None
) -> dict[str, Any]:
    """Return one meter's line of the fleet table.

    Parameters
    ----------
    store : MeterStore
        Where the meter is.
    meter_id : str
        Meter.
    summary : MeterSummary, optional
        The meter's summary when the caller has it already (saves a scan).

    Returns
    -------
    dict
        ``meter_id``, ``name``, ``site_id``, ``interval_s`` [s], ``readings``
        [count], ``last_reading`` (local ISO time), ``today`` (local date of
        the last reading), ``today_kwh`` and ``month_kwh`` (that day's and
        its month's energy to date [kWh]) and ``quality`` (status 'ok' or
        'warning', total and counts by code).
    """
    summary = summary or _summary(store, meter_id)
    meter = summary.meter
    row: dict[str, Any] = {
        "meter_id": meter.meter_id,
        "name": meter.name,
        "site_id": meter.site_id,
        "interval_s": meter.interval_s,
        "readings": summary.reading_count,
        "last_reading": None,
        "today": None,
        "today_kwh": None,
        "month_kwh": None,
        "quality": _quality(store, meter_id),
    }
    if summary.last_ts is None:
        return row
    last_local = summary.last_ts.astimezone(ZoneInfo(meter.timezone))
    today = last_local.date()
    day = usage(store, meter_id, "day", start=today, end=today)
    month = usage(store, meter_id, "day", start=today.replace(day=1), end=today)
    row.update(
        last_reading=last_local.isoformat(),
        today=today.isoformat(),
        today_kwh=_r(sum(p.energy_kwh for p in day)),
        month_kwh=_r(sum(p.energy_kwh for p in month), 2),
    )
    return row
