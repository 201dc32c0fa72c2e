from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import ClassVar, Self

import numpy as np
import pandas as pd
import pytest

from bitgoeul.forecast.backtest import backtest, rolling_origins
from bitgoeul.forecast.baselines import SeasonalNaive

SEOUL = "Asia/Seoul"


def hourly(days: int, start: str = "2024-01-01") -> pd.DataFrame:
    ts = pd.date_range(start, periods=24 * days, freq="h", tz=SEOUL).tz_convert("UTC")
    return pd.DataFrame({"meter_id": "m", "ts": ts, "energy_kwh": np.arange(ts.size, dtype=float)})


def test_rolling_origins_are_local_midnights_over_the_last_year_with_room_for_the_horizon() -> None:
    history = hourly(500)
    origins = rolling_origins(history, n=30, horizon=24, timezone=SEOUL)
    assert len(origins) == 30
    assert all(o.tz_convert(SEOUL) == o.tz_convert(SEOUL).normalize() for o in origins)
    assert origins == sorted(origins)
    end = history["ts"].max() + pd.Timedelta("1h")
    assert origins[-1] + pd.Timedelta("24h") <= end
    assert origins[-1] + pd.Timedelta("48h") > end
    assert (origins[-1] - origins[0]).days == 365
    gaps = {(b - a).days for a, b in zip(origins, origins[1:], strict=False)}
    assert gaps <= {12, 13}


def test_rolling_origins_with_spacing_count_back_from_the_last_one() -> None:
    history = hourly(100)
    origins = rolling_origins(history, n=4, horizon=48, timezone=SEOUL, spacing_days=7)
    assert [(o - origins[0]).days for o in origins] == [0, 7, 14, 21]
    assert origins[-1] + pd.Timedelta("48h") <= history["ts"].max() + pd.Timedelta("1h")


def test_rolling_origins_stay_after_the_first_reading_on_short_histories() -> None:
    history = hourly(10)
    origins = rolling_origins(history, n=30, horizon=24, timezone=SEOUL)
    assert len(origins) == 9
    assert origins[0] > history["ts"].min()


def test_backtest_joins_actuals_and_numbers_leads_from_one() -> None:
    history = hourly(30)
    history.loc[history.index[-5], "energy_kwh"] = np.nan
    origins = rolling_origins(history, n=3, horizon=24, timezone=SEOUL)
    out = backtest(SeasonalNaive, history, origins, horizon=24)
    assert list(out.columns) == [
        "meter_id",
        "origin",
        "ts",
        "lead",
        "actual_kwh",
        "p10_kwh",
        "p50_kwh",
        "p90_kwh",
        "model",
    ]
    assert len(out) == 72
    assert out["lead"].tolist() == list(range(1, 25)) * 3
    assert (out["ts"] == out["origin"] + pd.to_timedelta(out["lead"] - 1, unit="h")).all()
    truth = history.set_index("ts")["energy_kwh"]
    assert np.array_equal(out["actual_kwh"], truth.reindex(out["ts"]).to_numpy(), equal_nan=True)
    assert out["actual_kwh"].isna().sum() == 1
    assert set(out["model"]) == {"seasonal_naive_day"}


def test_backtest_reports_progress_at_the_start_and_after_each_origin() -> None:
    history = hourly(30)
    origins = rolling_origins(history, n=3, horizon=24, timezone=SEOUL)
    calls: list[tuple[int, int]] = []
    out = backtest(SeasonalNaive, history, origins, horizon=24, progress=lambda *a: calls.append(a))
    assert calls == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert out["origin"].nunique() == 3


class CountingModel:
    """A forecaster that records its fits and predicts the last value before the origin."""

    fits: ClassVar[list[pd.Timestamp]] = []

    def __init__(self) -> None:
        self.name = "counting"

    def fit(self, history: pd.DataFrame, *, as_of: pd.Timestamp | dt.datetime) -> Self:
        self.as_of_ = pd.Timestamp(as_of)
        CountingModel.fits.append(self.as_of_)
        return self

    def predict(
        self,
        history: pd.DataFrame,
        *,
        as_of: pd.Timestamp | dt.datetime,
        horizon: int,
        quantiles: Sequence[float] = (0.1, 0.5, 0.9),
    ) -> pd.DataFrame:
        stamp = pd.Timestamp(as_of)
        assert stamp >= self.as_of_, "a model may only forecast from origins after its fit"
        last = history[history["ts"] < stamp]["energy_kwh"].iloc[-1]
        ts = pd.date_range(stamp, periods=horizon, freq="h")
        out = pd.DataFrame({"meter_id": "m", "ts": ts})
        for q in quantiles:
            out[f"p{round(100 * q)}_kwh"] = last
        return out


@pytest.mark.parametrize(("refit", "fits"), [("each", 3), ("once", 1)])
def test_backtest_refits_at_each_origin_or_once_at_the_earliest(refit: str, fits: int) -> None:
    history = hourly(30)
    origins = rolling_origins(history, n=3, horizon=24, timezone=SEOUL)
    CountingModel.fits = []
    out = backtest(CountingModel, history, list(reversed(origins)), horizon=24, refit=refit)  # type: ignore[arg-type]
    assert len(CountingModel.fits) == fits
    assert CountingModel.fits[0] == origins[0]  # the earliest: later origins only
    first = out.groupby("origin")["p50_kwh"].first()
    expected = [history[history["ts"] < o]["energy_kwh"].iloc[-1] for o in origins]
    assert first.tolist() == expected
