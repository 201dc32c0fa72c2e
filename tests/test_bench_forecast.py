"""The forecast benchmark harness in a minimal configuration (benchmarks/bench_forecast.py).

Two real CNU buildings, two origins: every model must come out scored on
every series with finite metrics, and the goal checks must be computed.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_forecast.py"


@pytest.fixture(scope="module")
def bench(shared_data: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_forecast", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_forecast"] = module
    spec.loader.exec_module(module)
    module.DATA = shared_data
    # a small LightGBM so the harness runs in seconds; the benchmark uses the defaults
    module.GBM_KWARGS = {**module.GBM_KWARGS, "n_estimators": 30, "train_days": 56}
    module.OUR_TRAIN_DAYS = 56
    return module


def _check_table(bench: ModuleType, result, models: list[str]) -> None:
    series = ["cnu-A06", "cnu-C14"]
    got = set(zip(result.scores["meter_id"], result.scores["model"], strict=True))
    assert got == {(m, model) for m in series for model in models}
    assert len(result.scores) == len(got)
    values = result.scores[[*bench.METRICS, "nrmse_ratio"]].to_numpy(dtype=float)
    assert np.isfinite(values).all(), result.scores
    assert (result.scores["n"] > 0).all()
    assert (result.scores["coverage"].between(0, 1)).all()
    # each forecast is 24 hourly leads from a local midnight, for both origins
    for _, part in result.forecasts.groupby(["model", "meter_id"]):
        assert part["origin"].nunique() == 2
        assert sorted(part["lead"].unique()) == list(range(1, 25))


def test_bench_forecast_scores_our_models_on_every_series(bench: ModuleType) -> None:
    datasets = bench.load_datasets(quick=True)
    models = [*bench.BASELINES, bench.OURS]
    result = bench.run(datasets, n_origins=2, peers=False, log=lambda line: None)
    _check_table(bench, result, models)
    assert set(result.goals) >= {"a", "b", "d"}
    assert result.goals["a"]["met"] is None  # no peers ran
    md, summary = bench.report(result, command="test", datasets=datasets)
    assert "| cnu-A06 | lightgbm |" in md
    assert summary["throughput"][bench.OURS]["series_per_s"] > 0


def _peer(name: str) -> None:
    """Import a peer library; skip without it, unless CI's peer run requires it."""
    if os.environ.get("BITGOEUL_REQUIRE_PEERS") == "1":
        importlib.import_module(name)
    else:
        pytest.importorskip(name)


def test_bench_forecast_runs_the_peers(bench: ModuleType) -> None:
    _peer("statsforecast")
    _peer("mlforecast")
    datasets = bench.load_datasets(quick=True)
    models = ["persistence_ensemble", *bench.PEERS]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(bench, "SF_JOBS", 1)
        result = bench.run(
            datasets,
            n_origins=2,
            peers=True,
            masked_peers=False,
            only=["persistence_ensemble"],
            log=lambda line: None,
        )
    _check_table(bench, result, models)
    assert result.goals["a"]["met"] is None  # ours (lightgbm) did not run


def test_bench_forecast_runs_other_horizons(bench: ModuleType) -> None:
    datasets = bench.load_datasets(quick=True)
    result = bench.run(
        datasets, n_origins=2, peers=False, only=[bench.OURS], horizon=48, log=lambda line: None
    )
    for _, part in result.forecasts.groupby(["model", "meter_id"]):
        assert sorted(part["lead"].unique()) == list(range(1, 49))
    md, summary = bench.report(result, command="test", datasets=datasets)
    assert md.startswith("## 48-hour hourly forecasts")
    assert summary["config"]["horizon_h"] == 48


def test_bench_forecast_scores_cycle_end_energy(bench: ModuleType) -> None:
    datasets = bench.load_datasets(quick=True)
    results, fit_s = bench.run_cycle_end(datasets, months=1, log=lambda line: None)
    assert fit_s > 0
    assert set(results["model"]) == {"profile", bench.OURS, "linear"}
    assert set(results["days_in"]) == set(bench.CYCLE_DAYS_IN)
    assert set(results["meter_id"]) == {"cnu-A06", "cnu-C14"}
    banded = results[results["model"] != "linear"]
    values = banded[["p10_kwh", "p50_kwh", "p90_kwh"]].to_numpy()
    assert np.isfinite(values).all() and (np.diff(values, axis=1) >= 0).all()
    # the energy so far is known: every forecast is within a factor 2 of the cycle's total
    ratio = results["p50_kwh"] / results["actual_kwh"]
    assert ratio.between(0.5, 2.0).all()
    assert "| building+national | 7 |" in bench.cycle_end_table(results)


def test_the_tuning_origins_never_are_benchmark_origins(bench: ModuleType) -> None:
    path = BENCH.with_name("tune_forecast.py")
    spec = importlib.util.spec_from_file_location("tune_forecast", path)
    assert spec is not None and spec.loader is not None
    tune = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tune)
    (dataset,) = bench.load_datasets(quick=True)
    scored = set(bench.choose_origins(dataset, 30))
    tuning = tune.tuning_origins(dataset, 20)
    assert len(tuning) >= 15
    assert not scored & set(tuning)
    local = [o.tz_convert(dataset.timezone) for o in tuning]
    assert all((o.hour, o.minute) == (0, 0) for o in local)
    second = tune.tuning_origins(dataset, 20, 10)  # --shift 10: a second tuning set
    assert len(second) >= 15
    assert not scored & set(second) and not set(tuning) & set(second)
