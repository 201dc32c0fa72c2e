from __future__ import annotations

import datetime as dt
import importlib

import pandas as pd
import pytest

from bitgoeul.forecast.base import (
    check_as_of,
    check_history,
    check_horizon,
    check_quantiles,
    quantile_column,
)

MODULES = [
    "backtest",
    "base",
    "baselines",
    "cycle",
    "features",
    "gbm",
    "metrics",
    "persist",
    "quality",
    "series",
    "synthetic",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_and_complete(name: str) -> None:
    module = importlib.import_module(f"bitgoeul.forecast.{name}")
    assert module.__all__ == sorted(module.__all__)
    for member in module.__all__:
        assert hasattr(module, member), member


def test_quantile_column_rounds_to_whole_percent() -> None:
    assert [quantile_column(q) for q in (0.05, 0.1, 0.5, 0.9)] == [
        "p5_kwh",
        "p10_kwh",
        "p50_kwh",
        "p90_kwh",
    ]


@pytest.mark.parametrize("bad", [[0.5, 0.1], [0.0, 0.5], [0.1, 0.101], [], [1.0]])
def test_check_quantiles_rejects_unordered_out_of_range_or_colliding_levels(
    bad: list[float],
) -> None:
    with pytest.raises(ValueError, match="quantiles"):
        check_quantiles(bad)


def test_check_horizon_refuses_more_than_the_model_learnt() -> None:
    with pytest.raises(ValueError, match="max_horizon=24"):
        check_horizon(25, max_horizon=24)
    with pytest.raises(ValueError, match="horizon"):
        check_horizon(0)


def test_check_as_of_refuses_naive_times_and_dates() -> None:
    with pytest.raises(TypeError, match="timezone-aware"):
        check_as_of(pd.Timestamp("2025-01-01"))
    with pytest.raises(TypeError, match="midnight"):
        check_as_of(dt.date(2025, 1, 1))
    assert check_as_of(dt.datetime(2025, 1, 1, tzinfo=dt.UTC)) == pd.Timestamp(
        "2025-01-01", tz="UTC"
    )


def test_check_history_converts_to_utc_and_refuses_duplicates() -> None:
    ts = pd.date_range("2025-01-01", periods=3, freq="h", tz="Asia/Seoul")
    frame = pd.DataFrame({"meter_id": [1, 1, 1], "ts": ts, "energy_kwh": ["1", "2", "3"]})
    out = check_history(frame)
    assert str(out["ts"].dt.tz) == "UTC"
    assert out["meter_id"].tolist() == ["1", "1", "1"]
    assert out["energy_kwh"].tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(ValueError, match="duplicate"):
        check_history(pd.concat([frame, frame.iloc[:1]]))
    with pytest.raises(TypeError, match="timezone-aware"):
        check_history(frame.assign(ts=ts.tz_localize(None)))
    with pytest.raises(ValueError, match="energy_kwh"):
        check_history(frame.drop(columns="energy_kwh"))
