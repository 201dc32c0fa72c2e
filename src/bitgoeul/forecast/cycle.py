"""Month-end bill forecasts from an interval forecasting model.

:class:`ModelCycleForecaster` plugs a :class:`~bitgoeul.forecast.base.Forecaster`
into :func:`bitgoeul.analytics.cycle_forecast.forecast_cycle_energy` (it
follows the :class:`~bitgoeul.analytics.cycle_forecast.CycleEnergyForecaster`
protocol), so the month-end bill forecast can use the model:

Days the model covers
    From ``as_of`` (local midnight) the model forecasts up to its
    ``max_horizon`` intervals; every local day wholly inside gets the sums
    of its intervals' quantiles: P50 of the day = sum of the interval P50s.
    The band sums interval quantiles too -- the value the day's total would
    have if every interval's error were at the same quantile (errors fully
    correlated) -- a conservative band: hourly errors of one day are
    strongly but not fully correlated, so the day's true P10-P90 range is
    narrower. Summing comonotone quantiles is the one rule that needs no
    replay of the model (a fitted model cannot be replayed honestly on the
    data it learnt from), and it stays honest for the few days (7 with the
    default ``max_horizon`` of 168 hours) a model covers.
Other days
    Days after the model's reach and days before ``as_of`` that are missing
    come from :class:`~bitgoeul.analytics.cycle_forecast.ProfileLevelForecaster`
    (its paths for the whole list of days, in which the model's days are
    replaced), whose band is calibrated by replaying the meter's own history.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd

from bitgoeul.analytics.cycle_forecast import ProfileLevelForecaster
from bitgoeul.errors import NotFittedError
from bitgoeul.forecast.base import Forecaster, check_history, quantile_column
from bitgoeul.forecast.series import infer_history_interval_s, steps_per_day
from bitgoeul.model import check_timezone

__all__ = ["ModelCycleForecaster"]


class ModelCycleForecaster:
    """Forecast a billing cycle's remaining days with an interval model.

    Parameters
    ----------
    model : Forecaster
        A fitted model (fitted as of ``as_of`` or earlier), or an unfitted
        one: it is then fitted as of each ``as_of`` asked for.
    hourly_history : pandas.DataFrame
        The meter's interval readings in long format (hourly or finer; other
        meters are ignored). Only rows before ``as_of`` are read.
    meter_id : str
        The meter to forecast.
    timezone : str
        The meter's IANA zone: local days and midnight.
    fallback : ProfileLevelForecaster, optional
        Forecaster of the days the model does not cover; default
        ``ProfileLevelForecaster()``.

    Examples
    --------
    >>> import datetime as dt
    >>> import numpy as np
    >>> import pandas as pd
    >>> from bitgoeul.analytics.cycle_forecast import forecast_cycle_energy
    >>> from bitgoeul.analytics.cycles import billing_cycle_for
    >>> from bitgoeul.forecast.baselines import SeasonalNaive
    >>> ts = pd.date_range("2025-05-01", "2025-07-31 23:00", freq="h", tz="Asia/Seoul")
    >>> hist = pd.DataFrame({"meter_id": "m1", "ts": ts, "energy_kwh": 0.5})
    >>> daily = hist.set_index("ts")["energy_kwh"].tz_convert("Asia/Seoul").resample("D").sum()
    >>> daily.index = daily.index.date
    >>> plug = ModelCycleForecaster(SeasonalNaive(), hist, meter_id="m1", timezone="Asia/Seoul")
    >>> f = forecast_cycle_energy(daily, billing_cycle_for(dt.date(2025, 7, 20), 1),
    ...                           as_of=dt.date(2025, 7, 11), forecaster=plug)
    >>> round(f.p50_kwh, 6)
    372.0
    """

    def __init__(
        self,
        model: Forecaster,
        hourly_history: pd.DataFrame,
        *,
        meter_id: str,
        timezone: str,
        fallback: ProfileLevelForecaster | None = None,
    ) -> None:
        self.model = model
        frame = check_history(hourly_history)
        self.history = frame[frame["meter_id"] == str(meter_id)].reset_index(drop=True)
        if self.history.empty:
            raise ValueError(f"hourly_history has no readings of meter {meter_id!r}")
        self.meter_id = str(meter_id)
        self.timezone = check_timezone(timezone)
        self.fallback = fallback if fallback is not None else ProfileLevelForecaster()

    def forecast_remaining(
        self,
        daily_kwh: pd.Series,
        *,
        as_of: dt.date,
        days: Sequence[dt.date],
        quantiles: Sequence[float],
    ) -> pd.DataFrame:
        """Return quantile paths of the energy of ``days`` [kWh per day].

        See :class:`~bitgoeul.analytics.cycle_forecast.CycleEnergyForecaster`
        for the contract and the module notes for the method.

        Parameters
        ----------
        daily_kwh : pandas.Series
            Energy per local date before ``as_of`` [kWh per day] (for the
            fallback days).
        as_of : datetime.date
            First local day not observed.
        days : sequence of datetime.date
            Days to forecast, sorted and distinct.
        quantiles : sequence of float
            Quantile levels in (0, 1), increasing.

        Returns
        -------
        pandas.DataFrame
            Index ``days``, one column per level [kWh per day]; ``attrs``
            holds ``method``.
        """
        levels = [float(q) for q in quantiles]
        frame = self.fallback.forecast_remaining(
            daily_kwh, as_of=as_of, days=days, quantiles=levels
        )
        day_list = list(frame.index)
        ahead = [d for d in day_list if d >= as_of]
        if not ahead:
            return frame
        origin = pd.Timestamp(as_of).tz_localize(self.timezone)
        interval_s = infer_history_interval_s(self.history)
        per_day = steps_per_day(interval_s)
        max_horizon = getattr(self.model, "max_horizon", None)
        last_day = ahead[-1]
        wanted = ((last_day - as_of).days + 1) * per_day
        horizon = wanted if max_horizon is None else min(int(max_horizon), wanted)
        if horizon < 1:
            return frame
        try:
            forecast = self.model.predict(
                self.history, as_of=origin, horizon=horizon, quantiles=levels
            )
        except NotFittedError:
            self.model.fit(self.history, as_of=origin)
            forecast = self.model.predict(
                self.history, as_of=origin, horizon=horizon, quantiles=levels
            )
        forecast = forecast[forecast["meter_id"] == self.meter_id]
        local_day = forecast["ts"].dt.tz_convert(self.timezone).dt.date
        columns = [quantile_column(q) for q in levels]
        sums = forecast[columns].groupby(local_day.to_numpy()).agg(["sum", "count"])
        covered = []
        out = frame.copy()
        for d in ahead:
            if d not in sums.index:
                continue
            counts = np.array([sums.loc[d, (c, "count")] for c in columns])
            totals = np.array([sums.loc[d, (c, "sum")] for c in columns], dtype=np.float64)
            start = pd.Timestamp(d).tz_localize(self.timezone)
            end = pd.Timestamp(d + dt.timedelta(days=1)).tz_localize(self.timezone)
            expected = int((end - start).total_seconds()) // interval_s
            if (counts < expected).any() or not np.isfinite(totals).all():
                continue
            out.loc[d, levels] = np.sort(totals)
            covered.append(d)
        model_name = getattr(self.model, "name", type(self.model).__name__)
        if covered:
            span = f"{covered[0].isoformat()}..{covered[-1].isoformat()}"
            out.attrs["method"] = (
                f"{model_name}: sums of interval quantiles for {len(covered)} day(s) "
                f"{span} (comonotone, conservative band); other days: "
                f"{frame.attrs.get('method', 'profile-level')}"
            )
        else:
            out.attrs["method"] = frame.attrs.get("method", "profile-level")
        return out
