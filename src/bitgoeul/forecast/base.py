"""The forecaster contract and the checks every forecaster shares.

A forecaster is anything with a ``name``, a ``fit`` that returns the fitted
model and a ``predict`` that returns interval quantiles in long format (the
package notes describe both frames). The contract is the small
:class:`Forecaster` protocol; :mod:`bitgoeul.forecast.baselines` and
:mod:`bitgoeul.forecast.gbm` implement it.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from typing import Protocol, Self

import numpy as np
import pandas as pd

__all__ = [
    "DEFAULT_QUANTILES",
    "FORECAST_COLUMNS",
    "Forecaster",
    "check_as_of",
    "check_history",
    "check_horizon",
    "check_not_before_fit",
    "check_quantiles",
    "empty_forecast",
    "quantile_column",
]

DEFAULT_QUANTILES: tuple[float, float, float] = (0.1, 0.5, 0.9)
"""Quantile levels a forecast reports unless told otherwise (P10, P50, P90)."""

FORECAST_COLUMNS: tuple[str, str] = ("meter_id", "ts")
"""Key columns of a forecast frame; one ``p{100 q}_kwh`` column per level follows."""


class Forecaster(Protocol):
    """Plug-in contract: a model that forecasts interval energy quantiles as of an instant.

    As-of discipline: ``fit`` and ``predict`` read only the rows of
    ``history`` with ``ts < as_of`` (implementations filter; they do not
    trust the caller), so a forecast made as of ``T`` never changes when
    data at or after ``T`` arrive or are corrected. A model fitted as of
    ``T1`` may predict as of any ``T2 >= T1``, reading the data before
    ``T2`` for its inputs.

    Attributes
    ----------
    name : str
        Short label of the model and its main setting, e.g.
        ``'seasonal_naive_day'``; it fills the ``model`` column of a backtest.
    """

    name: str

    def fit(self, history: pd.DataFrame, *, as_of: pd.Timestamp | dt.datetime) -> Self:
        """Fit on the rows of ``history`` before ``as_of``; return the fitted model.

        Parameters
        ----------
        history : pandas.DataFrame
            Long-format readings (package notes).
        as_of : pandas.Timestamp or datetime.datetime
            Timezone-aware instant on the interval grid: only rows with
            ``ts < as_of`` are read.

        Returns
        -------
        Self
        """
        ...

    def predict(
        self,
        history: pd.DataFrame,
        *,
        as_of: pd.Timestamp | dt.datetime,
        horizon: int,
        quantiles: Sequence[float] = DEFAULT_QUANTILES,
    ) -> pd.DataFrame:
        """Forecast the ``horizon`` intervals from ``as_of`` for every meter in ``history``.

        Parameters
        ----------
        history : pandas.DataFrame
            Long-format readings; only rows with ``ts < as_of`` are read.
        as_of : pandas.Timestamp or datetime.datetime
            Forecast origin (timezone-aware, on the interval grid): the
            start of the first forecast interval.
        horizon : int
            Number of intervals to forecast [-].
        quantiles : sequence of float, default (0.1, 0.5, 0.9)
            Levels in (0, 1), increasing.

        Returns
        -------
        pandas.DataFrame
            ``meter_id``, ``ts`` (UTC), one ``p{100 q}_kwh`` column per level
            [kWh per interval], sorted across levels in each row.
        """
        ...


def quantile_column(level: float) -> str:
    """Return the forecast column name of a quantile level: ``p{round(100 * level)}_kwh``.

    Parameters
    ----------
    level : float
        Quantile level in (0, 1) [-].

    Returns
    -------
    str

    Examples
    --------
    >>> quantile_column(0.1), quantile_column(0.5), quantile_column(0.975)
    ('p10_kwh', 'p50_kwh', 'p98_kwh')
    """
    return f"p{round(100 * float(level))}_kwh"


def check_quantiles(quantiles: Sequence[float]) -> tuple[float, ...]:
    """Return quantile levels as floats if they are increasing, in (0, 1) and name distinct columns.

    Parameters
    ----------
    quantiles : sequence of float
        Quantile levels [-].

    Returns
    -------
    tuple of float

    Raises
    ------
    ValueError
        If a level is outside (0, 1), the levels are not increasing, or two
        levels round to the same column name (0.101 and 0.1).

    Examples
    --------
    >>> check_quantiles([0.1, 0.5, 0.9])
    (0.1, 0.5, 0.9)
    """
    try:
        levels = tuple(float(q) for q in quantiles)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"quantiles must be numbers in (0, 1), got {quantiles!r}") from exc
    if not levels or any(not 0.0 < q < 1.0 for q in levels):
        raise ValueError(f"quantiles must be levels in (0, 1), got {list(levels)!r}")
    if any(b <= a for a, b in itertools.pairwise(levels)):
        raise ValueError(f"quantiles must be increasing, got {list(levels)!r}")
    names = [quantile_column(q) for q in levels]
    if len(set(names)) != len(names):
        raise ValueError(
            f"quantiles {list(levels)!r} give duplicate column names {names}: use levels that "
            "differ by at least 0.01"
        )
    return levels


def check_horizon(horizon: int, *, max_horizon: int | None = None) -> int:
    """Return ``horizon`` if it is a whole number of intervals >= 1 (and <= ``max_horizon``).

    Examples
    --------
    >>> check_horizon(24, max_horizon=168)
    24
    """
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
        raise ValueError(f"horizon must be a whole number of intervals >= 1, got {horizon!r}")
    if max_horizon is not None and horizon > max_horizon:
        raise ValueError(
            f"horizon={horizon} intervals exceeds this model's max_horizon={max_horizon}: "
            "fit a model with a larger max_horizon or forecast fewer intervals"
        )
    return int(horizon)


def check_as_of(as_of: pd.Timestamp | dt.datetime | str) -> pd.Timestamp:
    """Return ``as_of`` as a UTC :class:`pandas.Timestamp`.

    Parameters
    ----------
    as_of : pandas.Timestamp, datetime.datetime or str
        A timezone-aware instant (an ISO 8601 string with an offset works).

    Returns
    -------
    pandas.Timestamp
        The same instant in UTC, nanosecond unit.

    Raises
    ------
    TypeError
        If ``as_of`` is naive or not a time.

    Examples
    --------
    >>> check_as_of(pd.Timestamp("2025-07-01 00:00", tz="Asia/Seoul"))
    Timestamp('2025-06-30 15:00:00+0000', tz='UTC')
    """
    if isinstance(as_of, dt.date) and not isinstance(as_of, dt.datetime):
        raise TypeError(
            f"as_of must be a timezone-aware instant, got the date {as_of!r}: pass the local "
            "midnight, e.g. pd.Timestamp('2025-07-01', tz='Asia/Seoul')"
        )
    try:
        stamp = pd.Timestamp(as_of)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"as_of must be a timezone-aware instant, got {as_of!r}") from exc
    if pd.isna(stamp) or stamp.tzinfo is None:
        raise TypeError(
            f"as_of must be timezone-aware, got {as_of!r}: localise it, e.g. "
            "pd.Timestamp('2025-07-01').tz_localize('Asia/Seoul')"
        )
    return stamp.tz_convert("UTC").as_unit("ns")


def check_history(history: pd.DataFrame) -> pd.DataFrame:
    """Return a validated copy of a long-format history, sorted by meter and time.

    Parameters
    ----------
    history : pandas.DataFrame
        Columns ``meter_id``, ``ts`` (timezone-aware, interval start),
        ``energy_kwh`` [kWh per interval] (NaN = missing) and optionally
        ``temp_c`` [°C]; other columns are dropped.

    Returns
    -------
    pandas.DataFrame
        ``meter_id`` (str), ``ts`` (UTC, ns), ``energy_kwh`` (float64) and,
        when given, ``temp_c`` (float64); sorted by ``meter_id`` then ``ts``,
        fresh RangeIndex.

    Raises
    ------
    TypeError
        If ``history`` is not a DataFrame or ``ts`` is naive.
    ValueError
        If a column is missing, a value is not a number, or a meter has two
        rows for the same ``ts``.

    Examples
    --------
    >>> ts = pd.date_range("2025-01-01", periods=3, freq="h", tz="Asia/Seoul")
    >>> h = check_history(pd.DataFrame({"meter_id": "m1", "ts": ts, "energy_kwh": [1, 2, 3]}))
    >>> str(h["ts"].dt.tz), h["energy_kwh"].dtype.name
    ('UTC', 'float64')
    """
    if not isinstance(history, pd.DataFrame):
        raise TypeError(f"history must be a pandas DataFrame, got {type(history).__name__}")
    missing = [c for c in ("meter_id", "ts", "energy_kwh") if c not in history.columns]
    if missing:
        raise ValueError(
            f"history lacks the column(s) {missing}: pass long-format readings with "
            "'meter_id', 'ts' (timezone-aware interval start) and 'energy_kwh' [kWh per interval]"
        )
    ts = history["ts"]
    if not isinstance(ts.dtype, pd.DatetimeTZDtype):
        raise TypeError(
            f"column 'ts' must be timezone-aware datetime64 (got {ts.dtype}); localise naive "
            "local times with Series.dt.tz_localize(zone)"
        )
    out = pd.DataFrame(
        {
            "meter_id": history["meter_id"].astype(str).reset_index(drop=True),
            "ts": ts.dt.tz_convert("UTC").dt.as_unit("ns").reset_index(drop=True),
        }
    )
    for column in ("energy_kwh", "temp_c"):
        if column not in history.columns:
            continue
        try:
            out[column] = pd.to_numeric(history[column]).to_numpy(dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"column {column!r} must hold numbers (NaN for missing)") from exc
    out = out.sort_values(["meter_id", "ts"], kind="stable").reset_index(drop=True)
    dup = out.duplicated(["meter_id", "ts"])
    if dup.any():
        first = out[dup].iloc[0]
        raise ValueError(
            f"history has {int(dup.sum())} duplicate (meter_id, ts) row(s), first "
            f"{first['meter_id']!r} at {first['ts'].isoformat()}: keep one reading per interval"
        )
    return out


def check_not_before_fit(as_of: pd.Timestamp, fitted_as_of: pd.Timestamp) -> None:
    """Raise ValueError if a forecast origin is before the instant the model was fitted as of.

    A model fitted as of ``T1`` has seen data up to ``T1``; using it for an
    origin ``T2 < T1`` would let it know the future of ``T2``.

    Examples
    --------
    >>> t = pd.Timestamp("2025-01-02", tz="UTC")
    >>> check_not_before_fit(t, t)
    """
    if as_of < fitted_as_of:
        raise ValueError(
            f"as_of={as_of.isoformat()} is before the instant the model was fitted as of "
            f"({fitted_as_of.isoformat()}): a model may only forecast from origins at or after "
            "its fit; fit a model as of this origin instead"
        )


def empty_forecast(levels: Sequence[float]) -> pd.DataFrame:
    """Return a forecast frame with no rows and the columns of ``levels``.

    Examples
    --------
    >>> list(empty_forecast([0.1, 0.9]).columns)
    ['meter_id', 'ts', 'p10_kwh', 'p90_kwh']
    """
    frame = pd.DataFrame(
        {
            "meter_id": pd.Series(dtype=object),
            "ts": pd.Series(dtype="datetime64[ns, UTC]"),
        }
    )
    for q in levels:
        frame[quantile_column(q)] = pd.Series(dtype="float64")
    return frame
