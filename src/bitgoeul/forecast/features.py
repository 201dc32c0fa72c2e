"""Origin-relative features of the direct multi-horizon models.

A training or forecast *row* is a pair (origin ``o``, lead ``h``): the target
is the interval at position ``p = o + h - 1`` (lead 1 is the interval that
starts at the origin). Every feature of a row reads only positions before
``o`` -- lags are taken at whole days or weeks back from the target, as many
as it takes to land before the origin -- so one model predicts any lead
``1 .. max_horizon`` without recursion, and nothing after the origin leaks in.

Energy features are divided by the row's *level*: the mean of the last
``LEVEL_WINDOW_D`` days' worth of measured intervals before the origin
(reaching back over gaps and masked readings). The target is divided by the
same level, so one model serves a 100 kWh/h building and a 0.5 kWh/h
household; predictions are multiplied back.

========================  =============================================================
feature                   meaning (energy features divided by the level)
========================  =============================================================
``lead``                  ``h``, intervals after the origin (1 = the first)
``hour``                  local time of day of the target's start [h]
``day_of_week``           0 Monday .. 6 Sunday (local)
``month``                 1 .. 12
``is_holiday``            the target's local date is a public holiday (Seollal and
                          Chuseok, lunar, included; from the ``holidays`` package)
``holiday_prev_day``      the day before it is a public holiday
``holiday_next_day``      the day after it is a public holiday
``bridge_day``            a working day between two days off (징검다리 휴일)
``day_type``              0 weekday, 1 Saturday, 2 Sunday or public holiday
``lag_day``               the same time ``k`` days before the target, ``k >= 1`` the
                          smallest that lands before the origin (seasonal naive, day)
``lag_day_same_type``     1 if that day has the target's day type, else 0
``lag_week``              the same time ``k`` weeks before (seasonal naive, week)
``lag_week2``             one week before ``lag_week``
``same_type_last``        the same time on the last day of the target's day type
``same_type_mean3``       mean of the same time on the last 3 days of its day type
``same_hour_mean7``       mean of the same time on the 7 days from ``lag_day`` back
                          (the persistence ensemble)
``same_hour_std7``        their standard deviation
``same_hour_mean28``      mean of the same time on the 28 days from ``lag_day`` back
``same_hour_q75_28``      upper quartile of those 28 values (how high the hour runs)
``week_profile4``         mean of the same time of week over 4 weeks from ``lag_week``
``last``                  the last interval before the origin
``mean_1d``               mean of the day before the origin
``mean_28d``              mean of the 28 days before the origin (trend against the level)
``level_log10``           log10 of the level [log10 kWh per interval]: the kind of meter
``temp_last_c``           air temperature of the last interval before the origin [°C]
``temp_mean_1d_c``        mean air temperature of the day before the origin [°C]
``temp_mean_7d_c``        mean air temperature of the week before the origin [°C]
``temp_lag_day_c``        air temperature at ``lag_day``'s interval [°C]
========================  =============================================================

Missing inputs (gaps, masked readings, no temperature column) are NaN; the
gradient-boosted trees route them by the split's learned default direction.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from bitgoeul.forecast.series import GridCalendar, MeterGrid, steps_per_day

__all__ = [
    "BASE_FEATURES",
    "FEATURE_NAMES",
    "LEVEL_WINDOW_D",
    "RowFeatures",
    "build_features",
    "gather",
    "recent_level",
    "window_mean",
    "zero_regime",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

FEATURE_NAMES: tuple[str, ...] = (
    "lead",
    "hour",
    "day_of_week",
    "month",
    "is_holiday",
    "holiday_prev_day",
    "holiday_next_day",
    "bridge_day",
    "day_type",
    "lag_day",
    "lag_day_same_type",
    "lag_week",
    "lag_week2",
    "same_type_last",
    "same_type_mean3",
    "same_hour_mean7",
    "same_hour_std7",
    "same_hour_mean28",
    "same_hour_q75_28",
    "week_profile4",
    "last",
    "mean_1d",
    "mean_28d",
    "level_log10",
    "temp_last_c",
    "temp_mean_1d_c",
    "temp_mean_7d_c",
    "temp_lag_day_c",
)
"""Names and column order of the feature matrix (the model file records them)."""

BASE_FEATURES: tuple[str, ...] = tuple(
    name
    for name in FEATURE_NAMES[FEATURE_NAMES.index("lag_day") : FEATURE_NAMES.index("mean_28d") + 1]
    if name not in ("lag_day_same_type", "same_hour_std7")  # a flag and a spread
)
"""Features that are a simple forecast of the scaled target themselves (seasonal naive values,
same-hour means, recent means, all divided by the level): what a booster may start from
(``LightGBMForecaster(base=...)``)."""

LEVEL_WINDOW_D = 7
"""Days' worth of measured intervals the level (scale) of a row rests on [d]."""

CONTEXT_D = 36
"""Calendar days before an origin the features read at most (level aside) [d]."""

_SAME_TYPE_SEARCH_D = 14


class RowFeatures:
    """Feature matrix of (origin, lead) rows of one meter.

    Attributes
    ----------
    x : numpy.ndarray
        ``(rows, len(FEATURE_NAMES))`` float64.
    origin : numpy.ndarray
        Origin position of each row.
    lead : numpy.ndarray
        Lead of each row (1 = the interval starting at the origin).
    target : numpy.ndarray
        Target position ``origin + lead - 1``.
    level : numpy.ndarray
        Level of each row's origin [kWh per interval] (NaN when unknown).
    """

    __slots__ = ("lead", "level", "origin", "target", "x")

    def __init__(
        self, x: FloatArray, origin: IntArray, lead: IntArray, target: IntArray, level: FloatArray
    ) -> None:
        self.x = x
        self.origin = origin
        self.lead = lead
        self.target = target
        self.level = level


def gather(values: FloatArray, idx: IntArray) -> FloatArray:
    """Return ``values[idx]`` with NaN where ``idx`` is outside the array.

    Examples
    --------
    >>> gather(np.array([1.0, 2.0]), np.array([-1, 0, 1, 2])).tolist()
    [nan, 1.0, 2.0, nan]
    """
    ok = (idx >= 0) & (idx < values.size)
    out = np.full(idx.shape, np.nan)
    out[ok] = values[idx[ok]]
    return out


def window_mean(values: FloatArray, origins: IntArray, width: int) -> FloatArray:
    """Mean of the measured values at positions ``[o - width, o)`` for each origin ``o``.

    NaN where the window holds no measured value.

    Examples
    --------
    >>> window_mean(np.array([1.0, np.nan, 3.0, 5.0]), np.array([1, 3, 4]), 2).tolist()
    [1.0, 3.0, 4.0]
    """
    valid = ~np.isnan(values)
    sums = np.concatenate([[0.0], np.cumsum(np.where(valid, values, 0.0))])
    counts = np.concatenate([[0], np.cumsum(valid)])
    hi = np.clip(origins, 0, values.size)
    lo = np.clip(origins - width, 0, values.size)
    n = counts[hi] - counts[lo]
    total = sums[hi] - sums[lo]
    out: FloatArray = np.divide(total, n, out=np.full(origins.shape, np.nan), where=n > 0)
    return out


def recent_level(
    values: FloatArray, origins: IntArray, *, window: int, min_count: int
) -> FloatArray:
    """Mean of the last ``window`` measured values before each origin [unit of values].

    Reaches back over gaps; NaN when fewer than ``min_count`` values were
    measured before the origin.

    Examples
    --------
    >>> v = np.array([2.0, np.nan, 4.0, 6.0])
    >>> recent_level(v, np.array([1, 3, 4]), window=2, min_count=2).tolist()
    [nan, 3.0, 5.0]
    """
    pos = np.flatnonzero(~np.isnan(values))
    sums = np.concatenate([[0.0], np.cumsum(values[pos])])
    n_before = np.searchsorted(pos, origins)
    lo = np.maximum(n_before - window, 0)
    n = n_before - lo
    level = (sums[n_before] - sums[lo]) / np.maximum(n, 1)
    return np.where(n >= min_count, level, np.nan)


def zero_regime(raw: FloatArray, origins: IntArray, width: int) -> BoolArray:
    """Return True where all ``width`` intervals before the origin were read as exactly zero.

    Examples
    --------
    >>> zero_regime(np.array([1.0, 0.0, 0.0, 0.0]), np.array([3, 4]), 3).tolist()
    [False, True]
    """
    zero = raw == 0.0
    counts = np.concatenate([[0], np.cumsum(zero)])
    hi = np.clip(origins, 0, raw.size)
    lo = np.clip(origins - width, 0, raw.size)
    ok = (origins - width) >= 0
    result: BoolArray = ok & ((counts[hi] - counts[lo]) == width)
    return result


def _sorted_quantile(rows: FloatArray, count: IntArray, q: float) -> FloatArray:
    """``q``-quantile (linear) of each row's first ``count`` values (sorted, NaN after them)."""
    pos = q * np.maximum(count - 1, 0)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, np.maximum(count - 1, 0))
    index = np.arange(rows.shape[0])
    a, b = rows[index, lo], rows[index, hi]
    out: FloatArray = np.where(count > 0, a + (b - a) * (pos - lo), np.nan)
    return out


def build_features(
    grid: MeterGrid,
    calendar: GridCalendar,
    origins: IntArray,
    leads: IntArray,
) -> RowFeatures:
    """Return the features of every (origin, lead) pair of one meter.

    Parameters
    ----------
    grid : MeterGrid
        The meter's readings (masked readings already NaN).
    calendar : GridCalendar
        Local calendar of the grid's positions.
    origins : numpy.ndarray
        Origin positions (int).
    leads : numpy.ndarray
        Leads (int >= 1); every origin gets every lead.

    Returns
    -------
    RowFeatures
        Rows ordered by origin, then lead.

    Examples
    --------
    >>> import pandas as pd
    >>> from bitgoeul.forecast.series import grid_calendar, to_grids
    >>> ts = pd.date_range("2025-01-01", periods=24 * 21, freq="h", tz="UTC")
    >>> h = pd.DataFrame({"meter_id": "m", "ts": ts, "energy_kwh": 2.0})
    >>> g = to_grids(h, as_of=ts[-1] + pd.Timedelta("1h"), interval_s=3600,
    ...              lookback_s=10**8, horizon=24)["m"]
    >>> cal = grid_calendar(g.start, g.energy_kwh.size, 3600, timezone="UTC", country=None)
    >>> rows = build_features(g, cal, np.array([g.origin]), np.arange(1, 25))
    >>> rows.x.shape, float(rows.level[0]), float(rows.x[0, FEATURE_NAMES.index("lag_day")])
    ((24, 28), 2.0, 1.0)
    """
    y = grid.energy_kwh
    d = steps_per_day(grid.interval_s)
    w = 7 * d
    n_o, n_l = origins.size, leads.size
    o = np.repeat(origins.astype(np.int64), n_l)
    h = np.tile(leads.astype(np.int64), n_o)
    p = o + h - 1
    level_o = recent_level(y, origins, window=LEVEL_WINDOW_D * d, min_count=d)
    level = np.repeat(level_o, n_l)
    inv = np.divide(1.0, level, out=np.full(level.shape, np.nan), where=level > 0)

    day_type = calendar.day_type
    target_type = gather(day_type.astype(np.float64), p)
    k_d = (h - 1) // d + 1
    k_w = (h - 1) // w + 1
    lag_day_pos = p - k_d * d
    lag_week_pos = p - k_w * w

    # persistence ensemble: the 7 days from lag_day back
    same_hour = np.stack([gather(y, lag_day_pos - j * d) for j in range(7)], axis=1)
    count7 = np.count_nonzero(~np.isnan(same_hour), axis=1)
    filled = np.where(np.isnan(same_hour), 0.0, same_hour)
    mean7 = np.divide(filled.sum(axis=1), count7, out=np.full(p.shape, np.nan), where=count7 > 0)
    sq = np.where(np.isnan(same_hour), 0.0, (same_hour - mean7[:, None]) ** 2)
    std7 = np.sqrt(
        np.divide(sq.sum(axis=1), count7, out=np.full(p.shape, np.nan), where=count7 > 1)
    )

    month = np.sort(np.stack([gather(y, lag_day_pos - j * d) for j in range(28)], axis=1), axis=1)
    count28 = np.count_nonzero(~np.isnan(month), axis=1)  # measured values, sorted first
    mean28 = np.divide(
        np.where(np.isnan(month), 0.0, month).sum(axis=1),
        count28,
        out=np.full(p.shape, np.nan),
        where=count28 > 0,
    )
    q75_28 = _sorted_quantile(month, count28, 0.75)

    weeks = np.stack([gather(y, lag_week_pos - j * w) for j in range(4)], axis=1)
    count4 = np.count_nonzero(~np.isnan(weeks), axis=1)
    week_profile = np.divide(
        np.where(np.isnan(weeks), 0.0, weeks).sum(axis=1),
        count4,
        out=np.full(p.shape, np.nan),
        where=count4 > 0,
    )

    # the same time on the last days of the target's day type
    found = np.zeros(p.shape, dtype=np.int64)
    same_sum = np.zeros(p.shape)
    same_last = np.full(p.shape, np.nan)
    for j in range(_SAME_TYPE_SEARCH_D):
        pos = lag_day_pos - j * d
        value = gather(y, pos)
        match = (gather(day_type.astype(np.float64), pos) == target_type) & ~np.isnan(value)
        take = match & (found < 3)
        same_last = np.where(take & (found == 0), value, same_last)
        same_sum = np.where(take, same_sum + np.where(take, value, 0.0), same_sum)
        found = found + take
    same_mean = np.divide(same_sum, found, out=np.full(p.shape, np.nan), where=found > 0)

    last = np.repeat(gather(y, origins - 1), n_l)
    mean_1d = np.repeat(window_mean(y, origins, d), n_l)
    mean_28d = np.repeat(window_mean(y, origins, 28 * d), n_l)

    if grid.temp_c is not None:
        t = grid.temp_c
        temp_last = np.repeat(gather(t, origins - 1), n_l)
        temp_1d = np.repeat(window_mean(t, origins, d), n_l)
        temp_7d = np.repeat(window_mean(t, origins, w), n_l)
        temp_lag = gather(t, lag_day_pos)
    else:
        missing: FloatArray = np.full(p.shape, np.nan, dtype=np.float64)
        temp_last = temp_1d = temp_7d = temp_lag = missing

    def cal(values: npt.NDArray[np.generic]) -> FloatArray:
        return gather(values.astype(np.float64), p)

    columns: dict[str, FloatArray] = {
        "lead": h.astype(np.float64),
        "hour": cal(calendar.hour),
        "day_of_week": cal(calendar.day_of_week),
        "month": cal(calendar.month),
        "is_holiday": cal(calendar.is_holiday),
        "holiday_prev_day": cal(calendar.holiday_prev_day),
        "holiday_next_day": cal(calendar.holiday_next_day),
        "bridge_day": cal(calendar.bridge_day),
        "day_type": target_type,
        "lag_day": gather(y, lag_day_pos) * inv,
        "lag_day_same_type": (
            gather(day_type.astype(np.float64), lag_day_pos) == target_type
        ).astype(np.float64),
        "lag_week": gather(y, lag_week_pos) * inv,
        "lag_week2": gather(y, lag_week_pos - w) * inv,
        "same_type_last": same_last * inv,
        "same_type_mean3": same_mean * inv,
        "same_hour_mean7": mean7 * inv,
        "same_hour_std7": std7 * inv,
        "same_hour_mean28": mean28 * inv,
        "same_hour_q75_28": q75_28 * inv,
        "week_profile4": week_profile * inv,
        "last": last * inv,
        "mean_1d": mean_1d * inv,
        "mean_28d": mean_28d * inv,
        "level_log10": np.log10(np.where(level > 0, level, np.nan)),
        "temp_last_c": temp_last,
        "temp_mean_1d_c": temp_1d,
        "temp_mean_7d_c": temp_7d,
        "temp_lag_day_c": temp_lag,
    }
    x = np.column_stack([columns[name] for name in FEATURE_NAMES])
    return RowFeatures(x, o, h, p, level)
