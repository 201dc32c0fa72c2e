"""Simple baselines: seasonal naive and the BuildingsBench persistence ensemble.

Both are point forecasts copied from the meter's own recent past, with a
band from their own errors (below), so that P10-P90 means something and the
richer models have an honest bar to clear.

:class:`SeasonalNaive`
    The value at the same time one day (``season='day'``) or one week
    (``'week'``) before the target; for leads beyond one season, the most
    recent season before the origin. BuildingsBench calls these
    ``CopyLastDayPersistence`` and ``CopyLastWeekPersistence``.
:class:`PersistenceEnsemble`
    The mean (or median) of the same time of day over the ``days`` most
    recent days before the origin. This is BuildingsBench's
    ``AveragePersistence`` ("persistence ensemble"; NREL/BuildingsBench,
    ``buildings_bench/models/persistence.py``: with a 168-hour context and a
    24-hour target, hour ``i`` is predicted as the mean of the context's
    values ``i, i + 24, ..., i + 144``, i.e. the same hour on each of the
    previous 7 days; Emami et al., "BuildingsBench", NeurIPS 2023 Datasets
    and Benchmarks, arXiv:2307.00142). For leads past the first day the same
    7 days are used.

Band (conformal-style, by lead)
    At prediction time the baseline is replayed from every origin
    ``as_of - k days``, ``k = 1 .. calibration_days``, and compared with the
    measured values *before* ``as_of``. Each error is divided by the level
    of its origin (mean of the last week of measured intervals) so a level
    change does not distort it. For lead ``h``, level ``q`` is the point
    forecast plus today's level times the difference between the
    ``q``-quantile and the median of these scaled errors: the band has the
    shape of the method's own errors and is centred on the point forecast,
    so P50 *is* the textbook forecast and the baseline's scores are the
    method's. With fewer than ``min_calibration`` errors for a lead, the
    errors of all leads are pooled. Values are clipped at 0.

Missing values
    A missing (NaN) source value is replaced by the same time one more season
    back, up to ``max_fallback`` seasons (seasonal naive); the persistence
    ensemble averages the days it has. Nothing measured: NaN.
"""

from __future__ import annotations

import abc
import datetime as dt
from collections.abc import Sequence
from typing import Any, Literal, Self

import numpy as np
import numpy.typing as npt
import pandas as pd

from bitgoeul.errors import NotFittedError
from bitgoeul.forecast.base import (
    DEFAULT_QUANTILES,
    check_as_of,
    check_history,
    check_horizon,
    check_not_before_fit,
    check_quantiles,
    empty_forecast,
    quantile_column,
)
from bitgoeul.forecast.features import LEVEL_WINDOW_D, gather, recent_level
from bitgoeul.forecast.series import (
    MeterGrid,
    infer_history_interval_s,
    steps_per_day,
    to_grids,
)

__all__ = ["PersistenceEnsemble", "SeasonalNaive"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_DAY_S = 86_400


class _Baseline(abc.ABC):
    """Shared fit/predict of the baselines; subclasses give the point forecast."""

    name: str
    interval_s: int | None
    calibration_days: int
    min_calibration: int

    _CONTEXT_D = 8  # days before an origin the point forecast reads at most

    def _init_common(
        self, interval_s: int | None, calibration_days: int, min_calibration: int
    ) -> None:
        if interval_s is not None:
            steps_per_day(interval_s)
        if isinstance(calibration_days, bool) or calibration_days < 0:
            raise ValueError(f"calibration_days must be >= 0, got {calibration_days!r}")
        if isinstance(min_calibration, bool) or min_calibration < 1:
            raise ValueError(f"min_calibration must be >= 1, got {min_calibration!r}")
        self.interval_s = interval_s
        self.calibration_days = int(calibration_days)
        self.min_calibration = int(min_calibration)

    def _context_days(self) -> int:
        return self._CONTEXT_D

    @abc.abstractmethod
    def _point(self, y: FloatArray, origins: IntArray, leads: IntArray, d: int) -> FloatArray:
        """Point forecasts, shape (origins, leads)."""

    @abc.abstractmethod
    def get_params(self) -> dict[str, Any]:
        """Return the constructor's keyword arguments (JSON-ready)."""

    def fit(self, history: pd.DataFrame, *, as_of: pd.Timestamp | dt.datetime) -> Self:
        """Record the interval and the meters of the history before ``as_of``; return self.

        A baseline has nothing to learn: its point forecast and band are
        computed from the data before the prediction's own ``as_of``.

        Parameters
        ----------
        history : pandas.DataFrame
            Long-format readings; only rows with ``ts < as_of`` are read.
        as_of : pandas.Timestamp or datetime.datetime
            Timezone-aware instant.

        Returns
        -------
        Self
        """
        stamp = check_as_of(as_of)
        frame = check_history(history)
        frame = frame[frame["ts"] < stamp]
        self.interval_s_ = (
            self.interval_s if self.interval_s is not None else infer_history_interval_s(frame)
        )
        steps_per_day(self.interval_s_)
        self.as_of_ = stamp
        self.meters_ = tuple(sorted(frame["meter_id"].unique().tolist()))
        return self

    def predict(
        self,
        history: pd.DataFrame,
        *,
        as_of: pd.Timestamp | dt.datetime,
        horizon: int,
        quantiles: Sequence[float] = DEFAULT_QUANTILES,
    ) -> pd.DataFrame:
        """Forecast ``horizon`` intervals from ``as_of`` for every meter in ``history``.

        Parameters
        ----------
        history : pandas.DataFrame
            Long-format readings; only rows with ``ts < as_of`` are read.
        as_of : pandas.Timestamp or datetime.datetime
            Forecast origin, timezone-aware, on the interval grid.
        horizon : int
            Number of intervals [-].
        quantiles : sequence of float, default (0.1, 0.5, 0.9)
            Levels in (0, 1), increasing.

        Returns
        -------
        pandas.DataFrame
            ``meter_id``, ``ts`` (UTC), ``p{100 q}_kwh`` [kWh per interval].

        Raises
        ------
        NotFittedError
            If ``fit`` was not called.
        """
        if not hasattr(self, "interval_s_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted: call fit() first")
        stamp = check_as_of(as_of)
        check_not_before_fit(stamp, self.as_of_)
        n = check_horizon(horizon)
        levels = check_quantiles(quantiles)
        frame = check_history(history)
        interval_s: int = self.interval_s_
        d = steps_per_day(interval_s)
        lookback_s = (self.calibration_days + self._context_days() + LEVEL_WINDOW_D + 1) * _DAY_S
        grids = to_grids(
            frame, as_of=stamp, interval_s=interval_s, lookback_s=lookback_s, horizon=n
        )
        leads = np.arange(1, n + 1, dtype=np.int64)
        parts = []
        for grid in grids.values():
            values = self._predict_grid(grid, leads, d, levels)
            ts = grid.times()[grid.origin : grid.origin + n]
            part = pd.DataFrame({"meter_id": grid.meter_id, "ts": ts})
            for j, q in enumerate(levels):
                part[quantile_column(q)] = values[j]
            parts.append(part)
        columns = ["meter_id", "ts", *[quantile_column(q) for q in levels]]
        if not parts:
            return empty_forecast(levels)
        return pd.concat(parts, ignore_index=True)[columns]

    def _predict_grid(
        self, grid: MeterGrid, leads: IntArray, d: int, levels: tuple[float, ...]
    ) -> FloatArray:
        y = grid.energy_kwh
        origin = grid.origin
        point = self._point(y, np.array([origin], dtype=np.int64), leads, d)[0]
        replays = origin - d * np.arange(1, self.calibration_days + 1, dtype=np.int64)
        replays = replays[replays > 0]
        offsets = band_offsets(
            y,
            origin=origin,
            replays=replays,
            leads=leads,
            predict=lambda o: self._point(y, o, leads, d),
            levels=levels,
            min_calibration=self.min_calibration,
            steps_per_day=d,
        )
        out = point[None, :] + offsets
        return np.where(np.isnan(out), np.nan, np.maximum(out, 0.0))


def band_offsets(
    y: FloatArray,
    *,
    origin: int,
    replays: IntArray,
    leads: IntArray,
    predict: Any,
    levels: tuple[float, ...],
    min_calibration: int,
    steps_per_day: int,
) -> FloatArray:
    """Quantiles of a method's replayed errors by lead, in today's units [kWh per interval].

    Parameters
    ----------
    y : numpy.ndarray
        The meter's grid values (NaN at and after ``origin``).
    origin : int
        Position of ``as_of``.
    replays : numpy.ndarray
        Past origin positions to replay from.
    leads : numpy.ndarray
        Leads 1..n.
    predict : callable
        ``predict(origins) -> (len(origins), len(leads))`` point forecasts.
    levels : tuple of float
        Quantile levels.
    min_calibration : int
        Fewest errors for a lead's own quantiles; fewer pool all leads.
    steps_per_day : int
        Intervals per day (the level window is a week of them).

    Returns
    -------
    numpy.ndarray
        ``(len(levels), len(leads))`` offsets to add to the point forecast:
        the errors' ``q``-quantile minus their median, times today's level;
        increasing across levels; zeros when nothing can be replayed.
    """
    window = LEVEL_WINDOW_D * steps_per_day
    now = recent_level(y, np.array([origin]), window=window, min_count=steps_per_day)[0]
    offsets = np.zeros((len(levels), leads.size))
    if replays.size == 0 or not np.isfinite(now):
        return offsets
    pred = predict(replays)
    target = replays[:, None] + leads[None, :] - 1
    actual = gather(y, np.where(target < origin, target, -1))
    level = recent_level(y, replays, window=window, min_count=steps_per_day)
    scaled = (actual - pred) / np.where(level > 0, level, np.nan)[:, None]
    counts = np.count_nonzero(~np.isnan(scaled), axis=0)
    pooled = scaled[~np.isnan(scaled)]
    if pooled.size == 0:
        return offsets
    qs = np.asarray([*levels, 0.5])
    pooled_q = np.quantile(pooled, qs)
    for i in range(leads.size):
        column = scaled[:, i]
        q = np.quantile(column[~np.isnan(column)], qs) if counts[i] >= min_calibration else pooled_q
        offsets[:, i] = q[:-1] - q[-1]
    result: FloatArray = offsets * now
    return result


class SeasonalNaive(_Baseline):
    """Seasonal naive: the same time one day or one week before the target.

    Parameters
    ----------
    season : {'day', 'week'}, default 'day'
        Season length. A lead beyond one season takes the most recent
        season before the origin.
    interval_s : int, optional
        Interval of the readings [s]; inferred from the history (most common
        step) when None.
    calibration_days : int, default 90
        Past origins (one per day) replayed for the band [d].
    min_calibration : int, default 20
        Fewest replayed errors for a lead's own band.
    max_fallback : int, default 4
        Seasons searched further back when the source value is missing.

    Examples
    --------
    >>> import pandas as pd
    >>> ts = pd.date_range("2025-01-01", periods=24 * 30, freq="h", tz="UTC")
    >>> h = pd.DataFrame({"meter_id": "m", "ts": ts, "energy_kwh": ts.hour.to_numpy() + 1.0})
    >>> as_of = pd.Timestamp("2025-01-31", tz="UTC")
    >>> f = SeasonalNaive().fit(h, as_of=as_of).predict(h, as_of=as_of, horizon=3)
    >>> f[["p10_kwh", "p50_kwh", "p90_kwh"]].to_numpy().tolist()
    [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0], [3.0, 3.0, 3.0]]
    """

    def __init__(
        self,
        *,
        season: Literal["day", "week"] = "day",
        interval_s: int | None = None,
        calibration_days: int = 90,
        min_calibration: int = 20,
        max_fallback: int = 4,
    ) -> None:
        if season not in ("day", "week"):
            raise ValueError(f"season must be 'day' or 'week', got {season!r}")
        if isinstance(max_fallback, bool) or max_fallback < 0:
            raise ValueError(f"max_fallback must be >= 0, got {max_fallback!r}")
        self._init_common(interval_s, calibration_days, min_calibration)
        self.season: Literal["day", "week"] = season
        self.max_fallback = int(max_fallback)
        self.name = f"seasonal_naive_{season}"

    def _context_days(self) -> int:
        return (7 if self.season == "week" else 1) * (self.max_fallback + 2)

    def get_params(self) -> dict[str, Any]:
        """Return the constructor's keyword arguments (JSON-ready).

        Examples
        --------
        >>> SeasonalNaive(season="week").get_params()["season"]
        'week'
        """
        return {
            "season": self.season,
            "interval_s": self.interval_s,
            "calibration_days": self.calibration_days,
            "min_calibration": self.min_calibration,
            "max_fallback": self.max_fallback,
        }

    def _point(self, y: FloatArray, origins: IntArray, leads: IntArray, d: int) -> FloatArray:
        m = d * (7 if self.season == "week" else 1)
        target = origins[:, None] + leads[None, :] - 1
        k = (leads[None, :] - 1) // m + 1
        out = gather(y, target - k * m)
        for extra in range(1, self.max_fallback + 1):
            missing = np.isnan(out)
            if not missing.any():
                break
            older = gather(y, target - (k + extra) * m)
            out = np.where(missing, older, out)
        return out


class PersistenceEnsemble(_Baseline):
    """The BuildingsBench persistence ensemble: same time of day over the last days.

    Parameters
    ----------
    days : int, default 7
        Number of most recent days before the origin averaged [d]
        (BuildingsBench: 7, from its 168-hour context).
    statistic : {'mean', 'median'}, default 'mean'
        How the days are combined (BuildingsBench: mean).
    interval_s : int, optional
        Interval of the readings [s]; inferred when None.
    calibration_days : int, default 90
        Past origins replayed for the band [d].
    min_calibration : int, default 20
        Fewest replayed errors for a lead's own band.

    Examples
    --------
    >>> import pandas as pd
    >>> ts = pd.date_range("2025-01-01", periods=24 * 30, freq="h", tz="UTC")
    >>> h = pd.DataFrame({"meter_id": "m", "ts": ts, "energy_kwh": ts.day.to_numpy() * 1.0})
    >>> as_of = pd.Timestamp("2025-01-31", tz="UTC")
    >>> m = PersistenceEnsemble(days=3).fit(h, as_of=as_of)
    >>> m.predict(h, as_of=as_of, horizon=2)["p50_kwh"].tolist()  # mean of days 28, 29, 30
    [29.0, 29.0]
    """

    def __init__(
        self,
        *,
        days: int = 7,
        statistic: Literal["median", "mean"] = "mean",
        interval_s: int | None = None,
        calibration_days: int = 90,
        min_calibration: int = 20,
    ) -> None:
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            raise ValueError(f"days must be a whole number >= 1, got {days!r}")
        if statistic not in ("mean", "median"):
            raise ValueError(f"statistic must be 'mean' or 'median', got {statistic!r}")
        self._init_common(interval_s, calibration_days, min_calibration)
        self.days = days
        self.statistic: Literal["median", "mean"] = statistic
        self.name = f"persistence_ensemble_{days}d_{statistic}"

    def _context_days(self) -> int:
        return self.days + 2

    def get_params(self) -> dict[str, Any]:
        """Return the constructor's keyword arguments (JSON-ready).

        Examples
        --------
        >>> PersistenceEnsemble().get_params()["days"]
        7
        """
        return {
            "days": self.days,
            "statistic": self.statistic,
            "interval_s": self.interval_s,
            "calibration_days": self.calibration_days,
            "min_calibration": self.min_calibration,
        }

    def _point(self, y: FloatArray, origins: IntArray, leads: IntArray, d: int) -> FloatArray:
        target = origins[:, None] + leads[None, :] - 1
        k = (leads[None, :] - 1) // d + 1
        stack = np.stack([gather(y, target - (k + j) * d) for j in range(self.days)], axis=-1)
        count = np.count_nonzero(~np.isnan(stack), axis=-1)
        if self.statistic == "mean":
            total = np.where(np.isnan(stack), 0.0, stack).sum(axis=-1)
            out: FloatArray = np.divide(
                total, count, out=np.full(count.shape, np.nan), where=count > 0
            )
            return out
        ordered = np.sort(stack, axis=-1)  # NaN last
        lo = np.maximum((count - 1) // 2, 0)
        hi = np.maximum(count // 2, 0)
        a = np.take_along_axis(ordered, lo[..., None], axis=-1)[..., 0]
        b = np.take_along_axis(ordered, hi[..., None], axis=-1)[..., 0]
        median: FloatArray = np.where(count > 0, 0.5 * (a + b), np.nan)
        return median
