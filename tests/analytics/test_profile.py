from __future__ import annotations

import datetime as dt
import doctest
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitgoeul.analytics import profile
from bitgoeul.analytics.profile import classify_days, load_profile, peak_demand

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
CNU_D18 = DATA / "kr_cnu_campus_buildings_hourly" / "D18_university_headquarters_HV_02.csv"
SEOUL = "Asia/Seoul"


def local_frame(
    start: str, periods: int, freq: str, energy: object, zone: str = SEOUL
) -> pd.DataFrame:
    ts = pd.date_range(start, periods=periods, freq=freq, tz=zone)
    return pd.DataFrame({"ts": ts.tz_convert("UTC"), "energy_kwh": energy})


def test_examples_in_docstrings_run() -> None:
    assert doctest.testmod(profile).failed == 0


def test_classify_days_knows_lunar_and_substitute_holidays() -> None:
    days = [
        dt.date(2025, 1, 29),  # Seollal (lunar new year)
        dt.date(2025, 10, 6),  # Chuseok
        dt.date(2025, 10, 8),  # substitute holiday for Chuseok
        dt.date(2025, 3, 1),  # Independence Movement Day, a Saturday
        dt.date(2025, 3, 2),  # Sunday
        dt.date(2025, 3, 4),  # Tuesday
    ]
    assert classify_days(days) == ["holiday", "holiday", "holiday", "holiday", "weekend", "weekday"]
    assert classify_days([dt.date(2025, 1, 29)], country="US") == ["weekday"]


def test_classify_days_refuses_unknown_country() -> None:
    with pytest.raises(ValueError, match="country"):
        classify_days([dt.date(2025, 1, 1)], country="XX")
    with pytest.raises(ValueError, match="'GB-XYZ'"):
        classify_days([dt.date(2025, 1, 1)], country="GB-XYZ")


def test_classify_days_takes_a_regions_calendar() -> None:
    # Easter Monday and the late summer bank holiday are England's, not Scotland's
    days = [dt.date(2013, 4, 1), dt.date(2013, 8, 26)]
    assert classify_days(days, country="GB-ENG") == ["holiday", "holiday"]
    assert classify_days(days, country="GB-SCT") == ["weekday", "weekday"]
    assert classify_days(days, country="GB") == ["weekday", "weekday"]


def test_load_profile_separates_day_types_in_local_time() -> None:
    # 2025-09-29 (Mon) .. 2025-10-12 (Sun): Chuseok 10-05..10-08, also 10-03 and 10-09.
    frame = local_frame("2025-09-29", 14 * 96, "15min", 0.0)
    local = frame["ts"].dt.tz_convert(SEOUL)
    kinds = dict(
        zip(sorted(set(local.dt.date)), classify_days(sorted(set(local.dt.date))), strict=True)
    )
    level = {"weekday": 0.4, "weekend": 0.2, "holiday": 0.1}
    day_type = local.dt.date.map(kinds)
    frame["energy_kwh"] = day_type.map(level) + local.dt.hour * 0.01
    got = load_profile(frame, timezone=SEOUL)

    assert list(got.columns) == [
        "day_type",
        "slot",
        "mean_kwh",
        "median_kwh",
        "p10_kwh",
        "p90_kwh",
        "mean_kw",
        "days",
    ]
    assert list(got["day_type"].unique()) == ["weekday", "weekend", "holiday"]
    assert len(got) == 3 * 96
    by = got.set_index(["day_type", "slot"])
    expected_days = pd.Series(kinds).value_counts()
    for kind, base in level.items():
        row = by.loc[(kind, "13:45")]
        assert row["mean_kwh"] == pytest.approx(base + 0.13)
        assert row["p10_kwh"] == pytest.approx(base + 0.13)
        assert row["mean_kw"] == pytest.approx((base + 0.13) * 4)
        assert row["days"] == expected_days[kind]
    assert expected_days["holiday"] == 6


def test_load_profile_quantiles_across_days() -> None:
    # Ten weekdays (two weeks of March 2025, no holidays), hourly; at 09:00 day k reads k.
    frames = []
    for week_start in ("2025-03-10", "2025-03-17"):
        frames.append(local_frame(week_start, 5 * 24, "h", 1.0))
    frame = pd.concat(frames, ignore_index=True)
    local = frame["ts"].dt.tz_convert(SEOUL)
    nine = local.dt.hour == 9
    frame.loc[nine, "energy_kwh"] = np.arange(1, 11, dtype=float)
    got = load_profile(frame, timezone=SEOUL).set_index(["day_type", "slot"])
    row = got.loc[("weekday", "09:00")]
    values = np.arange(1, 11, dtype=float)
    assert row["mean_kwh"] == pytest.approx(values.mean())
    assert row["median_kwh"] == pytest.approx(np.median(values))
    assert row["p10_kwh"] == pytest.approx(np.quantile(values, 0.1))
    assert row["p90_kwh"] == pytest.approx(np.quantile(values, 0.9))
    assert row["mean_kw"] == pytest.approx(values.mean())
    assert row["days"] == 10


def test_load_profile_ignores_nan_and_handles_empty() -> None:
    frame = local_frame("2025-03-10", 4, "h", [1.0, np.nan, 3.0, 5.0])
    got = load_profile(frame, timezone=SEOUL, interval_s=3600)
    assert got["slot"].tolist() == ["00:00", "02:00", "03:00"]
    empty = load_profile(frame.iloc[:0], timezone=SEOUL)
    assert empty.empty and "mean_kw" in empty.columns


def test_load_profile_refuses_naive_timestamps() -> None:
    frame = pd.DataFrame(
        {"ts": pd.date_range("2025-03-10", periods=3, freq="h"), "energy_kwh": 1.0}
    )
    with pytest.raises(TypeError, match="timezone-aware"):
        load_profile(frame, timezone=SEOUL)


@settings(max_examples=40, deadline=None)
@given(
    energy=st.lists(
        st.floats(min_value=0, max_value=50, allow_nan=False), min_size=48, max_size=24 * 9
    ),
    scale=st.floats(min_value=0.5, max_value=4),
)
def test_load_profile_keeps_total_energy_and_scales(energy: list[float], scale: float) -> None:
    frame = local_frame("2025-10-01", len(energy), "h", energy)
    got = load_profile(frame, timezone=SEOUL)
    assert (got["mean_kwh"] * got["days"]).sum() == pytest.approx(sum(energy), rel=1e-9, abs=1e-9)
    assert (got["p10_kwh"] <= got["median_kwh"] + 1e-12).all()
    assert (got["median_kwh"] <= got["p90_kwh"] + 1e-12).all()
    scaled = load_profile(frame.assign(energy_kwh=frame["energy_kwh"] * scale), timezone=SEOUL)
    np.testing.assert_allclose(scaled["mean_kwh"], got["mean_kwh"] * scale, rtol=1e-9, atol=1e-12)


def test_load_profile_on_a_real_building() -> None:
    raw = pd.read_csv(CNU_D18).dropna(subset=["energy"])
    ts = pd.to_datetime(raw["date"], format="%Y-%m-%d %H:%M").dt.tz_localize(SEOUL)
    frame = pd.DataFrame({"ts": ts.dt.tz_convert("UTC"), "energy_kwh": raw["energy"].to_numpy()})
    frame = frame[(frame["ts"] < pd.Timestamp("2021-12-01", tz=SEOUL))]  # before the outages
    got = load_profile(frame, timezone=SEOUL).set_index(["day_type", "slot"])
    dates = sorted(set(frame["ts"].dt.tz_convert(SEOUL).dt.date))
    holidays_2021 = classify_days(dates).count("holiday")
    # An office building: weekday afternoons well above nights and weekends.
    assert got.loc[("weekday", "14:00"), "mean_kw"] > 2 * got.loc[("weekday", "03:00"), "mean_kw"]
    assert got.loc[("weekday", "14:00"), "mean_kw"] > 1.5 * got.loc[("weekend", "14:00"), "mean_kw"]
    assert got.loc[("holiday", "14:00"), "days"] == holidays_2021 > 10
    assert got.loc[("holiday", "14:00"), "mean_kw"] < got.loc[("weekday", "14:00"), "mean_kw"]


def test_peak_demand_sums_fine_data_into_quarter_hours() -> None:
    frame = local_frame("2025-08-01 13:50", 6, "5min", [5.0, 1.0, 1.0, 1.0, 2.0, 2.0])
    got = peak_demand(frame, timezone=SEOUL, interval_s=300, top_n=3)
    assert got is not None
    # Buckets: 13:45 [13:50 + 13:55 = 6], 14:00 [1 + 1 + 2 = 4], 14:15 [2, one reading].
    assert got.resolution_s == 900
    assert got.demand_kw == pytest.approx(24.0)
    assert got.start == dt.datetime(2025, 8, 1, 13, 45, tzinfo=got.start.tzinfo)
    assert got.start.utcoffset() == dt.timedelta(hours=9)
    assert [p.demand_kw for p in got.peaks] == pytest.approx([24.0, 16.0, 8.0])
    assert got.end - got.start == dt.timedelta(minutes=15)


def test_peak_demand_quarter_hour_and_hourly_data() -> None:
    frame = local_frame("2025-08-01", 8, "15min", [1, 2, 3, 3, 0.5, 0.5, 0.5, 0.5])
    got = peak_demand(frame, timezone=SEOUL, interval_s=900, top_n=2)
    assert got is not None
    assert (got.demand_kw, got.resolution_s) == (12.0, 900)
    assert [p.start.minute for p in got.peaks] == [30, 45]  # tie: earliest first
    hourly = local_frame("2025-08-01", 3, "h", [10.0, 42.0, 7.0])
    got = peak_demand(hourly, timezone=SEOUL, interval_s=3600)
    assert got is not None
    assert (got.demand_kw, got.resolution_s, got.start.hour) == (42.0, 3600, 1)


def test_peak_demand_refuses_intervals_that_do_not_divide_15_minutes() -> None:
    frame = local_frame("2025-08-01", 3, "10min", 1.0)
    with pytest.raises(ValueError, match="divide 15 minutes"):
        peak_demand(frame, timezone=SEOUL, interval_s=600)
    assert peak_demand(frame.iloc[:0], timezone=SEOUL, interval_s=900) is None


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=5, allow_nan=False), min_size=120, max_size=120))
def test_peak_demand_is_resolution_consistent(energy: list[float]) -> None:
    minute = local_frame("2025-08-01 09:00", 120, "min", energy)
    quarter = (
        minute.assign(ts=minute["ts"].dt.floor("15min"))
        .groupby("ts", as_index=False)["energy_kwh"]
        .sum()
    )
    hour = (
        minute.assign(ts=minute["ts"].dt.floor("h"))
        .groupby("ts", as_index=False)["energy_kwh"]
        .sum()
    )
    p_min = peak_demand(minute, timezone=SEOUL, interval_s=60)
    p_quarter = peak_demand(quarter, timezone=SEOUL, interval_s=900)
    p_hour = peak_demand(hour, timezone=SEOUL, interval_s=3600)
    assert p_min is not None and p_quarter is not None and p_hour is not None
    assert p_min.demand_kw == pytest.approx(p_quarter.demand_kw)
    assert p_hour.demand_kw <= p_quarter.demand_kw + 1e-9
    assert p_quarter.demand_kw >= sum(energy) / 2 - 1e-9  # at least the mean power over 2 h
