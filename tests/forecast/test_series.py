from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from bitgoeul.forecast.series import (
    grid_calendar,
    infer_history_interval_s,
    steps_per_day,
    to_grids,
)

SEOUL = "Asia/Seoul"


def days_calendar(first: str, n_days: int) -> tuple[list[dt.date], dict[str, np.ndarray]]:
    start = pd.Timestamp(first, tz=SEOUL).tz_convert("UTC")
    cal = grid_calendar(start, 24 * n_days, 3600, timezone=SEOUL, country="KR")
    dates = [(pd.Timestamp(first) + pd.Timedelta(days=i)).date() for i in range(n_days)]
    noon = slice(12, None, 24)  # one position per local day
    fields = {
        name: getattr(cal, name)[noon]
        for name in (
            "is_holiday",
            "holiday_prev_day",
            "holiday_next_day",
            "bridge_day",
            "day_type",
            "day_of_week",
        )
    }
    assert np.allclose(cal.hour[:24], np.arange(24))
    return dates, fields


def test_calendar_marks_seollal_2022_and_the_days_around_it() -> None:
    dates, f = days_calendar("2022-01-29", 7)  # Sat 29 .. Fri 4 Feb
    flags = dict(
        zip(
            dates,
            zip(f["is_holiday"], f["holiday_prev_day"], f["holiday_next_day"], strict=True),
            strict=True,
        )
    )
    assert flags[dt.date(2022, 1, 30)] == (False, False, True)  # Sunday before
    assert flags[dt.date(2022, 1, 31)] == (True, False, True)  # day before Seollal
    assert flags[dt.date(2022, 2, 1)] == (True, True, True)  # Seollal (lunar new year)
    assert flags[dt.date(2022, 2, 2)] == (True, True, False)
    assert flags[dt.date(2022, 2, 3)] == (False, True, False)  # first working day after
    types = dict(zip(dates, f["day_type"].tolist(), strict=True))
    assert types[dt.date(2022, 2, 1)] == 2  # like a Sunday
    assert types[dt.date(2022, 2, 3)] == 0
    assert types[dt.date(2022, 1, 29)] == 1  # Saturday


def test_calendar_marks_chuseok_2022_with_its_substitute_day() -> None:
    dates, f = days_calendar("2022-09-07", 8)  # Wed 7 .. Wed 14 Sep
    holiday = dict(zip(dates, f["is_holiday"].tolist(), strict=True))
    assert [d.day for d, h in holiday.items() if h] == [9, 10, 11, 12]  # 12: substitute
    nxt = dict(zip(dates, f["holiday_next_day"].tolist(), strict=True))
    prev = dict(zip(dates, f["holiday_prev_day"].tolist(), strict=True))
    assert nxt[dt.date(2022, 9, 8)] and not nxt[dt.date(2022, 9, 7)]
    assert prev[dt.date(2022, 9, 13)] and not prev[dt.date(2022, 9, 14)]
    types = dict(zip(dates, f["day_type"].tolist(), strict=True))
    assert types[dt.date(2022, 9, 10)] == 2  # a Saturday that is a holiday counts as one


def test_calendar_flags_a_working_day_between_days_off_as_a_bridge() -> None:
    # Mon 2022-02-28 lies between Sunday and Tue 2022-03-01 (Independence Movement Day)
    dates, f = days_calendar("2022-02-26", 5)
    bridge = dict(zip(dates, f["bridge_day"].tolist(), strict=True))
    assert bridge[dt.date(2022, 2, 28)]
    assert not any(v for d, v in bridge.items() if d != dt.date(2022, 2, 28))


def test_calendar_without_a_country_has_no_holidays() -> None:
    start = pd.Timestamp("2022-02-01", tz=SEOUL).tz_convert("UTC")
    cal = grid_calendar(start, 24, 3600, timezone=SEOUL, country=None)
    assert not cal.is_holiday.any()
    assert int(cal.day_type[0]) == 0


def test_a_region_code_adds_the_regions_own_holidays_to_the_calendar() -> None:
    sydney = "Australia/Sydney"
    start = pd.Timestamp("2013-10-06", tz=sydney).tz_convert("UTC")  # Sun 6, Mon 7 (Labour Day)
    nsw = grid_calendar(start, 47, 3600, timezone=sydney, country="AU-NSW")
    national = grid_calendar(start, 47, 3600, timezone=sydney, country="AU")
    # 6 October 2013 is 23 hours long in Sydney (daylight saving starts)
    local = pd.date_range(start, periods=47, freq="h").tz_convert(sydney)
    labour_day = np.asarray(local.day == 7)
    assert labour_day.sum() == 24
    assert (nsw.is_holiday == labour_day).all()
    assert not national.is_holiday.any()  # NSW's day (and some states'), not Australia's
    assert (nsw.day_type[labour_day] == 2).all() and (national.day_type[labour_day] == 0).all()


def test_to_grids_reads_nothing_at_or_after_as_of() -> None:
    ts = pd.date_range("2025-01-01", periods=10, freq="h", tz="UTC")
    history = pd.DataFrame({"meter_id": "m", "ts": ts, "energy_kwh": np.arange(10.0)})
    grid = to_grids(history, as_of=ts[6], interval_s=3600, lookback_s=10**6, horizon=4)["m"]
    assert grid.origin == 6
    assert grid.energy_kwh[:6].tolist() == [0, 1, 2, 3, 4, 5]
    assert np.isnan(grid.energy_kwh[6:]).all()
    assert grid.times()[grid.origin] == ts[6]


def test_to_grids_places_gaps_as_nan_and_drops_off_grid_readings() -> None:
    ts = pd.DatetimeIndex(
        [
            "2025-01-01 00:00",
            "2025-01-01 01:00",
            "2025-01-01 03:00",
            "2025-01-01 03:05",
            "2025-01-01 04:00",
        ],
        tz="UTC",
    )
    history = pd.DataFrame({"meter_id": "m", "ts": ts, "energy_kwh": [1.0, 2, 3, 99, 4]})
    grid = to_grids(
        history, as_of=pd.Timestamp("2025-01-01 05:00", tz="UTC"), interval_s=3600, lookback_s=10**6
    )["m"]
    assert np.array_equal(grid.energy_kwh, [1.0, 2, np.nan, 3, 4], equal_nan=True)


def test_to_grids_refuses_an_as_of_between_interval_boundaries() -> None:
    ts = pd.date_range("2025-01-01", periods=10, freq="h", tz="UTC")
    history = pd.DataFrame({"meter_id": "m", "ts": ts, "energy_kwh": 1.0})
    with pytest.raises(ValueError, match="not on the readings"):
        to_grids(history, as_of=ts[5] + pd.Timedelta("20min"), interval_s=3600, lookback_s=10**6)


def test_interval_is_the_most_common_step_within_meters() -> None:
    a = pd.date_range("2025-01-01", periods=5, freq="15min", tz="UTC")
    b = pd.date_range("2025-01-03", periods=5, freq="15min", tz="UTC")
    history = pd.DataFrame(
        {"meter_id": ["a"] * 5 + ["b"] * 5, "ts": a.append(b), "energy_kwh": 1.0}
    )
    assert infer_history_interval_s(history) == 900
    assert steps_per_day(900) == 96
    with pytest.raises(ValueError, match="does not divide a day"):
        steps_per_day(7 * 3600)
