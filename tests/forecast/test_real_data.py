"""Small real series: CNU campus buildings (Gwangju, hourly, 2021-01 .. 2022-04)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bitgoeul.forecast.backtest import backtest
from bitgoeul.forecast.baselines import PersistenceEnsemble, SeasonalNaive
from bitgoeul.forecast.metrics import nrmse
from bitgoeul.forecast.quality import find_and_mask

from .conftest import SEOUL, read_cnu, small_model


def test_d18_months_of_zeros_are_masked_and_then_forecast_as_zero() -> None:
    d18 = read_cnu("D18")
    _, report = find_and_mask(d18, interval_s=3600, timezone=SEOUL)
    assert report.counts["D18"]["zero_run"] > 2000  # 2022-01-01 .. 2022-04-12
    as_of = pd.Timestamp("2022-02-15", tz=SEOUL)
    model = small_model(train_days=90).fit(d18, as_of=as_of)
    # the last non-zero reading is on 2022-01-08: nothing of the zero run is a target
    assert model.train_end_ < pd.Timestamp("2022-01-09", tz=SEOUL)
    out = model.predict(d18, as_of=as_of, horizon=24)
    assert (out[["p10_kwh", "p50_kwh", "p90_kwh"]].to_numpy() == 0).all()


def test_the_model_beats_the_simple_baselines_on_campus_buildings() -> None:
    history = pd.concat([read_cnu("A06"), read_cnu("C14")], ignore_index=True)
    history = history[history["ts"] < pd.Timestamp("2021-12-01", tz=SEOUL)]
    origins = [pd.Timestamp(day, tz=SEOUL) for day in ("2021-10-05", "2021-10-13", "2021-11-10")]
    scored = {}
    for name, make in {
        "model": lambda: small_model(train_days=120, n_estimators=60),
        "naive_day": SeasonalNaive,
        "naive_week": lambda: SeasonalNaive(season="week"),
        "ensemble": PersistenceEnsemble,
    }.items():
        out = backtest(make, history, origins, horizon=24)  # type: ignore[arg-type]
        scored[name] = np.mean(
            [nrmse(g["actual_kwh"], g["p50_kwh"]) for _, g in out.groupby("meter_id")]
        )
    best_baseline = min(v for k, v in scored.items() if k != "model")
    assert scored["model"] < 0.9 * best_baseline
