from __future__ import annotations

import numpy as np
import pandas as pd

from bitgoeul.forecast.features import (
    FEATURE_NAMES,
    build_features,
    recent_level,
    window_mean,
    zero_regime,
)
from bitgoeul.forecast.series import grid_calendar, to_grids
from bitgoeul.forecast.synthetic import generate_load_history

SEOUL = "Asia/Seoul"


def features_at(history: pd.DataFrame, as_of: pd.Timestamp, leads: np.ndarray) -> np.ndarray:
    grid = to_grids(
        history, as_of=as_of, interval_s=3600, lookback_s=60 * 86400, horizon=int(leads.max())
    )
    meter = next(iter(grid.values()))
    cal = grid_calendar(meter.start, meter.energy_kwh.size, 3600, timezone=SEOUL, country="KR")
    return build_features(meter, cal, np.array([meter.origin]), leads).x


def test_features_do_not_change_when_data_at_or_after_the_origin_change() -> None:
    history = generate_load_history(1, days=50, seed=2)
    as_of = pd.Timestamp("2024-02-10", tz=SEOUL)
    leads = np.arange(1, 73)
    before = features_at(history, as_of, leads)
    altered = history.copy()
    later = altered["ts"] >= as_of
    altered.loc[later, "energy_kwh"] = 1e6
    altered.loc[later, "temp_c"] = -50.0
    after = features_at(altered, as_of, leads)
    assert np.array_equal(before, after, equal_nan=True)


def test_lags_land_on_the_last_day_and_week_before_the_origin() -> None:
    ts = pd.date_range("2024-03-01", periods=24 * 30, freq="h", tz="UTC")
    history = pd.DataFrame(
        {"meter_id": "m", "ts": ts, "energy_kwh": np.arange(ts.size, dtype=float) + 1}
    )
    as_of = ts[24 * 29]
    grid = to_grids(history, as_of=as_of, interval_s=3600, lookback_s=10**8, horizon=48)["m"]
    cal = grid_calendar(grid.start, grid.energy_kwh.size, 3600, timezone="UTC", country=None)
    rows = build_features(grid, cal, np.array([grid.origin]), np.array([1, 24, 25, 48]))
    level = rows.level[0]
    lag_day = rows.x[:, FEATURE_NAMES.index("lag_day")] * level
    lag_week = rows.x[:, FEATURE_NAMES.index("lag_week")] * level
    o = grid.origin  # value at position p is p + 1
    # target p = o + lead - 1; lag one day back while that is before the origin, else two
    assert np.allclose(lag_day, [o - 24 + 1, o + 23 - 24 + 1, o + 24 - 48 + 1, o + 47 - 48 + 1])
    assert np.allclose(
        lag_week, [o - 168 + 1, o + 23 - 168 + 1, o + 24 - 168 + 1, o + 47 - 168 + 1]
    )
    assert np.allclose(level, np.mean(np.arange(o - 168, o) + 1))


def test_holiday_features_mark_seollal_targets() -> None:
    history = generate_load_history(1, days=40, seed=1, start="2022-01-01")
    as_of = pd.Timestamp("2022-01-31", tz=SEOUL)  # Seollal holidays: 31 Jan .. 2 Feb
    x = features_at(history, as_of, np.arange(1, 24 * 4 + 1))
    by_day = x[12::24]  # noon of Mon 31, Tue 1, Wed 2, Thu 3
    col = {name: by_day[:, FEATURE_NAMES.index(name)].tolist() for name in FEATURE_NAMES}
    assert col["is_holiday"] == [1, 1, 1, 0]
    assert col["holiday_prev_day"] == [0, 1, 1, 1]
    assert col["holiday_next_day"] == [1, 1, 0, 0]
    assert col["day_type"] == [2, 2, 2, 0]
    assert col["day_of_week"] == [0, 1, 2, 3]
    assert col["lead"] == [13, 37, 61, 85]


def test_window_mean_level_and_zero_regime_skip_missing_values() -> None:
    values = np.array([1.0, np.nan, 3.0, 0.0, 0.0, 0.0])
    assert window_mean(values, np.array([3]), 3).tolist() == [2.0]
    assert recent_level(values, np.array([3]), window=2, min_count=2).tolist() == [2.0]
    assert np.isnan(recent_level(values, np.array([1]), window=2, min_count=2)[0])
    assert zero_regime(values, np.array([6, 5]), 3).tolist() == [True, False]
