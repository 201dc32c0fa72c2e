"""Forecast of a billing cycle's energy at its end, with an uncertainty band.

"How much will this cycle's bill be?" needs the usage so far (from the
cycle's first day, the reading date 검침일, to yesterday) plus a forecast of
the days still to come. :func:`forecast_cycle_energy` returns both, with the
cycle-end total as P10 / P50 / P90 [kWh]. :func:`project_crossing_date`
turns the forecast into the day a tier boundary (200 / 400 kWh, ...) is
expected to be passed.

The days still to come are forecast by a plug-in that follows the small
:class:`CycleEnergyForecaster` protocol, so that the forecasting models of a
later issue can replace the default, :class:`ProfileLevelForecaster`: a
weekday / Saturday / Sunday-and-holiday profile of the meter's own recent
days, scaled by its level over the last week, with a band calibrated by
replaying the same method on the meter's own history.

Conventions
-----------
Daily energy
    A :class:`pandas.Series` of energy per local calendar day [kWh], indexed
    by ``datetime.date`` (or a ``DatetimeIndex`` at midnight); NaN, or a day
    absent from the index, means *missing* (no or incomplete data). Zero is a
    measurement, not a gap.
As of
    ``as_of`` is the first day **not yet observed**: usage so far covers
    ``cycle.start .. as_of - 1 day``. Nothing at or after ``as_of`` is read,
    so a forecast made on a day can be replayed later and gives the same
    numbers (as-of discipline; the default forecaster's band is calibrated
    the same way).
Quantile paths
    The band is given per day as quantile *paths*: for each level ``q``, the
    cumulative sum of a column up to a day is the ``q``-quantile of the
    cycle's cumulative energy up to that day. The last value of each path is
    the cycle-end quantile. A path's daily values are not the quantiles of
    that single day's energy (one day varies more than a month's share).
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd

from bitgoeul.analytics.cycles import BillingCycle
from bitgoeul.analytics.profile import classify_days

__all__ = [
    "BAND_QUANTILES",
    "CycleEnergyForecast",
    "CycleEnergyForecaster",
    "ProfileLevelForecaster",
    "forecast_cycle_energy",
    "project_crossing_date",
]

BAND_QUANTILES: tuple[float, float, float] = (0.1, 0.5, 0.9)
"""Quantile levels of the band :func:`forecast_cycle_energy` reports (P10, P50, P90)."""

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_WEEKDAY, _SATURDAY, _SUNDAY_HOLIDAY = 0, 1, 2
_N_TYPES = 3


class CycleEnergyForecaster(Protocol):
    """Plug-in contract: forecast the energy of days not yet observed.

    Implementations must read only the days of ``daily_kwh`` before ``as_of``
    (:func:`forecast_cycle_energy` passes nothing else), and return, for each
    of ``days`` and each level of ``quantiles``, a quantile path (see the
    module notes): a :class:`pandas.DataFrame` indexed by ``days`` in the
    given order, one column per level (the float itself as the column label),
    finite values >= 0 [kWh per day]. The cumulative sum of column ``q`` up
    to the ``i``-th day is the ``q``-quantile of the total energy of the
    first ``i`` days; so the column sums are the quantiles of the total.
    Crossing paths are tolerated: the caller sorts the cumulative sums across
    levels. An implementation may put a one-line description of what it did
    in ``frame.attrs["method"]``.
    """

    def forecast_remaining(
        self,
        daily_kwh: pd.Series,
        *,
        as_of: dt.date,
        days: Sequence[dt.date],
        quantiles: Sequence[float],
    ) -> pd.DataFrame:
        """Return quantile paths of the energy of ``days`` [kWh per day].

        Parameters
        ----------
        daily_kwh : pandas.Series
            Energy per local date before ``as_of`` [kWh per day], indexed by
            ``datetime.date``, sorted, NaN for missing days.
        as_of : datetime.date
            First day not observed; only data before it may be used.
        days : sequence of datetime.date
            Days to forecast, sorted and distinct: days from ``as_of`` on
            and, possibly, earlier days that are missing from ``daily_kwh``.
        quantiles : sequence of float
            Quantile levels in (0, 1), increasing.

        Returns
        -------
        pandas.DataFrame
            Index ``days``, columns ``quantiles`` [kWh per day].
        """
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ProfileLevelForecaster:
    """Recent level times day-type factors, with a band calibrated by replay.

    Point forecast of a day of type ``j`` (weekday; Saturday; Sunday or
    public holiday): ``level * factor[j]``, the same whatever the horizon.

    ``factor[j]``
        The trimmed mean (``trim`` cut from each end) of the days of type
        ``j`` among the last ``factor_days`` measured days, over the trimmed
        mean of all of them; 1 when fewer than ``min_type_days`` are of that
        type. Energy divided by its day's factor is *adjusted* energy.
    ``level``
        The mean adjusted energy of the last ``level_days`` measured days.
        Zero runs and spikes: with ``c`` the median adjusted energy of the
        factor window, days below ``outage_share * c`` (outage, absence, a
        meter sending zeros) or above ``spike_share * c`` (a catch-up after a
        gap) are left out of the level while they are fewer than half of its
        days; when they are half or more they are the new normal (a building
        switched off, heating switched on) and count. Missing days are
        skipped: the windows reach back over gaps to collect measured days
        (at most ``lookback_days``).

    No trend is extrapolated: a week-over-week trend of the level (clipped
    to +-50%) made the backtest worse at every weight tried
    (``docs/benchmarks.md``, month-end bill forecast); seasonal drift is left to the
    band and to the forecasting models of a later issue.

    Band: the method is replayed at every past origin ``t`` within
    ``calibration_days`` before ``as_of`` whose next ``n`` days (``n`` =
    ``len(days)``) are all measured and before ``as_of`` and that has at
    least as many measured days before it as the current forecast (up to
    ``factor_days``). For each horizon ``k = 1 .. n``, the ratios of actual
    to forecast cumulative energy, divided by their median, give the band
    around the point path: P50 is the point forecast itself (correcting it by
    the median ratio made it worse in the backtest), P10 and P90 scale it by
    the replayed ratios' spread. With fewer than ``min_calibration`` replays,
    the band is a normal approximation widened by ``fallback_widening``:
    ratio ``1 + z_q * s_k`` with ``s_k = fallback_widening * sqrt(cv**2 / k
    + 0.15**2)``, ``cv`` the robust spread (1.4826 MAD) of the factor
    window's adjusted energy over its median (0.5 with fewer than 5 days).

    Parameters
    ----------
    holidays_country : str or None, default 'KR'
        Code whose public holidays count as Sundays (a country or region
        code, as in :func:`bitgoeul.analytics.profile.holiday_dates`); None
        for none.
    factor_days : int, default 56
        Measured days the day-type factors rest on [d].
    level_days : int, default 7
        Measured days the level rests on [d]; a whole week balances the
        weekly pattern the factors miss.
    trim : float, default 0.25
        Share cut from each end of a type's days before averaging, in [0, 0.5).
    min_type_days : int, default 3
        Fewest days of a type for a factor of its own [d].
    outage_share, spike_share : float, default 0.2, 3.0
        Bounds on a day's adjusted energy, as shares of the factor window's
        median, outside which it counts as an outage or a spike [-].
    lookback_days : int, default 365
        Oldest calendar day the windows may reach, back from the origin [d].
    calibration_days : int, default 365
        Calendar days before ``as_of`` searched for replay origins [d].
    min_calibration : int, default 30
        Fewest replays for an empirical band.
    fallback_widening : float, default 1.5
        Factor on the spread of the fallback band [-].

    Examples
    --------
    >>> import datetime as dt
    >>> import pandas as pd
    >>> days = pd.date_range("2025-01-01", "2025-07-10", freq="D").date
    >>> history = pd.Series(10.0, index=days)
    >>> out = ProfileLevelForecaster().forecast_remaining(
    ...     history, as_of=dt.date(2025, 7, 11),
    ...     days=[dt.date(2025, 7, 11), dt.date(2025, 7, 12)], quantiles=[0.1, 0.5, 0.9])
    >>> out.sum().round(6).tolist()
    [20.0, 20.0, 20.0]
    """

    holidays_country: str | None = "KR"
    factor_days: int = 56
    level_days: int = 7
    trim: float = 0.25
    min_type_days: int = 3
    outage_share: float = 0.2
    spike_share: float = 3.0
    lookback_days: int = 365
    calibration_days: int = 365
    min_calibration: int = 30
    fallback_widening: float = 1.5

    def __post_init__(self) -> None:
        for name in ("factor_days", "level_days", "min_type_days", "lookback_days"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number of days >= 1, got {value!r}")
        if not 0.0 <= self.trim < 0.5:
            raise ValueError(f"trim must be in [0, 0.5), got {self.trim!r}")
        if not 0.0 <= self.outage_share <= 1.0 <= self.spike_share:
            raise ValueError(
                "outage_share must be in [0, 1] and spike_share >= 1, got "
                f"{self.outage_share!r} and {self.spike_share!r}"
            )
        if self.calibration_days < 0 or self.min_calibration < 1:
            raise ValueError("calibration_days must be >= 0 and min_calibration >= 1")
        if not self.fallback_widening >= 1.0:
            raise ValueError(f"fallback_widening must be >= 1, got {self.fallback_widening!r}")

    def forecast_remaining(
        self,
        daily_kwh: pd.Series,
        *,
        as_of: dt.date,
        days: Sequence[dt.date],
        quantiles: Sequence[float],
    ) -> pd.DataFrame:
        """Return quantile paths of the energy of ``days`` [kWh per day].

        See :class:`CycleEnergyForecaster` for the contract and the class
        notes for the method.

        Parameters
        ----------
        daily_kwh : pandas.Series
            Energy per local date [kWh per day]; days at or after ``as_of``
            are ignored.
        as_of : datetime.date
            First day not observed.
        days : sequence of datetime.date
            Days to forecast, sorted and distinct.
        quantiles : sequence of float
            Quantile levels in (0, 1), increasing.

        Returns
        -------
        pandas.DataFrame
            Index ``days``, columns ``quantiles`` [kWh per day]; ``attrs``
            holds ``method``.
        """
        as_of = _check_date(as_of, "as_of")
        day_list = _check_days(days)
        levels = _check_quantiles(quantiles)
        history = _daily_series(daily_kwh)
        measured = history[history.index < as_of].dropna()
        if measured.empty:
            raise ValueError(
                f"daily_kwh has no measured day before as_of={as_of.isoformat()}; a forecast "
                "needs at least one"
            )
        first = min(measured.index[0], day_list[0])
        n_total = (max(as_of, day_list[-1]) - first).days + 1
        values = np.full(n_total, np.nan)
        offsets = np.array([(d - first).days for d in measured.index], dtype=np.int64)
        values[offsets] = measured.to_numpy(dtype=np.float64)
        types = _day_type_codes(first, n_total, self.holidays_country)
        origin = (as_of - first).days
        targets = np.array([(d - first).days for d in day_list], dtype=np.int64)

        fit = self._fit(values, types, np.array([origin]))
        point = self._point(fit, types[targets][None, :])[0]
        ratios, replays = self._calibrate(values, types, origin, len(day_list), levels)
        if ratios is None:
            ratios = self._fallback_ratios(fit, len(day_list), levels)
            band = (
                f"normal band widened x{self.fallback_widening:g} "
                f"(fallback: {replays} replays < {self.min_calibration})"
            )
        else:
            band = f"empirical band from {replays} replays"
        paths = np.cumsum(point)[None, :] * ratios  # (levels, days)
        paths = np.sort(np.maximum.accumulate(np.maximum(paths, 0.0), axis=1), axis=0)
        daily = np.diff(paths, axis=1, prepend=0.0)
        frame = pd.DataFrame(daily.T, index=pd.Index(day_list, dtype=object), columns=levels)
        frame.attrs["method"] = (
            f"profile-level: level {fit.level[0]:.3f} kWh/d (last {self.level_days} measured "
            f"days) x day-type factors {np.round(fit.factors[0], 3).tolist()} (weekday, "
            f"Saturday, Sunday/holiday; last {self.factor_days} measured days); {band}"
        )
        return frame

    # -- internals ------------------------------------------------------------------
    def _windows(
        self, values: FloatArray, types: IntArray, origins: IntArray, size: int
    ) -> tuple[FloatArray, IntArray]:
        """Values and types of the last ``size`` measured days before each origin.

        Rows are origins, columns oldest to newest; NaN and type -1 where
        there are fewer such days (or they are older than ``lookback_days``).
        """
        pos = np.flatnonzero(~np.isnan(values))
        shape = (origins.size, size)
        if pos.size == 0:
            return np.full(shape, np.nan), np.full(shape, -1, dtype=np.int64)
        count = np.searchsorted(pos, origins)
        idx = count[:, None] - size + np.arange(size)[None, :]
        ok = idx >= 0
        day = pos[np.where(ok, idx, 0)]
        ok &= day >= (origins[:, None] - self.lookback_days)
        return np.where(ok, values[day], np.nan), np.where(ok, types[day], -1)

    def _fit(self, values: FloatArray, types: IntArray, origins: IntArray) -> _Fit:
        """Fit factors and level at each origin (vectorised over origins)."""
        window, kinds = self._windows(values, types, origins, self.factor_days)
        overall = _trimmed_mean(window, self.trim)
        factors = np.ones((origins.size, _N_TYPES))
        for j in range(_N_TYPES):
            of_type = np.where(kinds == j, window, np.nan)
            enough = np.count_nonzero(~np.isnan(of_type), axis=1) >= self.min_type_days
            ok = enough & (overall > 0)
            mean_j = _trimmed_mean(of_type, self.trim)
            factors[:, j] = np.divide(mean_j, overall, out=np.ones(origins.size), where=ok)
        own = np.take_along_axis(factors, np.maximum(kinds, 0), axis=1)
        adjusted = np.divide(
            window, own, out=np.full(window.shape, np.nan), where=(kinds >= 0) & (own > 0)
        )
        centre = _row_median(adjusted)
        level = self._level(adjusted[:, -self.level_days :], centre)
        spread = _row_median(np.abs(adjusted - centre[:, None]))
        cv = np.divide(1.4826 * spread, centre, out=np.full_like(centre, np.nan), where=centre > 0)
        cv = np.where(np.count_nonzero(~np.isnan(adjusted), axis=1) >= 5, cv, np.nan)
        return _Fit(np.nan_to_num(factors, nan=1.0), np.nan_to_num(level), cv)

    def _level(self, recent: FloatArray, centre: FloatArray) -> FloatArray:
        """Mean of recent adjusted energy, outage-like days and spikes left out if few."""
        c = centre[:, None]
        judged = ~np.isnan(c) & (c > 0)
        odd = judged & ((recent < self.outage_share * c) | (recent > self.spike_share * c))
        measured = np.count_nonzero(~np.isnan(recent), axis=1)
        minority = (2 * np.count_nonzero(odd, axis=1) < measured)[:, None]
        kept = np.where(odd & minority, np.nan, recent)
        count = np.count_nonzero(~np.isnan(kept), axis=1)
        total = np.nansum(np.where(np.isnan(kept), 0.0, kept), axis=1)
        level: FloatArray = np.divide(
            total, count, out=np.full(count.shape, np.nan), where=count > 0
        )
        return level

    @staticmethod
    def _point(fit: _Fit, kinds: IntArray) -> FloatArray:
        """Point forecast [kWh per day] of days of types ``kinds`` (origins x days)."""
        return np.take_along_axis(fit.factors, kinds, axis=1) * fit.level[:, None]

    def _calibrate(
        self,
        values: FloatArray,
        types: IntArray,
        origin: int,
        n: int,
        levels: list[float],
    ) -> tuple[FloatArray | None, int]:
        """Replayed ratios (levels x n) of actual to forecast cumulative energy over median."""
        measured_before = np.concatenate([[0], np.cumsum(~np.isnan(values))])
        need = min(self.factor_days, int(measured_before[origin]))
        lo = max(1, origin - self.calibration_days)
        origins = np.arange(lo, origin - n + 1, dtype=np.int64)
        origins = origins[measured_before[origins] >= need]
        span = origins[:, None] + np.arange(n)[None, :]
        origins = origins[~np.isnan(values[span]).any(axis=1)]
        if origins.size < self.min_calibration:
            return None, int(origins.size)
        span = origins[:, None] + np.arange(n)[None, :]
        fit = self._fit(values, types, origins)
        cum_point = np.cumsum(self._point(fit, types[span]), axis=1)
        cum_actual = np.cumsum(values[span], axis=1)
        keep = cum_point[:, -1] > 0
        if np.count_nonzero(keep) < self.min_calibration:
            return None, int(np.count_nonzero(keep))
        cum_point, cum_actual = cum_point[keep], cum_actual[keep]
        defined = cum_point > 0  # False only on a horizon's leading zero-forecast days
        ratio = np.divide(cum_actual, cum_point, out=np.ones_like(cum_actual), where=defined)
        ratio = np.where(defined | ~defined.any(axis=0), ratio, np.nan)
        quantiles = np.nanquantile(ratio, [*levels, 0.5], axis=0)
        median = quantiles[-1]
        out = np.divide(quantiles[:-1], median, out=np.ones_like(quantiles[:-1]), where=median > 0)
        return out, int(ratio.shape[0])

    def _fallback_ratios(self, fit: _Fit, n: int, levels: list[float]) -> FloatArray:
        """Widened normal-approximation ratios (levels x n) for short histories."""
        cv = float(fit.cv[0]) if math.isfinite(fit.cv[0]) else 0.5
        k = np.arange(1, n + 1, dtype=np.float64)
        spread = self.fallback_widening * np.sqrt(cv**2 / k + 0.15**2)
        z = np.array([NormalDist().inv_cdf(q) for q in levels])
        return np.maximum(1.0 + z[:, None] * spread[None, :], 0.0)


@dataclass(frozen=True, slots=True)
class _Fit:
    """The fitted state of :class:`ProfileLevelForecaster` at each origin (rows)."""

    factors: FloatArray  # (origins, 3) day-type factors [-]
    level: FloatArray  # (origins,) level [kWh per day]
    cv: FloatArray  # (origins,) robust spread of adjusted energy over its median [-]


@dataclass(frozen=True, slots=True)
class CycleEnergyForecast:
    """Energy of one billing cycle: used so far and forecast at the cycle's end.

    Parameters
    ----------
    cycle : BillingCycle
        The cycle.
    as_of : datetime.date
        First day not observed.
    so_far_kwh : float
        Measured energy from ``cycle.start`` to ``as_of - 1 day`` (or the
        cycle's end) [kWh]; missing days count zero here.
    days_observed : int
        Elapsed cycle days with a measurement [d].
    days_missing : tuple of datetime.date
        Elapsed cycle days without one. They are filled by the forecaster
        like the days to come: their P50 is ``missing_fill_kwh`` and their
        uncertainty is inside the band.
    missing_fill_kwh : float
        P50 estimate of the energy of ``days_missing`` [kWh].
    days_remaining : int
        Cycle days at or after ``as_of`` [d].
    p10_kwh, p50_kwh, p90_kwh : float
        Quantiles of the cycle's total energy [kWh];
        ``so_far_kwh <= p10_kwh <= p50_kwh <= p90_kwh``. They are equal when
        every day of the cycle is measured.
    daily : pandas.DataFrame
        One row per cycle day (index ``datetime.date``): ``energy_kwh``
        (measured, NaN otherwise) [kWh]; ``p10_kwh``, ``p50_kwh``,
        ``p90_kwh``: quantile paths [kWh per day] (measured days repeat
        ``energy_kwh``; cumulative sums are the quantiles of the energy used
        up to that day); ``status``: 'observed', 'missing' or 'forecast'.
    method : str
        How the unknown days were forecast.
    """

    cycle: BillingCycle
    as_of: dt.date
    so_far_kwh: float
    days_observed: int
    days_missing: tuple[dt.date, ...]
    missing_fill_kwh: float
    days_remaining: int
    p10_kwh: float
    p50_kwh: float
    p90_kwh: float
    daily: pd.DataFrame = field(repr=False, compare=False)
    method: str

    def to_dict(self) -> dict[str, Any]:
        """Return the forecast as JSON-ready builtins (dates as ISO strings, NaN as None).

        Returns
        -------
        dict
            The fields, with ``cycle`` as a dict and ``daily`` as a list of
            row dicts (``date`` first).
        """
        energy = self.daily["energy_kwh"].to_numpy(dtype=np.float64)
        band = self.daily[["p10_kwh", "p50_kwh", "p90_kwh"]].to_numpy(dtype=np.float64)
        rows = [
            {
                "date": day.isoformat(),
                "energy_kwh": None if math.isnan(energy[i]) else float(energy[i]),
                "p10_kwh": float(band[i, 0]),
                "p50_kwh": float(band[i, 1]),
                "p90_kwh": float(band[i, 2]),
                "status": str(self.daily["status"].iloc[i]),
            }
            for i, day in enumerate(self.daily.index)
        ]
        return {
            "cycle": {
                "label": self.cycle.label,
                "start": self.cycle.start.isoformat(),
                "end": self.cycle.end.isoformat(),
                "reading_day": self.cycle.reading_day,
                "days": self.cycle.days,
            },
            "as_of": self.as_of.isoformat(),
            "so_far_kwh": self.so_far_kwh,
            "days_observed": self.days_observed,
            "days_missing": [d.isoformat() for d in self.days_missing],
            "missing_fill_kwh": self.missing_fill_kwh,
            "days_remaining": self.days_remaining,
            "p10_kwh": self.p10_kwh,
            "p50_kwh": self.p50_kwh,
            "p90_kwh": self.p90_kwh,
            "method": self.method,
            "daily": rows,
        }


def forecast_cycle_energy(
    daily_kwh: pd.Series,
    cycle: BillingCycle,
    *,
    as_of: dt.date,
    forecaster: CycleEnergyForecaster | None = None,
    holidays_country: str | None = "KR",
) -> CycleEnergyForecast:
    """Return the energy used so far in a billing cycle and its forecast at the cycle's end.

    Parameters
    ----------
    daily_kwh : pandas.Series
        Energy per local date in the meter's zone [kWh per day], indexed by
        ``datetime.date`` or a midnight ``DatetimeIndex``; NaN or absent
        means missing. Days at or after ``as_of`` are never read.
    cycle : BillingCycle
        The billing cycle (e.g. from
        :func:`bitgoeul.analytics.cycles.billing_cycle_for`).
    as_of : datetime.date
        First day not yet observed (usually today): usage so far covers
        ``cycle.start .. as_of - 1 day``. ``as_of == cycle.start`` forecasts
        the whole cycle; ``as_of > cycle.end`` reports a finished cycle (the
        band collapses to the measured total unless days are missing).
    forecaster : CycleEnergyForecaster, optional
        Forecasts the unknown days; default
        ``ProfileLevelForecaster(holidays_country=holidays_country)``.
    holidays_country : str or None, default 'KR'
        Holiday calendar of the default forecaster (ignored when
        ``forecaster`` is given).

    Returns
    -------
    CycleEnergyForecast

    Raises
    ------
    ValueError
        ``as_of`` is before the cycle starts, ``daily_kwh`` is malformed
        (duplicate days, negative or infinite energy, times that are not
        midnight), or the forecaster returns an invalid frame.

    Examples
    --------
    >>> import datetime as dt
    >>> import pandas as pd
    >>> from bitgoeul.analytics.cycles import billing_cycle_for
    >>> days = pd.date_range("2024-07-01", "2025-07-31", freq="D").date
    >>> usage = pd.Series(10.0, index=days)
    >>> cycle = billing_cycle_for(dt.date(2025, 7, 20), 1)
    >>> f = forecast_cycle_energy(usage, cycle, as_of=dt.date(2025, 7, 11))
    >>> (f.so_far_kwh, f.days_observed, f.days_remaining)
    (100.0, 10, 21)
    >>> round(f.p10_kwh, 6), round(f.p50_kwh, 6), round(f.p90_kwh, 6)
    (310.0, 310.0, 310.0)
    """
    if not isinstance(cycle, BillingCycle):
        raise TypeError(f"cycle must be a BillingCycle, got {type(cycle).__name__}")
    as_of = _check_date(as_of, "as_of")
    if as_of < cycle.start:
        raise ValueError(
            f"as_of={as_of.isoformat()} is before the cycle starts ({cycle.start.isoformat()}); "
            "pass the first unobserved day within or after the cycle"
        )
    history = _daily_series(daily_kwh)
    history = history[history.index < as_of]
    cycle_days = [cycle.start + dt.timedelta(days=i) for i in range(cycle.days)]
    measured = history.reindex(pd.Index(cycle_days, dtype=object)).to_numpy(dtype=np.float64)
    elapsed = np.array([d < as_of for d in cycle_days], dtype=bool)
    absent = elapsed & np.isnan(measured)
    unknown = absent | ~elapsed
    missing = tuple(d for d, gone in zip(cycle_days, absent, strict=True) if gone)
    so_far = float(np.nansum(measured[elapsed]))

    paths = np.repeat(np.nan_to_num(measured)[:, None], len(BAND_QUANTILES), axis=1)
    method = "measured: every day of the cycle has data"
    if unknown.any():
        if forecaster is None:
            forecaster = ProfileLevelForecaster(holidays_country=holidays_country)
        days = [d for d, todo in zip(cycle_days, unknown, strict=True) if todo]
        frame = forecaster.forecast_remaining(
            history, as_of=as_of, days=days, quantiles=list(BAND_QUANTILES)
        )
        paths[unknown] = _check_band(frame, days, forecaster)
        method = str(frame.attrs.get("method", repr(forecaster)))
    status = np.where(elapsed, np.where(absent, "missing", "observed"), "forecast")
    daily = pd.DataFrame(
        {
            "energy_kwh": measured,
            "p10_kwh": paths[:, 0],
            "p50_kwh": paths[:, 1],
            "p90_kwh": paths[:, 2],
            "status": status.astype(object),
        },
        index=pd.Index(cycle_days, dtype=object),
    )
    totals = paths.sum(axis=0)
    return CycleEnergyForecast(
        cycle=cycle,
        as_of=as_of,
        so_far_kwh=so_far,
        days_observed=int(np.count_nonzero(elapsed & ~absent)),
        days_missing=missing,
        missing_fill_kwh=float(paths[absent, 1].sum()),
        days_remaining=int(np.count_nonzero(~elapsed)),
        p10_kwh=float(totals[0]),
        p50_kwh=float(totals[1]),
        p90_kwh=float(totals[2]),
        daily=daily,
        method=method,
    )


def project_crossing_date(
    forecast: CycleEnergyForecast,
    threshold_kwh: float,
    *,
    path: Literal["p10", "p50", "p90"] = "p50",
) -> dt.date | None:
    """Return the day the cycle's cumulative energy is projected to exceed a threshold.

    Parameters
    ----------
    forecast : CycleEnergyForecast
        A cycle forecast.
    threshold_kwh : float
        Cumulative energy to watch, e.g. a tier boundary (200, 400, or 300
        and 450 in July-August) [kWh]. Exceeding means strictly above: at
        200 kWh a household is still in tier 1.
    path : {'p10', 'p50', 'p90'}, default 'p50'
        Which quantile path to follow; 'p90' gives the earliest plausible day.

    Returns
    -------
    datetime.date or None
        The first cycle day whose cumulative energy (measured days, then the
        path) exceeds ``threshold_kwh``: a past day if it has already been
        exceeded, None if it is not expected within the cycle.

    Examples
    --------
    >>> import datetime as dt
    >>> import pandas as pd
    >>> from bitgoeul.analytics.cycles import billing_cycle_for
    >>> days = pd.date_range("2024-07-01", "2025-07-31", freq="D").date
    >>> usage = pd.Series(10.0, index=days)
    >>> f = forecast_cycle_energy(
    ...     usage, billing_cycle_for(dt.date(2025, 7, 1), 1), as_of=dt.date(2025, 7, 11))
    >>> project_crossing_date(f, 200.0)
    datetime.date(2025, 7, 21)
    >>> project_crossing_date(f, 50.0), project_crossing_date(f, 400.0)
    (datetime.date(2025, 7, 6), None)
    """
    if path not in ("p10", "p50", "p90"):
        raise ValueError(f"path must be 'p10', 'p50' or 'p90', got {path!r}")
    threshold = float(threshold_kwh)
    if not math.isfinite(threshold) or threshold < 0:
        raise ValueError(f"threshold_kwh must be a finite energy >= 0 [kWh], got {threshold_kwh!r}")
    cumulative = forecast.daily[f"{path}_kwh"].cumsum().to_numpy(dtype=np.float64)
    above = np.flatnonzero(cumulative > threshold)
    if above.size == 0:
        return None
    day = forecast.daily.index[int(above[0])]
    return day if isinstance(day, dt.date) else None


# -- helpers -------------------------------------------------------------------------
def _check_date(value: object, name: str) -> dt.date:
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise TypeError(f"{name} must be a datetime.date (a local date), got {value!r}")
    return value


def _check_days(days: Sequence[dt.date]) -> list[dt.date]:
    out = [_check_date(d, "each of days") for d in days]
    if not out:
        raise ValueError("days is empty: pass at least one date to forecast")
    if any(b <= a for a, b in itertools.pairwise(out)):
        raise ValueError("days must be sorted and distinct")
    return out


def _check_quantiles(quantiles: Sequence[float]) -> list[float]:
    out = [float(q) for q in quantiles]
    if not out or any(not 0.0 < q < 1.0 for q in out):
        raise ValueError(f"quantiles must be levels in (0, 1), got {list(quantiles)!r}")
    if any(b <= a for a, b in itertools.pairwise(out)):
        raise ValueError(f"quantiles must be increasing, got {out!r}")
    return out


def _daily_series(daily_kwh: pd.Series) -> pd.Series:
    """Validate daily energy; return it as float64 indexed by sorted ``datetime.date``."""
    if not isinstance(daily_kwh, pd.Series):
        raise TypeError(
            f"daily_kwh must be a pandas Series of kWh per day, got {type(daily_kwh).__name__}"
        )
    index = daily_kwh.index
    if isinstance(index, pd.DatetimeIndex):
        if not (index == index.normalize()).all():
            raise ValueError(
                "daily_kwh has times other than midnight; aggregate readings to local days first"
            )
        dates: list[dt.date] = list(index.date)
    else:
        dates = [_check_date(d, "each index value of daily_kwh") for d in index]
    try:
        values = pd.to_numeric(daily_kwh, errors="raise").to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError("daily_kwh must hold numbers (kWh per day), NaN for missing") from exc
    series = pd.Series(values, index=pd.Index(dates, dtype=object), dtype="float64")
    if series.index.has_duplicates:
        raise ValueError("daily_kwh has duplicate days; sum them into one value per local date")
    if np.isinf(values).any() or (values < 0).any():
        raise ValueError("daily_kwh must be finite and >= 0 [kWh per day] (NaN for missing)")
    return series.sort_index()


def _day_type_codes(first: dt.date, n: int, country: str | None) -> IntArray:
    """Day type of ``n`` consecutive dates: 0 weekday, 1 Saturday, 2 Sunday or holiday."""
    dates = [first + dt.timedelta(days=i) for i in range(n)]
    kinds = classify_days(dates, country=country) if country is not None else None
    codes = np.empty(n, dtype=np.int64)
    for i, d in enumerate(dates):
        if (kinds is not None and kinds[i] == "holiday") or d.weekday() == 6:
            codes[i] = _SUNDAY_HOLIDAY
        elif d.weekday() == 5:
            codes[i] = _SATURDAY
        else:
            codes[i] = _WEEKDAY
    return codes


def _trimmed_mean(rows: FloatArray, trim: float) -> FloatArray:
    """Mean of each row after cutting ``trim`` of its non-NaN values from each end."""
    ordered = np.sort(rows, axis=1)  # NaN sort last
    count = np.count_nonzero(~np.isnan(ordered), axis=1)
    cut = np.floor(trim * count).astype(np.int64)
    sums = np.concatenate(
        [np.zeros((rows.shape[0], 1)), np.cumsum(np.nan_to_num(ordered), axis=1)], axis=1
    )
    r = np.arange(rows.shape[0])
    kept = count - 2 * cut
    total = sums[r, count - cut] - sums[r, cut]
    mean: FloatArray = np.divide(total, kept, out=np.full(rows.shape[0], np.nan), where=kept > 0)
    return mean


def _row_median(rows: FloatArray) -> FloatArray:
    """Median of each row's non-NaN values; NaN for a row without any."""
    ordered = np.sort(rows, axis=1)
    count = np.count_nonzero(~np.isnan(ordered), axis=1)
    r = np.arange(rows.shape[0])
    low = np.maximum((count - 1) // 2, 0)
    high = np.maximum(count // 2, 0)
    median = 0.5 * (ordered[r, low] + ordered[r, high])
    return np.where(count > 0, median, np.nan)


def _check_band(
    frame: pd.DataFrame, days: list[dt.date], forecaster: CycleEnergyForecaster
) -> FloatArray:
    """Validate a forecaster's frame; return (days x 3) daily paths, sorted across levels."""
    name = type(forecaster).__name__
    if not isinstance(frame, pd.DataFrame) or list(frame.index) != days:
        raise ValueError(f"{name}.forecast_remaining must return a DataFrame indexed by the days")
    missing = [q for q in BAND_QUANTILES if q not in frame.columns]
    if missing:
        raise ValueError(f"{name}.forecast_remaining returned no column for levels {missing}")
    values = frame[list(BAND_QUANTILES)].to_numpy(dtype=np.float64)
    if not np.isfinite(values).all() or (values < 0).any():
        raise ValueError(f"{name}.forecast_remaining returned energy that is not finite and >= 0")
    cumulative = np.sort(np.cumsum(values, axis=0), axis=1)
    return np.diff(cumulative, axis=0, prepend=np.zeros((1, cumulative.shape[1])))
