"""Always-on (standby) power: the floor a home or building never goes below.

Two estimators, both returning a :class:`StandbyEstimate`:

:func:`standby_enertalk`
    ENERTALK's (Encored Technologies) published always-on method, for
    comparison with that app: over the month of 15-minute data before a base
    time, ignoring zero readings and requiring at least seven days' worth
    (96 x 7) of non-zero readings, the mean over local days of each day's
    minimum 15-minute energy. Source: the ``minimumDailyUsageFilter`` of
    Encored's "[Experimental] 'Always on' calculator based on 15 minute data",
    github.com/encoredincubator/enertalk-alwayson-calculator (``index.js``:
    ``pickItems`` keeps ``usage > 0``; fewer than ``96 * 7`` items give no
    result; the default filter "calculates an average of minimum usages of
    each day"), listed in ``docs/peers.md`` §1C ("experimental always-on
    calculator (mean of daily minima on 15-min data) [ET alwayson]").
:func:`standby_power`
    Bitgoeul's default, robust to glitches (see its docstring).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from bitgoeul.analytics.quality import check_interval_s, check_readings, infer_interval_s
from bitgoeul.model import DataIssue, check_timezone

__all__ = ["StandbyEstimate", "standby_enertalk", "standby_power"]

_QUARTER_S = 900
_ENERTALK_MIN_READINGS = 96 * 7


@dataclass(frozen=True, slots=True)
class StandbyEstimate:
    """An always-on power estimate.

    Parameters
    ----------
    power_w : float
        Always-on power [W].
    method : str
        'enertalk' or 'robust'.
    days_used : int
        Local days that contributed.
    window_start, window_end : datetime.datetime
        UTC span from the first to the end of the last reading in the window
        (``window_end`` exclusive).
    detail : dict
        Method parameters and intermediate values, e.g. ``interval_s``,
        ``daily_w`` (ISO date -> that day's value [W]).
    """

    power_w: float
    method: str
    days_used: int
    window_start: dt.datetime
    window_end: dt.datetime
    detail: dict[str, Any] = field(default_factory=dict)


def _prepare(
    frame: pd.DataFrame, timezone: str, interval_s: int | None
) -> tuple[pd.DataFrame, int, str]:
    zone = check_timezone(timezone)
    readings = check_readings(frame)
    readings = readings[readings["energy_kwh"].notna()].reset_index(drop=True)
    if interval_s is None:
        # One reading cannot show its interval; step 0 makes the callers return None.
        step = infer_interval_s(readings) if readings["ts"].nunique() > 1 else 0
    else:
        step = check_interval_s(interval_s)
    return readings, step, zone


def _end_of(readings: pd.DataFrame, step: int, now: dt.datetime | None) -> pd.Timestamp:
    if now is None:
        return pd.Timestamp(readings["ts"].iloc[-1]) + pd.Timedelta(seconds=step)
    stamp = pd.Timestamp(now)
    if stamp.tzinfo is None:
        raise ValueError(f"now must be timezone-aware, got {now!r}")
    return stamp.tz_convert("UTC")


def _utc(stamp: pd.Timestamp) -> dt.datetime:
    return stamp.tz_convert("UTC").to_pydatetime()


def standby_enertalk(
    frame: pd.DataFrame,
    *,
    timezone: str,
    now: dt.datetime | None = None,
    interval_s: int | None = None,
) -> StandbyEstimate | None:
    """Estimate always-on power with ENERTALK's mean-of-daily-minima method.

    Parameters
    ----------
    frame : pandas.DataFrame
        Readings of one meter: ``ts`` (timezone-aware, interval start) and
        ``energy_kwh`` [kWh per interval], 15-minute or finer.
    timezone : str
        Meter's IANA zone; days are local days.
    now : datetime.datetime, optional
        Timezone-aware base time; the window is the calendar month before it
        (local time; 31 March -> 28/29 February). Default: the end of the last
        reading.
    interval_s : int, optional
        Nominal interval [s]; inferred from the timestamps when omitted.
        Finer data (a divisor of 900) are summed into complete 15-minute
        buckets first.

    Returns
    -------
    StandbyEstimate or None
        ``power_w`` = mean of the daily minimum 15-minute energy [kWh] x 4000;
        None when the window holds fewer than 96 x 7 non-zero 15-minute
        readings (ENERTALK returns 0 then). ``window_start``/``window_end``
        span the readings used, as ENERTALK reports them.

    Raises
    ------
    ValueError
        For data coarser than 15 minutes: the method is defined on 15-minute
        minima, and an hourly minimum is an average over four quarter hours
        that hides the lowest ones; use :func:`standby_power`.

    Notes
    -----
    Differences from the JavaScript: no rounding (it rounds the mean to two
    decimals of its usage unit); every local day's minimum counts (its loop
    drops the last day when that day's last reading is the day's minimum).

    Examples
    --------
    >>> import pandas as pd
    >>> ts = pd.date_range("2025-08-01", periods=96 * 8, freq="15min", tz="Asia/Seoul")
    >>> frame = pd.DataFrame({"ts": ts.tz_convert("UTC"), "energy_kwh": 0.05})
    >>> round(standby_enertalk(frame, timezone="Asia/Seoul").power_w, 6)
    200.0
    """
    readings, step, zone = _prepare(frame, timezone, interval_s)
    if readings.empty or step == 0:
        return None
    if step > _QUARTER_S:
        raise ValueError(
            f"ENERTALK's always-on method needs 15-minute data, but these readings are every "
            f"{step} s: an interval longer than 15 minutes averages the lowest quarter hours "
            "away; use standby_power(), which handles 30-minute and hourly data"
        )
    if readings.empty:
        return None
    if step < _QUARTER_S:
        if _QUARTER_S % step != 0:
            raise ValueError(
                f"interval_s={step} does not divide 15 minutes; resample to 15-minute data first"
            )
        bucket = readings["ts"].dt.floor(f"{_QUARTER_S}s")
        grouped = readings.groupby(bucket)["energy_kwh"]
        sums = grouped.sum()[grouped.count() == _QUARTER_S // step]
        readings = pd.DataFrame({"ts": sums.index, "energy_kwh": sums.to_numpy()})
    end = _end_of(readings, _QUARTER_S, now)
    start = (end.tz_convert(zone) - pd.DateOffset(months=1)).tz_convert("UTC")
    window = readings[(readings["ts"] >= start) & (readings["ts"] < end)]
    items = window[window["energy_kwh"] > 0]
    if len(items) < _ENERTALK_MIN_READINGS:
        return None
    dates = items["ts"].dt.tz_convert(zone).dt.date
    daily_min = items.groupby(dates)["energy_kwh"].min()
    power_w = float(daily_min.mean()) * 4000.0
    first = pd.Timestamp(items["ts"].iloc[0])
    last = pd.Timestamp(items["ts"].iloc[-1]) + pd.Timedelta(seconds=_QUARTER_S)
    return StandbyEstimate(
        power_w=power_w,
        method="enertalk",
        days_used=len(daily_min),
        window_start=_utc(first),
        window_end=_utc(last),
        detail={
            "interval_s": _QUARTER_S,
            "readings_used": len(items),
            "daily_w": {str(d): float(v) * 4000.0 for d, v in daily_min.items()},
        },
    )


def _mask_issues(ts: pd.Series, issues: Sequence[DataIssue]) -> np.ndarray[Any, np.dtype[np.bool_]]:
    flagged = np.zeros(len(ts), dtype=bool)
    for issue in issues:
        lo = pd.Timestamp(issue.start).tz_convert("UTC")
        hi = pd.Timestamp(issue.end).tz_convert("UTC")
        flagged |= ((ts >= lo) & (ts < hi)).to_numpy()
    return flagged


def standby_power(
    frame: pd.DataFrame,
    *,
    timezone: str,
    now: dt.datetime | None = None,
    interval_s: int | None = None,
    window_days: int = 30,
    quantile: float = 0.05,
    smoothing: int = 3,
    min_days: int = 7,
    min_coverage: float = 0.5,
    exclude: Sequence[DataIssue] = (),
) -> StandbyEstimate | None:
    """Estimate always-on power robustly from 15-minute, 30-minute or hourly readings.

    The method, for the ``window_days`` local days before ``now``:

    1. Turn each reading into average power [W] and drop NaN, zero and
       negative readings (outages, export) and readings inside the ranges of
       ``exclude`` (e.g. the spikes and stuck values that
       :func:`bitgoeul.analytics.quality.find_data_issues` found).
    2. Smooth with a centred running median of ``smoothing`` consecutive
       readings (3 by default) inside runs of contiguous readings; readings
       without a full neighbourhood (the edges of gaps and outages, often
       partial intervals) are dropped.
    3. For each local day with at least ``min_coverage`` of its intervals
       left, take the ``quantile`` (5 %) of that day's smoothed power: the
       day's floor.
    4. Return the median of the daily floors.

    Why it beats the mean of daily minima (:func:`standby_enertalk`): a
    minimum is decided by the single lowest sample, so one meter glitch, a
    partial interval at the edge of an outage or a dropped CT reading pulls
    that day's minimum towards zero, and the mean passes every such day on.
    Here a lone low sample is removed by the running median, a few more fall
    under the 5 % quantile, and a bad day cannot move the median of days.

    Resolution bias: a reading averages the always-on load with whatever
    cycles within its interval (fridge compressor, boiler pump), so the floor
    of hourly data is at or above the floor of 30-minute data, which is at
    or above that of 15-minute data; with fewer readings a day (24 hourly)
    the quantile also rests on fewer points. Compare estimates only at the
    same resolution.

    Parameters
    ----------
    frame : pandas.DataFrame
        Readings of one meter: ``ts`` (timezone-aware, interval start) and
        ``energy_kwh`` [kWh per interval].
    timezone : str
        Meter's IANA zone; days are local days.
    now : datetime.datetime, optional
        Timezone-aware end of the window (exclusive). Default: the end of the
        last reading.
    interval_s : int, optional
        Nominal interval [s]; inferred from the timestamps when omitted.
    window_days : int, default 30
        Length of the window [d].
    quantile : float, default 0.05
        Quantile of each day's smoothed power taken as its floor [-].
    smoothing : int, default 3
        Length of the running median [readings]; 1 disables smoothing.
    min_days : int, default 7
        Fewest usable days for an estimate [d].
    min_coverage : float, default 0.5
        Share of a day's intervals that must be usable for the day to count [-].
    exclude : sequence of DataIssue, default ()
        Ranges whose readings are ignored.

    Returns
    -------
    StandbyEstimate or None
        ``method='robust'``; None when fewer than ``min_days`` days are usable.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> ts = pd.date_range("2025-08-01", periods=96 * 10, freq="15min", tz="UTC")
    >>> energy = np.full(ts.size, 0.03)      # 120 W always on
    >>> energy[::97] = 0.001                  # one glitch a day
    >>> frame = pd.DataFrame({"ts": ts, "energy_kwh": energy})
    >>> round(standby_power(frame, timezone="UTC").power_w, 6)
    120.0
    >>> round(standby_enertalk(frame, timezone="UTC").power_w, 1)
    4.0
    """
    readings, step, zone = _prepare(frame, timezone, interval_s)
    for name, value, low in (
        ("window_days", window_days, 1),
        ("smoothing", smoothing, 1),
        ("min_days", min_days, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be a whole number >= {low}, got {value!r}")
    if not 0.0 <= quantile <= 1.0:
        raise ValueError(f"quantile must be between 0 and 1, got {quantile!r}")
    if not 0.0 < min_coverage <= 1.0:
        raise ValueError(f"min_coverage must be in (0, 1], got {min_coverage!r}")
    if readings.empty or step == 0:
        return None
    end = _end_of(readings, step, now)
    start = end - pd.Timedelta(days=window_days)
    window = readings[(readings["ts"] >= start) & (readings["ts"] < end)].reset_index(drop=True)
    if window.empty:
        return None
    ts = window["ts"]
    energy = window["energy_kwh"].to_numpy(dtype="float64")
    usable = (energy > 0) & ~_mask_issues(ts, exclude)
    power = pd.Series(np.where(usable, energy * 3.6e6 / step, np.nan))
    # Runs of contiguous readings: the running median never bridges a gap, and a window
    # holding an unusable (NaN) reading has too few values, so its centre is dropped.
    step_ns = pd.Timedelta(seconds=step)
    run_id = pd.Series(np.cumsum((ts.diff() != step_ns).to_numpy()))
    smoothed = power.groupby(run_id).transform(
        lambda s: s.rolling(smoothing, center=True, min_periods=smoothing).median()
    )
    local_dates = ts.dt.tz_convert(zone).dt.date
    per_day = math.ceil(86_400 / step)
    daily: dict[dt.date, float] = {}
    for day, values in smoothed.groupby(local_dates):
        kept = values.dropna()
        if len(kept) >= min_coverage * per_day:
            daily[day] = float(kept.quantile(quantile))
    if len(daily) < min_days:
        return None
    power_w = float(np.median(list(daily.values())))
    return StandbyEstimate(
        power_w=power_w,
        method="robust",
        days_used=len(daily),
        window_start=_utc(pd.Timestamp(ts.iloc[0])),
        window_end=_utc(pd.Timestamp(ts.iloc[-1]) + step_ns),
        detail={
            "interval_s": step,
            "quantile": quantile,
            "smoothing": smoothing,
            "window_days": window_days,
            "days_skipped": int(local_dates.nunique()) - len(daily),
            "daily_w": {d.isoformat(): v for d, v in sorted(daily.items())},
        },
    )
