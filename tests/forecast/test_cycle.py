from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from bitgoeul.analytics.cycle_forecast import ProfileLevelForecaster, forecast_cycle_energy
from bitgoeul.analytics.cycles import billing_cycle_for
from bitgoeul.forecast.baselines import SeasonalNaive
from bitgoeul.forecast.cycle import ModelCycleForecaster
from bitgoeul.forecast.synthetic import generate_load_history

from .conftest import SEOUL, small_model

HISTORY = generate_load_history(1, days=120, seed=21, start="2024-03-01")
AS_OF = dt.date(2024, 6, 20)


def daily(history: pd.DataFrame) -> pd.Series:
    local = history.set_index("ts")["energy_kwh"].tz_convert(SEOUL)
    days = local.resample("D").sum()
    days.index = days.index.date
    return days[days.index < AS_OF]


def test_model_days_sum_the_interval_forecasts_and_later_days_fall_back() -> None:
    model = small_model(max_horizon=48).fit(HISTORY, as_of=pd.Timestamp(AS_OF, tz=SEOUL))
    plug = ModelCycleForecaster(model, HISTORY, meter_id="m001", timezone=SEOUL)
    days = [AS_OF + dt.timedelta(days=i) for i in range(5)]
    out = plug.forecast_remaining(daily(HISTORY), as_of=AS_OF, days=days, quantiles=[0.1, 0.5, 0.9])
    intervals = model.predict(HISTORY, as_of=pd.Timestamp(AS_OF, tz=SEOUL), horizon=48)
    by_day = intervals.groupby(intervals["ts"].dt.tz_convert(SEOUL).dt.date)["p50_kwh"].sum()
    assert out.loc[days[0], 0.5] == pytest.approx(by_day[days[0]])
    assert out.loc[days[1], 0.5] == pytest.approx(by_day[days[1]])
    fallback = ProfileLevelForecaster().forecast_remaining(
        daily(HISTORY), as_of=AS_OF, days=days, quantiles=[0.1, 0.5, 0.9]
    )
    pd.testing.assert_frame_equal(out.iloc[2:], fallback.iloc[2:], check_names=False)
    assert (out.loc[days[:2], 0.1] <= out.loc[days[:2], 0.9]).all()
    assert "lightgbm" in out.attrs["method"] and "2 day(s)" in out.attrs["method"]


def test_the_month_end_forecast_can_use_an_unfitted_model() -> None:
    cycle = billing_cycle_for(AS_OF, 1)
    plug = ModelCycleForecaster(
        SeasonalNaive(season="week"), HISTORY, meter_id="m001", timezone=SEOUL
    )
    with_model = forecast_cycle_energy(daily(HISTORY), cycle, as_of=AS_OF, forecaster=plug)
    default = forecast_cycle_energy(daily(HISTORY), cycle, as_of=AS_OF)
    assert with_model.so_far_kwh == default.so_far_kwh
    assert with_model.p10_kwh <= with_model.p50_kwh <= with_model.p90_kwh
    assert "seasonal_naive_week" in with_model.method
    assert with_model.p50_kwh != default.p50_kwh
    week = HISTORY.set_index("ts")["energy_kwh"].tz_convert(SEOUL)
    last_week = week[str(AS_OF - dt.timedelta(days=7)) : str(AS_OF - dt.timedelta(days=1))]
    first_days = with_model.daily.loc[[AS_OF + dt.timedelta(days=i) for i in range(7)], "p50_kwh"]
    assert np.isclose(first_days.sum(), last_week.sum())  # the week ahead repeats the last one


def test_an_unknown_meter_is_refused() -> None:
    with pytest.raises(ValueError, match="no readings of meter"):
        ModelCycleForecaster(SeasonalNaive(), HISTORY, meter_id="nope", timezone=SEOUL)
