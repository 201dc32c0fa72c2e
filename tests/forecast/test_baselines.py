from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bitgoeul.errors import NotFittedError
from bitgoeul.forecast.baselines import PersistenceEnsemble, SeasonalNaive
from bitgoeul.forecast.metrics import coverage


def periodic(days: int, *, noise: float = 0.0, seed: int = 0) -> pd.DataFrame:
    """Hourly series: a daily shape times a weekday/weekend level, optional noise."""
    ts = pd.date_range("2025-01-06", periods=24 * days, freq="h", tz="UTC")  # a Monday
    shape = 1 + np.sin(2 * np.pi * ts.hour.to_numpy() / 24) ** 2
    level = np.where(ts.day_of_week.to_numpy() >= 5, 0.5, 1.0)
    rng = np.random.default_rng(seed)
    energy = shape * level * (1 + noise * rng.standard_normal(ts.size))
    return pd.DataFrame({"meter_id": "m", "ts": ts, "energy_kwh": energy})


def test_seasonal_naive_day_repeats_yesterday_and_week_repeats_last_week() -> None:
    history = periodic(60)
    as_of = pd.Timestamp("2025-03-03", tz="UTC")  # a Monday
    values = history.set_index("ts")["energy_kwh"]
    day = (
        SeasonalNaive(season="day")
        .fit(history, as_of=as_of)
        .predict(history, as_of=as_of, horizon=48)
    )
    week = (
        SeasonalNaive(season="week")
        .fit(history, as_of=as_of)
        .predict(history, as_of=as_of, horizon=48)
    )
    yesterday = values[as_of - pd.Timedelta("1D") : as_of - pd.Timedelta("1h")].to_numpy()
    assert np.allclose(day["p50_kwh"], np.tile(yesterday, 2))  # Sunday copied onto Monday
    truth = values[as_of : as_of + pd.Timedelta("47h")].to_numpy()
    assert np.allclose(week["p50_kwh"], truth)  # the weekly cycle is exact
    assert not np.allclose(day["p50_kwh"], truth)


def test_persistence_ensemble_is_the_mean_of_the_same_hour_over_seven_days() -> None:
    history = periodic(30, noise=0.2, seed=4)
    as_of = pd.Timestamp("2025-02-01", tz="UTC")
    values = history.set_index("ts")["energy_kwh"]
    past = values[as_of - pd.Timedelta("7D") : as_of - pd.Timedelta("1h")].to_numpy().reshape(7, 24)
    model = PersistenceEnsemble().fit(history, as_of=as_of)
    out = model.predict(history, as_of=as_of, horizon=48)
    assert np.allclose(out["p50_kwh"], np.tile(past.mean(axis=0), 2))
    median = PersistenceEnsemble(statistic="median", days=7).fit(history, as_of=as_of)
    assert np.allclose(
        median.predict(history, as_of=as_of, horizon=24)["p50_kwh"], np.median(past, axis=0)
    )


def test_baseline_band_covers_about_eighty_percent_on_a_noisy_periodic_series() -> None:
    history = periodic(260, noise=0.15, seed=7)
    hits = []
    for k in range(10):
        as_of = pd.Timestamp("2025-06-02", tz="UTC") + pd.Timedelta(days=7 * k)
        f = (
            SeasonalNaive(season="week")
            .fit(history, as_of=as_of)
            .predict(history, as_of=as_of, horizon=24)
        )
        actual = history.set_index("ts").loc[f["ts"], "energy_kwh"].to_numpy()
        hits.append(coverage(actual, f["p10_kwh"], f["p90_kwh"]))
        assert (f["p10_kwh"] <= f["p50_kwh"]).all() and (f["p50_kwh"] <= f["p90_kwh"]).all()
    assert 0.7 <= np.mean(hits) <= 0.9


def test_seasonal_naive_falls_back_a_season_when_the_source_is_missing() -> None:
    history = periodic(20)
    as_of = pd.Timestamp("2025-01-22", tz="UTC")
    gap = (history["ts"] >= as_of - pd.Timedelta("1D")) & (history["ts"] < as_of)
    history.loc[gap, "energy_kwh"] = np.nan
    f = SeasonalNaive().fit(history, as_of=as_of).predict(history, as_of=as_of, horizon=24)
    two_days = history.set_index("ts")["energy_kwh"][
        as_of - pd.Timedelta("2D") : as_of - pd.Timedelta("25h")
    ]
    assert np.allclose(f["p50_kwh"], two_days.to_numpy())


def test_baselines_refuse_to_predict_unfitted_or_before_their_fit() -> None:
    history = periodic(20)
    as_of = pd.Timestamp("2025-01-20", tz="UTC")
    with pytest.raises(NotFittedError):
        SeasonalNaive().predict(history, as_of=as_of, horizon=24)
    model = PersistenceEnsemble().fit(history, as_of=as_of)
    with pytest.raises(ValueError, match="before the instant the model was fitted"):
        model.predict(history, as_of=as_of - pd.Timedelta("1D"), horizon=24)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: SeasonalNaive(season="month"), "season"),  # type: ignore[arg-type]
        (lambda: PersistenceEnsemble(days=0), "days"),
        (lambda: PersistenceEnsemble(statistic="mode"), "statistic"),  # type: ignore[arg-type]
        (lambda: SeasonalNaive(interval_s=7 * 3600), "divide a day"),
    ],
)
def test_baselines_reject_bad_options(make: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()  # type: ignore[operator]
