from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bitgoeul.errors import NotFittedError
from bitgoeul.forecast.baselines import SeasonalNaive
from bitgoeul.forecast.features import FEATURE_NAMES
from bitgoeul.forecast.gbm import DEFAULT_BASE, LightGBMForecaster, base_score
from bitgoeul.forecast.metrics import nrmse
from bitgoeul.forecast.synthetic import generate_load_history

from .conftest import SEOUL, small_model

HISTORY = generate_load_history(2, days=70, seed=5, start="2022-01-01")
AS_OF = pd.Timestamp("2022-03-02", tz=SEOUL)  # the day after a public holiday (1 March)


def forecast(history: pd.DataFrame, **options: object) -> pd.DataFrame:
    model = small_model(**options).fit(history, as_of=AS_OF)
    return model.predict(history, as_of=AS_OF, horizon=24)


REFERENCE = forecast(HISTORY)

changes = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=24 * 12 - 1),  # hours at or after as_of
        st.sampled_from(["scale", "nan", "drop", "temp"]),
        st.floats(min_value=0.0, max_value=50.0),
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=changes, extra_days=st.integers(min_value=0, max_value=5))
def test_forecast_as_of_t_ignores_data_at_or_after_t(
    changes: list[tuple[int, str, float]], extra_days: int
) -> None:
    altered = HISTORY.copy()
    position = {ts: i for i, ts in enumerate(altered["ts"])}
    drop = []
    for hour, kind, value in changes:
        when = AS_OF.tz_convert("UTC") + pd.Timedelta(hours=hour)
        rows = altered.index[altered["ts"] == when]
        if kind == "scale":
            altered.loc[rows, "energy_kwh"] *= value
        elif kind == "nan":
            altered.loc[rows, "energy_kwh"] = np.nan
        elif kind == "temp":
            altered.loc[rows, "temp_c"] = value
        else:
            drop.extend(rows)
    altered = altered.drop(index=drop)
    if extra_days:
        future = generate_load_history(2, days=extra_days, seed=9, start="2022-03-12")
        altered = pd.concat([altered, future], ignore_index=True)
    assert position  # the history is not empty
    again = forecast(altered)
    pd.testing.assert_frame_equal(again, REFERENCE)


def test_quantiles_are_ordered_and_named_per_level() -> None:
    assert list(REFERENCE.columns) == ["meter_id", "ts", "p10_kwh", "p50_kwh", "p90_kwh"]
    assert len(REFERENCE) == 48
    values = REFERENCE[["p10_kwh", "p50_kwh", "p90_kwh"]].to_numpy()
    assert np.isfinite(values).all() and (values >= 0).all()
    assert (np.diff(values, axis=1) >= 0).all()
    assert (values[:, 2] - values[:, 0] > 0).mean() > 0.9
    first = REFERENCE.groupby("meter_id")["ts"].min()
    assert (first == AS_OF.tz_convert("UTC")).all()


def test_a_fit_is_deterministic() -> None:
    pd.testing.assert_frame_equal(forecast(HISTORY), REFERENCE)


def test_the_global_model_beats_seasonal_naive_after_a_holiday() -> None:
    naive = SeasonalNaive().fit(HISTORY, as_of=AS_OF).predict(HISTORY, as_of=AS_OF, horizon=24)
    actual = HISTORY.set_index(["meter_id", "ts"])["energy_kwh"]
    truth = actual.reindex(pd.MultiIndex.from_frame(REFERENCE[["meter_id", "ts"]])).to_numpy()
    model_error = nrmse(truth, REFERENCE["p50_kwh"])
    naive_error = nrmse(truth, naive["p50_kwh"])
    assert model_error < 0.5 * naive_error  # naive copies the holiday onto a working day


def test_a_masked_spike_before_the_origin_does_not_move_the_forecast() -> None:
    spiky = HISTORY.copy()
    yesterday_10h = (AS_OF - pd.Timedelta("14h")).tz_convert("UTC")
    spiky.loc[spiky["ts"] == yesterday_10h, "energy_kwh"] *= 50
    masked = forecast(spiky)
    unmasked = forecast(spiky, mask_codes=None)
    # a masked reading is a missing one: it drops out of every feature and of the base
    missing = forecast(HISTORY[HISTORY["ts"] != yesterday_10h])
    pd.testing.assert_frame_equal(masked, missing)
    # without it the 10 h same-hour means lose yesterday's holiday, a low day: a few % higher
    clean = REFERENCE["p50_kwh"].to_numpy()
    assert np.allclose(masked["p50_kwh"], clean, rtol=0.1)
    assert unmasked["p50_kwh"].sum() > 1.1 * clean.sum()


def test_after_a_week_of_zeros_the_forecast_is_zero() -> None:
    off = HISTORY.copy()
    off.loc[off["ts"] >= (AS_OF - pd.Timedelta("8D")).tz_convert("UTC"), "energy_kwh"] = 0.0
    zero = forecast(off)
    assert (zero[["p10_kwh", "p50_kwh", "p90_kwh"]].to_numpy() == 0).all()
    kept = forecast(off, zero_regime_days=None)
    assert (kept["p50_kwh"] > 0).all()


def test_missing_targets_are_skipped_not_learnt() -> None:
    holes = HISTORY.copy()
    rng = np.random.default_rng(1)
    holes.loc[rng.random(len(holes)) < 0.3, "energy_kwh"] = np.nan
    model = small_model(calibration="none").fit(holes, as_of=AS_OF)
    full = small_model(calibration="none").fit(HISTORY, as_of=AS_OF)
    assert model.n_train_rows_ < 0.75 * full.n_train_rows_
    out = model.predict(holes, as_of=AS_OF, horizon=24)
    assert np.isfinite(out[["p10_kwh", "p50_kwh", "p90_kwh"]].to_numpy()).all()


def test_predict_refuses_what_the_model_was_not_fitted_for() -> None:
    with pytest.raises(NotFittedError):
        small_model().predict(HISTORY, as_of=AS_OF, horizon=24)
    model = small_model(quantiles=(0.1, 0.5, 0.9)).fit(HISTORY, as_of=AS_OF)
    with pytest.raises(ValueError, match="max_horizon"):
        model.predict(HISTORY, as_of=AS_OF, horizon=25)
    with pytest.raises(ValueError, match="fitted for the levels"):
        model.predict(HISTORY, as_of=AS_OF, horizon=24, quantiles=(0.05, 0.5))
    with pytest.raises(ValueError, match="before the instant"):
        model.predict(HISTORY, as_of=AS_OF - pd.Timedelta("1D"), horizon=24)
    later = model.predict(HISTORY, as_of=AS_OF + pd.Timedelta("2D"), horizon=24, quantiles=(0.5,))
    assert list(later.columns) == ["meter_id", "ts", "p50_kwh"]


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"train_days": 0}, "train_days"),
        ({"quantiles": (0.9, 0.1)}, "increasing"),
        ({"calibration": "maybe"}, "calibration"),
        ({"mask_codes": ("spikes",)}, "unknown issue code"),
        ({"timezone": "Mars/Olympus"}, "time zone"),
        ({"holidays_country": "XX"}, "no calendar"),
        ({"holidays_country": "AU-XX"}, "'AU-XX'"),
        ({"point_objective": "mae"}, "point_objective"),
        ({"point_models": 0}, "point_models"),
        ({"meter_feature": "yes"}, "meter_feature"),
        ({"base": ("temp_last_c",)}, "not among the baseline features"),
        ({"base": "same_hour_mean7"}, "sequence of feature names"),
        ({"base": ("lag_week", "lag_week")}, "twice"),
    ],
)
def test_constructor_rejects_bad_options(options: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        LightGBMForecaster(**options)  # type: ignore[arg-type]


def test_the_l2_point_forecast_is_the_mean_of_skewed_load_not_its_median() -> None:
    ts = pd.date_range("2022-01-01", periods=24 * 60, freq="h", tz=SEOUL)
    rng = np.random.default_rng(2)
    # exponential load above a 1 kWh floor: mean 2.0 kWh, median 1 + ln 2 = 1.69 kWh
    skewed = pd.DataFrame(
        {"meter_id": "home", "ts": ts, "energy_kwh": 1.0 + rng.exponential(1.0, ts.size)}
    )
    as_of = pd.Timestamp("2022-02-25", tz=SEOUL)
    point = {
        objective: small_model(point_objective=objective, n_estimators=60)
        .fit(skewed, as_of=as_of)
        .predict(skewed, as_of=as_of, horizon=24)["p50_kwh"]
        .mean()
        for objective in ("l2", "quantile")
    }
    assert point["l2"] == pytest.approx(2.0, rel=0.1)
    assert point["quantile"] == pytest.approx(1.0 + np.log(2.0), rel=0.1)


def test_a_seed_ensemble_forecasts_the_mean_of_its_point_boosters() -> None:
    history = generate_load_history(2, days=50, seed=3)
    as_of = pd.Timestamp("2024-02-12", tz=SEOUL)
    model = small_model(point_models=3, calibration="none").fit(history, as_of=as_of)
    members = model.boosters_[0.5]
    assert len(members) == 3 and [len(model.boosters_[q]) for q in (0.1, 0.9)] == [1, 1]
    assert [b.params["seed"] for b in members] == [0, 1, 2]
    single = small_model(point_models=1, calibration="none").fit(history, as_of=as_of)
    ensemble = model.predict(history, as_of=as_of, horizon=24, quantiles=(0.5,))
    alone = single.predict(history, as_of=as_of, horizon=24, quantiles=(0.5,))
    # member 0 is the single model's booster; the others differ only by their seed
    assert not np.allclose(ensemble["p50_kwh"], alone["p50_kwh"])
    assert ensemble["p50_kwh"].to_numpy() == pytest.approx(alone["p50_kwh"].to_numpy(), rel=0.2)


def test_each_fitted_meter_is_a_categorical_feature_and_a_new_meter_still_gets_a_forecast() -> None:
    history = generate_load_history(3, days=50, seed=3)
    as_of = pd.Timestamp("2024-02-12", tz=SEOUL)
    fitted_on = history[history["meter_id"] != "m003"]
    model = small_model().fit(fitted_on, as_of=as_of)
    assert model.meter_codes_ == {"m001": 0, "m002": 1}
    assert model.feature_names[-1] == "meter"
    booster = model.boosters_[0.5][0]
    assert booster.feature_name() == list(model.feature_names)
    # LightGBM lists the categories of a categorical feature, none for a numeric one
    infos = booster.dump_model()["feature_infos"]
    assert {0, 1} <= set(infos["meter"]["values"]) and infos["hour"]["values"] == []
    out = model.predict(history, as_of=as_of, horizon=24)
    new = out[out["meter_id"] == "m003"]
    assert len(new) == 24
    values = new[["p10_kwh", "p50_kwh", "p90_kwh"]].to_numpy()
    assert (values > 0).all() and (values[:, 0] <= values[:, 1]).all()
    assert (values[:, 1] <= values[:, 2]).all()


def test_without_the_meter_feature_the_model_reads_the_shared_features_only() -> None:
    history = generate_load_history(2, days=50, seed=3)
    as_of = pd.Timestamp("2024-02-12", tz=SEOUL)
    model = small_model(meter_feature=False).fit(history, as_of=as_of)
    assert model.meter_codes_ == {}
    assert "meter" not in model.boosters_[0.5][0].feature_name()
    with_meter = small_model().fit(history, as_of=as_of)
    assert len(with_meter.feature_names) == len(model.feature_names) + 1


def weekly_load(days: int) -> pd.DataFrame:
    """One meter whose hour h of weekday w uses exactly 1 + h / 10 + w kWh, every week."""
    ts = pd.date_range("2022-01-03", periods=24 * days, freq="h", tz=SEOUL)  # a Monday
    energy = 1.0 + ts.hour / 10 + ts.day_of_week
    return pd.DataFrame({"meter_id": "w", "ts": ts, "energy_kwh": energy.astype(float)})


@pytest.mark.parametrize(
    ("base", "weekday", "spread"),
    [
        # the same hour on the 7 days before: one of each weekday, mean weekday 3; the
        # training targets (4 of each weekday) lie 3 below it on Mondays, 3 above on Sundays
        (DEFAULT_BASE, 3.0, 3.0),
        # its mean with the same hour of the week on the 4 weeks before (Wednesday, 2)
        (("same_hour_mean7", "week_profile4"), 2.5, 1.5),
    ],
)
def test_each_booster_starts_from_its_base(
    base: tuple[str, ...], weekday: float, spread: float
) -> None:
    history = weekly_load(70)
    as_of = pd.Timestamp("2022-03-02", tz=SEOUL)  # a Wednesday; no masking, no calibration
    options = {"mask_codes": (), "calibration": "none", "n_estimators": 1, "learning_rate": 1e-6}
    based = small_model(**options, base=base).fit(history, as_of=as_of)
    out = based.predict(history, as_of=as_of, horizon=24)
    start = 1 + np.arange(24) / 10 + weekday
    # P50 starts at the base plus the mean of the training residuals (0 here), P10 and P90
    # at the base plus their 10 % and 90 % quantiles
    assert out["p50_kwh"].to_numpy() == pytest.approx(start, rel=1e-4)
    assert out["p10_kwh"].to_numpy() == pytest.approx(start - spread, rel=1e-4)
    assert out["p90_kwh"].to_numpy() == pytest.approx(start + spread, rel=1e-4)
    assert based.base == base and based.base_offsets_[0.5] == pytest.approx(0.0, abs=1e-9)
    assert small_model().base == ("same_hour_mean7",)


def test_without_a_base_the_boosters_start_from_the_mean_and_learn_the_shape() -> None:
    history = weekly_load(70)
    as_of = pd.Timestamp("2022-03-02", tz=SEOUL)
    model = small_model(mask_codes=(), base=None).fit(history, as_of=as_of)
    assert model.base == ()
    p50 = model.predict(history, as_of=as_of, horizon=24)["p50_kwh"].to_numpy()
    # an init score of zeros would leave 25 small steps from 0 flat across the day
    truth = 1 + np.arange(24) / 10 + 2
    assert np.corrcoef(p50, truth)[0, 1] > 0.95
    assert p50.mean() == pytest.approx(truth.mean(), rel=0.1)


def test_the_base_falls_back_to_the_28_day_means_then_to_the_level() -> None:
    x = np.full((4, len(FEATURE_NAMES)), np.nan)
    column = {name: FEATURE_NAMES.index(name) for name in FEATURE_NAMES}
    x[0, column["same_hour_mean7"]] = 1.4  # week_profile4 missing: the one measured
    x[1, column["same_hour_mean28"]], x[1, column["mean_28d"]] = 0.7, 0.9
    x[2, column["mean_28d"]] = 0.9
    two = ("same_hour_mean7", "week_profile4")
    assert base_score(x, two).tolist() == [1.4, 0.7, 0.9, 1.0]
    assert base_score(x, DEFAULT_BASE).tolist() == [1.4, 0.7, 0.9, 1.0]
    assert base_score(x, ()).tolist() == [0.0] * 4


def test_boosting_from_the_base_fits_and_forecasts_through_gaps() -> None:
    history = generate_load_history(2, days=50, seed=3)
    gappy = history.drop(history.index[24 * 20 : 24 * 34])  # two weeks of m001 missing
    as_of = pd.Timestamp("2024-02-12", tz=SEOUL)
    out = small_model().fit(gappy, as_of=as_of).predict(gappy, as_of=as_of, horizon=24)
    values = out[["p10_kwh", "p50_kwh", "p90_kwh"]].to_numpy()
    assert len(out) == 48 and np.isfinite(values).all() and (values > 0).all()


def test_width_calibration_widens_the_band_where_the_shifts_would_move_it() -> None:
    # residuals of 1,000 replayed rows (y minus each level's forecast), all biased upwards:
    # the actuals ran above the forecasts, as after a cold spell the boosters had not seen
    rng = np.random.default_rng(3)
    truth = rng.normal(0.3, 1.0, 1000)
    residual = np.column_stack([truth + 1.28, truth, truth - 1.28])  # P10, P50, P90 of N(0, 1)
    block = np.zeros(1000, dtype=np.int64)
    shifts = small_model(calibration="band")._corrections(residual, block, 1, None)
    width = small_model(calibration="width")._corrections(residual, block, 1, None)
    assert shifts[0, 0] > 0 and shifts[2, 0] > 0  # 'band' moves both levels up
    assert width[0, 0] == pytest.approx(-width[2, 0])  # 'width' moves them apart, evenly
    assert width[2, 0] > 0
    low = -residual[:, 0] <= -width[0, 0]  # y >= P10 - w
    high = residual[:, 2] <= width[2, 0]  # y <= P90 + w
    assert abs(np.mean(low & high) - 0.8) <= 0.002  # the nominal share of the replayed rows
    # too few rows in a lead day: the fallback stays
    fallback = np.array([[-0.5], [0.0], [0.5]])
    few = small_model(calibration="width")._corrections(residual[:5], block[:5], 1, fallback)
    np.testing.assert_array_equal(few, fallback)


def test_width_calibration_fits_a_symmetric_band_and_ordered_forecasts() -> None:
    model = small_model(calibration="width").fit(HISTORY, as_of=AS_OF)
    for table in [model.corrections_, *model.meter_corrections_.values()]:
        np.testing.assert_allclose(table[0], -table[2])
        np.testing.assert_array_equal(table[1], 0.0)
    assert np.abs(model.corrections_).max() > 0
    out = model.predict(HISTORY, as_of=AS_OF, horizon=24)
    assert (out["p10_kwh"] <= out["p50_kwh"]).all() and (out["p50_kwh"] <= out["p90_kwh"]).all()
    # the boosters are the same as with each level's own shift: only the corrections differ
    shifted = small_model(calibration="band").fit(HISTORY, as_of=AS_OF)
    for level, boosters in model.boosters_.items():
        assert [b.model_to_string() for b in boosters] == [
            b.model_to_string() for b in shifted.boosters_[level]
        ]
    assert not np.allclose(model.corrections_, shifted.corrections_)
