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
import pandas as pd
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
    module.HYBRID_KWARGS = {**module.HYBRID_KWARGS, "mlp_epochs": 3, "mlp_hidden": 32}
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
    models = [*bench.BASELINES, bench.OURS, bench.HYBRID]  # the hybrid runs where torch is
    result = bench.run(datasets, n_origins=2, peers=False, log=lambda line: None)
    _check_table(bench, result, models)
    assert set(result.goals) >= {"a", "b", "d"}
    assert result.goals["a"]["met"] is None  # no peers ran
    assert set(result.other_goals) == {bench.HYBRID}
    hybrid_goals = result.other_goals[bench.HYBRID]
    assert hybrid_goals["b"]["per_series"].keys() == {"cnu-A06", "cnu-C14"}
    assert hybrid_goals["b"]["mean_ratio"] != result.goals["b"]["mean_ratio"]
    md, summary = bench.report(result, command="test", datasets=datasets)
    assert "| cnu-A06 | lightgbm |" in md and "| cnu-A06 | lightgbm+mlp |" in md
    assert "The same goals for `lightgbm+mlp`:" in md
    for model in (bench.OURS, bench.HYBRID):
        assert summary["throughput"][model]["series_per_s"] > 0


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


def _forecasts(errors: dict[str, np.ndarray], actual: np.ndarray) -> pd.DataFrame:
    """Day-ahead forecasts of one meter: ``actual + error`` per model, origins a day apart."""
    n_days = actual.size // 24
    ts = pd.date_range("2025-03-01", periods=n_days * 24, freq="h", tz="UTC")
    origin = ts[(np.arange(ts.size) // 24) * 24]
    frames = []
    for model, error in errors.items():
        p50 = actual + error
        frames.append(
            pd.DataFrame(
                {
                    "meter_id": "m1",
                    "origin": origin,
                    "ts": ts,
                    "lead": np.arange(ts.size) % 24 + 1,
                    "p10_kwh": p50 - 1.0,
                    "p50_kwh": p50,
                    "p90_kwh": p50 + 1.0,
                    "model": model,
                    "actual_kwh": actual,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def test_ratio_interval_resamples_whole_origins(bench: ModuleType) -> None:
    rng = np.random.default_rng(1)
    actual = 10 + rng.random(24 * 20)
    e = rng.normal(0, 1, actual.size)
    # errors exactly twice as large at every hour: the ratio and its whole interval are 0.5
    f = _forecasts({"a": e, "b": 2 * e}, actual)
    assert bench.ratio_interval(f, "m1", "a", "b") == pytest.approx((0.5, 0.5, 0.5))
    # one bad day for "a" and a better model otherwise: the interval straddles the point
    worse = e.copy()
    worse[:24] *= 6
    f = _forecasts({"a": worse, "b": 1.1 * e}, actual)
    ratio, lo, hi = bench.ratio_interval(f, "m1", "a", "b")
    sse = np.sum(worse**2) / np.sum((1.1 * e) ** 2)
    assert ratio == pytest.approx(np.sqrt(sse))
    assert lo < 1.0 / 1.1 + 1e-9 < ratio < hi
    # an hour only one model forecast is not compared
    f.loc[(f["model"] == "a") & (f["lead"] == 1), "p50_kwh"] = np.nan
    keep = np.arange(actual.size) % 24 != 0
    ratio, _, _ = bench.ratio_interval(f, "m1", "a", "b")
    assert ratio == pytest.approx(np.sqrt(np.sum(worse[keep] ** 2) / np.sum((1.1 * e[keep]) ** 2)))
    with pytest.raises(ValueError, match="share no scored hour"):
        bench.ratio_interval(f, "m1", "a", "nobody")


def test_a_lost_peer_comparison_reports_its_interval(bench: ModuleType) -> None:
    rng = np.random.default_rng(2)
    actual = 10 + rng.random(24 * 30)
    e = rng.normal(0, 1, actual.size)
    models = {name: 3 * e for name in bench.BASELINES}
    models |= {bench.OURS: 1.2 * e, "sf_autoets": e, "sf_mstl": 2 * e, "mlf_lightgbm": 2 * e}
    f = _forecasts(models, actual)
    history = f[f["model"] == bench.OURS][["meter_id", "ts", "actual_kwh"]]
    history = history.rename(columns={"actual_kwh": "energy_kwh"})
    scores = bench.add_ratios(bench.score_models(f, history))
    goals = bench.check_goals(scores, {"m1": "household"}, f)
    assert goals["a"]["met"] is False
    assert goals["a"]["lost"] == ["m1 vs sf_autoets"]
    assert goals["a"]["lost_intervals"]["m1 vs sf_autoets"] == pytest.approx((1.2, 1.2, 1.2))
    assert goals["a"]["best_peer"]["m1"][0] == "sf_autoets"
    assert "m1 vs sf_autoets (NRMSE ratio 1.200, 95 % bootstrap interval" in bench.goal_lines(goals)


def test_held_out_series_load_on_utc_hours(bench: ModuleType) -> None:
    datasets = {d.name: d for d in bench.load_held_out()}
    assert {n: d.kind for n, d in datasets.items()} == {
        "lcl": "household",
        "ampds": "household",
        "lcl-dtou": "aggregate",
    }
    for d in datasets.values():
        h = d.history
        assert str(h["ts"].dt.tz) == "UTC"
        step = h["ts"].diff().dropna()
        assert (step == pd.Timedelta(hours=1)).all(), d.name  # one complete hourly grid
    # LCL: two half-hours make an hour; the first is 2011-12-10 00:00 GMT (0.082 + 0.030 kWh)
    lcl = datasets["lcl"].history
    assert lcl["energy_kwh"].iloc[0] == pytest.approx(0.112)
    # spring forward: the file's 01:00 and 01:30 do not exist in London and are dropped;
    # 00:00-00:30 GMT make 00:00 UTC and 02:00-02:30 BST make 01:00 UTC, both complete
    lcl_kwh = lcl.set_index("ts")["energy_kwh"]
    spring = lcl_kwh["2013-03-31 00:00":"2013-03-31 01:00"]
    assert len(spring) == 2 and spring.notna().all()
    # fall back: 01:00 and 01:30 occur twice, so both UTC hours they touch are missing
    assert lcl_kwh["2013-10-27 00:00":"2013-10-27 01:00"].isna().all()
    assert lcl_kwh["2013-10-26 23:00":"2013-10-27 02:00"].notna().sum() == 2
    # AMPds: Wh -> kWh; the first reading is 1608 Wh at epoch 1333263600
    ampds = datasets["ampds"].history
    first = ampds[ampds["ts"] == pd.Timestamp(1333263600, unit="s", tz="UTC")]
    assert first["energy_kwh"].tolist() == [pytest.approx(1.608)]
    # the aggregate carries its temperature, averaged over the hour's two readings
    agg = datasets["lcl-dtou"].history
    assert agg["temp_c"].isna().sum() == 2  # the two fall-back hours, as for the energy
    assert agg["temp_c"].min() > -10 and agg["temp_c"].max() < 35  # London, degrees C
