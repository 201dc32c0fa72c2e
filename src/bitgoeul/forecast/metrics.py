"""Forecast accuracy: point errors, quantile loss and band coverage.

Every function takes paired arrays of actual and forecast energy [kWh per
interval] and ignores the pairs where either is NaN (missing or masked
readings are not scored). With ``y`` the actuals, ``f`` the forecasts, ``n``
the scored pairs and ``ȳ`` the mean actual:

==================  ==========================================================================
metric              definition
==================  ==========================================================================
:func:`nrmse`       ``sqrt(mean((y - f)²)) / ȳ``: BuildingsBench's normalised RMSE (its
                    ``cvrmse`` metric: the root of the mean squared error over all
                    forecast points of a building, divided by the mean of that building's
                    actuals; NREL/BuildingsBench ``buildings_bench/evaluation/metrics.py``,
                    Emami et al. 2023). BuildingsBench then takes the median over
                    buildings; :func:`score` gives one value per meter. A fraction (0.1 =
                    10 %).
:func:`cvrmse`      ``sqrt(Σ(y - f)² / (n - p)) / ȳ``: ASHRAE Guideline 14 CV(RMSE) with
                    ``p`` model parameters (default 1). A fraction.
:func:`nmbe`        ``Σ(y - f) / ((n - p) · ȳ)``: ASHRAE Guideline 14 normalised mean bias
                    error, positive when the forecast is too low. A fraction.
:func:`smape`       ``mean(2 |y - f| / (|y| + |f|))``, a pair with ``y = f = 0`` scoring 0;
                    in [0, 2].
:func:`mase`        ``mean(|y - f|) / mean(|x_t - x_(t-m)|)``: mean absolute error over the
                    in-sample mean absolute error of the seasonal naive forecast with season
                    ``m`` (one day), computed on the history ``x`` before the origin
                    (Hyndman & Koehler 2006).
:func:`pinball_loss`  ``mean(max(q (y - f), (q - 1)(y - f)))`` of the ``q``-quantile ``f``
                    [kWh].
:func:`coverage`    share of actuals within ``[lower, upper]`` (for P10-P90: 0.8 nominal).
==================  ==========================================================================
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from bitgoeul.forecast.base import check_history
from bitgoeul.forecast.series import infer_history_interval_s, steps_per_day

__all__ = [
    "coverage",
    "cvrmse",
    "mase",
    "nmbe",
    "nrmse",
    "pinball_loss",
    "score",
    "smape",
]

FloatArray = npt.NDArray[np.float64]
ArrayLike = Sequence[float] | FloatArray | pd.Series

_POOLED = "all"


def _pairs(*arrays: ArrayLike) -> tuple[FloatArray, ...]:
    values = [np.asarray(a, dtype=np.float64).ravel() for a in arrays]
    size = values[0].size
    if any(v.size != size for v in values):
        raise ValueError(
            f"actual and forecast arrays must have the same length, got {[v.size for v in values]}"
        )
    ok = np.ones(size, dtype=bool)
    for v in values:
        ok &= ~np.isnan(v)
    return tuple(v[ok] for v in values)


def nrmse(actual_kwh: ArrayLike, forecast_kwh: ArrayLike) -> float:
    """Return BuildingsBench's normalised RMSE: ``sqrt(mean((y - f)²)) / mean(y)`` [-].

    Parameters
    ----------
    actual_kwh, forecast_kwh : array-like
        Actual and forecast energy per interval [kWh]; NaN pairs are skipped.

    Returns
    -------
    float
        NaN when nothing is scored or the mean actual is 0.

    Examples
    --------
    >>> nrmse([1.0, 3.0], [2.0, 2.0])  # RMSE 1 over mean 2
    0.5
    """
    y, f = _pairs(actual_kwh, forecast_kwh)
    mean = float(y.mean()) if y.size else math.nan
    if not y.size or mean == 0:
        return math.nan
    return float(np.sqrt(np.mean((y - f) ** 2)) / mean)


def cvrmse(actual_kwh: ArrayLike, forecast_kwh: ArrayLike, *, p: int = 1) -> float:
    """Return ASHRAE Guideline 14 CV(RMSE): ``sqrt(Σ(y - f)² / (n - p)) / mean(y)`` [-].

    Parameters
    ----------
    actual_kwh, forecast_kwh : array-like
        Actual and forecast energy per interval [kWh]; NaN pairs are skipped.
    p : int, default 1
        Number of model parameters subtracted from the degrees of freedom.

    Returns
    -------
    float
        NaN when ``n <= p`` or the mean actual is 0.

    Examples
    --------
    >>> round(cvrmse([1.0, 3.0, 2.0], [2.0, 2.0, 2.0]), 6)  # sqrt(2 / 2) / 2
    0.5
    """
    y, f = _pairs(actual_kwh, forecast_kwh)
    n = y.size
    mean = float(y.mean()) if n else math.nan
    if n <= p or mean == 0:
        return math.nan
    return float(np.sqrt(np.sum((y - f) ** 2) / (n - p)) / mean)


def nmbe(actual_kwh: ArrayLike, forecast_kwh: ArrayLike, *, p: int = 1) -> float:
    """Return ASHRAE Guideline 14 NMBE: ``Σ(y - f) / ((n - p) · mean(y))`` [-].

    Positive when the forecast is too low on average.

    Parameters
    ----------
    actual_kwh, forecast_kwh : array-like
        Actual and forecast energy per interval [kWh]; NaN pairs are skipped.
    p : int, default 1
        Number of model parameters subtracted from the degrees of freedom.

    Returns
    -------
    float

    Examples
    --------
    >>> nmbe([2.0, 4.0, 3.0], [1.0, 3.0, 2.0])  # 3 / (2 * 3)
    0.5
    """
    y, f = _pairs(actual_kwh, forecast_kwh)
    n = y.size
    mean = float(y.mean()) if n else math.nan
    if n <= p or mean == 0:
        return math.nan
    return float(np.sum(y - f) / ((n - p) * mean))


def smape(actual_kwh: ArrayLike, forecast_kwh: ArrayLike) -> float:
    """Return the symmetric mean absolute percentage error ``mean(2|y - f| / (|y| + |f|))``.

    A pair with both values 0 scores 0. Range [0, 2].

    Parameters
    ----------
    actual_kwh, forecast_kwh : array-like
        Actual and forecast energy per interval [kWh]; NaN pairs are skipped.

    Returns
    -------
    float

    Examples
    --------
    >>> round(smape([1.0, 0.0], [3.0, 0.0]), 6)  # (2 * 2 / 4 + 0) / 2
    0.5
    """
    y, f = _pairs(actual_kwh, forecast_kwh)
    if not y.size:
        return math.nan
    denom = np.abs(y) + np.abs(f)
    terms = np.divide(2 * np.abs(y - f), denom, out=np.zeros(y.size), where=denom > 0)
    return float(terms.mean())


def mase(
    actual_kwh: ArrayLike, forecast_kwh: ArrayLike, *, insample_kwh: ArrayLike, season: int
) -> float:
    """Return the mean absolute scaled error against the in-sample seasonal naive.

    Parameters
    ----------
    actual_kwh, forecast_kwh : array-like
        Actual and forecast energy per interval [kWh]; NaN pairs are skipped.
    insample_kwh : array-like
        The history before the origin on its regular grid [kWh per interval],
        NaN for missing intervals (pairs with a NaN are skipped).
    season : int
        Season length in intervals (24 for a day of hours).

    Returns
    -------
    float
        NaN when the in-sample error is 0 or cannot be computed.

    Examples
    --------
    >>> mase([3.0, 5.0], [2.0, 5.0], insample_kwh=[1.0, 2.0, 3.0, 5.0], season=2)  # 0.5 / 2.5
    0.2
    """
    y, f = _pairs(actual_kwh, forecast_kwh)
    x = np.asarray(insample_kwh, dtype=np.float64)
    if season < 1:
        raise ValueError(f"season must be >= 1 interval, got {season!r}")
    diffs = np.abs(x[season:] - x[:-season]) if x.size > season else np.zeros(0)
    diffs = diffs[~np.isnan(diffs)]
    scale = float(diffs.mean()) if diffs.size else math.nan
    if not y.size or not scale > 0:
        return math.nan
    return float(np.mean(np.abs(y - f)) / scale)


def pinball_loss(actual_kwh: ArrayLike, forecast_kwh: ArrayLike, *, level: float) -> float:
    """Return the mean pinball (quantile) loss of a ``level``-quantile forecast [kWh].

    Parameters
    ----------
    actual_kwh, forecast_kwh : array-like
        Actual energy and its forecast ``level``-quantile [kWh]; NaN pairs skipped.
    level : float
        Quantile level in (0, 1).

    Returns
    -------
    float

    Examples
    --------
    >>> pinball_loss([10.0, 10.0], [8.0, 12.0], level=0.9)  # (0.9 * 2 + 0.1 * 2) / 2
    1.0
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    y, f = _pairs(actual_kwh, forecast_kwh)
    if not y.size:
        return math.nan
    e = y - f
    return float(np.mean(np.maximum(level * e, (level - 1) * e)))


def coverage(actual_kwh: ArrayLike, lower_kwh: ArrayLike, upper_kwh: ArrayLike) -> float:
    """Return the share of actuals within ``[lower, upper]`` [-].

    Parameters
    ----------
    actual_kwh, lower_kwh, upper_kwh : array-like
        Actual energy and the band's bounds, e.g. P10 and P90 [kWh];
        NaN triples are skipped.

    Returns
    -------
    float

    Examples
    --------
    >>> coverage([1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 0.0], [2.0, 2.0, 2.0, 2.0])
    0.5
    """
    y, lo, hi = _pairs(actual_kwh, lower_kwh, upper_kwh)
    if not y.size:
        return math.nan
    return float(np.mean((y >= lo) & (y <= hi)))


def _quantile_columns(frame: pd.DataFrame) -> list[tuple[float, str]]:
    out = []
    for column in frame.columns:
        name = str(column)
        if name.startswith("p") and name.endswith("_kwh") and name[1:-4].isdigit():
            out.append((int(name[1:-4]) / 100.0, name))
    return sorted(out)


def _mase_scales(frame: pd.DataFrame, history: pd.DataFrame) -> FloatArray:
    """In-sample seasonal-naive MAE (season one day) before each row's origin [kWh]."""
    checked = check_history(history)
    interval_s = infer_history_interval_s(checked)
    step = pd.Timedelta(seconds=interval_s)
    m = steps_per_day(interval_s)
    scales = np.full(len(frame), np.nan)
    origins = frame["origin"] if "origin" in frame.columns else None
    for meter_id, rows in frame.groupby("meter_id", sort=False):
        series = checked[checked["meter_id"] == meter_id]
        if series.empty:
            continue
        start = series["ts"].iloc[0]
        pos = ((series["ts"] - start) // step).to_numpy(dtype=np.int64)
        on = (series["ts"] - start) % step == pd.Timedelta(0)
        values = np.full(int(pos.max()) + 1, np.nan)
        values[pos[on.to_numpy()]] = series["energy_kwh"].to_numpy()[on.to_numpy()]
        diff = np.abs(values[m:] - values[:-m])
        ok = ~np.isnan(diff)
        csum = np.concatenate([[0.0], np.cumsum(np.where(ok, diff, 0.0))])
        ccount = np.concatenate([[0], np.cumsum(ok)])
        origin = origins.loc[rows.index] if origins is not None else rows["ts"].min()
        origin_ts = pd.Series(origin, index=rows.index)
        o_pos = ((origin_ts - start) // step).to_numpy(dtype=np.int64)
        # differences x_t - x_(t-m) with t < origin: indices 0 .. o_pos - m - 1
        k = np.clip(o_pos - m, 0, diff.size)
        count = ccount[k]
        scales[frame.index.get_indexer(rows.index)] = np.divide(
            csum[k], count, out=np.full(k.size, np.nan), where=count > 0
        )
    return scales


def _score_rows(part: pd.DataFrame, quantiles: list[tuple[float, str]]) -> dict[str, float]:
    y = part["actual_kwh"].to_numpy(dtype=np.float64)
    f = part["p50_kwh"].to_numpy(dtype=np.float64)
    ok = ~np.isnan(y) & ~np.isnan(f)
    row: dict[str, float] = {
        "n": float(np.count_nonzero(ok)),
        "nrmse": nrmse(y, f),
        "cvrmse": cvrmse(y, f),
        "nmbe": nmbe(y, f),
        "smape": smape(y, f),
        "mae_kwh": float(np.mean(np.abs(y[ok] - f[ok]))) if ok.any() else math.nan,
        "rmse_kwh": float(np.sqrt(np.mean((y[ok] - f[ok]) ** 2))) if ok.any() else math.nan,
    }
    if "_scale" in part.columns:
        scale = part["_scale"].to_numpy(dtype=np.float64)
        good = ok & (scale > 0)
        row["mase"] = (
            float(np.mean(np.abs(y[good] - f[good]) / scale[good])) if good.any() else math.nan
        )
    for level, column in quantiles:
        row[f"pinball_{column[:-4]}"] = pinball_loss(
            y, part[column].to_numpy(dtype=np.float64), level=level
        )
    if len(quantiles) >= 2:
        lo, hi = quantiles[0][1], quantiles[-1][1]
        row["coverage"] = coverage(
            y, part[lo].to_numpy(dtype=np.float64), part[hi].to_numpy(dtype=np.float64)
        )
    return row


def score(
    forecasts_with_actuals: pd.DataFrame,
    *,
    history: pd.DataFrame | None = None,
    group: str | Sequence[str] = "meter_id",
) -> pd.DataFrame:
    """Score forecasts against actuals: one row per group, plus a pooled row.

    Parameters
    ----------
    forecasts_with_actuals : pandas.DataFrame
        A backtest frame (:func:`bitgoeul.forecast.backtest.backtest`):
        ``meter_id``, ``actual_kwh``, ``p50_kwh`` (the point forecast),
        optionally other ``p{100 q}_kwh`` columns, ``origin`` and ``model``.
        Rows with a NaN actual or P50 are not scored.
    history : pandas.DataFrame, optional
        The readings (long format) for MASE: its scale is the mean absolute
        day-over-day difference before each row's ``origin`` (before the
        meter's first forecast time without an ``origin`` column). Without
        it there is no ``mase`` column.
    group : str or sequence of str, default 'meter_id'
        Columns that define a scored group; ``model`` is added in front when
        the frame has that column and it is not named.

    Returns
    -------
    pandas.DataFrame
        The group columns, then ``n``, ``nrmse``, ``cvrmse``, ``nmbe``,
        ``smape``, ``mae_kwh``, ``rmse_kwh``, ``mase`` (with ``history``),
        ``pinball_p{100 q}`` for each quantile column [kWh] and ``coverage``
        (between the lowest and the highest quantile column, e.g. P10-P90).
        The pooled row (``'all'`` in the last group column; one per model)
        scores all rows together: its NRMSE is dominated by the largest
        meters, so compare meters of different size by the median of their
        rows, as BuildingsBench does.

    Examples
    --------
    >>> frame = pd.DataFrame({"meter_id": ["a", "a", "b", "b"],
    ...                       "actual_kwh": [1.0, 3.0, 10.0, 10.0],
    ...                       "p10_kwh": [0.0, 0.0, 9.0, 11.0],
    ...                       "p50_kwh": [2.0, 2.0, 10.0, 12.0],
    ...                       "p90_kwh": [4.0, 4.0, 11.0, 13.0]})
    >>> s = score(frame)
    >>> rows = s[["meter_id", "n", "nrmse", "coverage"]].round(4).to_dict("records")
    >>> rows[0], rows[1]["nrmse"], rows[1]["coverage"]
    ({'meter_id': 'a', 'n': 2, 'nrmse': 0.5, 'coverage': 1.0}, 0.1414, 0.5)
    """
    frame = forecasts_with_actuals.reset_index(drop=True)
    missing = [c for c in ("actual_kwh", "p50_kwh") if c not in frame.columns]
    if missing:
        raise ValueError(
            f"forecasts_with_actuals lacks {missing}: pass a backtest frame with 'actual_kwh' "
            "and 'p50_kwh'"
        )
    keys = [group] if isinstance(group, str) else list(group)
    if "model" in frame.columns and "model" not in keys:
        keys = ["model", *keys]
    absent = [k for k in keys if k not in frame.columns]
    if absent:
        raise ValueError(f"group column(s) {absent} are not in the frame")
    quantiles = _quantile_columns(frame)
    if history is not None:
        frame = frame.assign(_scale=_mase_scales(frame, history))
    outer = keys[:-1]
    rows: list[dict[str, object]] = []
    outer_groups = frame.groupby(outer, sort=True) if outer else [((), frame)]
    for outer_key, outer_part in outer_groups:
        prefix = dict(
            zip(outer, outer_key if isinstance(outer_key, tuple) else (outer_key,), strict=True)
        )
        for key, part in outer_part.groupby(keys[-1], sort=True):
            rows.append({**prefix, keys[-1]: key, **_score_rows(part, quantiles)})
        rows.append({**prefix, keys[-1]: _POOLED, **_score_rows(outer_part, quantiles)})
    out = pd.DataFrame(rows)
    out["n"] = out["n"].astype(np.int64)
    return out
