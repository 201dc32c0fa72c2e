"""Rolling-origin backtests: forecast from past origins, join what was then measured.

:func:`rolling_origins` picks forecast origins (local midnights) spread over
the last year of a history; :func:`backtest` fits a model as of each origin
(or once, as of the first), forecasts from each and joins the actuals, in
the frame :func:`bitgoeul.forecast.metrics.score` scores.

As-of rule
    A model fitted as of ``o1`` predicts only from origins ``o2 >= o1``
    (reading data before ``o2``): with ``refit='once'`` it is fitted as of
    the earliest origin. Nothing a forecast reads is at or after its origin,
    so the backtest is what the model would have said on that day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from bitgoeul.forecast.base import (
    DEFAULT_QUANTILES,
    Forecaster,
    check_as_of,
    check_history,
    check_horizon,
    check_quantiles,
    quantile_column,
)
from bitgoeul.forecast.series import infer_history_interval_s
from bitgoeul.model import check_timezone

__all__ = ["BACKTEST_COLUMNS", "backtest", "rolling_origins"]

BACKTEST_COLUMNS: tuple[str, ...] = ("meter_id", "origin", "ts", "lead", "actual_kwh")
"""Leading columns of a backtest frame; the quantile columns and ``model`` follow."""


def rolling_origins(
    history: pd.DataFrame,
    *,
    n: int,
    horizon: int,
    timezone: str,
    spacing_days: int | None = None,
    end: pd.Timestamp | dt.datetime | None = None,
) -> list[pd.Timestamp]:
    """Return up to ``n`` forecast origins at local midnight over the last year of data.

    Parameters
    ----------
    history : pandas.DataFrame
        Long-format readings (all meters together set the span).
    n : int
        Number of origins wanted.
    horizon : int
        Intervals each forecast covers: an origin's whole horizon must end by
        ``end`` [-].
    timezone : str
        IANA zone whose midnights are the origins.
    spacing_days : int, optional
        Days between consecutive origins, counted back from the last
        possible one; None spreads the ``n`` origins evenly over the year
        before it.
    end : pandas.Timestamp or datetime.datetime, optional
        End of the data (exclusive); default the end of the last interval.

    Returns
    -------
    list of pandas.Timestamp
        Distinct local midnights (timezone-aware, ``timezone``), ascending,
        after the first reading and within a year of the last one; fewer than
        ``n`` when the span holds fewer days.

    Examples
    --------
    >>> ts = pd.date_range("2024-01-01", "2024-12-31 23:00", freq="h", tz="Asia/Seoul")
    >>> h = pd.DataFrame({"meter_id": "m", "ts": ts, "energy_kwh": 1.0})
    >>> o = rolling_origins(h, n=3, horizon=24, timezone="Asia/Seoul")
    >>> [str(t.date()) for t in o]
    ['2024-01-02', '2024-07-02', '2024-12-31']
    >>> [str(t.date()) for t in rolling_origins(h, n=3, horizon=24, timezone="Asia/Seoul",
    ...                                         spacing_days=7)]
    ['2024-12-17', '2024-12-24', '2024-12-31']
    """
    check_timezone(timezone)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a whole number of origins >= 1, got {n!r}")
    check_horizon(horizon)
    frame = check_history(history)
    if frame.empty:
        raise ValueError("history is empty: there is nothing to backtest")
    interval_s = infer_history_interval_s(frame)
    first = frame["ts"].min()
    stop = (
        check_as_of(end)
        if end is not None
        else frame["ts"].max() + pd.Timedelta(seconds=interval_s)
    )
    latest = (stop - pd.Timedelta(seconds=interval_s * horizon)).tz_convert(timezone)
    last_day = latest.tz_localize(None).normalize()
    if _local_midnight(last_day, timezone) > latest:
        last_day -= pd.Timedelta(days=1)
    first_local = first.tz_convert(timezone).tz_localize(None)
    first_day = first_local.normalize() + pd.Timedelta(days=1)
    first_day = max(first_day, last_day - pd.Timedelta(days=365))
    if last_day < first_day:
        return []
    span = (last_day - first_day).days
    if spacing_days is not None:
        if isinstance(spacing_days, bool) or spacing_days < 1:
            raise ValueError(f"spacing_days must be >= 1, got {spacing_days!r}")
        offsets = [span - k * spacing_days for k in range(n) if span - k * spacing_days >= 0]
    else:
        offsets = np.unique(np.round(np.linspace(0, span, num=min(n, span + 1)))).tolist()
    days = sorted({first_day + pd.Timedelta(days=int(k)) for k in offsets})
    return [_local_midnight(day, timezone) for day in days]


def _local_midnight(day: pd.Timestamp, timezone: str) -> pd.Timestamp:
    stamp: pd.Timestamp = day.tz_localize(timezone, nonexistent="shift_forward", ambiguous=True)
    return stamp


def backtest(
    make_model: Callable[[], Forecaster],
    history: pd.DataFrame,
    origins: Sequence[pd.Timestamp | dt.datetime],
    *,
    horizon: int,
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
    refit: Literal["each", "once"] = "each",
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Forecast from each origin and join the actuals.

    Parameters
    ----------
    make_model : callable
        Returns a new, unfitted forecaster, e.g. ``lambda: SeasonalNaive()``.
    history : pandas.DataFrame
        Long-format readings; each fit and forecast reads only the rows
        before its origin, the actuals come from the rows after it.
    origins : sequence of pandas.Timestamp or datetime.datetime
        Timezone-aware forecast origins (e.g. :func:`rolling_origins`).
    horizon : int
        Intervals per forecast [-].
    quantiles : sequence of float, default (0.1, 0.5, 0.9)
        Levels to forecast.
    refit : {'each', 'once'}, default 'each'
        Fit a new model as of every origin, or one as of the earliest
        origin that then forecasts from all of them.
    progress : callable, optional
        Called as ``progress(done, total)`` before the first origin (``done=0``)
        and after each one (a progress bar).

    Returns
    -------
    pandas.DataFrame
        ``meter_id``, ``origin`` (UTC), ``ts`` (UTC), ``lead`` (1 = the
        interval starting at the origin), ``actual_kwh`` (NaN where nothing
        was measured), the ``p{100 q}_kwh`` columns and ``model`` (the
        forecaster's ``name``); sorted by origin, meter and time.

    Examples
    --------
    >>> from bitgoeul.forecast.baselines import SeasonalNaive
    >>> ts = pd.date_range("2025-01-01", periods=24 * 10, freq="h", tz="UTC")
    >>> h = pd.DataFrame({"meter_id": "m", "ts": ts, "energy_kwh": 1.0})
    >>> out = backtest(SeasonalNaive, h, [pd.Timestamp("2025-01-09", tz="UTC")], horizon=24)
    >>> out.shape, float((out["actual_kwh"] - out["p50_kwh"]).abs().max())
    ((24, 9), 0.0)
    """
    if refit not in ("each", "once"):
        raise ValueError(f"refit must be 'each' or 'once', got {refit!r}")
    n = check_horizon(horizon)
    levels = check_quantiles(quantiles)
    stamps = sorted({check_as_of(o) for o in origins})
    if not stamps:
        raise ValueError("origins is empty: pass at least one forecast origin")
    frame = check_history(history)
    actuals = frame.set_index(["meter_id", "ts"])["energy_kwh"]
    step = pd.Timedelta(seconds=infer_history_interval_s(frame))
    columns = [*BACKTEST_COLUMNS, *[quantile_column(q) for q in levels], "model"]
    parts = []
    model: Forecaster | None = None
    if progress is not None:
        progress(0, len(stamps))
    for done, stamp in enumerate(stamps, start=1):
        if model is None or refit == "each":
            model = make_model().fit(frame, as_of=stamp)
        forecast = model.predict(frame, as_of=stamp, horizon=n, quantiles=levels)
        if progress is not None:
            progress(done, len(stamps))
        if forecast.empty:
            continue
        forecast = forecast.copy()
        forecast["origin"] = stamp
        forecast["lead"] = ((forecast["ts"] - stamp) // step + 1).astype(np.int64)
        index = pd.MultiIndex.from_frame(forecast[["meter_id", "ts"]])
        forecast["actual_kwh"] = actuals.reindex(index).to_numpy(dtype=np.float64)
        forecast["model"] = model.name
        parts.append(forecast[columns])
    if not parts:
        return pd.DataFrame(columns=columns)
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["origin", "meter_id", "ts"], kind="stable").reset_index(drop=True)
