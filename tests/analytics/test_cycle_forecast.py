from __future__ import annotations

import datetime as dt
import doctest
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bitgoeul.analytics import cycle_forecast
from bitgoeul.analytics.cycle_forecast import (
    CycleEnergyForecaster,
    ProfileLevelForecaster,
    forecast_cycle_energy,
    project_crossing_date,
)
from bitgoeul.analytics.cycles import billing_cycle_for, billing_cycles, cycle_by_label

JULY_2025 = cycle_by_label("2025-08", 1)  # 2025-07-01 .. 2025-07-31, reading day 1


def _days(start: dt.date, end: dt.date) -> list[dt.date]:
    return list(pd.date_range(start, end, freq="D").date)


def constant_series(kwh: float, start: dt.date, end: dt.date) -> pd.Series:
    return pd.Series(kwh, index=pd.Index(_days(start, end), dtype=object), dtype="float64")


def weekly_series(
    weekday_kwh: float, weekend_kwh: float, start: dt.date, end: dt.date
) -> pd.Series:
    days = _days(start, end)
    values = [weekend_kwh if d.weekday() >= 5 else weekday_kwh for d in days]
    return pd.Series(values, index=pd.Index(days, dtype=object), dtype="float64")


def noisy_series(seed: int, start: dt.date, n_days: int) -> pd.Series:
    """A household-like day series: slowly drifting level, weekend uplift, lognormal noise."""
    rng = np.random.default_rng(seed)
    days = [start + dt.timedelta(days=i) for i in range(n_days)]
    drift = np.empty(n_days)
    drift[0] = 0.0
    for i in range(1, n_days):  # AR(1) in log space: persistent level changes
        drift[i] = 0.97 * drift[i - 1] + rng.normal(0.0, 0.04)
    season = 0.25 * np.cos(2 * np.pi * np.arange(n_days) / 365.25)
    weekend = np.array([1.25 if d.weekday() >= 5 else 1.0 for d in days])
    noise = rng.lognormal(0.0, 0.25, n_days)
    values = 10.0 * np.exp(drift + season) * weekend * noise
    return pd.Series(values, index=pd.Index(days, dtype=object), dtype="float64")


def test_examples_in_docstrings_run() -> None:
    assert doctest.testmod(cycle_forecast).failed == 0


def test_all_is_sorted() -> None:
    assert cycle_forecast.__all__ == sorted(cycle_forecast.__all__)


# -- as-of discipline ------------------------------------------------------------------
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(min_value=0, max_value=10_000),
    into_cycle=st.integers(min_value=0, max_value=40),
    reading_day=st.sampled_from([1, 11, 25]),
    change=st.sampled_from(["scale", "nan", "zero", "drop", "spike"]),
)
def test_forecast_ignores_data_at_or_after_as_of(
    seed: int, into_cycle: int, reading_day: int, change: str
) -> None:
    series = noisy_series(seed, dt.date(2023, 6, 1), 600)
    cycle = billing_cycle_for(dt.date(2024, 11, 20), reading_day)
    as_of = cycle.start + dt.timedelta(days=into_cycle)
    later = series.index.to_series().map(lambda d: d >= as_of).to_numpy(dtype=bool)
    altered = series.copy()
    if change == "scale":
        altered[later] = altered[later] * 7.0
    elif change == "nan":
        altered[later] = np.nan
    elif change == "zero":
        altered[later] = 0.0
    elif change == "spike":
        altered[later] = altered[later] + 1000.0
    else:
        altered = altered[~later]
    before = forecast_cycle_energy(series, cycle, as_of=as_of)
    after = forecast_cycle_energy(altered, cycle, as_of=as_of)
    assert (before.p10_kwh, before.p50_kwh, before.p90_kwh) == (
        after.p10_kwh,
        after.p50_kwh,
        after.p90_kwh,
    )
    assert before.so_far_kwh == after.so_far_kwh
    pd.testing.assert_frame_equal(before.daily, after.daily)


def test_default_forecaster_called_directly_ignores_days_at_or_after_as_of() -> None:
    series = noisy_series(7, dt.date(2024, 1, 1), 600)
    as_of = dt.date(2025, 7, 8)
    days = _days(as_of, dt.date(2025, 7, 31))
    altered = series.where(series.index.to_series().map(lambda d: d < as_of).to_numpy(), 99.0)
    forecaster = ProfileLevelForecaster()
    before = forecaster.forecast_remaining(
        series, as_of=as_of, days=days, quantiles=[0.1, 0.5, 0.9]
    )
    after = forecaster.forecast_remaining(
        altered, as_of=as_of, days=days, quantiles=[0.1, 0.5, 0.9]
    )
    pd.testing.assert_frame_equal(before, after)


def test_plug_in_forecaster_receives_only_days_before_as_of() -> None:
    seen: list[dt.date] = []

    class Recording:
        def forecast_remaining(
            self,
            daily_kwh: pd.Series,
            *,
            as_of: dt.date,
            days: Sequence[dt.date],
            quantiles: Sequence[float],
        ) -> pd.DataFrame:
            seen.extend(daily_kwh.index)
            return pd.DataFrame({q: 1.0 for q in quantiles}, index=pd.Index(list(days)))

    forecaster: CycleEnergyForecaster = Recording()
    series = constant_series(10.0, dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    f = forecast_cycle_energy(series, JULY_2025, as_of=dt.date(2025, 7, 11), forecaster=forecaster)
    assert max(seen) == dt.date(2025, 7, 10)
    assert f.p50_kwh == 100.0 + 21 * 1.0
    assert "Recording" in f.method


# -- band --------------------------------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=10_000),
    into_cycle=st.integers(min_value=0, max_value=30),
    history_days=st.integers(min_value=1, max_value=500),
)
def test_band_is_ordered_and_never_below_usage_so_far(
    seed: int, into_cycle: int, history_days: int
) -> None:
    cycle = JULY_2025
    as_of = cycle.start + dt.timedelta(days=into_cycle)
    start = as_of - dt.timedelta(days=history_days)
    series = noisy_series(seed, start, history_days + 40)
    f = forecast_cycle_energy(series, cycle, as_of=as_of)
    assert f.so_far_kwh <= f.p10_kwh <= f.p50_kwh <= f.p90_kwh
    paths = f.daily[["p10_kwh", "p50_kwh", "p90_kwh"]].to_numpy()
    assert (paths >= 0).all()
    cumulative = paths.cumsum(axis=0)
    assert (np.diff(cumulative, axis=1) >= -1e-9).all()  # p10 <= p50 <= p90 on every day
    assert f.days_observed + len(f.days_missing) + f.days_remaining == cycle.days


def test_band_is_empirical_with_long_history_and_widened_fallback_with_short() -> None:
    cycle = JULY_2025
    as_of = dt.date(2025, 7, 8)
    long = forecast_cycle_energy(noisy_series(1, dt.date(2024, 1, 1), 600), cycle, as_of=as_of)
    short = forecast_cycle_energy(noisy_series(1, dt.date(2025, 6, 20), 60), cycle, as_of=as_of)
    assert "empirical band" in long.method
    assert "fallback" in short.method
    # the fallback's relative width for 24 unknown days: 2 * 1.2816 * 1.5 * sqrt(cv²/24 + 0.15²)
    width = (short.p90_kwh - short.p10_kwh) / (short.p50_kwh - short.so_far_kwh)
    assert width > 2 * 1.2816 * 1.5 * 0.15


def test_complete_cycle_collapses_band_to_measured_total() -> None:
    series = noisy_series(3, dt.date(2025, 1, 1), 300)
    inside = series.loc[JULY_2025.start : JULY_2025.end]
    f = forecast_cycle_energy(series, JULY_2025, as_of=dt.date(2025, 8, 20))
    assert f.p10_kwh == f.p50_kwh == f.p90_kwh == pytest.approx(float(inside.sum()))
    assert f.so_far_kwh == pytest.approx(float(inside.sum()))
    assert (f.days_observed, f.days_missing, f.days_remaining) == (31, (), 0)
    assert set(f.daily["status"]) == {"observed"}
    assert f.method.startswith("measured")


def test_complete_cycle_with_a_missing_day_keeps_a_band_for_that_day() -> None:
    series = noisy_series(3, dt.date(2025, 1, 1), 300)
    series[dt.date(2025, 7, 15)] = np.nan
    f = forecast_cycle_energy(series, JULY_2025, as_of=dt.date(2025, 8, 1))
    assert f.days_missing == (dt.date(2025, 7, 15),)
    assert f.p10_kwh < f.p50_kwh < f.p90_kwh
    assert f.p50_kwh == pytest.approx(f.so_far_kwh + f.missing_fill_kwh)


def test_as_of_on_cycle_start_forecasts_the_whole_cycle() -> None:
    series = constant_series(12.0, dt.date(2025, 1, 1), dt.date(2025, 6, 30))
    f = forecast_cycle_energy(series, JULY_2025, as_of=JULY_2025.start)
    assert (f.so_far_kwh, f.days_observed, f.days_remaining) == (0.0, 0, 31)
    assert f.p50_kwh == pytest.approx(12.0 * 31)
    assert set(f.daily["status"]) == {"forecast"}


def test_day_types_shape_the_forecast() -> None:
    # weekdays 8 kWh, weekends 16 kWh: July 2025 has 23 weekdays and 8 weekend days
    series = weekly_series(8.0, 16.0, dt.date(2025, 1, 1), dt.date(2025, 6, 30))
    f = forecast_cycle_energy(series, JULY_2025, as_of=JULY_2025.start, holidays_country=None)
    assert f.p50_kwh == pytest.approx(23 * 8.0 + 8 * 16.0)


def test_public_holidays_count_as_sundays() -> None:
    # Korean Liberation Day, Friday 2025-08-15: a Sunday-like day with KR, a weekday without
    cycle = cycle_by_label("2025-09", 1)
    series = weekly_series(8.0, 16.0, dt.date(2025, 1, 1), dt.date(2025, 7, 31))
    series = series[[not (d.month == 6 and d.day == 6) for d in series.index]]  # KR Memorial Day
    with_kr = forecast_cycle_energy(series, cycle, as_of=cycle.start, holidays_country="KR")
    without = forecast_cycle_energy(series, cycle, as_of=cycle.start, holidays_country=None)
    liberation_day = dt.date(2025, 8, 15)
    assert with_kr.daily.loc[liberation_day, "p50_kwh"] == pytest.approx(16.0)
    assert without.daily.loc[liberation_day, "p50_kwh"] == pytest.approx(8.0)


def test_datetime_index_gives_the_same_forecast_as_date_index() -> None:
    series = noisy_series(5, dt.date(2024, 9, 1), 330)
    as_dates = forecast_cycle_energy(series, JULY_2025, as_of=dt.date(2025, 7, 15))
    stamped = pd.Series(series.to_numpy(), index=pd.DatetimeIndex(list(series.index)))
    as_stamps = forecast_cycle_energy(stamped, JULY_2025, as_of=dt.date(2025, 7, 15))
    assert as_dates.to_dict() == as_stamps.to_dict()


# -- missing days, zero runs, spikes -----------------------------------------------------
def test_missing_days_are_listed_and_filled_from_the_profile() -> None:
    series = constant_series(10.0, dt.date(2025, 1, 1), dt.date(2025, 7, 31))
    gaps = [dt.date(2025, 7, 3), dt.date(2025, 7, 4), dt.date(2025, 7, 9)]
    series[gaps] = np.nan
    series = series.drop(dt.date(2025, 7, 5))  # absent from the index counts as missing too
    f = forecast_cycle_energy(series, JULY_2025, as_of=dt.date(2025, 7, 11))
    assert f.days_missing == (*gaps[:2], dt.date(2025, 7, 5), gaps[2])
    assert (f.days_observed, f.so_far_kwh) == (6, 60.0)
    assert f.missing_fill_kwh == pytest.approx(40.0)
    assert f.p50_kwh == pytest.approx(310.0)
    missing_rows = f.daily.loc[list(f.days_missing)]
    assert set(missing_rows["status"]) == {"missing"}
    assert missing_rows["energy_kwh"].isna().all()


def test_short_zero_run_does_not_drag_the_forecast_down() -> None:
    series = constant_series(10.0, dt.date(2025, 1, 1), dt.date(2025, 7, 31))
    series[_days(dt.date(2025, 7, 8), dt.date(2025, 7, 10))] = 0.0  # 3 of the last 7 days
    f = forecast_cycle_energy(series, JULY_2025, as_of=dt.date(2025, 7, 11))
    remaining = f.daily.loc[f.daily["status"] == "forecast", "p50_kwh"]
    assert remaining.to_numpy() == pytest.approx(10.0)
    assert f.so_far_kwh == 70.0


def test_zero_days_making_up_most_of_the_last_week_count_in_the_level() -> None:
    series = constant_series(500.0, dt.date(2025, 1, 1), dt.date(2025, 7, 31))
    series[_days(dt.date(2025, 7, 7), dt.date(2025, 7, 10))] = 0.0  # 4 of the last 7 days
    f = forecast_cycle_energy(series, JULY_2025, as_of=dt.date(2025, 7, 11))
    remaining = f.daily.loc[f.daily["status"] == "forecast", "p50_kwh"]
    assert remaining.to_numpy() == pytest.approx(500.0 * 3 / 7)


def test_long_zero_run_becomes_the_new_normal() -> None:
    # a building switched off: 10 zero days of the last 10 measured
    series = constant_series(500.0, dt.date(2025, 1, 1), dt.date(2025, 7, 31))
    series[_days(dt.date(2025, 7, 1), dt.date(2025, 7, 10))] = 0.0
    f = forecast_cycle_energy(series, JULY_2025, as_of=dt.date(2025, 7, 11))
    assert f.p50_kwh == pytest.approx(0.0, abs=1e-9)


def test_catch_up_spike_after_a_gap_does_not_inflate_the_forecast() -> None:
    series = constant_series(10.0, dt.date(2025, 1, 1), dt.date(2025, 7, 31))
    series[_days(dt.date(2025, 7, 5), dt.date(2025, 7, 8))] = np.nan
    series[dt.date(2025, 7, 9)] = 50.0  # the energy of the four missing days and its own
    f = forecast_cycle_energy(series, JULY_2025, as_of=dt.date(2025, 7, 11))
    remaining = f.daily.loc[f.daily["status"] == "forecast", "p50_kwh"]
    assert remaining.to_numpy() == pytest.approx(10.0)


# -- crossing date -----------------------------------------------------------------------
def test_crossing_date_follows_the_p50_path_by_hand() -> None:
    # weekdays 8, weekends 16 kWh. July 2025 starts on a Tuesday; cumulative energy:
    # Fri 4th 32, Sun 6th 64, Fri 11th 104, Sun 13th 136, Fri 18th 176, Sat 19th 192,
    # Sun 20th 208 -> 200 kWh is exceeded on the 20th; the cycle ends at 312 kWh.
    series = weekly_series(8.0, 16.0, dt.date(2025, 1, 1), dt.date(2025, 7, 31))
    f = forecast_cycle_energy(series, JULY_2025, as_of=dt.date(2025, 7, 11), holidays_country=None)
    assert f.p50_kwh == pytest.approx(312.0)
    assert project_crossing_date(f, 200.0) == dt.date(2025, 7, 20)
    assert project_crossing_date(f, 192.0) == dt.date(2025, 7, 20)  # strictly above
    assert project_crossing_date(f, 191.9) == dt.date(2025, 7, 19)
    assert project_crossing_date(f, 50.0) == dt.date(2025, 7, 6)  # already exceeded
    assert project_crossing_date(f, 312.5) is None


def test_crossing_date_is_earliest_on_the_p90_path() -> None:
    series = noisy_series(11, dt.date(2024, 1, 1), 600)
    f = forecast_cycle_energy(series, JULY_2025, as_of=dt.date(2025, 7, 8))
    threshold = 0.5 * (f.p10_kwh + f.p90_kwh) - 0.1 * (f.p90_kwh - f.p10_kwh)
    p90, p50, p10 = (project_crossing_date(f, threshold, path=p) for p in ("p90", "p50", "p10"))
    assert p90 is not None and p50 is not None
    assert p90 <= p50
    assert p10 is None or p50 <= p10


def test_crossing_date_rejects_a_negative_threshold() -> None:
    f = forecast_cycle_energy(
        constant_series(10.0, dt.date(2025, 1, 1), dt.date(2025, 7, 31)),
        JULY_2025,
        as_of=dt.date(2025, 7, 11),
    )
    with pytest.raises(ValueError, match="threshold_kwh"):
        project_crossing_date(f, -1.0)


# -- calibration -------------------------------------------------------------------------
def test_p10_p90_coverage_is_roughly_nominal_on_a_seeded_noisy_series() -> None:
    covered = []
    for seed in (0, 1, 2):
        series = noisy_series(seed, dt.date(2022, 1, 1), 3 * 365)
        for cycle in billing_cycles(dt.date(2023, 1, 1), dt.date(2024, 11, 30), 1):
            actual = float(series.loc[cycle.start : cycle.end].sum())
            for into in (7, 14, 21):
                f = forecast_cycle_energy(
                    series, cycle, as_of=cycle.start + dt.timedelta(days=into)
                )
                covered.append(f.p10_kwh <= actual <= f.p90_kwh)
    coverage = float(np.mean(covered))
    assert len(covered) == 3 * 23 * 3
    assert 0.7 <= coverage <= 0.9, coverage


def test_coverage_on_a_real_london_household(shared_data: Path) -> None:
    raw = pd.read_csv(shared_data / "uk_lcl_london_smartmeter" / "MAC000060_halfhourly.csv.gz")
    raw.columns = ["ts", "kwh"]
    grouped = raw.groupby(pd.to_datetime(raw["ts"]).dt.date)["kwh"]
    daily = grouped.sum().where(grouped.count() == 48).iloc[1:-1]
    covered, errors = [], []
    for cycle in billing_cycles(dt.date(2012, 3, 1), dt.date(2014, 1, 31), 1):
        actual = float(daily.loc[cycle.start : cycle.end].sum())
        f = forecast_cycle_energy(
            daily, cycle, as_of=cycle.start + dt.timedelta(days=14), holidays_country="GB"
        )
        covered.append(f.p10_kwh <= actual <= f.p90_kwh)
        errors.append(abs(f.p50_kwh - actual) / actual)
    assert 0.6 <= float(np.mean(covered)) <= 0.97
    assert float(np.median(errors)) < 0.08


# -- contract and validation -------------------------------------------------------------
def test_to_dict_is_json_ready() -> None:
    series = constant_series(10.0, dt.date(2025, 1, 1), dt.date(2025, 7, 31))
    series[dt.date(2025, 7, 2)] = np.nan
    d = forecast_cycle_energy(series, JULY_2025, as_of=dt.date(2025, 7, 11)).to_dict()
    text = json.dumps(d, allow_nan=False)
    assert d["cycle"] == {
        "label": "2025-08",
        "start": "2025-07-01",
        "end": "2025-07-31",
        "reading_day": 1,
        "days": 31,
    }
    assert d["days_missing"] == ["2025-07-02"]
    assert d["daily"][1] == {
        "date": "2025-07-02",
        "energy_kwh": None,
        "p10_kwh": pytest.approx(10.0),
        "p50_kwh": pytest.approx(10.0),
        "p90_kwh": pytest.approx(10.0),
        "status": "missing",
    }
    assert "NaN" not in text


def test_crossing_quantile_paths_from_a_plug_in_are_sorted() -> None:
    class Crossing:
        def forecast_remaining(
            self,
            daily_kwh: pd.Series,
            *,
            as_of: dt.date,
            days: Sequence[dt.date],
            quantiles: Sequence[float],
        ) -> pd.DataFrame:
            values = {0.1: 3.0, 0.5: 2.0, 0.9: 1.0}  # upside down
            return pd.DataFrame({q: values[q] for q in quantiles}, index=pd.Index(list(days)))

    series = constant_series(10.0, dt.date(2025, 1, 1), dt.date(2025, 7, 31))
    f = forecast_cycle_energy(series, JULY_2025, as_of=dt.date(2025, 7, 22), forecaster=Crossing())
    assert (f.p10_kwh, f.p50_kwh, f.p90_kwh) == (210.0 + 10, 210.0 + 20, 210.0 + 30)


def test_invalid_plug_in_output_is_rejected() -> None:
    class Negative:
        def forecast_remaining(
            self,
            daily_kwh: pd.Series,
            *,
            as_of: dt.date,
            days: Sequence[dt.date],
            quantiles: Sequence[float],
        ) -> pd.DataFrame:
            return pd.DataFrame({q: -1.0 for q in quantiles}, index=pd.Index(list(days)))

    series = constant_series(10.0, dt.date(2025, 1, 1), dt.date(2025, 7, 31))
    with pytest.raises(ValueError, match="Negative"):
        forecast_cycle_energy(series, JULY_2025, as_of=dt.date(2025, 7, 22), forecaster=Negative())


@pytest.mark.parametrize(
    ("mutate", "error", "match"),
    [
        (lambda s: s.set_axis([*s.index[:-1], s.index[0]]), ValueError, "duplicate"),
        (lambda s: s.where(s.index != dt.date(2025, 3, 3), -1.0), ValueError, ">= 0"),
        (lambda s: s.where(s.index != dt.date(2025, 3, 3), np.inf), ValueError, "finite"),
        (lambda s: s.to_frame(), TypeError, "Series"),
        (
            lambda s: pd.Series(
                s.to_numpy(), index=pd.DatetimeIndex(list(s.index)) + pd.Timedelta("1h")
            ),
            ValueError,
            "midnight",
        ),
    ],
)
def test_malformed_daily_energy_is_rejected(
    mutate: Callable[[pd.Series], Any], error: type[Exception], match: str
) -> None:
    series = constant_series(10.0, dt.date(2025, 1, 1), dt.date(2025, 7, 31))
    with pytest.raises(error, match=match):
        forecast_cycle_energy(mutate(series), JULY_2025, as_of=dt.date(2025, 7, 11))


def test_as_of_before_the_cycle_is_rejected() -> None:
    series = constant_series(10.0, dt.date(2025, 1, 1), dt.date(2025, 7, 31))
    with pytest.raises(ValueError, match="before the cycle starts"):
        forecast_cycle_energy(series, JULY_2025, as_of=dt.date(2025, 6, 30))
    with pytest.raises(TypeError, match=r"datetime\.date"):
        forecast_cycle_energy(series, JULY_2025, as_of=dt.datetime(2025, 7, 11, 0, 0))


def test_no_history_before_as_of_is_rejected() -> None:
    series = constant_series(10.0, dt.date(2025, 7, 11), dt.date(2025, 7, 31))
    with pytest.raises(ValueError, match="no measured day before as_of"):
        forecast_cycle_energy(series, JULY_2025, as_of=dt.date(2025, 7, 11))


def test_forecaster_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="level_days"):
        ProfileLevelForecaster(level_days=0)
    with pytest.raises(ValueError, match="trim"):
        ProfileLevelForecaster(trim=0.5)
    with pytest.raises(ValueError, match="fallback_widening"):
        ProfileLevelForecaster(fallback_widening=0.9)
